"""Recurrent models B (LSTM) and C (GRU): one recurrent layer, a linear read-out, a skip.

Wright, Damskägg, Välimäki, "Real-time black-box modelling with recurrent neural networks",
DAFx 2019 (the ``SimpleRNN`` of their CoreAudioML code, MODEL-SPEC §4.1)::

    y[n] = x[n] + Linear(h[n]),   h[n] = RNN(x[n], h[n-1]),   h[-1] = 0

Sub-modules are named ``rec`` and ``lin`` as in the original code, so the Wright et al. JSON
weights load without renaming (``fxlib.io``).

State is explicit. ``forward(x)`` always starts from the zero state; to carry state across calls
use ``forward_stateful(x, state) -> (y, state)`` or the small ``RNNStream`` wrapper. Because the
recurrence is causal and the state is the full memory of the model, processing a signal in any
partition into chunks with the state carried gives the same output as one pass (tested).
TBPTT detaches the carried state between updates: ``detach_state``.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import nn

State = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]

_CELLS = {"LSTM": nn.LSTM, "GRU": nn.GRU}


class RecurrentModel(nn.Module):
    """Single-layer LSTM/GRU effect model with input skip connection."""

    def __init__(self, cell: str = "LSTM", hidden_size: int = 64):
        super().__init__()
        cell = cell.upper()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if hidden_size < 1:
            raise ValueError(f"hidden_size must be positive, got {hidden_size}")
        self.cell = cell
        self.hidden_size = hidden_size
        self.rec = _CELLS[cell](input_size=1, hidden_size=hidden_size, num_layers=1,
                                batch_first=True)
        self.lin = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, samples) or (samples,) -> same shape, from the zero state."""
        return self.forward_stateful(x, None)[0]

    def forward_stateful(self, x: torch.Tensor, state: Optional[State] = None
                         ) -> tuple[torch.Tensor, State]:
        """Process ``x`` starting from ``state`` (None = zero); return output and final state."""
        squeeze = x.dim() == 1
        if squeeze:
            x = x.unsqueeze(0)
        if x.dim() != 2:
            raise ValueError(f"expected (batch, samples) or (samples,), got {tuple(x.shape)}")
        h, state = self.rec(x.unsqueeze(-1), state)
        y = x + self.lin(h).squeeze(-1)
        return (y.squeeze(0) if squeeze else y), state

    def zero_state(self, batch: int = 1, device=None, dtype=None) -> State:
        p = self.lin.weight
        z = torch.zeros(1, batch, self.hidden_size, device=device or p.device,
                        dtype=dtype or p.dtype)
        return (z, z.clone()) if self.cell == "LSTM" else z

    @staticmethod
    def detach_state(state: Optional[State]) -> Optional[State]:
        """Cut the autograd graph at the state (truncated back-propagation through time)."""
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.detach() for s in state)
        return state.detach()

    def extra_repr(self) -> str:
        return f"cell={self.cell}, hidden_size={self.hidden_size}, skip=True"


class RNNStream:
    """Carries a ``RecurrentModel``'s state across successive chunks of one signal.

    >>> stream = RNNStream(model)
    >>> y1 = stream.process(x[:, :1000]); y2 = stream.process(x[:, 1000:])   # == model(x)
    >>> stream.reset()            # back to the zero state for the next signal
    """

    def __init__(self, model: RecurrentModel):
        self.model = model
        self.state: Optional[State] = None

    def process(self, chunk: torch.Tensor) -> torch.Tensor:
        y, self.state = self.model.forward_stateful(chunk, self.state)
        return y

    def detach(self) -> None:
        self.state = RecurrentModel.detach_state(self.state)

    def reset(self) -> None:
        self.state = None
