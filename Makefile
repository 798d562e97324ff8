# fxlib: `make test` and `make bench`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
# Pinned CPU build, installed before fxlib so that pip never resolves an unpinned (CUDA) torch.
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fxlib-installed

.PHONY: test bench venv clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m fxlib.bench

clean-venv:
	rm -rf $(VENV)
