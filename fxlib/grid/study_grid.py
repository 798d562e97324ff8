"""The study's whole training as one grid: plan, train, time, then the seed repetition.

``run_study_grid(profile, source, effect, jobs=..., engine=...)`` does what notebooks 01 -> 06
would do one run at a time, with every run the same (same configs, same run folders):

1. **plan**: ``Study.plan()`` -- every experiment notebook's list (``fxlib.study.notebook_runs``)
   with seed 0, teachers first -- as graph nodes with their estimated work; printed as a table;
2. **train** it (``fxlib.grid.scheduler``) on the engine: local processes or Ray;
3. **time** every model, one at a time, with nothing training: the thesis's protocol
   (``Study.timing``, cached in each run folder, what the notebooks then read);
4. pick the best real-time model as notebook 06 does (``Study.best``) and **train its seed
   repetition** (``Study.repetition_plan``: the profile's ``seed_repetitions`` seeds).

Step 4 needs step 3, which needs every run of step 2: the one barrier of the study. With
``dry_run`` only the plan is printed.

Threads: every training gets ``threads`` (default ``fxlib.train.CPU_THREADS``, one). The thread
count of a CPU training changes its float32 rounding (docs/grid.md, section 'Same numbers'), so
with the default every engine, every ``jobs`` and every machine gives the same numbers, and
``jobs`` (default: the cores) is what uses the cores.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, TextIO

import torch

from ..paths import runs_root
from ..report import markdown_table
from ..study import LABELS, SEED_REPETITION_NOTEBOOK, Study
from ..timing import cores
from ..train import CPU_THREADS, MissingRun, train
from .graph import Node, Rates, nodes_from_plan
from .local import LocalEngine
from .ray_engine import RayEngine
from .scheduler import GridResult, NodeResult, run_nodes
from .worker import data_for

ENGINES = ("local", "ray")


@dataclass
class StudyGridResult(GridResult):
    """A ``GridResult`` over both stages, with what the driver measured in between."""
    best: Optional[str] = None
    timing_s: float = 0.0
    plan_s: float = 0.0
    plan: list = field(default_factory=list)


def plan_table(nodes: Sequence[Node], later: str = "") -> str:
    total = sum(n.work for n in nodes) or 1.0
    rows = [{"key": n.key, "model": n.config.model, "method": n.config.method,
             "teacher": n.teacher or "", "epochs": n.config.settings().n_epochs,
             "work": 100.0 * n.work / total} for n in nodes]
    table = markdown_table(rows, {"key": "run", "model": "model", "method": "method",
                                  "teacher": "after", "epochs": "epochs",
                                  "work": "est. work %"}, digits=1)
    return table.rstrip() + (f"\n\nthen: {later}" if later else "")


def probe_in(root, data):
    """The complete run of a config in ``root`` (computed in the driver), else None."""
    def probe(config):
        try:
            return train(config, runs=root, data=data_for(config, data), reuse_only=True,
                         progress=False)
        except MissingRun:
            return None
    return probe


def run_study_grid(profile: str = "quick", source: str = "embedded", effect: str = "muff", *,
                   runs=None, data_root=None, data_seed: int = 0, jobs: Optional[int] = None,
                   threads: Optional[int] = None, engine: str = "local",
                   address: Optional[str] = None, compute: str = "auto", retries: int = 1,
                   labels: Optional[Sequence[str]] = None, seed_repetition: bool = True,
                   dry_run: bool = False, stream: Optional[TextIO] = sys.stdout, log=print,
                   on_start=None, arm_seeds: Optional[int] = None) -> StudyGridResult:
    """Plan, train, time and train the seed repetition (module notes); returns every node's
    outcome. ``labels``: a subset of the experiments (default: every notebook's);
    ``arm_seeds``: seeds per small arm (``Study``; default: the profile's)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    t0 = time.perf_counter()
    threads = threads or CPU_THREADS
    root = runs_root(runs)
    study = Study(profile, source, effect, runs=root, data_root=data_root, data_seed=data_seed,
                  compute=compute, train=False, progress=False, arm_seeds=arm_seeds)
    data = study.dataset                   # builds the embedded data once, in the driver
    if any(study.config(lb).standardize for lb in (labels or LABELS)):
        data.standardizer()                # computed (and cached) before any worker needs it
    nodes = nodes_from_plan(study, study.plan(labels))
    later = (f"the seed repetition of the best real-time model ({SEED_REPETITION_NOTEBOOK}): "
             f"seeds 1..{study.profile.seed_repetitions - 1}, once every run above is "
             "trained and timed" if seed_repetition and study.profile.seed_repetitions > 1
             else "")
    log(f"[grid] profile {profile}, data {source}/{effect}, runs {root}: {len(nodes)} runs")
    log(plan_table(nodes, later))
    result = StudyGridResult({}, plan=nodes, plan_s=time.perf_counter() - t0)
    if dry_run:
        return result
    gpu = compute.startswith("cuda") or (compute == "auto" and torch.cuda.is_available())
    if engine == "local":
        jobs = jobs or (torch.cuda.device_count() if gpu else cores())
        eng = LocalEngine(root, jobs, compute, gpus=torch.cuda.device_count() if gpu else 0)
    else:
        eng = RayEngine(root, data, compute, address=address, num_cpus=(jobs or cores()) *
                        threads)
        gpu = compute.startswith("cuda") or (compute == "auto" and eng.gpus > 0)
        jobs = jobs or max(1, eng.gpus if gpu else eng.cpus // threads)
    log(f"[grid] {eng.describe()}; {threads} thread(s) per run")
    kw = dict(jobs=jobs, threads=threads, probe=probe_in(root, data), runs=root, retries=retries,
              gpus_per_run=1 if gpu else 0, stream=stream, log=log, on_start=on_start,
              rates=Rates())
    try:
        first = run_nodes(nodes, eng, **kw)
        _merge(result, first)
        if not first.ok:
            log(f"[grid] stopped before timing: {len(first.problems())} run(s) did not finish")
        elif seed_repetition and later:
            t1 = time.perf_counter()
            for label in (labels or LABELS):     # one model at a time, nothing training
                ms = study.timing(label)["ms_mean"]
                log(f"[grid] timed {label}: {ms:.1f} ms per second of audio")
            result.timing_s = time.perf_counter() - t1
            result.best = study.best(labels or LABELS)
            extra = nodes_from_plan(study, study.repetition_plan(result.best))
            log(f"[grid] best real-time model: {result.best}; seed repetition: "
                f"{', '.join(n.key for n in extra) or 'nothing more'}")
            _merge(result, run_nodes(extra, eng, known=first.run_ids(), **kw))
    finally:
        eng.close()
    result.seconds = time.perf_counter() - t0
    counts = ", ".join(f"{v} {k}" for k, v in result.counts().items())
    log(f"[grid] {counts} in {result.seconds:.1f} s (driver overhead {result.overhead_s:.1f} "
        f"s, plan {result.plan_s:.1f} s, timing {result.timing_s:.1f} s)")
    for line in result.problems():
        log(f"[grid] {line}")
    return result


def _merge(total: StudyGridResult, part: GridResult) -> None:
    total.nodes.update(part.nodes)
    total.overhead_s += part.overhead_s


__all__ = ["run_study_grid", "StudyGridResult", "plan_table", "probe_in", "cores", "ENGINES",
           "NodeResult"]
