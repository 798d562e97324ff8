# fxlib: `make reproduce` (the whole study), `make figures`, `make test`, `make bench`.
# All create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
# Pinned CPU build, installed before fxlib so that pip never resolves an unpinned (CUDA) torch.
TORCH  ?= torch==2.13.0
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fxlib-installed
# The study: PROFILE=smoke|quick|paper, SOURCE=embedded|wright2019|<folder>, EFFECT=muff|ht1
# (DEVICE= is the old name of EFFECT= and still works)
PROFILE ?= quick
SOURCE  ?= embedded
DEVICE  ?= muff
EFFECT  ?= $(DEVICE)

.PHONY: test bench reproduce figures venv clean-venv

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
	$(PY) -m fxlib.runtime.benchmark --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT)

# Builds (or fetches) the data, runs notebooks 00 -> 07 with papermill, leaves every figure and
# figures/results.md + results.csv; executed notebooks go to notebooks/executed/$(PROFILE)/.
reproduce: $(STAMP)
	$(PY) -m fxlib.reproduce --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT)

# Redraws every figure and the results summary from saved runs (trains nothing).
figures: $(STAMP)
	$(PY) -m fxlib.reproduce --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT) --only 07_figures

clean-venv:
	rm -rf $(VENV)
