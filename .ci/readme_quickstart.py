"""Run the README's quickstart block as written (CI, from a wheel install, outside the checkout).

    python .ci/readme_quickstart.py README.md VENV_BIN [--skip COMMAND ...]

Takes the first ```bash block after the heading "## The loop in six commands", joins continued lines, drops
comments, and runs every `r3 ...` line in order with VENV_BIN first on PATH; stops at the first failure. `--skip`
names commands that cannot run here (`r3 forgetting` needs hub datasets). The block is written for a clone's root;
run outside one, `src/r3/demo/model_files` (the demo model the block names) is linked to the installed package's copy.
"""

import os
import re
import shlex
import subprocess
import sys
import time


def quickstart_commands(readme: str) -> list[str]:
    section = readme.split("## The loop in six commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = []
    for line in joined.splitlines():
        tokens = shlex.split(line, comments=True)
        if tokens and tokens[0] == "r3":
            commands.append(tokens)
    return commands


def link_demo_model(venv_bin: str) -> None:
    """Outside a clone, make the block's `src/r3/demo/model_files` the installed package's demo model."""
    target = os.path.join("src", "r3", "demo", "model_files")
    if os.path.exists(target):
        return
    code = "import r3.demo.model as m; print(m.MODEL_DIR)"
    installed = subprocess.run([os.path.join(venv_bin, "python"), "-c", code], capture_output=True, text=True,
                               check=True).stdout.strip()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.symlink(installed, target)


def main(argv: list[str]) -> int:
    readme, venv_bin, *rest = argv
    skip = set(rest[rest.index("--skip") + 1:]) if "--skip" in rest else set()
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    with open(readme, encoding="utf-8") as handle:
        commands = quickstart_commands(handle.read())
    link_demo_model(venv_bin)
    if len(commands) < 5:
        print(f"found only {len(commands)} r3 commands in the quickstart block", file=sys.stderr)
        return 1
    for tokens in commands:
        if tokens[1] in skip:
            print(f"-- skipped: {shlex.join(tokens)}")
            continue
        print(f"$ {shlex.join(tokens)}", flush=True)
        started = time.monotonic()
        done = subprocess.run([*tokens, "--no-progress"] if tokens[1] in ("eval", "mine") else tokens, check=False,
                              env=env)
        print(f"-- {tokens[1]}: {time.monotonic() - started:.0f} s", flush=True)
        if done.returncode != 0:
            print(f"quickstart command failed with status {done.returncode}: {shlex.join(tokens)}", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
