"""NAM model files (``.nam``) for LSTM models without the input skip (``B<H>-noskip``).

Neural Amp Modeler (NAM; the plugin and its core library, NeuralAmpModelerCore) plays an LSTM
whose output is a linear head on the last hidden state, ``y = head(h)``, with no input skip
(``nam/models/recurrent.py`` and ``NAM/lstm.cpp``). fxlib's B models add the input to that
(``y = x + Linear(h)``), which NAM cannot express, so only the ``-noskip`` LSTMs
(``fxlib.models``, e.g. ``B16-noskip``) export; GRUs have no NAM architecture at all. The file::

    {"version": "0.5.4", "architecture": "LSTM",
     "config": {"input_size": 1, "hidden_size": H, "num_layers": 1},
     "weights": [...], "sample_rate": 44100, "metadata": {...}}

``weights`` is one flat list, per layer: ``[W_ih | W_hh]`` (4H x (I + H), row-major, gates i, f,
g, o: PyTorch's own order), the bias ``b_ih + b_hh`` (4H), the initial hidden state (H) and the
initial cell state (H); then the head's weight (H) and bias (1). With I = 1 that is
4H(1 + H) + 6H + H + 1 numbers (H = 3: 70, the size of NAM's own example ``lstm.nam``).

**Initial state.** NAM starts from the file's state. fxlib writes the state the model reaches
after ``BURN_IN`` samples of silence (48,000, the length NAM's own trainer uses), so the plugin
starts settled rather than with the transient of a zero state; the plugin's output on ``x`` is
then fxlib's output on ``BURN_IN`` zeros followed by ``x``, from that point on.

``std`` runs: the model has no skip, so ``(x - mean) / std`` folds into the input weights and
bias exactly (``fold_standardizer``); the settled state is then the one on raw silence.

Version: ``NAM_VERSION`` is inside the range the core accepts (0.5.0 to 0.7.x). Metadata:
``fxlib.export.run_metadata`` (NAM reads only fields it knows; the rest is kept).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Optional

import torch

from ._atomic import write_json
from .models.rnn import RecurrentModel
from .thesis import SAMPLE_RATE

#: The .nam file version written (the core reads 0.5.0 to 0.7.x; its example LSTM is 0.5.4).
NAM_VERSION = "0.5.4"
#: Samples of silence the initial state is settled on (module notes).
BURN_IN = 48_000


class NamError(ValueError):
    """A model NAM cannot play exactly (the message says what would)."""


def check_nam(model) -> None:
    """Raise ``NamError`` unless ``model`` is an LSTM without the skip (module notes)."""
    if not isinstance(model, RecurrentModel) or model.cell != "LSTM":
        what = type(model).__name__ if not isinstance(model, RecurrentModel) else "a GRU"
        raise NamError(f"NAM plays LSTMs; {what} has no NAM form: export it as aidax (AIDA-X) "
                       "or onnx")
    if model.skip:
        raise NamError(f"NAM's LSTM has no input skip (y = head(h)); this B{model.hidden_size} "
                       "adds the input, which NAM cannot express. Train the same size without "
                       f"it (--model B{model.hidden_size}-noskip) for NAM, or export this one as "
                       "aidax (AIDA-X plays the skip)")


def settled_state(model: RecurrentModel, samples: int = BURN_IN):
    """The (h, c) state of ``model`` after ``samples`` zeros from the zero state."""
    with torch.no_grad():
        p = model.lin.weight
        _, state = model.forward_stateful(torch.zeros(1, samples, dtype=p.dtype,
                                                      device=p.device), None)
    return state


def fold_standardizer(model: RecurrentModel, mean: float, std: float) -> RecurrentModel:
    """A copy of a skip-free ``model`` that takes raw ``x`` where ``model`` took
    ``(x - mean) / std``: ``W_ih / std`` and ``b_ih - W_ih mean / std`` (exact algebra)."""
    folded = copy.deepcopy(model)
    with torch.no_grad():
        w = folded.rec.weight_ih_l0
        folded.rec.bias_ih_l0 -= w[:, 0] * (mean / std)
        w /= std
    return folded


def nam_document(model: RecurrentModel, *, metadata: Optional[dict] = None,
                 burn_in: int = BURN_IN, input_mean: float = 0.0, input_std: float = 1.0
                 ) -> dict:
    """The .nam document of ``model`` (a dict; ``save_nam`` writes it). ``input_mean`` /
    ``input_std``: a std run's standardiser, folded into the input weights (exact: the model
    has no skip)."""
    check_nam(model)
    if (input_mean, input_std) != (0.0, 1.0):
        model = fold_standardizer(model, input_mean, input_std)
    rec, lin = model.rec, model.lin
    h0, c0 = settled_state(model, burn_in) if burn_in else model.zero_state(1)
    with torch.no_grad():
        parts = [torch.cat((rec.weight_ih_l0, rec.weight_hh_l0), dim=1),   # (4H, 1 + H)
                 rec.bias_ih_l0 + rec.bias_hh_l0, h0.reshape(-1), c0.reshape(-1),
                 lin.weight.reshape(-1), lin.bias.reshape(-1)]
        weights = torch.cat([t.detach().cpu().float().reshape(-1) for t in parts])
    return {"version": NAM_VERSION, "architecture": "LSTM",
            "config": {"input_size": 1, "hidden_size": model.hidden_size, "num_layers": 1},
            "weights": weights.tolist(), "sample_rate": SAMPLE_RATE,
            "metadata": {**(metadata or {}), "fxlib_burn_in_samples": burn_in}}


def save_nam(model: RecurrentModel, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``nam_document(model, **kwargs)`` to ``path`` atomically; returns the path."""
    path = Path(path)
    write_json(path, nam_document(model, **kwargs), indent=None)
    return path


__all__ = ["NAM_VERSION", "BURN_IN", "NamError", "check_nam", "settled_state",
           "fold_standardizer", "nam_document", "save_nam"]
