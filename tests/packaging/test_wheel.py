"""The wheel carries everything r3 needs at run time, and an installed copy finds its files without the checkout.

`.ci/run` goes further (a fresh virtual environment, `r3 --help` of every command and a shortened `r3 demo` from the
installed wheel); this test keeps the fast part in the default suite: build the wheel from a copy of the sources (so
the shared checkout gets no build/ folder), compare its files with the package's, and import the unpacked wheel from
outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "r3"


def package_files() -> set[str]:
    """Every file of the package as the wheel names it (r3/...), caches left out."""
    return {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(PACKAGE, source / "src" / "r3", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(out), str(source)], check=False, capture_output=True, text=True, cwd=source)
    assert build.returncode == 0, build.stderr
    (built,) = out.glob("r3_reflect-*.whl")
    return built


def test_wheel_holds_every_package_file_and_nothing_from_tests(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert package_files() - names == set()  # the demo model, the recipes, the sample data, every module
    assert "r3/demo/model_files/model.safetensors" in names and "r3/configs/demo_cpu.yaml" in names
    assert not any(name.startswith("tests/") or name.endswith("simulate.py") for name in names)


def test_wheel_metadata_has_the_entry_point_and_the_trl_range(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = {Path(n).name: archive.read(n).decode() for n in archive.namelist() if ".dist-info/" in n}
    assert "r3 = r3.cli:main" in info["entry_points.txt"]
    assert "Name: r3-reflect" in info["METADATA"].splitlines()  # PyPI's "r3" is another package; imported as r3
    requirements = [line for line in info["METADATA"].splitlines() if line.startswith("Requires-Dist: trl")]
    assert requirements == ["Requires-Dist: trl<1.17,>=1.16"]


def test_an_installed_copy_finds_its_demo_model_and_recipes_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # what `pip install` lays out, without touching the test environment
    probe = (
        "import json, r3; from r3.demo.model import MODEL_DIR; from r3.config import packaged_config; "
        "print(json.dumps([r3.__file__, str(MODEL_DIR), str(packaged_config('configs/demo_cpu.yaml'))]))"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", probe], check=False, cwd=elsewhere, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    module, model_dir, recipe = map(Path, json.loads(result.stdout))
    assert module.is_relative_to(site) and model_dir.is_relative_to(site) and recipe.is_relative_to(site)
    assert (model_dir / "model.safetensors").is_file() and recipe.is_file()
