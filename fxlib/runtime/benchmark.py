"""``python -m fxlib.runtime.benchmark``: streaming speed of every model against PyTorch and ONNX
Runtime, measured in the same run on the same input (``make bench`` runs it after the thesis's
protocol, ``fxlib.bench``).

What one measurement is: ``--seconds`` of seeded Gaussian noise (RMS 0.1, 44.1 kHz) processed
from a reset state in consecutive blocks of ``block`` samples (or in one call, "whole"), on
``--threads`` threads (default 1; torch, ONNX Runtime intra/inter-op and numba all serial),
flush-to-zero on; ``--warmup`` untimed runs, then ``--runs`` timed ones (``time.perf_counter``).
Reported: median ms of compute per second of audio, inter-quartile range, RTF (audio s /
compute s), and same-run ratios.

Engines:

* ``fxlib``: ``fxlib.runtime.Streamer`` (B/C: the numba per-sample kernels; A/Av2: the exact
  streaming overlap-add, latency 4094 samples, frames through PyTorch).
* ``torch``: PyTorch's own whole-signal forward -- for B/C ``nn.LSTM``/``nn.GRU`` + linear +
  skip (bypassing fxlib's numba GRU kernel, so this is PyTorch's number), for A/Av2
  ``model(x)``. The baseline of the ratios ``x torch``.
* ``onnxruntime``: the model exported by ``fxlib.export`` (B/C: native LSTM/GRU operators, state
  carried between blocks; A/Av2: the frame graph, whole signal only).
* ``bare``: for hidden size 64, the recurrent mat-vec chain alone (the same (H, G) transposed
  layout and loop order as the kernels, input term and bias, then h <- g[:H] / 64, no
  activation): a floor for any per-sample engine on this CPU, not a model.

Goals of issue 6, checked (never assumed) at 64-sample blocks: every B/C size >= 2.5x faster
than PyTorch's whole-signal forward and >= 1.25x faster than ONNX Runtime at the same block;
LSTM-64 and GRU-64 within 1.6x of the bare chain. Files (``--out``, default ``figures/``):
``bench_stream.csv``, ``bench_stream.{png,svg}`` and, when the study's runs exist,
``bench_accuracy_speed.{png,svg}`` (test ESR of each scratch model vs fxlib ms per second).
This is a script: it prints and writes, it asserts no time.
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from numba import njit

from .._atomic import atomic_open
from ..models import build_model
from ..models.rnn import RecurrentModel
from ..thesis import SAMPLE_RATE
from ..timing import _timing_environment, hardware_info, hardware_line
from .kernels import FASTMATH, prepare_lstm
from .streamer import Streamer

MODELS = ("B", "B16", "B8", "C", "C16", "C8", "Av2", "A")
BLOCKS = (32, 64, 128, 512)
COLUMNS = ("model", "engine", "block", "ms_per_s", "iqr_ms", "rtf", "x_torch", "x_ort")


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def bare_chain(x, h, w_ih, w_hhT, b, out):
    """The recurrent mat-vec per sample and nothing else (see the module doc)."""
    H, G = w_hhT.shape
    g = np.empty(G, dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        for k in range(G):
            g[k] = b[k] + xt * w_ih[k]
        for j in range(H):
            hj = h[j]
            for k in range(G):
                g[k] += hj * w_hhT[j, k]
        acc = np.float32(0.0)
        for k in range(H):
            h[k] = g[k] * np.float32(0.015625)
            acc += h[k]
        out[t] = acc


def _measure(fn, runs: int, warmup: int, seconds: float) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000.0 / seconds)
    q1, q3 = np.percentile(ms, [25, 75])
    return float(np.median(ms)), float(q3 - q1)


def _blocked(process, reset, x: np.ndarray, block):
    def run():
        reset()
        if block == "whole":
            process(x)
        else:
            for i in range(0, x.shape[0], block):
                process(x[i:i + block])
    return run


def _engines(name: str, model, x: np.ndarray, blocks, tmp: Path, onnx: bool):
    """Yield (engine, block, callable) for one model."""
    rnn = isinstance(model, RecurrentModel)
    s = Streamer(model)
    out = np.empty_like(x)
    for b in (blocks if rnn else [b for b in blocks if b == 64]) + ["whole"]:
        def proc(blk, s=s, out=out):
            s.process(blk, out[:blk.shape[0]])
        yield "fxlib", b, _blocked(proc, s.reset, x, b)
    xt = torch.from_numpy(x)[None]
    if rnn:
        from ..export import _RNNGraph
        graph = _RNNGraph(model)
        zeros = (torch.zeros(1, 1, model.hidden_size),) * (2 if model.cell == "LSTM" else 1)
        yield "torch", "whole", lambda: graph(xt, *zeros)
    else:
        yield "torch", "whole", lambda: model(xt)
    if onnx:
        from ..export import OnnxModel, export_onnx
        om = OnnxModel(export_onnx(model, tmp / f"{name}.onnx"), threads=1)
        if rnn:
            st = om.streamer()
            for b in blocks + ["whole"]:
                yield "onnxruntime", b, _blocked(st.process, st.reset, x, b)
        else:
            yield "onnxruntime", "whole", lambda: om.forward(x)
    if rnn and model.hidden_size == 64:
        p = prepare_lstm(model) if model.cell == "LSTM" else None
        w_ih, w_hhT, bias = ((p["w_ih"], p["w_hhT"], p["b"]) if p else _gru_arrays(model))
        h = np.zeros(model.hidden_size, np.float32)
        yield "bare", 64, _blocked(lambda blk: bare_chain(blk, h, w_ih, w_hhT, bias, out[:len(blk)]),
                                   lambda: h.fill(0.0), x, 64)


def _gru_arrays(model):
    from .kernels import prepare_gru
    p = prepare_gru(model)
    return p["w_ih"], p["w_hhT"], p["b"]


def run(models=MODELS, blocks=BLOCKS, runs=10, warmup=2, seconds=1.0, threads=1, onnx=True,
        seed=0, log=print) -> list[dict]:
    x = (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1
         ).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, _timing_environment(threads):
        for name in models:
            torch.manual_seed(seed)
            model = build_model(name).eval()
            mine = []
            for engine, block, fn in _engines(name, model, x, list(blocks), Path(tmp), onnx):
                med, iqr = _measure(fn, runs, warmup, seconds)
                mine.append({"model": name, "engine": engine, "block": block, "ms_per_s": med,
                             "iqr_ms": iqr, "rtf": 1000.0 / med})
            base = next(r["ms_per_s"] for r in mine if r["engine"] == "torch")
            ort = {r["block"]: r["ms_per_s"] for r in mine if r["engine"] == "onnxruntime"}
            for r in mine:
                r["x_torch"] = base / r["ms_per_s"]
                r["x_ort"] = (ort[r["block"]] / r["ms_per_s"]
                              if r["engine"] == "fxlib" and r["block"] in ort else float("nan"))
            rows += mine
            log(f"  timed {name}", file=sys.stderr, flush=True)
    return rows


def goals(rows) -> list[str]:
    """The issue's goals at 64-sample blocks, computed from the rows."""
    get = {(r["model"], r["engine"], r["block"]): r["ms_per_s"] for r in rows}
    lines = []
    for m in sorted({r["model"] for r in rows if not r["model"].startswith("A")}, key=MODELS.index):
        ms = get.get((m, "fxlib", 64))
        if ms is None:
            continue
        checks = [("vs torch whole", get.get((m, "torch", "whole")), 2.5, True),
                  ("vs onnxruntime@64", get.get((m, "onnxruntime", 64)), 1.25, True),
                  ("/ bare chain", get.get((m, "bare", 64)), 1.6, False)]
        parts = []
        for label, other, goal, faster in checks:
            if other is None:
                continue
            ratio = other / ms if faster else ms / other
            ok = ratio >= goal if faster else ratio <= goal
            parts.append(f"{label} {ratio:5.2f}x (goal {'>=' if faster else '<='} {goal}) "
                         f"{'met' if ok else 'MISSED'}")
        lines.append(f"{m:<4} fxlib@64 {ms:7.1f} ms/s: " + "; ".join(parts))
    return lines


