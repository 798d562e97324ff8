"""``python -m fxlib.bench``: inference time of every model, next to the thesis's numbers.

Prints, for each registry model: trainable parameters (ours and the thesis's), the thesis's
protocol (PyTorch profiler, 1 s of audio, ``--runs`` runs, mean ± std ms), the wall-clock median
and inter-quartile range, the real-time factor (audio s / compute s), and the thesis's time --
then the hardware line. The thesis measured on a Colab Xeon 2.0 GHz, so the thesis column is
context, not a target. This is a script, not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys

import torch

from ._atomic import atomic_open
from .models import MODEL_NAMES, build_model, count_parameters
from .thesis import PARAMS, scratch_time_ms
from .timing import hardware_line, time_model

COLUMNS = ("model", "params", "thesis_params", "profiler_ms_mean", "profiler_ms_std",
           "wall_ms_median", "wall_ms_iqr", "rtf", "thesis_ms_mean", "thesis_ms_std")


def run(models=MODEL_NAMES, runs: int = 10, warmup: int = 2, threads: int = 1,
        seconds: float = 1.0, profiler: bool = True, device: str = "cpu", seed: int = 0):
    """Time each model; returns (rows as dicts, hardware dict)."""
    rows, hardware = [], {}
    for name in models:
        torch.manual_seed(seed)
        model = build_model(name)
        result = time_model(model, seconds=seconds, runs=runs, warmup=warmup, threads=threads,
                            profiler=profiler, device=device, seed=seed)
        hardware = result.hardware
        thesis_mean, thesis_std = scratch_time_ms(name)
        rows.append({
            "model": name, "params": count_parameters(model), "thesis_params": PARAMS[name],
            "profiler_ms_mean": result.profiler_mean, "profiler_ms_std": result.profiler_std,
            "wall_ms_median": result.wall_median, "wall_ms_iqr": result.wall_iqr,
            "rtf": result.rtf, "thesis_ms_mean": thesis_mean, "thesis_ms_std": thesis_std,
        })
        print(f"  timed {name}", file=sys.stderr, flush=True)
    return rows, hardware


def format_table(rows, hardware, runs: int, seconds: float) -> str:
    out = io.StringIO()
    head = (f"{'model':<5} {'params':>7} {'thesis':>7}  {'profiler ms':>17}  "
            f"{'wall median (IQR)':>19}  {'RTF':>6}  {'thesis ms':>11}")
    out.write(f"Inference time for {seconds:g} s of audio (44.1 kHz), {runs} runs each\n")
    out.write(head + "\n" + "-" * len(head) + "\n")
    for r in rows:
        prof = (f"{r['profiler_ms_mean']:8.1f} ± {r['profiler_ms_std']:6.1f}"
                if r["profiler_ms_mean"] == r["profiler_ms_mean"] else f"{'-':>17}")
        wall = f"{r['wall_ms_median']:8.1f} ({r['wall_ms_iqr']:6.1f})"
        out.write(f"{r['model']:<5} {r['params']:>7,} {r['thesis_params']:>7,}  {prof:>17}  "
                  f"{wall:>19}  {r['rtf']:6.2f}  {r['thesis_ms_mean']:>5.0f} ± {r['thesis_ms_std']:<3.0f}\n")
    out.write(f"Hardware: {hardware_line(hardware)}\n")
    out.write("RTF = audio seconds / wall-median compute seconds (> 1: faster than real time). "
              "Thesis: Colab Intel Xeon 2.0 GHz, PyTorch profiler, 10 runs.\n")
    return out.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--compute", "--device", default="cpu", dest="compute",
                    help="cpu or cuda (--device: the old name)")
    ap.add_argument("--no-profiler", action="store_true", help="wall clock only")
    ap.add_argument("--csv", help="also write the rows to this CSV file")
    args = ap.parse_args(argv)
    rows, hardware = run(args.models, args.runs, args.warmup, args.threads, args.seconds,
                         not args.no_profiler, args.compute)
    print(format_table(rows, hardware, args.runs, args.seconds), end="")
    if args.csv:
        with atomic_open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
            f.write(f"# hardware: {hardware_line(hardware)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
