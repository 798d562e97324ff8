"""AIDA-X model files for the recurrent models B (LSTM) and C (GRU).

AIDA-X (AidaDSP; LV2 / VST3 / CLAP plugin and MOD devices) plays RTNeural models read from
RTNeural's Keras-style JSON. Its loader (``src/model_variant.hpp``, ``src/aidadsp-plugin.cpp``)
accepts exactly one LSTM or GRU layer of hidden size ``AIDAX_HIDDEN`` followed by one dense
layer with one output, 1 to 3 inputs (the audio, then up to two knobs), and ``in_skip`` 0 or 1
(1: the input sample is added to the model's output, which is what B and C do; 0 for a
``-noskip`` model)::

    {"in_shape": [null, null, 1], "in_skip": 1, "in_gain": <dB, optional>,
     "layers": [{"type": "lstm" | "gru", "activation": "tanh", "shape": [null, null, H],
                 "weights": [W (I x nH), U (H x nH), b]},
                {"type": "dense", "activation": "", "shape": [null, null, 1],
                 "weights": [K (H x 1), c (1)]}],
     "metadata": {...}}

What RTNeural expects is Keras's layout, not PyTorch's (``aidax_document`` converts):

* LSTM: gates in the order i, f, c, o (PyTorch's i, f, g, o: the same order), ``W`` and ``U``
  transposed, one bias ``b = b_ih + b_hh`` (n = 4);
* GRU (Keras ``reset_after=True``): gates in the order z, r, h where PyTorch has r, z, n, so the
  blocks are reordered; the bias is two rows of 3H, ``[b_ih; b_hh]`` in that order (the
  recurrent row stays inside the reset gate's product, as PyTorch's ``b_hn`` does);
* dense: ``K = lin.weight`` transposed, ``c = lin.bias``.

**``std`` runs.** A std model sees ``(x - mean) / std``; AIDA-X multiplies its input by
``in_gain`` (given in dB) before the model *and* the skip. With ``in_gain = -20 log10(std)`` the
model receives ``x / std``; the ``- mean / std`` is folded into the recurrent layer's input bias
(``b -= W * mean / std``: it enters every gate linearly, outside the GRU's reset product) and,
for the skip, into the dense bias (``c -= mean / std``). That is exact algebra; the plugin's own
dB-to-gain conversion (float ``pow``) rounds ``1 / std`` to float precision.

Anything the plugin would not load (another hidden size, a CAFx model) is refused with
``AidaXError``, whose message says what would load.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

import torch

from ._atomic import write_json
from .models.rnn import RecurrentModel

#: Hidden sizes AIDA-X is compiled for (``src/model_variant.hpp``), LSTM and GRU alike.
AIDAX_HIDDEN: tuple[int, ...] = (8, 12, 16, 20, 32, 40, 64, 80)
_TYPES = {"LSTM": "lstm", "GRU": "gru"}


class AidaXError(ValueError):
    """A model AIDA-X would not load (the message says what would)."""


def _gru_keras_order(w: torch.Tensor, hidden: int) -> torch.Tensor:
    """PyTorch's GRU blocks (r, z, n) along dim 0, in Keras's order (z, r, h)."""
    r, z, n = w[:hidden], w[hidden:2 * hidden], w[2 * hidden:]
    return torch.cat((z, r, n))


def check_aidax(model) -> None:
    """Raise ``AidaXError`` unless AIDA-X can load ``model`` (module notes)."""
    if not isinstance(model, RecurrentModel):
        raise AidaXError(f"AIDA-X plays one LSTM or GRU layer and a dense layer: the B and C "
                         f"models; {type(model).__name__} (A / Av2) has no AIDA-X form (export "
                         "it as onnx)")
    if model.hidden_size not in AIDAX_HIDDEN:
        sizes = ", ".join(map(str, AIDAX_HIDDEN))
        raise AidaXError(f"AIDA-X loads hidden sizes {sizes} only; this {model.cell} has "
                         f"{model.hidden_size}: train a B / C model of one of those sizes "
                         "(docs/models.md, section 'Playing the models in plugins')")


def aidax_document(model: RecurrentModel, *, input_mean: float = 0.0, input_std: float = 1.0,
                   metadata: Optional[dict] = None) -> dict:
    """The AIDA-X JSON of ``model`` (a dict; ``save_aidax`` writes it). ``input_mean`` /
    ``input_std``: the standardiser of a std run (module notes)."""
    check_aidax(model)
    if not (math.isfinite(input_mean) and math.isfinite(input_std) and input_std > 0):
        raise AidaXError(f"invalid input standardiser (mean {input_mean}, std {input_std})")
    H, rec, lin = model.hidden_size, model.rec, model.lin
    with torch.no_grad():
        w_ih, w_hh = rec.weight_ih_l0.double(), rec.weight_hh_l0.double()
        b_ih, b_hh = rec.bias_ih_l0.double(), rec.bias_hh_l0.double()
        shift = input_mean / input_std
        b_ih = b_ih - w_ih[:, 0] * shift            # the mean folded into the input bias
        if model.cell == "GRU":
            w_ih, w_hh = _gru_keras_order(w_ih, H), _gru_keras_order(w_hh, H)
            bias = torch.stack((_gru_keras_order(b_ih, H), _gru_keras_order(b_hh, H)))
        else:
            bias = b_ih + b_hh
        kernel = lin.weight.double().t()
        dense_bias = lin.bias.double() - (shift if model.skip else 0.0)   # the skip's - m / s
    f32 = lambda t: t.float().tolist()              # noqa: E731  (what the plugin reads)
    doc = {"in_shape": [None, None, 1], "in_skip": int(model.skip),
           "layers": [{"type": _TYPES[model.cell], "activation": "tanh",
                       "shape": [None, None, H],
                       "weights": [f32(w_ih.t()), f32(w_hh.t()), f32(bias)]},
                      {"type": "dense", "activation": "", "shape": [None, None, 1],
                       "weights": [f32(kernel), f32(dense_bias)]}],
           "metadata": dict(metadata or {})}
    if input_std != 1.0:
        doc["in_gain"] = -20.0 * math.log10(input_std)
    return doc


def save_aidax(model: RecurrentModel, path: str | os.PathLike, **kwargs) -> Path:
    """Write ``aidax_document(model, **kwargs)`` to ``path`` atomically; returns the path."""
    path = Path(path)
    write_json(path, aidax_document(model, **kwargs), indent=None)
    return path


__all__ = ["AIDAX_HIDDEN", "AidaXError", "check_aidax", "aidax_document", "save_aidax"]
