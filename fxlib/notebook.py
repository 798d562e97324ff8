"""Small helpers for the study notebooks: set-up, listening.

Notebooks call these instead of defining logic themselves. ``setup(storage)`` is every
notebook's first call: where its data, runs and figures live (Google Drive in Colab:
``fxlib.colab``) and, in Colab, the widget front-end. Everything degrades gracefully when run
headless (papermill, nbval): audio players and widgets are plain display objects that need no
live front-end to execute.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from IPython.display import HTML, Audio, display

from .colab import Storage, in_colab, use_storage
from .thesis import SAMPLE_RATE


def setup(storage: str = "auto") -> Storage:
    """Point this notebook's data, runs and figures at ``storage`` -- ``"auto"`` (Google Drive
    in Colab, this checkout's folders elsewhere), ``"local"``, ``"drive"`` or a folder
    (``fxlib.colab.use_storage``) -- and, in Colab, turn on the custom widget manager that
    progress bars and the model switcher need there. Returns the folders (``.describe()``)."""
    roots = use_storage(storage)
    if in_colab():
        from google.colab import output       # only exists in Colab (or a test's stand-in)
        output.enable_custom_widget_manager()
    return roots


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
