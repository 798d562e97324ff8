"""Recurrent models B (LSTM) and C (GRU): one recurrent layer, a linear read-out, a skip.

Wright, Damskägg, Välimäki, "Real-time black-box modelling with recurrent neural networks",
DAFx 2019 (the ``SimpleRNN`` of their CoreAudioML code; docs/models.md, section 'Recurrent
models (B, C)')::

    y[n] = x[n] + Linear(h[n]),   h[n] = RNN(x[n], h[n-1]),   h[-1] = 0

Sub-modules are named ``rec`` and ``lin`` as in the original code, so the Wright et al. JSON
weights load without renaming (``fxlib.io``).

State is explicit. ``forward(x)`` always starts from the zero state; to carry state across calls
use ``forward_stateful(x, state) -> (y, state)`` or the small ``RNNStream`` wrapper. Because the
recurrence is causal and the state is the full memory of the model, processing a signal in any
partition into chunks with the state carried gives the same output as one pass (tested).
TBPTT detaches the carried state between updates: ``detach_state``.

GRU on CPU, float32: numba kernel
---------------------------------
PyTorch has no fused GRU on CPU, so ``nn.GRU`` pays a fixed per-step overhead whatever the
hidden size, which dominates training and inference of the small GRUs. ``forward_stateful``
therefore routes the GRU recurrence (CPU, float32 input/parameters/state) through
``fxlib.models.gru_kernel`` (numba, serial, deterministic; exact backward as a
``torch.autograd.Function``). Its speed against ``nn.GRU``: docs/benchmarks.md, section
'Training throughput'.

The parameters are still ``rec.weight_ih_l0`` etc. of the ``nn.GRU`` module, and the state
layout is unchanged ((1, batch, hidden)), so checkpoints, the Wright et al. JSON format,
``detach_state``, ``zero_state`` and ``RNNStream`` are unaffected. Results agree with ``nn.GRU``
to float32 rounding (different summation order; a rational tanh approximation), not bitwise
(``tests/test_gru_kernel.py`` holds the bounds).

Switch: ``fxlib.models.rnn.USE_GRU_KERNEL = False`` (or the environment variable
``FXLIB_GRU_KERNEL=0`` at import) falls back to ``nn.GRU`` everywhere. CUDA, float64 and other
dtypes, and LSTM always use the PyTorch modules. First use compiles the kernels (cached on disk
by numba afterwards).
"""
from __future__ import annotations

import os
from typing import Optional, Tuple, Union

import torch
from torch import nn

State = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]

_CELLS = {"LSTM": nn.LSTM, "GRU": nn.GRU}

#: Route GRU on CPU/float32 through the numba kernel (``fxlib.models.gru_kernel``); set False,
#: or ``FXLIB_GRU_KERNEL=0`` in the environment, to use ``nn.GRU``.
USE_GRU_KERNEL: bool = os.environ.get("FXLIB_GRU_KERNEL", "1").strip().lower() not in (
    "0", "false", "no", "off")


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
        if self._use_kernel(x, state):
            from .gru_kernel import gru_forward   # numba import deferred to first use
            rec = self.rec
            h0 = (state[0] if state is not None
                  else x.new_zeros(x.shape[0], self.hidden_size))
            h, h_last = gru_forward(x, h0, rec.weight_ih_l0, rec.weight_hh_l0,
                                    rec.bias_ih_l0, rec.bias_hh_l0)
            state = h_last.unsqueeze(0)
        else:
            h, state = self.rec(x.unsqueeze(-1), state)
        y = x + self.lin(h).squeeze(-1)
        return (y.squeeze(0) if squeeze else y), state

    def _use_kernel(self, x: torch.Tensor, state: Optional[State]) -> bool:
        if not (USE_GRU_KERNEL and self.cell == "GRU" and x.shape[1] > 0):
            return False
        f32, cpu = torch.float32, torch.device("cpu")
        tensors = [x, *self.rec.parameters()] + ([state] if state is not None else [])
        return all(isinstance(t, torch.Tensor) and t.dtype == f32 and t.device == cpu
                   for t in tensors) and (
            state is None or tuple(state.shape) == (1, x.shape[0], self.hidden_size))

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
