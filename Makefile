# ja-vila — `make demo` and `make test` work on a fresh clone: both install what they need first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-out
# torch from this machine's disk (house rule 3); everything else from pyproject.toml
TORCH  := torch==2.14.1 torchvision==0.29.1

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# pip's "Location ... is ignored" lines come from this machine's mirror config: noise, not errors
QUIET_PIP := { grep -v "is ignored" || true; }

.PHONY: setup test test-fast demo bench lint clean

setup: $(STAMP)  ## create .venv and install (quick no-op when up to date)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(TORCH) 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import torch, torchvision, datasets, transformers, datatrove, dataset_builders, ja_vila"
	@touch $@

test: setup  ## the whole suite, slow tests included (what CI runs)
	$(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

test-fast: setup  ## the suite without tests marked slow
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

demo: setup  ## the whole chain on the embedded sample, into $(DEMO_OUT)/
	$(BIN)/ja-vila demo --out $(DEMO_OUT)

bench: setup  ## every benchmark in bench/ (prints ours, baseline, ratio)
	$(BIN)/python -m bench.run $(BENCH)

lint: setup  ## ruff, then the import contract (layers point down only)
	$(BIN)/ruff check .
	$(BIN)/python tools/check_layers.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache *.egg-info