def format_table(rows, threads: int, seconds: float, runs: int) -> str:
    head = (f"{'model':<5} {'engine':<12} {'block':>6} {'ms/s median':>12} {'IQR':>7} "
            f"{'RTF':>7} {'x torch':>8} {'x ORT':>6}")
    lines = [f"Streaming: ms of compute per second of audio ({seconds:g} s input, {runs} runs, "
             f"{threads} thread)", head, "-" * len(head)]
    for r in rows:
        xo = "" if r["x_ort"] != r["x_ort"] else f"{r['x_ort']:6.2f}"
        lines.append(f"{r['model']:<5} {r['engine']:<12} {str(r['block']):>6} "
                     f"{r['ms_per_s']:12.2f} {r['iqr_ms']:7.2f} {r['rtf']:7.1f} "
                     f"{r['x_torch']:8.2f} {xo:>6}")
    lines += ["", "Goals at 64-sample blocks (same-run ratios):", *goals(rows)]
    import numba
    try:
        import onnxruntime
        ort_v = onnxruntime.__version__
    except ImportError:
        ort_v = "absent"
    lines.append(f"Hardware: {hardware_line(hardware_info(threads))}; numba {numba.__version__}, "
                 f"onnxruntime {ort_v}. A/Av2 stream with latency 4094 samples.")
    return "\n".join(lines) + "\n"


