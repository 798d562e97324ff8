"""What fxlib's two training kernels (``gru_kernel``, ``lstm_kernel``) share.

* ``_tanh32``: Eigen's rational tanh (odd 13 / even 6 polynomials, clamped at ±7.9988),
  evaluated in float32 as Eigen itself does. It has no library call, so LLVM vectorizes the
  gate loops that use it (16 float32 lanes per AVX-512 vector, 8 per AVX2 one); libm ``exp`` /
  ``tanh`` are not vectorized without SVML and dominated the kernels' run time before it. Its
  error bound is pinned by ``tests/test_lstm_kernel.py``; the kernels form σ(v) as
  ½ + ½ tanh(v/2) from it.
* ``_th(v, exact)``: that tanh, or libm's (``exact``: the float64 path, for ``gradcheck``).
* ``_np``: a tensor's numpy view (detached, contiguous).
* ``_POOL``: reused scratch tensors for the activations a forward saves for backward and for
  the backward's per-step gradients. Fresh multi-MB tensors every TBPTT update come from new
  pages, and the page faults and zeroing were a sizeable part of a small student's update
  (docs/benchmarks.md, section 'Training throughput').
"""
from __future__ import annotations

import math
import threading

import numpy as np
import torch
from numba import njit

_TANH_CLAMP = 7.99881172180175781
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
           4.89352455891786e-03)            # highest power first
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
           4.89352518554385e-03)

_F = np.float32
_CLAMP32 = _F(_TANH_CLAMP)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = (_F(c) for c in _TANH_P)
_Q0, _Q1, _Q2, _Q3 = (_F(c) for c in _TANH_Q)
# float32 constants: a Python float literal in a kernel would promote float32 maths to float64
_HALF = _F(0.5)
_ONE = _F(1.0)
_ZERO = _F(0.0)


@njit(cache=True, inline="always", error_model="numpy")
def _tanh32(v):
    v = min(max(v, -_CLAMP32), _CLAMP32)
    v2 = v * v
    p = _P0 * v2 + _P1
    p = p * v2 + _P2
    p = p * v2 + _P3
    p = p * v2 + _P4
    p = p * v2 + _P5
    p = p * v2 + _P6
    q = _Q0 * v2 + _Q1
    q = q * v2 + _Q2
    q = q * v2 + _Q3
    return v * p / q


@njit(cache=True, inline="always", error_model="numpy")
def _th(v, exact):
    if exact:
        return math.tanh(v)
    return _tanh32(v)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class _BufferPool:
    """Reused scratch tensors (module notes). A buffer saved for backward returns when autograd
    frees its graph node (the kernels register ``weakref.finalize(ctx, _POOL.give, ...)``), so a
    graph kept for another backward keeps its buffers."""

    KEEP = 2                                   # free buffers kept per shape

    def __init__(self):
        self._free: dict = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple, dtype) -> torch.Tensor:
        with self._lock:
            free = self._free.get((shape, dtype))
            if free:
                return free.pop()
        return torch.empty(shape, dtype=dtype)

    def give(self, *tensors: torch.Tensor) -> None:
        with self._lock:
            for t in tensors:
                free = self._free.setdefault((tuple(t.shape), t.dtype), [])
                if len(free) < self.KEEP:
                    free.append(t)


_POOL = _BufferPool()
