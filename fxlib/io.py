"""Read and write the Wright et al. JSON model format (B/C models).

The format of the pretrained models published with Wright, Damskägg & Välimäki (DAFx 2019) in
Alec-Wright/Automated-GuitarAmpModelling (``Results/<name>/model_best.json``). GuitarML's
Proteus and NeuralPi plugins read the same layout, but only into an LSTM of hidden size 40
(Proteus) or 20 (NeuralPi): for playing the study's models in a plugin, see ``fxlib.aidax``::

    {"model_data": {"model": "SimpleRNN", "input_size": 1, "output_size": 1,
                    "unit_type": "LSTM" | "GRU", "num_layers": 1, "hidden_size": H,
                    "skip": 1, "bias_fl": true},
     "state_dict": {"rec.weight_ih_l0": [[...]], "rec.weight_hh_l0": [[...]],
                    "rec.bias_ih_l0": [...], "rec.bias_hh_l0": [...],
                    "lin.weight": [[...]], "lin.bias": [...]}}

Weights are nested lists in PyTorch's own ``nn.LSTM``/``nn.GRU`` + ``nn.Linear`` layout, which is
exactly ``RecurrentModel``'s (sub-modules ``rec`` and ``lin``), so no re-ordering is needed.
Only what ``RecurrentModel`` is can be read: one layer, mono in/out, biases on, ``skip`` 1 (the
input added to the output, as in the study's models) or 0 (a ``-noskip`` model); any other file is
refused with a message saying which field differs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ._atomic import write_json
from .models.rnn import RecurrentModel

_REQUIRED = {"model": "SimpleRNN", "input_size": 1, "output_size": 1, "num_layers": 1,
             "bias_fl": True}
_SKIPS = (0, 1)
_KEYS = ("rec.weight_ih_l0", "rec.weight_hh_l0", "rec.bias_ih_l0", "rec.bias_hh_l0",
         "lin.weight", "lin.bias")


class ModelFormatError(ValueError):
    """A model file that fxlib cannot read; the message says which file and what is wrong."""


def load_wright_json(path: str | os.PathLike) -> RecurrentModel:
    """Load a Wright et al. JSON file into a ``RecurrentModel`` (float32, eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        meta, weights = doc["model_data"], doc["state_dict"]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFormatError(f"{path}: not valid JSON ({err}); is the file complete?") from err
    except (KeyError, TypeError) as err:
        raise ModelFormatError(f"{path}: expected top-level 'model_data' and 'state_dict' "
                               "(Wright et al. SimpleRNN format)") from err
    if not isinstance(meta, dict) or not isinstance(weights, dict):
        raise ModelFormatError(f"{path}: 'model_data' and 'state_dict' must be JSON objects, "
                               f"got {type(meta).__name__} and {type(weights).__name__}")
    hidden = meta.get("hidden_size")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= 4096:
        raise ModelFormatError(f"{path}: model_data.hidden_size must be a whole number of "
                               f"units (1-4096), got {hidden!r}")
    for key, want in _REQUIRED.items():
        if key in meta and meta[key] != want:
            raise ModelFormatError(f"{path}: model_data.{key} = {meta[key]!r}, fxlib supports "
                                   f"only {want!r} (single-layer mono SimpleRNN)")
    skip = meta.get("skip", 1)
    if skip not in _SKIPS:
        raise ModelFormatError(f"{path}: model_data.skip = {skip!r}; fxlib reads 1 (the input "
                               "added to the output) or 0 (no skip)")
    unit = str(meta.get("unit_type", "")).upper()
    if unit not in ("LSTM", "GRU"):
        raise ModelFormatError(f"{path}: unit_type {meta.get('unit_type')!r} is not LSTM or GRU")
    missing = [k for k in _KEYS if k not in weights]
    if missing:
        raise ModelFormatError(f"{path}: state_dict lacks {', '.join(missing)}")
    model = RecurrentModel(unit, hidden, skip=bool(skip))
    expected = model.state_dict()
    tensors = {}
    for k in _KEYS:
        try:
            t = torch.tensor(weights[k], dtype=torch.float32)
        except (TypeError, ValueError) as err:     # strings, ragged rows, nested objects
            raise ModelFormatError(f"{path}: {k} is not an array of numbers with rows of one "
                                   f"length ({err})") from None
        if t.shape != expected[k].shape:
            raise ModelFormatError(f"{path}: {k} has shape {tuple(t.shape)}, expected "
                                   f"{tuple(expected[k].shape)} for {unit}-{model.hidden_size}")
        if not torch.isfinite(t).all():
            raise ModelFormatError(f"{path}: {k} holds NaN or infinite weights; the model "
                                   "file is damaged")
        tensors[k] = t
    model.load_state_dict(tensors)
    return model.eval()


def save_wright_json(model: RecurrentModel, path: str | os.PathLike) -> Path:
    """Write a ``RecurrentModel`` in the Wright et al. JSON format (atomically)."""
    if not isinstance(model, RecurrentModel):
        raise TypeError(f"only B/C (RecurrentModel) models have this format, got "
                        f"{type(model).__name__}")
    state = model.state_dict()
    doc = {
        "model_data": {**_REQUIRED, "unit_type": model.cell, "hidden_size": model.hidden_size,
                       "skip": int(model.skip)},
        "state_dict": {k: state[k].detach().cpu().to(torch.float32).tolist() for k in _KEYS},
    }
    path = Path(path)
    write_json(path, doc, indent=None)
    return path
