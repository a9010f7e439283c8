# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch==2.13.0 first (a looser requirement would pull CUDA wheels), then r3.
# `make wheel` writes dist/r3_reflect-*.whl (distribution r3-reflect; import name and command r3), with the demo model
# and recipes, to install elsewhere, e.g. on a GPU machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.r3-installed

.PHONY: demo test setup wheel clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,eval]"
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/r3 demo

wheel:
	$(PYTHON) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) runs .pytest_cache build dist
