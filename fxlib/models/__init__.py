"""The model registry: names used throughout the study -> constructors.

| name | model | trainable parameters (thesis) |
|---|---|---|
| A    | CAFx, kernel 64, 25 SAAF breakpoints, 5 dense layers | 72,065 |
| Av2  | CAFx, kernel 32, 12 SAAF breakpoints, 1 dense layer  | 34,113 |
| B, B16, B8 | LSTM with 64 / 16 / 8 hidden units            | 17,217 / 1,233 / 361 |
| C, C16, C8 | GRU with 64 / 16 / 8 hidden units             | 12,929 / 929 / 273 |
"""
from __future__ import annotations

from typing import Callable, Dict

from torch import nn

from .cafx import CAFx, CAFxConfig
from .rnn import RecurrentModel, RNNStream
from .saaf import SAAF

_REGISTRY: Dict[str, Callable[[], nn.Module]] = {
    "A": lambda: CAFx(CAFxConfig()),
    "Av2": lambda: CAFx(CAFxConfig(kernel_size=32, dense=(128,), saaf_breakpoints=12)),
    "B": lambda: RecurrentModel("LSTM", 64),
    "B16": lambda: RecurrentModel("LSTM", 16),
    "B8": lambda: RecurrentModel("LSTM", 8),
    "C": lambda: RecurrentModel("GRU", 64),
    "C16": lambda: RecurrentModel("GRU", 16),
    "C8": lambda: RecurrentModel("GRU", 8),
}

#: Every model name of the study, in the thesis's order.
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)

#: Model family per name: "cafx" (A-family, frame-based) or "rnn" (B/C, sample-recurrent).
FAMILY: dict[str, str] = {n: ("cafx" if n.startswith("A") else "rnn") for n in MODEL_NAMES}


def build_model(name: str) -> nn.Module:
    """A freshly initialised model of the registry (use ``torch.manual_seed`` first to fix it)."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``), each shared tensor counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODEL_NAMES", "FAMILY", "build_model", "count_parameters",
           "CAFx", "CAFxConfig", "RecurrentModel", "RNNStream", "SAAF"]
