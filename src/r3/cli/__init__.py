"""The `r3` command line: one module per command under `r3.cli`, all parsed by `r3.config.parser`.

Each command module defines `HELP` (one line) and `main(argv) -> int`; its settings are a config dataclass, so
`--config FILE.yaml`, `--field value` / `--field-name value` overrides and `--help` with defaults work the same in
every command. Heavy libraries (torch, transformers, trl) are imported inside `main`, so `r3 --help` stays fast.

Exit codes: 0 done, 2 bad input (one line naming the culprit), 1 a failed run, 130 interrupted.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import sys

# command name -> module under r3.cli
COMMANDS: dict[str, str] = {
    "tasks": "tasks",
    "verify": "verify",
    "eval": "eval",
    "compare": "compare",
    "tiny-model": "tiny_model",
    "mine": "mine",
    "train": "train",
    "forgetting": "forgetting",
    "data": "data",
    "report": "report",
    "prompt": "prompt",
    "view": "view",
    "demo": "demo",
}

USAGE = "usage: r3 [-v] COMMAND [--config FILE.yaml] [--field value ...]   (r3 COMMAND --help: every field)"


def overview() -> str:
    from r3 import __version__

    lines = [USAGE, "", f"r3 {__version__}: Reflect, Retry, Reward - train language models to self-correct.", "",
             "commands:"]
    for name, module_name in COMMANDS.items():
        lines.append(f"  {name:<12} {importlib.import_module(f'r3.cli.{module_name}').HELP}")
    lines += ["", "options:", "  -v, --verbose  log debug messages and show the traceback of an unexpected error",
              "  --version      print the version"]
    return "\n".join(lines)


def quiet_known_warnings() -> None:
    """Warnings r3 answers for by design, silenced on the command line only (library code leaves them alone):
    TRL's "rollout_func is experimental" (r3 builds the prompt ids TRL trains on through it, on purpose, behind
    r3.training.trl_adapter's contract test) and a deprecation raised inside TRL's own trainer code."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*'rollout_func'.*experimental", category=UserWarning)
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.* is deprecated", category=FutureWarning)


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error a user can cause is one line on stderr."""
    from r3.errors import R3Error

    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = any(token in ("-v", "--verbose") for token in argv[:1]) or "--verbose" in argv
    argv = [token for i, token in enumerate(argv) if not (token == "--verbose" or (i == 0 and token == "-v"))]
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return 0 if argv else 2
    if argv[0] == "--version":
        from r3 import __version__

        print(f"r3 {__version__}")
        return 0
    command = argv[0]
    if command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        print(f"r3: unknown command {command!r}{hint}\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")
    quiet_known_warnings()
    module = importlib.import_module(f"r3.cli.{COMMANDS[command]}")
    try:
        return int(module.main(argv[1:]) or 0)
    except R3Error as error:
        print(f"r3 {command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"r3 {command}: interrupted; finished work is on disk", file=sys.stderr)
        return 130
    except OSError as error:  # disk full, permissions, a path that vanished: the system's words, one line
        if verbose:
            raise
        where = f" ({error.filename})" if getattr(error, "filename", None) else ""
        print(f"r3 {command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: one line by default, the traceback with -v
        if verbose:
            raise
        print(f"r3 {command}: internal error: {type(error).__name__}: {str(error)[:300]} (rerun with -v for the "
              "traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
