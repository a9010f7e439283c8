"""Every `r3 ...` command line in README.md and docs/**/*.md parses with that command's real parser.

Docs drift silently when a flag is renamed (`--max-new-tokens` became `--attempt-max-new-tokens`): this test takes
each command line out of the fenced code blocks, joins `\\` continuations, drops comments, finds the `r3 COMMAND`
part (also inside `python -m r3 ...` and `accelerate launch ... -m r3 train ...`) and parses it exactly as the
command's `main` would, without running anything. A line that cannot parse by nature (a placeholder such as
`--config FILE`) is skipped only when it matches PLACEHOLDERS, with the reason, so every skip is visible here; a
`--config NAME.yaml` that is not a file of the repo is the ```yaml block shown above it on the page.

Two more checks keep the prose true: every `--option` a page names in inline code is an option of that page's
command (PAGE_COMMANDS), and every default in an option table is the parser's default. What waits for wiring is a
strict xfail (PENDING, PENDING_OPTIONS): it fails as soon as the wiring lands, so that the entry is removed.
"""

from __future__ import annotations

import functools
import importlib
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import pytest

from r3.cli import COMMANDS
from r3.errors import R3Error

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*(```|~~~)")
# `r3 CMD`, `.venv/bin/r3 CMD`, `python -m r3 CMD`, `accelerate launch ... -m r3 CMD`: the tokens from CMD on are
# the command's argv
R3_START = re.compile(r"(?:^|[\s;&|(`$]|bin/)(?:(?:\S*python\S*\s+)?-m\s+)?r3\s+(?=[a-z-]+\b)")

# pattern in a command line -> why a command holding it cannot parse (a placeholder, not a real value)
PLACEHOLDERS: dict[str, str] = {
    r"\.\.\.": "an ellipsis stands for more options",
    r"\[--": "a usage synopsis: [optional] parts",
    r"(?<!\S)(FILE|DIR|N)(?!\S)": "a name or number to fill in",
    r"<[\w-]+>": "a <placeholder> to fill in",
}


class DocCommand(NamedTuple):
    where: str  # file:line
    text: str  # the argv from the command name on, as written
    line: str  # the whole shell line (`accelerate launch ... -m r3 train ...`)
    yaml: str | None  # the last ```yaml block above it on the page: the file a `--config NAME.yaml` may refer to


