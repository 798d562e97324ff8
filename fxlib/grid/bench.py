"""``python -m fxlib.grid.bench``: the whole study's wall time with 1, 2... jobs, same session.

    python -m fxlib.grid.bench --profile quick --jobs 1 2          # make reproduce, twice
    python -m fxlib.grid.bench --profile smoke --jobs 1 2 --grid-only
    python -m fxlib.grid.bench --profile quick --jobs 1 --threads 1 2 --grid-only

For each ``--jobs`` and ``--threads`` value it runs ``python -m fxlib.reproduce`` (or, with
``--grid-only``, ``python -m fxlib.grid``) in a process of its own, with a fresh runs root and
figures folder, on the same dataset (built once before the first timing, so no variant pays for
it), and prints: wall time, the grid's part and its own overhead (planning + scheduling in the
driver), the notebooks' part, the speed-up against the first row (measured in this same run),
then whether every run's test metrics are identical to the first row's, and the hardware. A
script, not a test: it asserts nothing about time. The numbers go to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..data import build_embedded
from ..paths import data_root
from ..profiles import PROFILE_NAMES, get_profile
from ..study import study_folder
from ..timing import hardware_info, hardware_line
from .study_grid import cores


def _metrics(root: Path) -> dict:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(root.glob("*/metrics.json"))}


def compare(a: dict, b: dict) -> str:
    """How the test metrics of two runs roots compare: identical, or the largest change."""
    if set(a) != set(b):
        return f"different runs: {len(set(a) ^ set(b))} run(s) in only one of them"
    worst, differ = 0.0, 0
    for name in a:
        if a[name] != b[name]:
            differ += 1
            for k in ("test_esr", "test_mae"):
                x, y = a[name][k], b[name][k]
                worst = max(worst, abs(x - y) / max(abs(x), 1e-30))
    if not differ:
        return f"identical test metrics in all {len(a)} runs"
    return f"{differ} of {len(a)} runs differ; largest relative change of ESR/MAE {worst:.2e}"


def measure(profile: str, source: str, effect: str, jobs: int, threads, out: Path,
            grid_only: bool) -> dict:
    runs, figures, executed = out / "runs", out / "figures", out / "executed"
    env = {**os.environ, "FXLIB_RUNS": str(runs), "FXLIB_FIGURES": str(figures),
           "MPLBACKEND": "Agg", "CI": "1"}
    args = ["--profile", profile, "--source", source, "--effect", effect, "--jobs", str(jobs)]
    if threads:
        args += ["--threads", str(threads)]
    cmd = ([sys.executable, "-m", "fxlib.grid"] + args if grid_only else
           [sys.executable, "-m", "fxlib.reproduce"] + args + ["--out", str(executed)])
    t0 = time.perf_counter()
    with open(out / "log.txt", "w", encoding="utf-8") as log:
        code = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {code}); see {out / 'log.txt'}")
    row = {"jobs": jobs, "wall_s": wall, "grid_s": None, "overhead_s": None,
           "notebooks_s": None, "runs": runs}
    if not grid_only:
        timings = executed / study_folder(profile, source, effect) / "timings.json"
        t = json.loads(timings.read_text(encoding="utf-8"))["seconds"]
        row.update(grid_s=t["grid"], overhead_s=t["grid_overhead"],
                   notebooks_s=t["total"] - t["grid"])
    else:
        for line in (out / "log.txt").read_text(encoding="utf-8").splitlines()[::-1]:
            if "driver overhead" in line:
                row["grid_s"] = wall
                row["overhead_s"] = float(line.split("driver overhead ")[1].split(" s")[0]) + \
                    float(line.split("plan ")[1].split(" s")[0])
                break
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fxlib.grid.bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    p.add_argument("--source", default="embedded")
    p.add_argument("--effect", default="muff")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, nargs="+", default=[None],
                   help="threads per run, one row per value and jobs (default: the grid's, 1)")
    p.add_argument("--grid-only", action="store_true", help="time the grid, not the notebooks")
    p.add_argument("--out", default=None, help="folder for the variants' runs (default: tmp)")
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="fxlib-grid-bench-"))
    if args.source == "embedded":                     # built once, before any timing
        build_embedded(get_profile(args.profile).data_scale, 0, data_root())
    rows = []
    for jobs in args.jobs:
        for threads in args.threads:
            folder = out / f"jobs{jobs}-threads{threads or 'default'}"
            folder.mkdir(parents=True, exist_ok=False)
            print(f"  jobs={jobs} threads={threads or 'default'}: running ({folder})",
                  file=sys.stderr, flush=True)
            rows.append({**measure(args.profile, args.source, args.effect, jobs, threads,
                                   folder, args.grid_only), "threads": threads or "default"})
    what = "python -m fxlib.grid" if args.grid_only else "python -m fxlib.reproduce"
    print(f"{what} --profile {args.profile} --source {args.source} --effect {args.effect}, "
          f"fresh runs root per row, {cores()} cores")
    print("| jobs | threads per run | wall s | grid s | grid overhead s | notebooks s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    fmt = (lambda v: "—" if v is None else f"{v:.1f}")
    for r in rows:
        print(f"| {r['jobs']} | {r['threads']} | {r['wall_s']:.1f} | {fmt(r['grid_s'])} | "
              f"{fmt(r['overhead_s'])} | {fmt(r['notebooks_s'])} | "
              f"{rows[0]['wall_s'] / r['wall_s']:.2f}x |")
    base = _metrics(rows[0]["runs"])
    for r in rows[1:]:
        print(f"jobs={r['jobs']} threads={r['threads']} vs jobs={rows[0]['jobs']} "
              f"threads={rows[0]['threads']}: {compare(base, _metrics(r['runs']))}")
    print(f"Hardware: {hardware_line(hardware_info(1))} (the line's thread count is the "
          "timing's; trainings: the column)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
