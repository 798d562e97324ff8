"""``python -m fxlib.runtime.benchmark``: streaming speed of every model against PyTorch and ONNX
Runtime, measured in the same run on the same input (``make bench`` runs it after the thesis's
protocol, ``fxlib.bench``).

What one measurement is: ``--seconds`` of seeded Gaussian noise (RMS 0.1, 44.1 kHz) processed
from a reset state in consecutive blocks of ``block`` samples (or in one call, "whole"), on
``--threads`` threads (default 1; torch, ONNX Runtime intra/inter-op and numba all serial),
flush-to-zero on; ``--warmup`` untimed runs, then ``--runs`` timed ones (``time.perf_counter``),
taken round-robin over the engines of a model (run r of each before run r + 1 of any), so that
the slow spells of a shared machine fall on every engine alike.
Every engine gets its input (and fxlib its output buffer) already cut into blocks, as an audio
callback receives them, so the loop times the engine, not the slicing.
Reported: median ms of compute per second of audio, inter-quartile range, microseconds per call
(``us_call``: ms per second over the calls a second of audio takes at that block size), RTF
(audio s / compute s), and same-run ratios.

Engines:

* ``fxlib``: ``fxlib.runtime.Streamer.process_into`` (B/C: the numba per-sample kernels with
  their default 16-lane float32 gates, through the model's one compiled entry point,
  ``fxlib.runtime.bank``; A/Av2: the exact streaming overlap-add, latency 4094 samples, frames
  through PyTorch). ``fxlib-f64``: B/C with ``gates="float64"`` (per-unit float64 gates, the
  closest to the float64 model).
* ``overhead`` (B/C): the same ``process_into`` calls on empty blocks, as many as a second of
  audio takes at that block size: what the entry point costs on its own (input and output
  checks, dispatch), the rest of the ``fxlib`` row being arithmetic.
* ``torch``: PyTorch's own whole-signal forward -- for B/C ``nn.LSTM``/``nn.GRU`` + linear +
  skip (bypassing fxlib's numba GRU kernel, so this is PyTorch's number), for A/Av2
  ``model(x)``. The baseline of the ratios ``x torch``. With ``--torch-blocks``, also
  PyTorch's nn.LSTM/nn.GRU at the block sizes, state carried (slow for GRUs).
* ``onnxruntime``: the model exported by ``fxlib.export`` (B/C: native LSTM/GRU operators, state
  carried between blocks; A/Av2: the frame graph, whole signal only). Skipped, with a note,
  when ``onnxruntime`` cannot be imported (or with ``--no-onnx``).
* ``bare``: for hidden size 64, the recurrent mat-vec chain alone (the kernels' own blocked,
  register-accumulated mat-vec ``kernels._gates``, input term and bias, then h <- g[:H] / 64,
  no activation): a floor for any per-sample engine on this CPU, not a model.

The streaming goals, checked (never assumed) at 64-sample blocks: every B/C size >= 2.5x faster
than PyTorch's whole-signal forward and >= 1.25x faster than ONNX Runtime at the same block;
LSTM-64 and GRU-64 within 1.6x of the bare chain; and, when ``--rtneural LABEL=CSV`` gives the
results of the RTNeural harness (``benchmarks/rtneural``, run on the same machine), every B/C
size at or under RTNeural's compile-time xsimd model (its rows are added as ``rtneural-LABEL``
engines, sample by sample, block 64; wall time, as here). Files (``--out``, default ``figures/``):
``bench_stream.csv``, ``bench_stream.{png,svg}`` and, when the study's runs exist,
``bench_accuracy_speed.{png,svg}`` (test ESR of each model's scratch run of the profile, seed 0,
on raw inputs -- the newest when there are several -- vs fxlib ms per second at 64-sample
blocks, or whole-signal when 64 is not measured). A/Av2 are streamed at
``--cafx-blocks`` (default 64) and whole (A is slow to stream: keep its blocks few).
This is a script: it prints and writes, it asserts no time.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numba
import numpy as np
import torch
from matplotlib.lines import Line2D

from .. import export
from .._atomic import atomic_open
from ..models import RecurrentFamily, build_model, check_model_name, family_of
from ..models.rnn import RecurrentModel
from ..paths import figures_root
from ..plots import save_figure
from ..thesis import SAMPLE_RATE
from ..timing import hardware_info, hardware_line, timing_environment
from ..train import find_runs
from .kernels import bare_chain, prepare_gru, prepare_lstm
from .streamer import Streamer

MODELS = ("B", "B16", "B8", "C", "C16", "C8", "Av2", "A")
BLOCKS = (32, 64, 128, 512)
COLUMNS = ("model", "engine", "block", "ms_per_s", "iqr_ms", "us_call", "rtf", "x_torch",
           "x_ort")


def _measure(fns, runs: int, warmup: int, seconds: float) -> list[tuple[float, float]]:
    """(median, IQR) ms per second of audio of each callable, timed round-robin: run r of every
    engine is taken before run r + 1 of any, so a slow spell of a shared machine lands on all
    engines of a model alike instead of on whichever was being timed."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    ms = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, ms):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000.0 / seconds)
    stats = []
    for m in ms:
        q1, q3 = np.percentile(m, [25, 75])
        stats.append((float(np.median(m)), float(q3 - q1)))
    return stats


