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
# The run grid (docs/grid.md): JOBS trainings at once (unset: this machine's cores, or its GPUs
# when training on GPUs; Ray: the cluster's), THREADS torch threads per training (unset: 1),
# ENGINE=local|ray (ray: pip install "fxlib[cluster]"), ADDRESS: a Ray cluster (unset: a local
# Ray instance).
JOBS    ?=
THREADS ?=
ENGINE  ?= local
ADDRESS ?=
# ARM_SEEDS: seeds of each 8/16-unit arm of tables 4.4, 4.5, 4.8, 4.9 (unset: the profile's).
ARM_SEEDS ?=
GRID    := --engine $(ENGINE) $(if $(JOBS),--jobs $(JOBS)) $(if $(THREADS),--threads $(THREADS)) \
           $(if $(ADDRESS),--address $(ADDRESS)) $(if $(ARM_SEEDS),--arm-seeds $(ARM_SEEDS))

.PHONY: test bench grid reproduce figures venv clean-venv

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
	$(PY) -m fxlib.train.benchmark

# Trains every run of the study (teachers first, JOBS at a time), times every model, trains the
# seed repetition; prints the plan first. `make grid GRID_ARGS=--dry-run`: the plan only.
grid: $(STAMP)
	$(PY) -m fxlib.grid --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT) $(GRID) $(GRID_ARGS)

# The grid, then notebooks 00 -> 07 with papermill (they reuse the grid's runs); leaves every
# figure and results.md + results.csv in figures/$(PROFILE)/<source>-$(EFFECT)/; executed
# notebooks go to notebooks/executed/$(PROFILE)/<source>-$(EFFECT)/.
reproduce: $(STAMP)
	$(PY) -m fxlib.reproduce --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT) $(GRID)

# Redraws every figure and the results summary from saved runs (trains nothing).
figures: $(STAMP)
	$(PY) -m fxlib.reproduce --profile $(PROFILE) --source $(SOURCE) --effect $(EFFECT) --only 07_figures

clean-venv:
	rm -rf $(VENV)
