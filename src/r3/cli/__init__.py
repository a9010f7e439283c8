"""The `r3` command line: one module per subcommand under `r3.cli`.

Each subcommand module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`, and imports heavy
libraries (torch, transformers, trl) inside `run` so that `r3 --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# subcommand name -> module under r3.cli
COMMANDS: dict[str, str] = {
    "tasks": "tasks",
    "verify": "verify",
    "eval": "eval",
    "tiny-model": "tiny_model",
    "mine": "mine",
    "forgetting": "forgetting",
    "train": "train",
    "data": "data",
    "demo": "demo",
}


def build_parser() -> argparse.ArgumentParser:
    from r3 import __version__

    parser = argparse.ArgumentParser(prog="r3", description="Reflect, Retry, Reward: train models to self-correct.")
    parser.add_argument("--version", action="version", version=f"r3 {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"r3.cli.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        # a module with TAKES_EXTRA_ARGUMENTS = True gets unrecognised arguments as args.extra (r3 train overrides)
        command.set_defaults(_run=module.run, _takes_extra=getattr(module, "TAKES_EXTRA_ARGUMENTS", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    from r3.errors import R3Error

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args._takes_extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args._run(args) or 0)
    except R3Error as error:
        print(f"r3 {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"r3 {args.command}: interrupted; finished work is on disk", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
