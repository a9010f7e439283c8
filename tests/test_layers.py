"""The package's imports follow the data flow: no module imports from a layer above its own (issue 10).

Layers, lowest first: shared types and arithmetic; files, runs and the conversation layout; tasks; configuration;
generation; episodes; mining; training; evaluation; forgetting; reports; the viewer; the Python API; the demo (a
client of the API); the command line. Function-level imports count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "r3"
LAYERS = [
    {"errors", "types", "stats", "provenance"},
    {"data", "sample_data", "rundir", "chatml", "conversation", "models"},
    {"tasks", "rewards"},
    {"config", "tiny_model"},
    {"generation"},
    {"episodes"},
    {"mining"},
    {"training"},
    {"evaluation"},
    {"forgetting", "sharding"},
    {"report"},
    {"viewer"},
    {"api", "preflight"},
    {"demo"},
    {"cli", "__main__"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "r3"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "r3":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "r3")
    return found


def test_every_unit_is_in_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert units - set(LEVEL) == set(), "new module: give it a layer in tests/test_layers.py"


def test_no_import_runs_up_the_layers():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        source = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 or relative.stem != "__init__" \
            else "r3"
        if source == "r3":
            continue  # the package root only names the API, imported lazily
        for module in imports(path):
            target = unit_of(module)
            if target == "r3":
                continue  # `from r3 import __version__`
            if LEVEL[target] > LEVEL[source]:
                upward.append(f"{relative}: imports {module} ({target} is above {source})")
    assert upward == []
