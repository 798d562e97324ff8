"""fxlib's streamer against RTNeural on this machine, interleaved: each round runs every RTNeural
build given (the harness of this folder, one round of its timed runs) and then fxlib's
streaming benchmark (``fxlib.runtime.benchmark.run``), so a slow spell of a shared machine falls
on both. Prints the medians over rounds as a markdown table (ms of compute per second of audio,
wall time, one thread) and the ratio of each RTNeural build's compile-time xsimd model to fxlib
at 64-sample blocks. Not part of CI (it needs the RTNeural build; README.md).

    python benchmarks/rtneural/compare.py native=benchmarks/rtneural/build/bench_rtneural \\
        avx2=/tmp/rtn-avx2/bench_rtneural --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fxlib.runtime import benchmark as fx
from fxlib.timing import hardware_info, hardware_line

MODELS = ("B8", "B16", "B", "C8", "C16", "C")
RTN_MODELS = {"B8": "LSTM8", "B16": "LSTM16", "B": "LSTM64", "C8": "GRU8", "C16": "GRU16",
              "C": "GRU64"}


def rtneural_round(label: str, binary: str, runs: int, tmp: Path) -> dict:
    """One round of the harness: {(model, engine, 64): ms per s}, with its header line."""
    out = tmp / f"{label}.csv"
    cmd = [binary, "--rounds", "1", "--runs", str(runs), "--warmup", "2", "--csv", str(out),
           "--models", ",".join(RTN_MODELS[m] for m in MODELS)]
    header = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    rows = fx.rtneural_rows(label, out, MODELS)
    return {(r["model"], r["engine"], 64): r["ms_per_s"] for r in rows}, header[:2]


def fxlib_round(runs: int) -> dict:
    """One round of fxlib's benchmark: {(model, engine, block): ms per s}, plus the overhead
    rows' microseconds per call under the engine name "overhead-us"."""
    rows = fx.run(MODELS, (32, 64, 128), runs=runs, warmup=2, onnx=False,
                  log=lambda *a, **k: None)
    got = {(r["model"], r["engine"], r["block"]): r["ms_per_s"] for r in rows
           if r["engine"] in ("fxlib", "overhead")}
    got.update({(r["model"], "overhead-us", r["block"]): r["us_call"] for r in rows
                if r["engine"] == "overhead"})
    return got


def table(results: dict, labels: list[str]) -> str:
    med = {k: statistics.median(v) for k, v in results.items()}
    cols = " | ".join(MODELS)
    lines = [f"| engine | block | {cols} |", "|---|---|" + "---|" * len(MODELS)]
    for label in labels:
        for engine in ("xsimd", "eigen", "eigen-rt"):
            name = f"rtneural-{label}-{engine}"
            cells = [f"{med[(m, name, 64)]:.2f}" if (m, name, 64) in med else "-" for m in MODELS]
            lines.append(f"| RTNeural {label} {engine} | sample | " + " | ".join(cells) + " |")
    for block in (32, 64, 128):
        cells = [f"{med[(m, 'fxlib', block)]:.2f}" for m in MODELS]
        lines.append(f"| fxlib `process_into` | {block} | " + " | ".join(cells) + " |")
    for block in (32, 64, 128):
        cells = [f"{med[(m, 'overhead', block)]:.2f} ({med[(m, 'overhead-us', block)]:.2f} us)"
                 for m in MODELS]
        lines.append(f"| fxlib overhead (empty calls) | {block} | " + " | ".join(cells) + " |")
    for label in labels:
        name = f"rtneural-{label}-xsimd"
        cells = [f"{med[(m, name, 64)] / med[(m, 'fxlib', 64)]:.2f}x" for m in MODELS]
        lines.append(f"| RTNeural {label} xsimd / fxlib@64 | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", metavar="LABEL=BINARY")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10, help="timed runs per engine per round")
    a = ap.parse_args(argv)
    builds = [b.partition("=")[::2] for b in a.builds]
    if any(not label or not Path(path).is_file() for label, path in builds):
        ap.error("each build is LABEL=BINARY, the binary built by build.sh")
    results: dict = {}
    headers = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for label, binary in builds:
                got, headers[label] = rtneural_round(label, binary, a.runs * 2, Path(tmp))
                for k, v in got.items():
                    results.setdefault(k, []).append(v)
            for k, v in fxlib_round(a.runs).items():
                results.setdefault(k, []).append(v)
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    for label, _ in builds:
        print(f"{label}: " + " / ".join(headers[label]))
    print(f"fxlib: {hardware_line(hardware_info(1))}; medians of {a.rounds} rounds, "
          f"ms of compute per second of audio (wall time)")
    print(table(results, [label for label, _ in builds]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