def doc_files() -> list[Path]:
    """README.md and every docs page (docs/scaling.md too, once it exists)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _strip_comment(line: str) -> str:
    """The line without a shell comment (`# ...` outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _code_lines(text: str) -> list[tuple[int, str, str | None]]:
    """(line number, logical line, last yaml block so far) of every line of a fenced code block, with `\\`
    continuations joined."""
    out, inside, pending, start = [], False, "", 0
    language, block, last_yaml = "", [], None
    for number, raw in enumerate(text.splitlines(), 1):
        if FENCE.match(raw):
            if inside and language == "yaml":
                last_yaml = "\n".join(block)
            inside, pending, language, block = not inside, "", raw.strip().strip("`~").strip(), []
            continue
        if not inside:
            continue
        block.append(raw)
        line = raw.rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        out.append((start, _strip_comment(pending + line.strip()), last_yaml))
        pending = ""
    return out


def _bind_loop_variable(line: str) -> str:
    """`for i in 0 1 ...; do r3 mine ... --shard_index $i ...` with $i replaced by the loop's first value."""
    loop = re.search(r"\bfor\s+(\w+)\s+in\s+(\S+)", line)
    if loop is None:
        return line
    return re.sub(rf"\$\{{?{loop.group(1)}\b\}}?", loop.group(2).rstrip(";"), line)


def doc_commands() -> list[DocCommand]:
    """Every r3 command line in the docs."""
    commands = []
    for path in doc_files():
        for number, line, yaml in _code_lines(path.read_text(encoding="utf-8")):
            line = _bind_loop_variable(line.lstrip("$ ").strip())
            match = R3_START.search(line)
            if match is None:
                continue
            rest = line[match.end():]
            rest = re.split(r"\s(?:&&|\|\||\||;|&|>)\s", rest)[0]  # stop at the next shell command or redirect
            if rest.split()[0] not in COMMANDS:
                continue  # prose inside a code block ("r3 writes ...") or output, not a command
            commands.append(DocCommand(f"{path.relative_to(ROOT)}:{number}", rest, line, yaml))
    return commands


def _placeholder(text: str) -> str | None:
    return next((reason for pattern, reason in PLACEHOLDERS.items() if re.search(pattern, text)), None)


def _page_config(argv: list[str], yaml: str | None, tmp_path: Path) -> list[str]:
    """argv with `--config NAME.yaml` pointing at the page's yaml block when NAME.yaml is not a file of the repo
    (`r3 train --config train.yaml` right below the train.yaml it shows)."""
    if "--config" not in argv or yaml is None:
        return argv
    i = argv.index("--config") + 1
    if i >= len(argv) or (ROOT / argv[i]).exists():
        return argv
    page_file = tmp_path / Path(argv[i]).name
    page_file.write_text(yaml, encoding="utf-8")
    return [*argv[:i], str(page_file), *argv[i + 1:]]


def parse_command(argv: list[str]) -> None:
    """Parse argv (command name first) as `r3 COMMAND`'s main would, without running it."""
    from r3.config.parser import ConfigParser

    name, args = argv[0], argv[1:]
    if name == "eval" and args[:1] == ["--compare"]:  # eval's main hands `--compare A B` to `r3 compare`
        name, args = "compare", args[1:]
    module = importlib.import_module(f"r3.cli.{COMMANDS[name]}")
    if name == "train":
        from r3.training.config import load_train_config

        # the GPU recipes set bf16, which TrainingArguments refuses without a GPU; use_cpu lifts only that check
        load_train_config(None, [*args, "--use_cpu", "true"], cuda=False)
    elif hasattr(module, "parser"):
        module.parser().parse(args)
    elif name == "data":
        config_class, _ = module.GENERATORS[args[0]]
        ConfigParser([config_class], prog=f"r3 data {args[0]}").parse(args[1:])
    else:
        positionals = {"compare": {"runs": "*"}, "report": {"runs": "*"}, "verify": {"file": "?"},
                       "tiny-model": {"out": "?"}}.get(name)
        config_class = next(value for key, value in vars(module).items() if key.endswith("Config")
                            and isinstance(value, type) and key != "CommandConfig")
        ConfigParser([config_class], prog=f"r3 {name}", positionals=positionals).parse(args)


# text in a command line -> the wiring it waits for: the line is expected to fail until then (strict: once it
# parses, the test fails so that the entry is removed)
PENDING: dict[str, str] = {}

COMMAND_LINES = doc_commands()


def test_the_docs_hold_commands_of_every_kind() -> None:
    """The extraction itself works: the docs show eval, mine, train (both launch forms) and data lines."""
    names = {command.text.split()[0] for command in COMMAND_LINES}
    assert {"eval", "mine", "train", "data", "compare", "demo", "tiny-model"} <= names
    assert any(command.line.startswith("accelerate launch") and command.text.startswith("train --config")
               for command in COMMAND_LINES)  # `accelerate launch ... -m r3 train \`, continued on the next line


@pytest.mark.parametrize("command", COMMAND_LINES, ids=[command.where for command in COMMAND_LINES])
def test_doc_command_parses(command: DocCommand, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            request: pytest.FixtureRequest) -> None:
    where, text = command.where, command.text
    reason = _placeholder(text)
    if reason:
        pytest.skip(f"{where}: placeholder ({reason}): r3 {text}")
    pending = next((why for token, why in PENDING.items() if token in text.split()), None)
    if pending:
        request.applymarker(pytest.mark.xfail(reason=f"pending: {pending}", strict=True))
    monkeypatch.chdir(ROOT)  # `--config configs/...` resolves from the repo root, as the docs assume
    try:
        argv = shlex.split(text)
    except ValueError as error:
        pytest.fail(f"{where}: not a valid shell line ({error}): r3 {text}")
    try:
        parse_command(_page_config(argv, command.yaml, tmp_path))
    except R3Error as error:  # anything else is a bug of r3, not of the doc, and fails with its traceback
        pytest.fail(f"{where}: `r3 {text}` does not parse: {type(error).__name__}: {error}")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_of_every_command_exits_0(name: str, capsys: pytest.CaptureFixture) -> None:
    from r3.cli import main

    try:
        code = main([name, "--help"])
    except SystemExit as exit_:  # argparse's --help exits
        code = exit_.code
    assert code == 0
    assert capsys.readouterr().out.strip()


# page -> the commands whose options its prose names (outside code blocks, which the test above parses whole)
PAGE_COMMANDS: dict[str, tuple[str, ...]] = {
    "docs/eval.md": ("eval", "compare", "prompt"),
    "docs/mining.md": ("mine",),
    "docs/training.md": ("train",),
    "docs/forgetting.md": ("forgetting",),
    "docs/demo.md": ("demo",),
    "docs/view.md": ("view", "train"),
    "docs/countdown.md": ("data", "verify", "eval"),
    "docs/tasks.md": ("verify", "eval", "mine"),
    "docs/generation.md": ("eval", "mine", "prompt", "tiny-model"),
    "docs/runs.md": ("eval", "mine", "train", "forgetting"),
    "docs/install.md": ("eval", "mine", "train"),
    "README.md": tuple(COMMANDS),
}
# options a page names that belong to another program, or stand for any option
NOT_R3_OPTIONS: dict[str, str] = {
    "--field": "stands for any option", "--field-name": "stands for any option",
    "--field_name": "stands for any option", "--help": "every command's", "--config": "every command's",
    "--task-option": "every task command's KEY=VALUE form", "--compare": "r3 eval --compare A B, handed to r3 compare",
    "--config_file": "accelerate launch's", "--logdir": "tensorboard's",
    "--index-url": "pip's", "--version": "r3's own", "--verbose": "r3's own",
    "--first-attempts": "scripts/build_demo_model.py's", "--p-solve": "scripts/build_demo_model.py's",
}
# option named in prose -> the wiring it waits for (strict xfail: remove the entry once it parses)
PENDING_OPTIONS: dict[str, str] = {}


@functools.cache
def _parser(command: str):
    """The parser `r3 COMMAND` uses (the first generator's, for `r3 data`)."""
    from r3.config.parser import ConfigParser

    module = importlib.import_module(f"r3.cli.{COMMANDS[command]}")
    if command == "train":
        from r3.training.config import train_parser

        return train_parser(cuda=False)
    if hasattr(module, "parser"):
        return module.parser()
    classes = [value for _, value in sorted(getattr(module, "GENERATORS", {}).items())]
    config_class = classes[0][0] if classes else next(
        value for key, value in vars(module).items()
        if key.endswith("Config") and isinstance(value, type) and key != "CommandConfig")
    return ConfigParser([config_class], prog=f"r3 {command}")


@functools.cache
def _options_of(command: str) -> frozenset[str]:
    """Every option string of `r3 COMMAND`, with dashes and with underscores."""
    options = {option for action in _parser(command)._actions for option in action.option_strings}
    return frozenset(options | {o.replace("_", "-") for o in options} | {o.replace("-", "_") for o in options})


def _prose_options(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, option, command) for every `--option` inside inline code outside fenced blocks (`--a.b` counts as
    `--a`); command is X for code that starts with `r3 X`, else None (the page's commands)."""
    found, inside = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if inside:
            continue
        for code in re.findall(r"`([^`]+)`", line):
            words = code.split()
            command = words[1] if len(words) > 1 and words[0] == "r3" and words[1] in COMMANDS else None
            found += [(number, option.split(".")[0], command)
                      for option in re.findall(r"(?<![\w-])--[A-Za-z][\w.-]*", code)]
    return found


PROSE_OPTIONS = [(page, number, option, command) for page in PAGE_COMMANDS if (ROOT / page).exists()
                 for number, option, command in _prose_options(ROOT / page) if option not in NOT_R3_OPTIONS]


@pytest.mark.parametrize(("page", "number", "option", "command"), PROSE_OPTIONS,
                         ids=[f"{page}:{number}:{option}" for page, number, option, _ in PROSE_OPTIONS])
def test_options_named_in_the_prose_exist(page: str, number: int, option: str, command: str | None,
                                          request: pytest.FixtureRequest) -> None:
    """An option a page names in its text (tables, sentences) is an option of that page's command (or of the
    command the same code span names: `r3 report RUN --out DIR`)."""
    if option in PENDING_OPTIONS:
        request.applymarker(pytest.mark.xfail(reason=f"pending: {PENDING_OPTIONS[option]}", strict=True))
    commands = (command,) if command else PAGE_COMMANDS[page]
    assert option in set().union(*(_options_of(command) for command in commands)), (
        f"{page}:{number}: {option} is not an option of {' or '.join('r3 ' + c for c in commands)}")


def _parser_defaults(command: str) -> dict[str, object]:
    """`--option-name` -> default, for every option of `r3 COMMAND`."""
    return {option.replace("_", "-"): action.default for action in _parser(command)._actions
            for option in action.option_strings}


def _documented_default(text: str) -> tuple[bool, object]:
    """(checkable, value) of a table's default cell: numbers, off/on/false/true/none, `literal`, "required"."""
    text = text.strip()
    words = {"off": False, "false": False, "on": True, "true": True, "none": None, "required": None}
    if text in words:
        return True, words[text]
    if re.fullmatch(r"`[^`]+`", text):
        return True, text.strip("`")
    number = re.match(r"-?\d+(\.\d+)?(e-?\d+)?(?=$|\s)", text)
    return (True, float(number.group())) if number else (False, None)


def _same_default(documented: object, actual: object) -> bool:
    if isinstance(documented, float) and not isinstance(actual, bool):
        try:
            return float(actual) == documented  # "32" (a str field that also takes "auto") counts as 32
        except (TypeError, ValueError):
            return False
    if isinstance(actual, list) and len(actual) == 1:
        actual = actual[0]
    return documented == actual or (isinstance(actual, str) and documented == actual.lower())


def _table_defaults(page: str) -> list[tuple[int, str, str]]:
    """(line, option, default cell) of option-table rows: `| `--a`, `--b` | 1, 2 | meaning |` (or field names)."""
    rows = []
    for number, line in enumerate((ROOT / page).read_text(encoding="utf-8").splitlines(), 1):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = [name.split()[0] for name in re.findall(r"`([^`]+)`", cells[0])]
        values = [value for value in re.split(r",\s+", cells[1])]
        if len(names) == len(values):
            rows += [(number, "--" + name.lstrip("-").replace("_", "-"), value) for name, value in zip(names, values)]
    return rows


TABLE_DEFAULTS = [(page, number, option, value) for page in ("docs/eval.md", "docs/mining.md",
                                                             "docs/forgetting.md", "docs/training.md")
                  for number, option, value in _table_defaults(page) if _documented_default(value)[0]
                  and any(option in _options_of(command) for command in PAGE_COMMANDS[page])]  # not other tables


@pytest.mark.parametrize(("page", "number", "option", "value"), TABLE_DEFAULTS,
                         ids=[f"{page}:{number}:{option}" for page, number, option, _ in TABLE_DEFAULTS])
def test_option_tables_show_the_real_defaults(page: str, number: int, option: str, value: str) -> None:
    """A default in an option table is the parser's default (`--help` shows the same)."""
    defaults = {}
    for command in PAGE_COMMANDS[page]:
        defaults = {**_parser_defaults(command), **defaults}
    documented = _documented_default(value)[1]
    assert _same_default(documented, defaults[option]), (
        f"{page}:{number}: the table says {option} defaults to {value}; the code: {defaults[option]!r}")


def test_every_recipe_the_docs_name_exists() -> None:
    """`configs/....yaml` named anywhere in the docs is a shipped recipe (NAME, FILE... are placeholders)."""
    named = {(path.relative_to(ROOT), match) for path in doc_files()
             for match in re.findall(r"configs/[\w./-]+\.yaml", path.read_text(encoding="utf-8"))
             if not re.search(r"[A-Z]{3,}", match)}
    assert named, "the docs name no recipe: the pattern is broken"
    missing = sorted(f"{page}: {recipe}" for page, recipe in named if not (ROOT / recipe).is_file())
    assert not missing, f"recipes named in the docs that do not exist: {missing}"
