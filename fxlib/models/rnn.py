"""Recurrent models B (LSTM) and C (GRU): one recurrent layer, a linear read-out, a skip.

Wright, Damskägg, Välimäki, "Real-time black-box modelling with recurrent neural networks",
DAFx 2019 (the ``SimpleRNN`` of their CoreAudioML code; docs/models.md, section 'Recurrent
models (B, C)')::

    y[n] = x[n] + Linear(h[n]),   h[n] = RNN(x[n], h[n-1]),   h[-1] = 0

``skip=False`` drops the ``x[n]`` term: ``y[n] = Linear(h[n])``, the form of NAM's LSTM (it has no
input skip), for students meant for that plugin (docs/models.md, section 'Playing the models in
plugins'). The study's models all have the skip.

Sub-modules are named ``rec`` and ``lin`` as in the original code, so the Wright et al. JSON
weights load without renaming (``fxlib.io``).

State is explicit. ``forward(x)`` always starts from the zero state; to carry state across calls
use ``forward_stateful(x, state) -> (y, state)`` or the small ``RNNStream`` wrapper. Because the
recurrence is causal and the state is the full memory of the model, processing a signal in any
partition into chunks with the state carried gives the same output as one pass (tested).
TBPTT detaches the carried state between updates: ``detach_state``.

On CPU, float32: numba kernels
------------------------------
PyTorch's CPU recurrences pay a fixed cost per time step: ``nn.GRU`` has no fused kernel at
all (a handful of ATen calls per step, forward and backward), and ``nn.LSTM``'s oneDNN kernel
still dispatches a GEMM per step, which at the students' sizes (8-16 units, batch 8) dwarfs the
arithmetic. ``forward_stateful`` therefore routes the recurrence, when input, parameters and
state are float32 on the CPU, through a numba kernel with an exact backward
(``torch.autograd.Function``): ``fxlib.models.gru_kernel`` for every GRU, and
``fxlib.models.lstm_kernel`` for LSTMs whose hidden size is in ``LSTM_KERNEL_HIDDEN`` -- the
sizes where it was measured to train faster than ``nn.LSTM``. Both are serial and
deterministic; their speed against PyTorch: docs/benchmarks.md, section 'Training throughput'
(``python -m fxlib.train.benchmark``). Inference (no gradient) follows the same routing.

The parameters are still ``rec.weight_ih_l0`` etc. of the ``nn.GRU`` / ``nn.LSTM`` module, and
the state layout is unchanged ((1, batch, hidden), a pair for the LSTM), so checkpoints, the
Wright et al. JSON format, ``detach_state``, ``zero_state`` and ``RNNStream`` are unaffected.
Results agree with PyTorch's to float32 rounding (different summation order; rational tanh
approximations), not bitwise (``tests/test_gru_kernel.py``, ``tests/test_lstm_kernel.py``
hold the bounds).

Switches: ``fxlib.models.rnn.USE_GRU_KERNEL = False`` / ``USE_LSTM_KERNEL = False`` (or the
environment variables ``FXLIB_GRU_KERNEL=0`` / ``FXLIB_LSTM_KERNEL=0`` at import) fall back to
the PyTorch modules everywhere. CUDA, float64 and other dtypes always use them. First use
compiles the kernels (cached on disk by numba afterwards).
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

#: Route LSTMs on CPU/float32 through the numba kernel (``fxlib.models.lstm_kernel``) at the
#: hidden sizes in ``LSTM_KERNEL_HIDDEN``; set False, or ``FXLIB_LSTM_KERNEL=0``, for ``nn.LSTM``.
USE_LSTM_KERNEL: bool = os.environ.get("FXLIB_LSTM_KERNEL", "1").strip().lower() not in (
    "0", "false", "no", "off")

#: Hidden sizes at which the LSTM kernel was measured to train faster than ``nn.LSTM`` (oneDNN's
#: fused LSTM) on CPU, at the quick and paper batch sizes: the study's 8, 16 and 64
#: (docs/benchmarks.md, section 'Training throughput'). Other sizes use ``nn.LSTM`` until
#: measured (``python -m fxlib.train.benchmark`` measures the kernel at any size).
LSTM_KERNEL_HIDDEN: frozenset = frozenset({8, 16, 64})


class RecurrentModel(nn.Module):
    """Single-layer LSTM/GRU effect model with input skip connection."""

    def __init__(self, cell: str = "LSTM", hidden_size: int = 64, skip: bool = True):
        super().__init__()
        cell = cell.upper()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if hidden_size < 1:
            raise ValueError(f"hidden_size must be positive, got {hidden_size}")
        self.cell = cell
        self.hidden_size = hidden_size
        self.skip = bool(skip)
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
            rec = self.rec
            weights = (rec.weight_ih_l0, rec.weight_hh_l0, rec.bias_ih_l0, rec.bias_hh_l0)
            zero = x.new_zeros(x.shape[0], self.hidden_size) if state is None else None
            if self.cell == "GRU":
                from .gru_kernel import gru_forward   # numba import deferred to first use
                h, h_last = gru_forward(x, zero if state is None else state[0], *weights)
                state = h_last.unsqueeze(0)
            else:
                from .lstm_kernel import lstm_forward  # numba import deferred to first use
                h0, c0 = (zero, zero) if state is None else (state[0][0], state[1][0])
                h, h_last, c_last = lstm_forward(x, h0, c0, *weights)
                state = (h_last.unsqueeze(0), c_last.unsqueeze(0))
            # The kernels' h is a (batch, T, H) view of time-major storage: the read-out as a
            # mat-vec over its contiguous (T * batch, H) rows, which neither copies h into
            # batch-major order (nn.Linear's reshape) nor forms dL/dh by a K = 1 GEMM in
            # backward (docs/benchmarks.md, section 'Training throughput').
            h_tm = h.transpose(0, 1)
            w, b = self.lin.weight[0], self.lin.bias
            read = torch.mv(h_tm.reshape(-1, self.hidden_size), w).reshape(h_tm.shape[:2]).t()
            y = x + (read + b) if self.skip else read + b
        else:
            h, state = self.rec(x.unsqueeze(-1), state)
            y = self.lin(h).squeeze(-1)
            y = x + y if self.skip else y
        return (y.squeeze(0) if squeeze else y), state

    def _use_kernel(self, x: torch.Tensor, state: Optional[State]) -> bool:
        if x.shape[1] == 0:
            return False
        if self.cell == "GRU":
            if not USE_GRU_KERNEL:
                return False
            states = [] if state is None else [state]
        else:
            if not (USE_LSTM_KERNEL and self.hidden_size in LSTM_KERNEL_HIDDEN):
                return False
            if state is not None and not (isinstance(state, tuple) and len(state) == 2):
                return False
            states = [] if state is None else list(state)
        f32, cpu = torch.float32, torch.device("cpu")
        shape = (1, x.shape[0], self.hidden_size)
        return all(isinstance(t, torch.Tensor) and t.dtype == f32 and t.device == cpu
                   for t in [x, *self.rec.parameters(), *states]) and all(
            tuple(s.shape) == shape for s in states)

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
        return f"cell={self.cell}, hidden_size={self.hidden_size}, skip={self.skip}"


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
