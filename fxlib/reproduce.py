"""``python -m fxlib.reproduce``: the study's run grid, then its notebooks in order (papermill).

    python -m fxlib.reproduce --profile quick --source embedded --jobs 2   # make reproduce
    python -m fxlib.reproduce --profile quick --only 07_figures           # make figures

A whole reproduction first trains every run of the study with the run grid (``fxlib.grid``:
``jobs`` trainings at once, teachers first, then every model timed one at a time with nothing
training, then the seed repetition), so the notebooks only reuse runs. With ``--only`` the grid
is skipped and each notebook trains what it lacks itself, as in Colab. Each notebook gets the
same parameters (profile, source, effect, threads, compute; 00 takes the profile for its data
scale). Every study keeps its outputs apart (``fxlib.study.study_folder``): executed copies go to
``notebooks/executed/<profile>/<source>-<effect>/`` (git-ignored), figures and results to
``figures/<profile>/<source>-<effect>/`` (``FXLIB_FIGURES``), so ``EFFECT=ht1`` after the muff
study, or ``quick`` after ``smoke``, leaves the other's results in place; runs go to ``runs/``
(``FXLIB_RUNS``), named by their whole config. A notebook
that raises stops the batch with papermill's error (the executed copy shows the failing cell),
and an executed notebook holding an error output is reported as a failure too. The wall time
of every notebook is printed and saved as ``timings.json`` beside the executed copies.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import papermill

from ._atomic import write_json
from ._compat import renamed
from .grid import ENGINES, run_study_grid
from .profiles import PROFILE_NAMES, get_profile
from .study import study_folder

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = ("00_dataset", "01_A_vs_B", "02_kd_on_A", "03_kd_on_B", "04_kd_B_to_A",
             "05_kd_to_C", "06_seed_repetition", "07_figures")


class NotebookError(RuntimeError):
    """An executed notebook that holds an error output."""


class GridFailed(RuntimeError):
    """Some runs of the study's grid did not finish: the notebooks would lack them."""


def parameters(notebook: str, profile: str, source: str, effect: str,
               threads: Optional[int], compute: str, arm_seeds: Optional[int] = None) -> dict:
    if notebook == "00_dataset":          # the profile names its data scale and its folder
        return {"source": source, "profile": profile, "effect": effect}
    return {"profile": profile, "source": source, "effect": effect, "threads": threads,
            "compute": compute, "arm_seeds": arm_seeds}


def executed_folder(profile: str, source: str, effect: str, out_dir=None) -> Path:
    """Where one study's executed notebooks and ``timings.json`` go: ``out_dir`` (default
    ``notebooks/executed``) / ``<profile>/<source>-<effect>``."""
    return Path(out_dir or NOTEBOOK_DIR / "executed") / study_folder(profile, source, effect)


def error_outputs(path: Path) -> list[str]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb["cells"]
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


