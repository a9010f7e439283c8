"""Every command in docs/scaling.md parses: r3 commands through r3.load_config (exactly as the command line parses
them), accelerate config files, recipes, scripts and test files exist. So the page cannot drift from the code."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest
import torch

import r3
from r3.api import config_class

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "scaling.md"
SHARD_FLAGS = ("--num_shards", "--shard_index")


def commands() -> list[str]:
    """The command lines of the page's bash blocks (comments dropped; `for i in ...; do CMD & done` gives CMD, $i=0)."""
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    found = []
    for line in "\n".join(blocks).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        loop = re.match(r"for \w+ in [^;]+; do (.*) & done; wait$", line)
        found.append((loop.group(1) if loop else line).replace("$i", "0"))
    return found


def _without_unwired_shard_flags(command: str, args: list[str]) -> list[str]:
    """num_shards / shard_index are parsed once the command's config has them; until the CLI wires r3.sharding
    they are checked here to be well-formed (an integer each) and left out."""
    fields = {f.name for f in dataclasses.fields(config_class(command))}
    if "num_shards" in fields:
        return args
    kept, tokens = [], iter(args)
    for token in tokens:
        if token in SHARD_FLAGS:
            assert next(tokens).isdigit(), f"{token} needs an integer"
        else:
            kept.append(token)
    return kept


def parse_r3(tokens: list[str]) -> None:
    command, args = tokens[0], tokens[1:]
    if command == "train":
        config_at = args.index("--config")
        source = args[config_at + 1]
        assert (REPO / source).is_file(), source
        # GRPOConfig refuses bf16 on a machine without a GPU: the page is for GPUs, this test runs anywhere
        on_cpu = [] if torch.cuda.is_available() else ["--bf16", "false", "--use_cpu", "true"]
        r3.load_config("train", str(REPO / source), args[:config_at] + args[config_at + 2:] + on_cpu)
    else:
        r3.load_config(command, None, _without_unwired_shard_flags(command, args))


def check(line: str) -> str:
    tokens = [t for t in shlex.split(line) if not re.match(r"^[A-Z_]+=", t)]  # drop VAR=value prefixes
    if tokens[0] == "r3":
        parse_r3(tokens[1:])
        return "r3"
    if tokens[0] == "accelerate":
        config_file = tokens[tokens.index("--config_file") + 1]
        assert (REPO / config_file).is_file(), config_file
        parse_r3(tokens[tokens.index("-m") + 2:])
        return "accelerate"
    if tokens[0] == "sbatch":
        script, task, recipe, _hub = tokens[1:]
        assert (REPO / script).is_file() and (REPO / "configs" / task / f"{recipe}.yaml").is_file(), line
        return "sbatch"
    if tokens[0].endswith("pytest"):
        assert all((REPO / t).exists() for t in tokens[1:] if t.startswith("tests/")), line
        return "pytest"
    if tokens[:2] == ["trl", "vllm-serve"]:
        return "trl"
    raise AssertionError(f"docs/scaling.md: a command this test does not know how to check: {line}")


def test_the_page_has_the_commands_of_every_recipe() -> None:
    lines = commands()
    recipes = sorted((REPO / "configs").glob("*/*.yaml"))
    recipes = [p for p in recipes if p.parent.name in ("countdown", "function_calling")]
    assert len(recipes) == 12
    for recipe in recipes:
        name = f"configs/{recipe.parent.name}/{recipe.name}"
        assert sum(name in line for line in lines) >= 2, name  # 1 GPU and 8 GPUs (2x8: the sbatch line)
        assert any(line.startswith(f"sbatch scripts/slurm_2x8.sh {recipe.parent.name} {recipe.stem} ")
                   for line in lines), name


@pytest.mark.parametrize("line", commands())
def test_every_command_parses(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the page's paths are relative to the checkout
    check(line)