def _plots(rows, out: Path, profile: str, source: str, device: str) -> list[Path]:
    import matplotlib.pyplot as plt
    from ..plots import save_figure
    written = []
    fig, ax = plt.subplots(figsize=(9, 5))
    for m in dict.fromkeys(r["model"] for r in rows):
        for eng, style in (("fxlib", "-o"), ("onnxruntime", "--s"), ("torch", ":^")):
            pts = [(r["block"], r["ms_per_s"]) for r in rows
                   if r["model"] == m and r["engine"] == eng]
            if pts:
                ax.plot([str(b) for b, _ in pts], [v for _, v in pts], style, label=f"{m} {eng}")
    ax.set(yscale="log", xlabel="block size (samples)", ylabel="ms per second of audio",
           title="Streaming cost (1 thread); 1000 ms/s = real-time limit")
    ax.axhline(1000, color="k", lw=0.8)
    ax.legend(fontsize=6, ncol=4)
    written += save_figure(fig, "bench_stream", out)
    plt.close(fig)
    # accuracy vs speed from the study's scratch runs (skipped when they do not exist)
    from ..study import Study
    from ..train import RunError
    study, pts = Study(profile, source, device, train=False), []
    labels = {"B": "B", "B16": "B h16", "B8": "B h8", "C": "C", "C16": "C h16", "C8": "C h8",
              "A": "A", "Av2": "Av2"}
    for m in dict.fromkeys(r["model"] for r in rows):
        try:
            esr = study.run(labels[m], 0).metrics["test_esr"]
        except (RunError, KeyError, ValueError, FileNotFoundError):
            continue
        ms = next(r["ms_per_s"] for r in rows if r["model"] == m and r["engine"] == "fxlib")
        pts.append((m, ms, esr))
    if not pts:
        print(f"no {profile} runs found: accuracy-vs-speed chart skipped", file=sys.stderr)
        return written
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for m, ms, esr in pts:
        ax.scatter(ms, esr)
        ax.annotate(m, (ms, esr), textcoords="offset points", xytext=(4, 4))
    ax.set(xscale="log", yscale="log", xlabel="fxlib ms per second of audio (block 64)",
           ylabel="test ESR", title=f"Accuracy vs speed ({profile}, {source}/{device}, seed 0)")
    written += save_figure(fig, "bench_accuracy_speed", out)
    plt.close(fig)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.runtime.benchmark",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--blocks", nargs="+", type=int, default=list(BLOCKS))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--out", default=None, help="folder for CSV and plots (default figures/)")
    ap.add_argument("--profile", default="quick", help="study runs for the accuracy chart")
    ap.add_argument("--source", default="embedded")
    ap.add_argument("--device", default="muff")
    a = ap.parse_args(argv)
    from ..paths import figures_root
    out = Path(a.out) if a.out else figures_root()
    rows = run(a.models, a.blocks, a.runs, a.warmup, a.seconds, a.threads, not a.no_onnx)
    text = format_table(rows, a.threads, a.seconds, a.runs)
    print(text, end="")
    with atomic_open(out / "bench_stream.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        f.write("# " + text.strip().splitlines()[-1] + "\n")
    if not a.no_plots:
        for p in _plots(rows, out, a.profile, a.source, a.device):
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