def _pieces(a: np.ndarray, block) -> list:
    return [a] if block == "whole" else [a[i:i + block] for i in range(0, a.shape[0], block)]


def _blocked(process, reset, x: np.ndarray, block):
    pieces = _pieces(x, block)

    def run():
        reset()
        for piece in pieces:
            process(piece)
    return run


def _blocked_into(process_into, reset, x: np.ndarray, out: np.ndarray, block):
    """As ``_blocked`` for ``process_into(block, out)``: input and output cut once, up front."""
    pairs = list(zip(_pieces(x, block), _pieces(out, block)))

    def run():
        reset()
        for piece, into in pairs:
            process_into(piece, into)
    return run


def _calls(n: int, block) -> int:
    return 1 if block == "whole" else -(-n // block)


def _empty_calls(process_into, calls: int):
    """``calls`` calls of ``process_into`` on an empty block: the entry point's own cost."""
    empty, nothing = np.zeros(0, np.float32), np.zeros(0, np.float32)

    def run():
        for _ in range(calls):
            process_into(empty, nothing)
    return run


class _TorchRNN:
    """PyTorch's own nn.LSTM / nn.GRU + linear + skip, state carried: bypasses the numba GRU
    kernel that ``RecurrentModel.forward_stateful`` uses on CPU, so this is PyTorch's number."""

    def __init__(self, model: RecurrentModel):
        self.rec, self.lin, self.state = model.rec, model.lin, None

    def process(self, x: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(x)[None, :, None]
        h, self.state = self.rec(xt, self.state)
        return (xt + self.lin(h))[0, :, 0].numpy()

    def reset(self) -> None:
        self.state = None


def _engines(name: str, model, x: np.ndarray, blocks, tmp: Path, onnx: bool,
             cafx_blocks=(64,), torch_blocks: bool = False):
    """Yield (engine, block, callable) for one model."""
    rnn = isinstance(model, RecurrentModel)
    out = np.empty_like(x)
    streamers = [("fxlib", Streamer(model), blocks if rnn else list(cafx_blocks))]
    if rnn:                                         # the float64-gate kernels (opt-in)
        streamers.append(("fxlib-f64", Streamer(model, gates="float64"), blocks))
    for engine, s, engine_blocks in streamers:
        for b in engine_blocks + ["whole"]:
            yield engine, b, _blocked_into(s.process_into, s.reset, x, out, b)
    if rnn:
        s = streamers[0][1]
        for b in blocks:
            yield "overhead", b, _empty_calls(s.process_into, _calls(x.shape[0], b))
    xt = torch.from_numpy(x)[None]
    if rnn:
        tr = _TorchRNN(model)
        for b in (blocks if torch_blocks else []) + ["whole"]:
            yield "torch", b, _blocked(tr.process, tr.reset, x, b)
    else:
        yield "torch", "whole", lambda: model(xt)
    if onnx:
        om = export.OnnxModel(export.export_onnx(model, tmp / f"{name}.onnx"), threads=1)
        if rnn:
            st = om.streamer()
            for b in blocks + ["whole"]:
                yield "onnxruntime", b, _blocked(st.process, st.reset, x, b)
        else:
            yield "onnxruntime", "whole", lambda: om.forward(x)
    if rnn and model.hidden_size == 64:
        p = prepare_lstm(model) if model.cell == "LSTM" else prepare_gru(model)
        h = np.zeros(model.hidden_size, np.float32)
        yield "bare", 64, _blocked(
            lambda blk: bare_chain(blk, h, p["w0"], p["b0"], p["w_hh"], out[:len(blk)]),
            lambda: h.fill(0.0), x, 64)


def _onnx_version() -> str | None:
    """ONNX Runtime's version, or None when it cannot be imported (its rows are skipped)."""
    try:
        import onnxruntime          # an optional engine: the benchmark runs without it
    except ImportError:
        return None
    return onnxruntime.__version__


def _onnx_available(log=print) -> bool:
    if _onnx_version() is None:
        log("ONNX Runtime rows skipped: onnxruntime cannot be imported", file=sys.stderr)
        return False
    return True


def run(models=MODELS, blocks=BLOCKS, runs=10, warmup=2, seconds=1.0, threads=1, onnx=True,
        seed=0, log=print, cafx_blocks=(64,), torch_blocks=False) -> list[dict]:
    onnx = onnx and _onnx_available(log)
    x = (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1
         ).astype(np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, timing_environment(threads):
        for name in models:
            torch.manual_seed(seed)
            model = build_model(name).eval()
            engines = list(_engines(name, model, x, list(blocks), Path(tmp), onnx,
                                    list(cafx_blocks), torch_blocks))
            stats = _measure([fn for _, _, fn in engines], runs, warmup, seconds)
            mine = [{"model": name, "engine": engine, "block": block, "ms_per_s": med,
                     "iqr_ms": iqr, "us_call": med * 1000.0 * seconds / _calls(len(x), block),
                     "rtf": 1000.0 / med}
                    for (engine, block, _), (med, iqr) in zip(engines, stats)]
            base = next(r["ms_per_s"] for r in mine
                        if r["engine"] == "torch" and r["block"] == "whole")
            ort = {r["block"]: r["ms_per_s"] for r in mine if r["engine"] == "onnxruntime"}
            for r in mine:
                r["x_torch"] = base / r["ms_per_s"]
                r["x_ort"] = (ort[r["block"]] / r["ms_per_s"]
                              if r["engine"].startswith("fxlib") and r["block"] in ort
                              else float("nan"))
            rows += mine
            log(f"  timed {name}", file=sys.stderr, flush=True)
    return rows


#: RTNeural's engines in the harness's CSV (``benchmarks/rtneural``), by the name they get here.
RTNEURAL_ENGINES = {"xsimd, compile-time (ModelT)": "xsimd",
                    "Eigen, compile-time (ModelT)": "eigen",
                    "Eigen, run-time (Model)": "eigen-rt"}


def _fxlib_name(rtneural_model: str) -> str | None:
    """LSTM16 -> B16, GRU64 -> C (fxlib's 64-unit models are B and C)."""
    found = re.fullmatch(r"(LSTM|GRU)([1-9][0-9]*)", rtneural_model)
    if found is None:
        return None
    family, hidden = {"LSTM": "B", "GRU": "C"}[found[1]], found[2]
    return family if hidden == "64" else f"{family}{hidden}"


def rtneural_rows(label: str, path, models=None) -> list[dict]:
    """The RTNeural harness's CSV as rows of this table: engine ``rtneural-<label>-<engine>``
    (``RTNEURAL_ENGINES``), block 64 (it is called sample by sample from 64-sample blocks),
    the median wall ms per second of audio; only ``models`` when given."""
    with open(path, newline="", encoding="utf-8") as f:
        found = list(csv.DictReader(f))
    if not found or "wall_ms_median" not in found[0]:
        raise ValueError(f"{path}: not a CSV of benchmarks/rtneural (no wall_ms_median column)")
    rows = []
    for r in found:
        name, engine = _fxlib_name(r["model"]), RTNEURAL_ENGINES.get(r["engine"])
        if name is None or engine is None or (models is not None and name not in models):
            continue
        ms = float(r["wall_ms_median"])
        rows.append({"model": name, "engine": f"rtneural-{label}-{engine}", "block": 64,
                     "ms_per_s": ms, "iqr_ms": float("nan"), "us_call": float("nan"),
                     "rtf": 1000.0 / ms, "x_torch": float("nan"), "x_ort": float("nan")})
    return rows


def goals(rows) -> list[str]:
    """The streaming goals at 64-sample blocks (module notes), computed from the rows."""
    get = {(r["model"], r["engine"], r["block"]): r["ms_per_s"] for r in rows}
    lines = []
    recurrent = {r["model"] for r in rows if isinstance(family_of(r["model"]), RecurrentFamily)}
    rtneural = sorted({r["engine"] for r in rows if r["engine"].endswith("-xsimd")})
    order = {m: i for i, m in enumerate(dict.fromkeys(r["model"] for r in rows))}
    pairs = [(m, e) for m in sorted(recurrent, key=order.get) for e in ("fxlib", "fxlib-f64")]
    for m, engine in pairs:
        ms = get.get((m, engine, 64))
        if ms is None:
            continue
        checks = [("vs torch whole", get.get((m, "torch", "whole")), 2.5, True),
                  ("vs onnxruntime@64", get.get((m, "onnxruntime", 64)), 1.25, True),
                  ("/ bare chain", get.get((m, "bare", 64)), 1.6, False)]
        if engine == "fxlib":
            checks += [(f"vs {e}", get[(m, e, 64)], 1.0, True) for e in rtneural
                       if (m, e, 64) in get]
        parts = []
        for label, other, goal, faster in checks:
            if other is None:
                if label != "/ bare chain" or m in ("B", "C"):
                    parts.append(f"{label}: not measured")
                continue
            ratio = other / ms if faster else ms / other
            ok = ratio >= goal if faster else ratio <= goal
            parts.append(f"{label} {ratio:5.2f}x (goal {'>=' if faster else '<='} {goal}) "
                         f"{'met' if ok else 'MISSED'}")
        lines.append(f"{m:<4} {engine + '@64':<12} {ms:7.1f} ms/s: " + "; ".join(parts))
    return lines


def format_table(rows, threads: int, seconds: float, runs: int) -> str:
    head = (f"{'model':<5} {'engine':<21} {'block':>6} {'ms/s median':>12} {'IQR':>7} "
            f"{'us/call':>8} {'RTF':>7} {'x torch':>8} {'x ORT':>6}")
    lines = [f"Streaming: ms of compute per second of audio ({seconds:g} s input, {runs} runs, "
             f"{threads} thread)", head, "-" * len(head)]
    blank = lambda v, fmt: "" if v != v else format(v, fmt)   # noqa: E731 (NaN: not measured)
    for r in rows:
        lines.append(f"{r['model']:<5} {r['engine']:<21} {str(r['block']):>6} "
                     f"{r['ms_per_s']:12.2f} {blank(r['iqr_ms'], '7.2f'):>7} "
                     f"{blank(r['us_call'], '8.2f'):>8} {r['rtf']:7.1f} "
                     f"{blank(r['x_torch'], '8.2f'):>8} {blank(r['x_ort'], '6.2f'):>6}")
    lines += ["", "Goals at 64-sample blocks (same-run ratios):", *goals(rows)]
    lines.append(f"Hardware: {hardware_line(hardware_info(threads))}; numba {numba.__version__}, "
                 f"onnxruntime {_onnx_version() or 'absent'}. A/Av2 stream with latency 4094 "
                 "samples.")
    return "\n".join(lines) + "\n"


def scratch_test_esr(model: str, profile: str, source: str, effect: str,
                     runs_dir=None) -> float | None:
    """Test ESR of the newest finished scratch run of ``model`` (seed 0, raw inputs) for this
    profile and data, or None when there is none."""
    found = find_runs(runs_dir, model=model, method="scratch", std=False, profile=profile,
                      seed=0, source=source, effect=effect)
    if not found:
        return None
    newest = max(found, key=lambda r: (r.path / "metrics.json").stat().st_mtime_ns)
    return float(newest.metrics["test_esr"])


def _plots(rows, out: Path, profile: str, source: str, effect: str,
           runs_dir=None) -> list[Path]:
    written = []
    fig, ax = plt.subplots(figsize=(9, 5))
    ticks = sorted({r["block"] for r in rows if r["block"] != "whole"}) + ["whole"]
    pos = {b: i for i, b in enumerate(ticks)}      # numeric order whatever the model order
    # One colour per model, one line style and marker per engine (legend: models, then engines).
    styles = {"fxlib": "-o", "fxlib-f64": "-.d", "onnxruntime": "--s", "torch": ":^"}
    models = list(dict.fromkeys(r["model"] for r in rows))
    for i, m in enumerate(models):
        for eng, style in styles.items():
            pts = [(r["block"], r["ms_per_s"]) for r in rows
                   if r["model"] == m and r["engine"] == eng]
            if pts:
                pts.sort(key=lambda p: pos[p[0]])
                ax.plot([pos[b] for b, _ in pts], [v for _, v in pts], style, color=f"C{i}",
                        ms=4)
    handles = ([Line2D([], [], color=f"C{i}", lw=3, label=m) for i, m in enumerate(models)]
               + [Line2D([], [], color="k", ls=st[:-1], marker=st[-1], label=eng)
                  for eng, st in styles.items()])
    ax.set_xticks(range(len(ticks)), [str(b) for b in ticks])
    ax.set(yscale="log", xlabel="block size (samples)", ylabel="ms per second of audio",
           title="Streaming cost (1 thread); 1000 ms/s = real-time limit")
    ax.axhline(1000, color="k", lw=0.8)
    ax.legend(handles=handles, fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    written += save_figure(fig, "bench_stream", out)
    plt.close(fig)
    # accuracy vs speed from the study's scratch runs (skipped when they do not exist)
    pts = []
    for m in dict.fromkeys(r["model"] for r in rows):
        esr = scratch_test_esr(m, profile, source, effect, runs_dir)
        if esr is None:
            continue
        fx = {r["block"]: r["ms_per_s"] for r in rows
              if r["model"] == m and r["engine"] == "fxlib"}
        pts.append((m if 64 in fx else f"{m} (whole)", fx.get(64, fx["whole"]), esr))
    if not pts:
        print(f"no {profile} runs found: accuracy-vs-speed chart skipped", file=sys.stderr)
        return written
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for m, ms, esr in pts:
        ax.scatter(ms, esr, color="C0" if m.startswith("B") else
                   "C1" if m.startswith("C") else "C2")
        # C labels below their points, the others above: B8 and C16 sit side by side.
        ax.annotate(m, (ms, esr), textcoords="offset points",
                    xytext=(4, -11) if m.startswith("C") else (4, 4))
    ax.set(xscale="log", yscale="log", ylabel="test ESR",
           xlabel="fxlib ms per second of audio (block 64; whole where marked)",
           title=f"Accuracy vs speed ({profile}, {source}/{effect}, seed 0)")
    written += save_figure(fig, "bench_accuracy_speed", out)
    plt.close(fig)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.runtime.benchmark",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), type=check_model_name,
                    help=f"default: {' '.join(MODELS)}; any B<H>/C<H> too")
    ap.add_argument("--blocks", nargs="+", type=int, default=list(BLOCKS))
    ap.add_argument("--cafx-blocks", nargs="*", type=int, default=[64],
                    help="block sizes for A/Av2 besides whole (A is slow: keep them few)")
    ap.add_argument("--torch-blocks", action="store_true",
                    help="also time PyTorch's nn.LSTM/nn.GRU at the block sizes (slow for GRUs)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--out", default=None, help="folder for CSV and plots (default figures/)")
    ap.add_argument("--profile", default="quick", help="study runs for the accuracy chart")
    ap.add_argument("--source", default="embedded")
    ap.add_argument("--effect", "--device", default="muff", dest="effect",
                    help="the effect of the study's runs (--device: the old name)")
    ap.add_argument("--runs-dir", default=None, help="study runs root (default fxlib.paths)")
    ap.add_argument("--rtneural", nargs="+", default=[], metavar="LABEL=CSV",
                    help="add RTNeural's rows from the CSV of benchmarks/rtneural (run on this "
                         "machine), e.g. native=rtneural.csv avx2=rtneural-avx2.csv")
    a = ap.parse_args(argv)
    out = Path(a.out) if a.out else figures_root()
    if min(a.blocks + a.cafx_blocks, default=1) < 1 or a.runs < 1 or a.warmup < 0:
        ap.error("blocks and --runs must be >= 1, --warmup >= 0")
    extra = []
    for item in a.rtneural:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            ap.error(f"--rtneural takes LABEL=CSV, got {item!r}")
        try:
            extra += rtneural_rows(label, path, a.models)
        except (OSError, ValueError, KeyError) as err:
            ap.error(f"--rtneural {item}: {err}")
    rows = run(a.models, a.blocks, a.runs, a.warmup, a.seconds, a.threads, not a.no_onnx,
               cafx_blocks=a.cafx_blocks, torch_blocks=a.torch_blocks) + extra
    text = format_table(rows, a.threads, a.seconds, a.runs)
    print(text, end="")
    with atomic_open(out / "bench_stream.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
        f.write("# " + text.strip().splitlines()[-1] + "\n")
    if not a.no_plots:
        for p in _plots(rows, out, a.profile, a.source, a.effect, a.runs_dir):
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
