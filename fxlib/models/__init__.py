"""The model registry: names used throughout the study -> constructors.

| name | model | trainable parameters (thesis) |
|---|---|---|
| A    | CAFx, kernel 64, 25 SAAF breakpoints, 5 dense layers | 72,065 |
| Av2  | CAFx, kernel 32, 12 SAAF breakpoints, 1 dense layer  | 34,113 |
| B, B16, B8 | LSTM with 64 / 16 / 8 hidden units            | 17,217 / 1,233 / 361 |
| C, C16, C8 | GRU with 64 / 16 / 8 hidden units             | 12,929 / 929 / 273 |

Layer-by-layer specs and the parameter arithmetic: docs/models.md. Each name belongs to a model
family (``FAMILIES``, ``family_of``): the type that knows how its models train, validate and
run on whole signals (``fxlib.models.family``).
"""
from __future__ import annotations

from typing import Callable, Dict

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


def build_model(name: str) -> nn.Module:
    """A freshly initialised model of the registry (use ``torch.manual_seed`` first to fix it)."""
    try:
        return _REGISTRY[name][1]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None


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
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``), each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODEL_NAMES", "FAMILY", "FAMILIES", "family_of", "build_model", "count_parameters",
           "ModelFamily", "RecurrentFamily", "CAFxFamily",
           "CAFx", "CAFxConfig", "RecurrentModel", "RNNStream", "SAAF"]