@renamed(device="effect")
def reproduce(profile: str = "quick", source: str = "embedded", effect: str = "muff", *,
              only: Optional[Sequence[str]] = None, out_dir: Optional[Path] = None,
              threads: Optional[int] = None, compute: str = "auto",
              kernel: str = "python3", cell_timeout: Optional[int] = None,
              jobs: Optional[int] = None, engine: str = "local",
              address: Optional[str] = None, arm_seeds: Optional[int] = None,
              log=print) -> dict:
    """Train the study's grid (unless ``only``), then execute the notebooks (all, or ``only``)
    in order; returns {"grid" and each notebook: seconds}.

    ``jobs``, ``engine``, ``address``: the grid's (``fxlib.grid.run_study_grid``; ``threads``
    is its threads per run, and the notebooks' too). ``out_dir``: the root of the executed
    copies (``executed_folder``: the study's own folder is made under it). ``arm_seeds``:
    seeds per 8/16-unit arm, for the grid and every notebook (None: the profile's).
    ``cell_timeout``: seconds one cell may run before papermill stops the batch with an error
    (None: no limit, as a ``paper`` training cell runs for hours; the test suite sets one so a
    hung kernel fails the test instead of stalling CI).
    """
    get_profile(profile)
    if not NOTEBOOK_DIR.is_dir():
        raise FileNotFoundError(f"no notebooks at {NOTEBOOK_DIR}: run from a checkout of the "
                                "repository (pip install -e .)")
    names = list(NOTEBOOKS if not only else only)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; choose from {', '.join(NOTEBOOKS)}")
    out_dir = executed_folder(profile, source, effect, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict = {}
    total = time.perf_counter()
    if not only:
        t0 = time.perf_counter()
        log(f"[grid] training the study's runs ({profile}, {source}/{effect}, engine {engine})")
        result = run_study_grid(profile, source, effect, jobs=jobs, threads=threads,
                                engine=engine, address=address, compute=compute, log=log,
                                arm_seeds=arm_seeds)
        if not result.ok:
            raise GridFailed("the run grid did not finish: " + "; ".join(result.problems())
                             + " (fix the cause and run again: finished runs are reused)")
        timings["grid"] = round(time.perf_counter() - t0, 1)
        timings["grid_overhead"] = round(result.overhead_s + result.plan_s, 2)
    for name in names:
        t0 = time.perf_counter()
        out = out_dir / f"{name}.ipynb"
        log(f"[{name}] running ({profile}, {source}/{effect}) -> {out}")
        papermill.execute_notebook(
            str(NOTEBOOK_DIR / f"{name}.ipynb"), str(out), kernel_name=kernel,
            parameters=parameters(name, profile, source, effect, threads, compute, arm_seeds),
            progress_bar=False, cwd=str(NOTEBOOK_DIR), execution_timeout=cell_timeout)
        errors = error_outputs(out)
        if errors:
            raise NotebookError(f"{out} holds error output(s): {errors}")
        timings[name] = round(time.perf_counter() - t0, 1)
        log(f"[{name}] done in {timings[name]:.1f} s")
    timings["total"] = round(time.perf_counter() - total, 1)
    write_json(out_dir / "timings.json", {"profile": profile, "source": source,
                                          "effect": effect, "seconds": timings})
    log(f"all done in {timings['total']:.1f} s")
    return timings


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fxlib.reproduce", description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    p.add_argument("--source", default="embedded", help="embedded | wright2019 | a folder")
    p.add_argument("--effect", "--device", default="muff", dest="effect",
                   help="muff | ht1 | a file prefix (--device: the old name)")
    p.add_argument("--only", nargs="+", default=None, metavar="NOTEBOOK",
                   help=f"run only these ({', '.join(NOTEBOOKS)})")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per training (default 1, fxlib.train.CPU_THREADS)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="trainings at once in the run grid (default: the cores)")
    p.add_argument("--engine", default="local", choices=ENGINES, help="the grid's engine")
    p.add_argument("--address", default=None, help="Ray cluster address (--engine ray)")
    p.add_argument("--compute", default="auto")
    p.add_argument("--arm-seeds", type=int, default=None, metavar="N",
                   help="seeds per 8/16-unit arm of the KD tables (default: the profile's)")
    p.add_argument("--out", default=None,
                   help="root for executed notebooks (default notebooks/executed; each study "
                        "writes under <profile>/<source>-<effect>/)")
    p.add_argument("--cell-timeout", type=int, default=None,
                   help="seconds one notebook cell may run (default: no limit)")
    args = p.parse_args(argv)
    try:
        reproduce(args.profile, args.source, args.effect, only=args.only,
                  out_dir=Path(args.out) if args.out else None, threads=args.threads,
                  compute=args.compute, cell_timeout=args.cell_timeout, jobs=args.jobs,
                  engine=args.engine, address=args.address, arm_seeds=args.arm_seeds)
    except Exception as err:          # papermill's errors name the notebook and the cell
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
