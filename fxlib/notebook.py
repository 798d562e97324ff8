"""Small helpers for the study notebooks: listening and environment set-up.

Notebooks call these instead of defining logic themselves. Everything degrades gracefully when
run headless (papermill, nbval): audio players and widgets are plain display objects that need
no live front-end to execute.
"""
from __future__ import annotations

import sys
from typing import Mapping

import numpy as np

from .thesis import SAMPLE_RATE


def in_colab() -> bool:
    return "google.colab" in sys.modules


def audio_player(x: np.ndarray, sample_rate: int = SAMPLE_RATE, normalize: bool = False):
    """An inline player. ``normalize=False`` keeps relative loudness between players honest
    (a fuzz *is* louder than the dry signal); samples are clipped to [-1, 1] for playback."""
    from IPython.display import Audio

    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    return Audio(x, rate=sample_rate, normalize=normalize)


def listen(signals: Mapping[str, np.ndarray], sample_rate: int = SAMPLE_RATE,
           normalize: bool = False):
    """Display one labelled player per signal (e.g. input, target, teacher, student)."""
    from IPython.display import HTML, display

    for label, x in signals.items():
        display(HTML(f"<b>{label}</b>"))
        display(audio_player(x, sample_rate, normalize))


def excerpt(x: np.ndarray, start: int, seconds: float = 4.0,
            sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``seconds`` of ``x`` from ``start`` (clipped to the signal)."""
    stop = min(len(x), start + int(seconds * sample_rate))
    return np.asarray(x[max(0, start):stop])
