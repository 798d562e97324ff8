"""``python -m fxlib.train.benchmark``: training updates per second of the recurrent models, fxlib's
numba kernels against PyTorch's ``nn.LSTM`` / ``nn.GRU``, measured in the same run.

What one measurement is: one mini-batch of the study's truncated-BPTT training
(``fxlib.models.family.tbptt_epoch``, the training loop itself): ``batch`` segments of seeded
noise (RMS 0.1; the speed does not depend on the data), a no-gradient warm-up of ``init_len``
samples, then ``--updates`` updates of ``tbptt`` samples each (forward with the carried state,
E_B loss, backward, Adam step, state detached), with the profile's batch, ``init_len`` and
``tbptt``. Updates per second = updates / wall time of the mini-batch, the warm-up included, as
in training. One thread (``fxlib.train.CPU_THREADS``), ``--warmup`` untimed mini-batches, then
``--runs`` timed ones taken round-robin over the engines (run r of each before run r + 1 of any),
so the slow spells of a shared machine fall on every engine alike. Reported: median updates/s,
inter-quartile range, the same-run ratio fxlib / PyTorch, and which engine training uses at that
hidden size by default (``fxlib.models.rnn.LSTM_KERNEL_HIDDEN``: the LSTM kernel is routed only
where it is faster).

Engines: ``torch`` = ``nn.LSTM`` (oneDNN's fused LSTM on CPU) / ``nn.GRU``; ``fxlib`` = the numba
kernels (``fxlib.models.lstm_kernel`` / ``gru_kernel``) at every hidden size. A script, not a
test: nothing here asserts a time. Results: docs/benchmarks.md, section 'Training throughput'.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

import numpy as np
import torch

from ..losses import LOSSES
from ..models import build_model, family_of
from ..models import rnn
from ..models.family import tbptt_epoch
from ..profiles import get_profile
from ..timing import hardware_info, hardware_line
from .trainer import CPU_THREADS, keep_freed_memory

MODELS = ("B", "B16", "B8", "C", "C16", "C8")
PROFILES = ("quick", "paper")
ENGINES = ("torch", "fxlib")


@contextlib.contextmanager
def engine(name: str):
    """Route the recurrences through PyTorch (``torch``) or fxlib's kernels at every size."""
    saved = rnn.USE_GRU_KERNEL, rnn.USE_LSTM_KERNEL, rnn.LSTM_KERNEL_HIDDEN
    on = name == "fxlib"
    rnn.USE_GRU_KERNEL = rnn.USE_LSTM_KERNEL = on
    rnn.LSTM_KERNEL_HIDDEN = frozenset(range(1, 1025))
    try:
        yield
    finally:
        rnn.USE_GRU_KERNEL, rnn.USE_LSTM_KERNEL, rnn.LSTM_KERNEL_HIDDEN = saved


def default_engine(model) -> str:
    """The engine training uses for ``model`` with the switches as they are."""
    if model.cell == "GRU":
        return "fxlib" if rnn.USE_GRU_KERNEL else "torch"
    return "fxlib" if rnn.USE_LSTM_KERNEL and model.hidden_size in rnn.LSTM_KERNEL_HIDDEN \
        else "torch"


def measure(name: str, profile: str, updates: int = 3, runs: int = 7, warmup: int = 1,
            seed: int = 0) -> dict:
    """Updates per second of model ``name`` at ``profile``'s batch, per engine (module doc)."""
    p = get_profile(profile)
    batch, init_len, tbptt = p.rnn_batch, p.init_len, p.tbptt
    seg_len = init_len + updates * tbptt
    gen = torch.Generator().manual_seed(seed)
    x = 0.1 * torch.randn(batch, seg_len, generator=gen)
    y = torch.tanh(5.0 * x)
    loss_fn = LOSSES[family_of(name).loss]
    setups = {}
    for eng in ENGINES:
        torch.manual_seed(seed)
        model = build_model(name)
        setups[eng] = (model, torch.optim.Adam(model.parameters(), lr=p.rnn_lr))
    rates = {eng: [] for eng in ENGINES}

    def one(eng):
        model, opt = setups[eng]
        with engine(eng):
            t0 = time.perf_counter()
            tbptt_epoch(model, opt, x, y, batch=batch, init_len=init_len, tbptt=tbptt,
                        rng=np.random.default_rng(seed), max_batches=1, loss_fn=loss_fn)
            return updates / (time.perf_counter() - t0)

    for _ in range(warmup):
        for eng in ENGINES:
            one(eng)
    for _ in range(runs):
        for eng in ENGINES:
            rates[eng].append(one(eng))
    row = {"model": name, "profile": profile, "batch": batch, "tbptt": tbptt,
           "default": default_engine(setups["fxlib"][0])}
    for eng in ENGINES:
        q1, med, q3 = np.percentile(rates[eng], [25, 50, 75])
        row[f"{eng}_ups"], row[f"{eng}_iqr"] = float(med), float(q3 - q1)
    row["ratio"] = row["fxlib_ups"] / row["torch_ups"]
    return row


def table(rows) -> str:
    lines = ["| model | profile (batch x tbptt) | nn.LSTM/nn.GRU updates/s [IQR] | "
             "fxlib kernel updates/s [IQR] | fxlib / torch | training uses |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['profile']} ({r['batch']} x {r['tbptt']}) | "
                     f"{r['torch_ups']:.1f} [{r['torch_iqr']:.1f}] | "
                     f"{r['fxlib_ups']:.1f} [{r['fxlib_iqr']:.1f}] | {r['ratio']:.2f}x | "
                     f"{r['default']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.train.benchmark",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=PROFILES)
    ap.add_argument("--updates", type=int, default=3, help="updates per timed mini-batch")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.updates < 1 or args.runs < 1 or args.warmup < 0:
        ap.error("--updates and --runs must be positive, --warmup non-negative")
    old = torch.get_num_threads()
    torch.set_num_threads(CPU_THREADS)
    keep_freed_memory()                       # as fxlib.train.train does for a CPU training
    try:
        rows = []
        for profile in args.profiles:
            for name in args.models:
                rows.append(measure(name, profile, args.updates, args.runs, args.warmup,
                                    args.seed))
                print(f"  {name} {profile}: {rows[-1]['ratio']:.2f}x", file=sys.stderr,
                      flush=True)
    finally:
        torch.set_num_threads(old)
    print(table(rows))
    print(f"\n{args.runs} runs of {args.updates} updates each, round-robin; "
          f"{hardware_line(hardware_info(CPU_THREADS))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
