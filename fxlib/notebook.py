"""Small helpers for the study notebooks: listening and environment set-up.

Notebooks call these instead of defining logic themselves. Everything degrades gracefully when
run headless (papermill, nbval): audio players and widgets are plain display objects that need
no live front-end to execute.
"""
from __future__ import annotations

import sys
from typing import Mapping

import numpy as np
from IPython.display import HTML, Audio, display

from .thesis import SAMPLE_RATE


def in_colab() -> bool:
    return "google.colab" in sys.modules


def audio_player(x: np.ndarray, sample_rate: int = SAMPLE_RATE, normalize: bool = False):
    """An inline player. ``normalize=False`` keeps relative loudness between players honest
    (a fuzz *is* louder than the dry signal); samples are clipped to [-1, 1] for playback."""
    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    return Audio(x, rate=sample_rate, normalize=normalize)


def listen(signals: Mapping[str, np.ndarray], sample_rate: int = SAMPLE_RATE,
           normalize: bool = False):
    """Display one labelled player per signal (e.g. input, target, teacher, student)."""
    for label, x in signals.items():
        display(HTML(f"<b>{label}</b>"))
        display(audio_player(x, sample_rate, normalize))


def excerpt(x: np.ndarray, start: int, seconds: float = 4.0,
            sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``seconds`` of ``x`` from ``start`` (clipped to the signal)."""
    stop = min(len(x), start + int(seconds * sample_rate))
    return np.asarray(x[max(0, start):stop])


#: Where the project lives: Colab badges and the notebooks' install cell point here.
REPOSITORY = "fxlib/fxlib"
BRANCH = "main"


def renamed_parameter(name: str, value, **old):
    """A renamed notebook parameter: ``effect = renamed_parameter("effect", effect,
    device=device)`` keeps ``device`` (its old name, default None) working when papermill
    sets it, with a note; otherwise the new name's value stands."""
    (old_name, old_value), = old.items()
    if old_value is None:
        return value
    print(f"note: the notebook parameter {old_name!r} is now called {name!r}; using "
          f"{old_name}={old_value!r}")
    return old_value


def colab_url(notebook: str) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>.ipynb`` on GitHub."""
    return (f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/"
            f"{notebook}.ipynb")


def model_switcher(signals: Mapping[str, np.ndarray], sample_rate: int = SAMPLE_RATE,
                   normalize: bool = False):
    """A toggle that plays the chosen signal (input, target, teacher, students...) on the same
    excerpt, so they can be compared by ear one after another.

    Returns the widget. Headless (papermill, nbval, no ipywidgets) it degrades to a plain list
    of players: executing the notebook never depends on a live widget front-end.
    """
    names = list(signals)
    try:
        import ipywidgets as widgets                 # optional: a front-end feature
    except ImportError:                              # no widgets: plain players
        listen({k: signals[k] for k in names}, sample_rate, normalize)
        return None
    # The player lives in an HTML widget whose value is swapped, not in an ``Output`` widget:
    # nbclient (papermill, nbval) intercepts Output-widget messages and was seen to hang
    # intermittently on a ``clear_output`` inside one; an HTML value needs no capture.
    player = widgets.HTML()
    toggle = widgets.ToggleButtons(options=names, value=names[0], description="play:")

    def show(change=None):
        player.value = audio_player(signals[toggle.value], sample_rate, normalize)._repr_html_()

    toggle.observe(show, names="value")
    show()
    box = widgets.VBox([toggle, player])
    display(box)
    return box
