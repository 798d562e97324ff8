"""Per-sample streaming kernels for the recurrent models B (LSTM) and C (GRU): numba, batch 1,
float32, serial (no ``parallel``), no allocation per sample.

Each ``*_block`` function processes one block of samples, updates the state arrays **in place**
and writes the output block, skip included::

    lstm_block(x, h, c, w_ih, w_hhT, b, w_lin, b_lin, out)
    gru_block(x, h, w_ih, w_hhT, b, b_in, w_lin, b_lin, out)

All arrays are C-contiguous float32 (``prepare_lstm`` / ``prepare_gru`` build them from a
``RecurrentModel``); ``x``/``out`` have the same length (0 allowed), ``h``/``c`` are (H,).

Layout and pre-computation (PyTorch gate orders: LSTM i, f, g, o; GRU r, z, n):

* ``w_hhT`` is W_hh transposed, (H, G) with G = 4H (LSTM) or 3H (GRU), C-contiguous: the
  recurrent mat-vec is computed as G-long ``g += h[j] * w_hhT[j]`` updates, whose inner loop
  is contiguous and needs no reassociation to vectorize (an accumulation in float32, in the
  order j = 0..H-1, from the bias);
* ``w_ih`` is W_ih flattened, (G,) (input size 1);
* biases: LSTM ``b = b_ih + b_hh`` for all four gates (they are only ever added together).
  GRU: ``b = [b_ir + b_hr, b_iz + b_hz, b_hn]`` -- r and z combined, but **not** n, since
  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) puts b_hn inside the product with r; b_in is
  passed separately;
* ``w_lin`` (H,), ``b_lin`` (1,): y[t] = w_lin . h[t] + b_lin + x[t].

Activations. The default kernels evaluate tanh without library calls (so LLVM vectorizes the
gate loops; libm calls are not vectorized without SVML), in float64, as

    tanh(v) = sign(v) (1 - e) / (1 + e),  e = exp(-2 min(|v|, 12)),
    exp(y) = p(y / 128) ** 128  (p: degree-9 Taylor polynomial, then 7 squarings)

and the sigmoid as sigmoid(v) = 1/2 + tanh(v/2)/2. Truncation: |y/128| <= 0.1875, so the
polynomial's relative error is < 0.1875**10/10! = 1.6e-14, 128x after squaring (2e-12), plus
rounding; the clamp costs 1 - tanh(12) = 7.6e-11. The measured maximum absolute error against
``np.tanh`` over a dense grid is 7.6e-11; the documented bound ``TANH_FAST_MAX_ERR`` = 1e-10
(5e-11 for the sigmoid) is checked in ``tests/test_runtime.py`` -- about 1/600 of a float32 ulp
at 1. (Eigen's rational tanh, ``fxlib.models.gru_kernel._tanh_fast``, max error 2.2e-7, was
tried first: on the pretrained muff-muff2 LSTM, a high-gain fuzz whose recurrence amplifies
small differences, it drifted 6.3e-5 from PyTorch over 60 s, against 4e-6 with libm.)
``*_block_exact`` are the same kernels with libm ``math.tanh``/``math.exp`` (float64), for
comparison (``kernels(cell, exact=True)``).

fastmath: the kernels are compiled with ``FASTMATH = {"contract", "reassoc", "nsz"}`` (FMA
contraction; reassociation, which lets LLVM vectorize the H-long output dot product). No
``nnan``/``ninf``: the clamps inside ``_tanh_fast`` stay correct for large inputs. The effect
on results is at float32 rounding level (see the test for the measured errors against PyTorch).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit

__all__ = ["lstm_block", "lstm_block_exact", "gru_block", "gru_block_exact", "kernels",
           "prepare_lstm", "prepare_gru", "tanh_fast", "compile_kernels",
           "TANH_FAST_MAX_ERR", "FASTMATH"]

#: Documented bound on |_tanh_fast(v) - tanh(v)| over all real v (checked by a test).
TANH_FAST_MAX_ERR = 1e-10

FASTMATH = {"contract", "reassoc", "nsz"}


@njit(cache=True, inline="always", error_model="numpy")
def _tanh_fast(v):
    """tanh without library calls (vectorizable), float64; see the module doc for the bound."""
    a = min(abs(v), 12.0)
    y = a * -0.015625                     # -2a / 128, in [-0.1875, 0]
    p = 2.7557319223985893e-06            # 1/9!
    p = p * y + 2.48015873015873e-05
    p = p * y + 1.984126984126984e-04
    p = p * y + 1.388888888888889e-03
    p = p * y + 8.333333333333333e-03
    p = p * y + 4.1666666666666664e-02
    p = p * y + 1.6666666666666666e-01
    p = p * y + 0.5
    p = p * y + 1.0
    p = p * y + 1.0                       # ~ exp(y)
    e = p * p
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e                             # exp(-2a)
    t = (1.0 - e) / (1.0 + e)
    return t if v >= 0.0 else -t


@njit(cache=True, inline="always", error_model="numpy")
def _sig_fast(v):
    return 0.5 + 0.5 * _tanh_fast(0.5 * v)


@njit(cache=True, inline="always", error_model="numpy")
def _tanh_exact(v):
    return math.tanh(v)


@njit(cache=True, inline="always", error_model="numpy")
def _sig_exact(v):
    return 1.0 / (1.0 + math.exp(-v))


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def tanh_fast(v):
    """Element-wise ``_tanh_fast`` over a float64 array, compiled as in the kernels (for
    testing its error bound)."""
    out = np.empty_like(v)
    for i in range(v.shape[0]):
        out[i] = _tanh_fast(v[i])
    return out


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _matvec(g, h, w_hhT):
    """g += h @ w_hhT (g initialised by the caller)."""
    H, G = w_hhT.shape
    for j in range(H):
        hj = h[j]
        for k in range(G):
            g[k] += hj * w_hhT[j, k]


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _readout(h, w_lin, b_lin, xt):
    acc = np.float32(0.0)
    for k in range(h.shape[0]):
        acc += w_lin[k] * h[k]
    return (acc + b_lin[0]) + xt


# ---------------------------------------------------------------------------------- LSTM
@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_block(x, h, c, w_ih, w_hhT, b, w_lin, b_lin, out):
    """LSTM block, fast activations. See the module doc for the argument layout."""
    H = h.shape[0]
    G = 4 * H
    g = np.empty(G, dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        for k in range(G):
            g[k] = b[k] + xt * w_ih[k]
        _matvec(g, h, w_hhT)
        # Activations in place, one array per loop (vectorizable), then the cell update.
        for k in range(2 * H):                 # i, f
            g[k] = _sig_fast(g[k])
        for k in range(2 * H, 3 * H):          # g
            g[k] = _tanh_fast(g[k])
        for k in range(3 * H, G):              # o
            g[k] = _sig_fast(g[k])
        for k in range(H):
            c[k] = g[H + k] * c[k] + g[k] * g[2 * H + k]
        for k in range(H):
            h[k] = g[3 * H + k] * _tanh_fast(c[k])
        out[t] = _readout(h, w_lin, b_lin, xt)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_block_exact(x, h, c, w_ih, w_hhT, b, w_lin, b_lin, out):
    """As ``lstm_block`` with libm exp/tanh."""
    H = h.shape[0]
    G = 4 * H
    g = np.empty(G, dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        for k in range(G):
            g[k] = b[k] + xt * w_ih[k]
        _matvec(g, h, w_hhT)
        # Activations in place, one array per loop (vectorizable), then the cell update.
        for k in range(2 * H):                 # i, f
            g[k] = _sig_exact(g[k])
        for k in range(2 * H, 3 * H):          # g
            g[k] = _tanh_exact(g[k])
        for k in range(3 * H, G):              # o
            g[k] = _sig_exact(g[k])
        for k in range(H):
            c[k] = g[H + k] * c[k] + g[k] * g[2 * H + k]
        for k in range(H):
            h[k] = g[3 * H + k] * _tanh_exact(c[k])
        out[t] = _readout(h, w_lin, b_lin, xt)


# ----------------------------------------------------------------------------------- GRU
@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def gru_block(x, h, w_ih, w_hhT, b, b_in, w_lin, b_lin, out):
    """GRU block, fast activations. See the module doc for the argument layout."""
    H = h.shape[0]
    G = 3 * H
    g = np.empty(G, dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        for k in range(2 * H):                 # r, z: input part folded into the start
            g[k] = b[k] + xt * w_ih[k]
        for k in range(2 * H, G):              # n: W_hn h + b_hn only
            g[k] = b[k]
        _matvec(g, h, w_hhT)
        for k in range(H):
            r = _sig_fast(g[k])
            z = _sig_fast(g[H + k])
            n = _tanh_fast((xt * w_ih[2 * H + k] + b_in[k]) + r * g[2 * H + k])
            h[k] = (1.0 - z) * n + z * h[k]
        out[t] = _readout(h, w_lin, b_lin, xt)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def gru_block_exact(x, h, w_ih, w_hhT, b, b_in, w_lin, b_lin, out):
    """As ``gru_block`` with libm exp/tanh."""
    H = h.shape[0]
    G = 3 * H
    g = np.empty(G, dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        for k in range(2 * H):
            g[k] = b[k] + xt * w_ih[k]
        for k in range(2 * H, G):
            g[k] = b[k]
        _matvec(g, h, w_hhT)
        for k in range(H):
            r = _sig_exact(g[k])
            z = _sig_exact(g[H + k])
            n = _tanh_exact((xt * w_ih[2 * H + k] + b_in[k]) + r * g[2 * H + k])
            h[k] = (1.0 - z) * n + z * h[k]
        out[t] = _readout(h, w_lin, b_lin, xt)


# ------------------------------------------------------------------------------- helpers
def kernels(cell: str, exact: bool = False):
    """The block function for ``cell`` ("LSTM" or "GRU"), fast or exact-libm activations."""
    table = {("LSTM", False): lstm_block, ("LSTM", True): lstm_block_exact,
             ("GRU", False): gru_block, ("GRU", True): gru_block_exact}
    try:
        return table[(cell.upper(), bool(exact))]
    except KeyError:
        raise ValueError(f"cell must be 'LSTM' or 'GRU', got {cell!r}") from None


def _f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy(), dtype=np.float32)


def _common(model):
    rec = model.rec
    if rec.num_layers != 1 or rec.input_size != 1 or rec.bias is not True:
        raise ValueError("only single-layer, input-size-1 recurrent layers with biases")
    w_ih = _f32(rec.weight_ih_l0).reshape(-1).copy()
    w_hhT = np.ascontiguousarray(_f32(rec.weight_hh_l0).T)
    b_ih = rec.bias_ih_l0.detach().to("cpu", torch.float32)
    b_hh = rec.bias_hh_l0.detach().to("cpu", torch.float32)
    w_lin = _f32(model.lin.weight).reshape(-1).copy()
    b_lin = _f32(model.lin.bias).reshape(1).copy()
    return w_ih, w_hhT, b_ih, b_hh, w_lin, b_lin


def prepare_lstm(model) -> dict:
    """Kernel arrays of an LSTM ``RecurrentModel`` (a snapshot: later weight edits are not seen)."""
    w_ih, w_hhT, b_ih, b_hh, w_lin, b_lin = _common(model)
    return dict(w_ih=w_ih, w_hhT=w_hhT, b=_f32(b_ih + b_hh), w_lin=w_lin, b_lin=b_lin)


def prepare_gru(model) -> dict:
    """Kernel arrays of a GRU ``RecurrentModel``: b = [b_ir+b_hr, b_iz+b_hz, b_hn], b_in."""
    w_ih, w_hhT, b_ih, b_hh, w_lin, b_lin = _common(model)
    H = model.hidden_size
    b = torch.cat([b_ih[:2 * H] + b_hh[:2 * H], b_hh[2 * H:]])
    return dict(w_ih=w_ih, w_hhT=w_hhT, b=_f32(b), b_in=_f32(b_ih[2 * H:]),
                w_lin=w_lin, b_lin=b_lin)


def compile_kernels() -> float:
    """Compile (or load from numba's disk cache) every kernel; return the seconds it took."""
    import time
    t0 = time.perf_counter()
    x = np.zeros(2, np.float32)
    out = np.empty(2, np.float32)
    for exact in (False, True):
        H = 2
        f = lambda n: np.zeros(n, np.float32)          # noqa: E731
        w = np.zeros((H, 4 * H), np.float32)
        kernels("LSTM", exact)(x, f(H), f(H), f(4 * H), w, f(4 * H), f(H), f(1), out)
        w = np.zeros((H, 3 * H), np.float32)
        kernels("GRU", exact)(x, f(H), f(3 * H), w, f(3 * H), f(H), f(H), f(1), out)
    tanh_fast(np.zeros(1))
    return time.perf_counter() - t0
