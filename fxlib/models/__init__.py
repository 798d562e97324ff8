"""The model registry: names used throughout the study -> constructors.

| name | model | trainable parameters (thesis) |
|---|---|---|
| A    | CAFx, kernel 64, 25 SAAF breakpoints, 5 dense layers | 72,065 |
| Av2  | CAFx, kernel 32, 12 SAAF breakpoints, 1 dense layer  | 34,113 |
| B, B16, B8 | LSTM with 64 / 16 / 8 hidden units            | 17,217 / 1,233 / 361 |
| C, C16, C8 | GRU with 64 / 16 / 8 hidden units             | 12,929 / 929 / 273 |

Beyond the study's names, ``build_model`` builds any recurrent model by name: ``B<H>`` (LSTM) or
``C<H>`` (GRU) with H hidden units (``B40`` for a plugin compiled for 40 units, ``C32``...), and
with ``-noskip`` appended the same without the input skip (``B16-noskip``: NAM's LSTM form).
They train, export and stream like B and C (``is_model_name``; docs/models.md, section 'Playing
the models in plugins').

Layer-by-layer specs and the parameter arithmetic: docs/models.md. Each name belongs to a model
family (``FAMILIES``, ``family_of``): the type that knows how its models train, validate and
run on whole signals (``fxlib.models.family``).
"""
from __future__ import annotations

import re
from typing import Callable, Dict, Optional

from torch import nn

from .cafx import CAFx, CAFxConfig
from .family import CAFxFamily, ModelFamily, RecurrentFamily
from .rnn import RecurrentModel, RNNStream
from .saaf import SAAF

_RNN, _CAFX = RecurrentFamily(), CAFxFamily()

#: The model families by the name a run's config.json records.
FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (_RNN, _CAFX)}

_REGISTRY: Dict[str, tuple[ModelFamily, Callable[[], nn.Module]]] = {
    "A": (_CAFX, lambda: CAFx(CAFxConfig())),
    "Av2": (_CAFX, lambda: CAFx(CAFxConfig(kernel_size=32, dense=(128,), saaf_breakpoints=12))),
    "B": (_RNN, lambda: RecurrentModel("LSTM", 64)),
    "B16": (_RNN, lambda: RecurrentModel("LSTM", 16)),
    "B8": (_RNN, lambda: RecurrentModel("LSTM", 8)),
    "C": (_RNN, lambda: RecurrentModel("GRU", 64)),
    "C16": (_RNN, lambda: RecurrentModel("GRU", 16)),
    "C8": (_RNN, lambda: RecurrentModel("GRU", 8)),
}

#: Every model name of the study, in the thesis's order.
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)

#: Family name per model name: "cafx" (A-family, frame-based) or "rnn" (B/C, sample-recurrent).
FAMILY: dict[str, str] = {name: family.name for name, (family, _) in _REGISTRY.items()}

#: Recurrent models by name beyond the study's (module notes): B<H> / C<H>, optional -noskip.
_RNN_NAME = re.compile(r"^([BC])([1-9][0-9]*)?(-noskip)?$")
MAX_HIDDEN = 1024
_NAMES_HELP = (f"{', '.join(MODEL_NAMES)}, or B<H> / C<H> (LSTM / GRU with H hidden units, "
               f"1-{MAX_HIDDEN}; B and C are H = 64), optionally with -noskip")


def rnn_spec(name: str) -> Optional[tuple[str, int, bool]]:
    """``(cell, hidden size, skip)`` of a recurrent model name, None for any other name.
    ``B64`` / ``C64`` are refused: the study calls them B and C (one name per model, so one run
    folder per model)."""
    m = _RNN_NAME.match(name) if isinstance(name, str) else None
    if m is None:
        return None
    hidden = int(m.group(2)) if m.group(2) else 64
    if m.group(2) == "64" or hidden > MAX_HIDDEN:
        return None
    return ("LSTM" if m.group(1) == "B" else "GRU", hidden, m.group(3) is None)


def is_model_name(name: str) -> bool:
    """True for a name ``build_model`` builds (module notes)."""
    return name in _REGISTRY or rnn_spec(name) is not None


def _unknown(name) -> ValueError:
    hint = " (that model is called B or C)" if name in ("B64", "C64") else ""
    return ValueError(f"unknown model {name!r}{hint}; choose one of {_NAMES_HELP}")


def check_model_name(name: str) -> str:
    """``name`` if ``build_model`` builds it, else the registry's ``ValueError``."""
    if not is_model_name(name):
        raise _unknown(name)
    return name


def build_model(name: str) -> nn.Module:
    """A freshly initialised model of the registry, or any ``B<H>`` / ``C<H>`` (module notes);
    use ``torch.manual_seed`` first to fix it."""
    if name in _REGISTRY:
        return _REGISTRY[name][1]()
    spec = rnn_spec(name)
    if spec is None:
        raise _unknown(name)
    cell, hidden, skip = spec
    return RecurrentModel(cell, hidden, skip=skip)


def family_of(model: str | nn.Module) -> ModelFamily:
    """The family of a registry name ("B16"), a family name ("rnn") or a model instance."""
    if isinstance(model, nn.Module):
        for family in FAMILIES.values():
            if isinstance(model, family.model_type):
                return family
        raise TypeError(f"{type(model).__name__} belongs to no model family; known: "
                        f"{', '.join(f.model_type.__name__ for f in FAMILIES.values())}")
    if model in FAMILIES:
        return FAMILIES[model]
    if model in _REGISTRY:
        return _REGISTRY[model][0]
    if rnn_spec(model) is not None:
        return _RNN
    raise _unknown(model)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``), each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODEL_NAMES", "FAMILY", "FAMILIES", "family_of", "build_model", "count_parameters",
           "is_model_name", "check_model_name", "rnn_spec", "MAX_HIDDEN",
           "ModelFamily", "RecurrentFamily", "CAFxFamily",
           "CAFx", "CAFxConfig", "RecurrentModel", "RNNStream", "SAAF"]
