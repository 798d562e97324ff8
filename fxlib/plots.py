"""Figures of the study, drawn the way the thesis draws them, saved with stable names.

* ``plot_waveforms``: target (and any model outputs) over a 4096-sample window (93 ms at
  44.1 kHz) beside a 100-sample zoom (~2 ms) -- thesis figures 3.3-3.4 and 4.1-4.18;
* ``save_figure``: PNG (for notebooks and the README) and SVG (vector, for papers) under
  ``figures/`` (``fxlib.paths.figures_root``), written atomically.

Matplotlib only; the Agg backend is used when no display is available (papermill, CI).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import numpy as np

if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ._atomic import atomic_path  # noqa: E402
from .paths import figures_root  # noqa: E402
from .thesis import SAMPLE_RATE  # noqa: E402

FORMATS = ("png", "svg")


def busiest_window(x: np.ndarray, length: int = 4096) -> int:
    """Start index of the ``length``-sample window with the most energy (a stable, content-
    driven choice of excerpt instead of a hard-coded offset)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) <= length:
        return 0
    energy = np.convolve(x ** 2, np.ones(length), mode="valid")
    return int(np.argmax(energy[::256]) * 256)


def plot_waveforms(signals: Mapping[str, np.ndarray], start: int, length: int = 4096,
                   zoom: int = 100, zoom_start: int | None = None,
                   sample_rate: int = SAMPLE_RATE, title: str = ""):
    """Two panels: the window [start, start + length) and a ``zoom``-sample detail.

    ``signals`` maps a legend label to a 1-D array (e.g. {"target": t, "B": y_b}). The zoom
    defaults to the neighbourhood of the window's largest target/first-signal peak.
    """
    if not signals:
        raise ValueError("plot_waveforms needs at least one signal")
    first = np.asarray(next(iter(signals.values())))
    stop = min(start + length, len(first))
    if zoom_start is None:
        zoom_start = start + int(np.argmax(np.abs(first[start:stop]))) - zoom // 2
    zoom_start = int(np.clip(zoom_start, start, max(start, stop - zoom)))
    fig, (ax_win, ax_zoom) = plt.subplots(1, 2, figsize=(12, 3.6),
                                          gridspec_kw={"width_ratios": [2, 1]})
    t_ms = lambda a, b: 1000.0 * np.arange(a, b) / sample_rate
    for label, sig in signals.items():
        sig = np.asarray(sig)
        ax_win.plot(t_ms(start, stop), sig[start:stop], lw=0.8, label=label)
        ax_zoom.plot(t_ms(zoom_start, zoom_start + zoom), sig[zoom_start:zoom_start + zoom],
                     lw=1.0, marker=".", ms=2, label=label)
    ax_win.axvspan(*t_ms(zoom_start, zoom_start + zoom)[[0, -1]], color="0.85", zorder=0)
    ax_win.set(xlabel="time (ms)", ylabel="amplitude",
               title=f"{stop - start} samples ({1000 * (stop - start) / sample_rate:.0f} ms)")
    ax_zoom.set(xlabel="time (ms)", title=f"zoom: {zoom} samples")
    ax_win.legend(loc="upper right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, name: str, root: str | os.PathLike | None = None,
                formats: Sequence[str] = FORMATS) -> list[Path]:
    """Save ``fig`` as ``<figures>/<name>.<fmt>`` for each format, atomically; return paths."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    folder = figures_root(root)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def plot_loss_curves(histories: Mapping[str, dict], title: str = ""):
    """Train and validation loss per model (thesis appendix A.1-A.12), one panel per model.

    ``histories`` maps a label to a run's ``history.json``. Data-free runs have no validation
    while training: their panel shows the student's and the generator's losses per block of
    iterations instead (the generator's is negative: it maximises the discrepancy).
    """
    if not histories:
        raise ValueError("plot_loss_curves needs at least one history")
    n = len(histories)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
    for ax, (label, h) in zip(axes[0], histories.items()):
        if "generator_loss" in h:
            ax.plot(h["iteration"], h["train_loss"], marker=".", label="student (T−S)²")
            ax.set(xlabel="DF iteration", yscale="log")
            ax2 = ax.twinx()
            ax2.plot(h["iteration"], h["generator_loss"], color="C3", lw=0.8,
                     label="generator")
            ax2.set_ylabel("generator loss", color="C3")
        else:
            ax.plot(h["epoch"], h["train_loss"], marker=".", label="train")
            ax.plot(h["val_epoch"], h["val_loss"], marker="o", label="validation")
            ax.set(xlabel="epoch", yscale="log")
        ax.set_title(label)
        ax.legend(loc="upper right", fontsize=8)
    axes[0][0].set_ylabel("loss")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_seed_band(target: np.ndarray, outputs: Sequence[np.ndarray], start: int,
                   length: int = 100, label: str = "model", sample_rate: int = SAMPLE_RATE,
                   title: str = ""):
    """Target and the mean ± 1 std of several runs' outputs over ``length`` samples (fig 4.19)."""
    stack = np.stack([np.asarray(o)[start:start + length] for o in outputs])
    t = 1000.0 * np.arange(start, start + stack.shape[1]) / sample_rate
    mean, std = stack.mean(0), stack.std(0, ddof=1) if len(stack) > 1 else np.zeros_like(stack[0])
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(t, np.asarray(target)[start:start + stack.shape[1]], color="k", lw=1.0,
            label="target")
    ax.plot(t, mean, color="C1", lw=1.0, label=f"{label}: mean of {len(stack)} seeds")
    ax.fill_between(t, mean - std, mean + std, color="C1", alpha=0.3, label="± 1 std")
    ax.set(xlabel="time (ms)", ylabel="amplitude", title=title or f"{label}, {len(stack)} seeds")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
