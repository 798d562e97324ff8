"""Per-sample streaming kernels for the recurrent models B (LSTM) and C (GRU): numba, batch 1,
float32 state and weights, serial (no ``parallel``), no allocation per sample.

Each ``*_block`` function processes one block of samples, updates the state arrays **in place**
and writes the output block, skip included::

    lstm_block(x, h, c, w0, b0, w_hh, w_lin, b_lin, out)
    gru_block(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out)

All arrays are C-contiguous float32, built from a ``RecurrentModel`` by ``prepare_lstm`` /
``prepare_gru``; ``x``/``out`` have the same length (0 allowed), ``h``/``c`` are (Hp,) (below).
``lstm_run`` / ``gru_run`` are the same float32 kernels without the checks and with the
pre-activation scratch passed in: ``fxlib.runtime.bank`` calls them once it has checked its
packed arrays, and the streamer goes through ``bank``.

Mat-vec (``_gates``). The G = 4H (LSTM: i, f, g, o) or 3H (GRU: r, z, n) pre-activations are
padded to Gp, a multiple of 16, and computed 16 outputs at a time with the explicit vectors of
``fxlib.runtime.simd``: ``w_hh`` holds W_hh in column blocks, ``w_hh[(b*H + j)*16 + l] =
W_hh[16 b + l, j]``, and up to four blocks (a "panel") are accumulated in registers over the
whole ``j`` loop, from ``w0 * x_t + b0``, as one fused multiply-add per ``j`` in the order
j = 0 .. H-1. Panels are visited in alternating order from one sample to the next: at H = 64
the LSTM's W_hh (64 KB) does not fit a 48 KB L1 cache, and a cyclic sweep would miss on every
panel, while a back-and-forth sweep finds the panels it used last still cached (the order of
panels does not change any result). The weight arrays start on a 64-byte boundary
(``aligned``): a 16-lane load then touches one cache line, not two. The blocked mat-vec
reproduces the plain row-update loop bit for bit; what blocking and alignment gain:
docs/benchmarks.md, section 'Streaming'.

Layout. Each gate's rows are padded from H to Hp = 16 ceil(H / 16) with zero rows, so that
gate q of units k .. k+15 is one 16-lane vector at ``g[q Hp + k]``; the state arrays ``h``/``c``
and ``w_lin``, ``w_in``, ``b_in`` have Hp entries. Padded units stay exactly 0 (zero weights and
biases: c <- c/2 + 0, h <- tanh(0)/2 for the LSTM; h <- h/2 for the GRU, from 0). The real H is
``w_hh.size // Gp``. ``w0``/``b0`` carry the input weight and the biases that are only ever
added: LSTM b_ih + b_hh for all gates; GRU b_ir + b_hr, b_iz + b_hz and b_hn, with **no** input
term for n (w0 = 0 there), since n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) puts b_hn inside
the product with r; W_in and b_in are passed separately. y[t] = w_lin . h[t] + b_lin + x[t].

Gates, three variants of the same kernel (``kernels(cell, gates)``, ``GATES``):

* ``"float32"`` (default, ``lstm_block``/``gru_block``): 16 units at a time in float32 with
  call-free gate functions: the compensated ``simd.vsigmoid`` (<= 1.5 ulp, like a correctly
  rounded one on average) for the gates that multiply the carried state (LSTM f,
  GRU z), the plain ``simd.vsigmoid_fast`` (<= 2.5 ulp) for the others (LSTM i, o; GRU r), and
  ``simd.vtanh`` (<= 2.5 ulp); rounding where PyTorch's float32 cell rounds (each gate;
  c' = f c + i g as one fused multiply-add; tanh(c'); h' = o tanh(c'); GRU h' = n + z (h - n)).
  The fastest variant.
* ``"float64"`` (``lstm_block_f64``/``gru_block_f64``): per unit, in float64 from the float32
  pre-activations, with exp only (``simd.exp_f64``, relative error <= 2e-12, no library call,
  so the loop vectorizes), arguments clamped to [-40, 40], and the divisions merged: for the
  LSTM, with A, B, C, D = 1 + exp(-i), 1 + exp(-f), 1 + exp(-2g), 1 + exp(-o),
  c' = f c + i tanh(g) = (c A C + (1 - e_g) B) / (A B C), rounded to float32 as PyTorch keeps it,
  and h' = o tanh(c') = (1 - e_c) / (D (1 + e_c)), e_c = exp(-2 c'): 5 exp and 2 divisions per
  unit; for the GRU r = 1 / (1 + exp(-a_r)), e_n = exp(-2 a_n), h' = (e_z (1 - e_n) +
  h (1 + e_n)) / ((1 + e_z)(1 + e_n)): 3 exp, 2 divisions. Every value is rounded to float32
  once (c and h): the closest of the three to the float64 model.
* ``"libm"`` (``*_block_exact``): per-unit loops with libm ``math.exp``/``math.tanh`` in float64
  and the textbook formulas, for comparison.

Fidelity. All three match PyTorch's float32 forward to float32 rounding on ordinary weights
(tests: <= 1e-5 over 60 s for any block partition). Models that amplify rounding (the
pretrained high-gain fuzz models, the study's C) show the differences after 60 s of audio; the
measured distances to a float64 evaluation, beside PyTorch's own: docs/benchmarks.md, section
'Kernel fidelity'. The forget gate is where the accuracy of sigmoid shows: it multiplies the
cell state every sample, so its rounding compounds; hence the compensated sigmoid there and
the plain one on the other gates (where it changes nothing measurable).

fastmath: ``FASTMATH = {"contract", "reassoc", "nsz"}`` serves the scalar loops of the float64
and libm kernels (it lets LLVM vectorize them). The float32 kernels compile **without**
fast-math: numba puts its flags on every floating-point instruction of the compiled function,
the inlined vector gate functions' included, and reassociation would fold their compensated
sums away (and the fidelity with them). Compiled so, the gates in the kernels are
bit for bit the functions ``simd.apply`` evaluates for the error-bound tests (a test checks).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from numba import njit

from ..models.rnn import RecurrentModel
from .simd import (LANES, apply, exp_f64, vfma, vload, vmul, vsigmoid, vsigmoid_fast, vsplat, vstore,
                   vsub, vsum, vtanh)

__all__ = ["lstm_block_f64", "lstm_block", "lstm_block_exact", "gru_block_f64", "gru_block",
           "gru_block_exact", "lstm_run", "gru_run", "kernels", "GATES", "CLAMP",
           "prepare_lstm", "prepare_gru", "compile_kernels", "gates_blocked", "bare_chain",
           "aligned", "ALIGN", "FASTMATH", "padded_hidden", "state_arrays", "all_finite"]

FASTMATH = {"contract", "reassoc", "nsz"}

#: float64 gate arguments are clamped to [-CLAMP, CLAMP] before exp.
CLAMP = 40.0

#: Gate arithmetic of the kernels (``kernels(cell, gates)``), the first the default.
GATES = ("float32", "float64", "libm")



@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _gates(g, h, xt, w0, b0, w_hh, reverse):
    """g[:Gp] = w0 * xt + b0 + W_hh h (blocked layout, panels of <= 4 blocks; module doc)."""
    H = w_hh.shape[0] // g.shape[0]
    NB = g.shape[0] // LANES
    HL = H * LANES
    xs = vsplat(xt)
    npanel = (NB + 3) // 4
    for q in range(npanel):
        p = npanel - 1 - q if reverse else q
        k0 = 4 * p
        if k0 + 4 <= NB:
            o0 = k0 * LANES
            a0 = vfma(xs, vload(w0, o0), vload(b0, o0))
            a1 = vfma(xs, vload(w0, o0 + LANES), vload(b0, o0 + LANES))
            a2 = vfma(xs, vload(w0, o0 + 2 * LANES), vload(b0, o0 + 2 * LANES))
            a3 = vfma(xs, vload(w0, o0 + 3 * LANES), vload(b0, o0 + 3 * LANES))
            w = k0 * HL
            for j in range(H):
                hj = vsplat(h[j])
                a0 = vfma(hj, vload(w_hh, w), a0)
                a1 = vfma(hj, vload(w_hh, w + LANES), a1)
                a2 = vfma(hj, vload(w_hh, w + 2 * LANES), a2)
                a3 = vfma(hj, vload(w_hh, w + 3 * LANES), a3)
                w += 4 * LANES
            vstore(g, o0, a0)
            vstore(g, o0 + LANES, a1)
            vstore(g, o0 + 2 * LANES, a2)
            vstore(g, o0 + 3 * LANES, a3)
        else:
            step = (NB - k0) * LANES          # a partial panel: fewer than 4 blocks
            for kb in range(k0, NB):
                o = kb * LANES
                a = vfma(xs, vload(w0, o), vload(b0, o))
                w = k0 * HL + (kb - k0) * LANES
                for j in range(H):
                    a = vfma(vsplat(h[j]), vload(w_hh, w), a)
                    w += step
                vstore(g, o, a)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def gates_blocked(x, h, w0, b0, w_hh, out_g):
    """The pre-activations of one step (for tests and the benchmark's bare chain)."""
    _gates(out_g, h, x, w0, b0, w_hh, False)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def bare_chain(x, h, w0, b0, w_hh, out):
    """The recurrent mat-vec chain alone, the floor of the benchmark (``fxlib.runtime.
    benchmark``): per sample ``_gates``, then h <- g[:H] / 64 (no activation), out = sum(h).
    It lives here, next to ``_gates``, because numba's disk cache only notices edits to the
    file of the function it compiled, not to functions inlined from other files."""
    H = h.shape[0]
    g = np.empty(w0.shape[0], dtype=np.float32)
    for t in range(x.shape[0]):
        _gates(g, h, x[t], w0, b0, w_hh, (t & 1) == 1)
        acc = np.float32(0.0)
        for k in range(H):
            h[k] = g[k] * np.float32(0.015625)
            acc += h[k]
        out[t] = acc


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _readout(h, w_lin, b_lin, xt):
    acc = np.float32(0.0)
    for k in range(h.shape[0]):
        acc += w_lin[k] * h[k]
    return (acc + b_lin[0]) + xt


@njit(cache=True, fastmath=False)
def all_finite(a) -> bool:
    """No NaN/inf in the 1-D array ``a``: v - v is 0 for finite v and NaN otherwise (cheaper
    per call than a NumPy sum). This holds only without fast-math, and numba compiles
    a callee with its caller's fastmath unless the callee sets its own: hence the explicit
    ``fastmath=False`` (without it, the float64 kernels let NaN through)."""
    acc = np.float32(0.0)
    for i in range(a.shape[0]):
        acc += a[i] - a[i]
    return acc == 0.0


@njit(cache=True, error_model="numpy", fastmath=False)
def _check(n_gates, x, h, c, w0, b0, w_hh, w_lin, out):
    """Before any state is touched: the shapes the vector code relies on (it does not
    bounds-check), and a finite input block (NaN/inf would poison the state for good).
    Raise, never corrupt."""
    Hp = h.shape[0]
    if (Hp % LANES != 0 or c.shape[0] != Hp or w0.shape[0] != n_gates * Hp
            or b0.shape[0] != w0.shape[0] or w_lin.shape[0] != Hp or out.shape[0] != x.shape[0]
            or w_hh.shape[0] % w0.shape[0] != 0 or w_hh.shape[0] // w0.shape[0] > Hp):
        raise ValueError("kernel arrays do not fit together: build them with prepare_lstm/"
                         "prepare_gru and state_arrays")
    if not all_finite(x):
        raise ValueError("process() got non-finite samples (NaN or inf) in the block")


@njit(cache=True, error_model="numpy", fastmath=False)
def _check_gru(x, h, w0, b0, w_hh, w_in, b_in, w_lin, out):
    _check(3, x, h, h, w0, b0, w_hh, w_lin, out)
    if w_in.shape[0] != h.shape[0] or b_in.shape[0] != h.shape[0]:
        raise ValueError("kernel arrays do not fit together: w_in/b_in must have Hp entries")


@njit(cache=True, inline="always", error_model="numpy")
def _clamp64(v):
    return min(max(v, -CLAMP), CLAMP)


# ---------------------------------------------------------------------------------- LSTM
@njit(cache=True, error_model="numpy")
def lstm_block(x, h, c, w0, b0, w_hh, w_lin, b_lin, out):
    """LSTM block, float32 16-lane gates (module doc; no fast-math on purpose)."""
    _check(4, x, h, c, w0, b0, w_hh, w_lin, out)
    lstm_run(x, h, c, w0, b0, w_hh, w_lin, b_lin, out, np.empty(w0.shape[0], dtype=np.float32))


@njit(cache=True, error_model="numpy")
def lstm_run(x, h, c, w0, b0, w_hh, w_lin, b_lin, out, g):
    """``lstm_block`` without its checks, the pre-activations in ``g`` (Gp floats): what
    ``fxlib.runtime.bank`` calls after checking its bank once."""
    Hp = h.shape[0]
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        acc = vsplat(np.float32(0.0))
        for k in range(0, Hp, LANES):
            i = vsigmoid_fast(vload(g, k))
            f = vsigmoid(vload(g, Hp + k))      # compensated: f scales c every sample
            gg = vtanh(vload(g, 2 * Hp + k))
            o = vsigmoid_fast(vload(g, 3 * Hp + k))
            cn = vfma(f, vload(c, k), vmul(i, gg))
            vstore(c, k, cn)
            hn = vmul(o, vtanh(cn))
            vstore(h, k, hn)
            acc = vfma(hn, vload(w_lin, k), acc)
        out[t] = (vsum(acc) + b_lin[0]) + xt


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_block_f64(x, h, c, w0, b0, w_hh, w_lin, b_lin, out):
    """LSTM block, float64 gates from call-free exp with merged divisions (module doc)."""
    _check(4, x, h, c, w0, b0, w_hh, w_lin, out)
    Hp = h.shape[0]
    g = np.empty(w0.shape[0], dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        for k in range(Hp):                # padded units too: they stay exactly 0
            A = 1.0 + exp_f64(-_clamp64(np.float64(g[k])))
            B = 1.0 + exp_f64(-_clamp64(np.float64(g[Hp + k])))
            eg = exp_f64(-_clamp64(2.0 * np.float64(g[2 * Hp + k])))
            C = 1.0 + eg
            D = 1.0 + exp_f64(-_clamp64(np.float64(g[3 * Hp + k])))
            cn = np.float32((np.float64(c[k]) * A * C + (1.0 - eg) * B) / (A * B * C))
            c[k] = cn
            ec = exp_f64(-_clamp64(2.0 * np.float64(cn)))
            h[k] = np.float32((1.0 - ec) / (D * (1.0 + ec)))
        out[t] = _readout(h, w_lin, b_lin, xt)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_block_exact(x, h, c, w0, b0, w_hh, w_lin, b_lin, out):
    """As ``lstm_block_f64`` with libm exp/tanh in float64 and the textbook gate formulas."""
    _check(4, x, h, c, w0, b0, w_hh, w_lin, out)
    Hp = h.shape[0]
    g = np.empty(w0.shape[0], dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        for k in range(Hp):                # padded units too: they stay exactly 0
            i = np.float32(1.0 / (1.0 + math.exp(-np.float64(g[k]))))
            f = np.float32(1.0 / (1.0 + math.exp(-np.float64(g[Hp + k]))))
            gg = np.float32(math.tanh(np.float64(g[2 * Hp + k])))
            o = np.float32(1.0 / (1.0 + math.exp(-np.float64(g[3 * Hp + k]))))
            cn = f * c[k] + i * gg
            c[k] = cn
            h[k] = o * np.float32(math.tanh(np.float64(cn)))
        out[t] = _readout(h, w_lin, b_lin, xt)


# ----------------------------------------------------------------------------------- GRU
@njit(cache=True, error_model="numpy")
def gru_block(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out):
    """GRU block, float32 16-lane gates (module doc; no fast-math on purpose)."""
    _check_gru(x, h, w0, b0, w_hh, w_in, b_in, w_lin, out)
    gru_run(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out,
            np.empty(w0.shape[0], dtype=np.float32))


@njit(cache=True, error_model="numpy")
def gru_run(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out, g):
    """``gru_block`` without its checks, the pre-activations in ``g`` (``lstm_run``)."""
    Hp = h.shape[0]
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        xs = vsplat(xt)
        acc = vsplat(np.float32(0.0))
        for k in range(0, Hp, LANES):
            r = vsigmoid_fast(vload(g, k))
            z = vsigmoid(vload(g, Hp + k))      # compensated: z scales h every sample
            n = vtanh(vfma(r, vload(g, 2 * Hp + k), vfma(xs, vload(w_in, k), vload(b_in, k))))
            hn = vfma(z, vsub(vload(h, k), n), n)
            vstore(h, k, hn)
            acc = vfma(hn, vload(w_lin, k), acc)
        out[t] = (vsum(acc) + b_lin[0]) + xt


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def gru_block_f64(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out):
    """GRU block, float64 gates from call-free exp with merged divisions (module doc)."""
    _check_gru(x, h, w0, b0, w_hh, w_in, b_in, w_lin, out)
    Hp = h.shape[0]
    g = np.empty(w0.shape[0], dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        for k in range(Hp):                # padded units too: they stay exactly 0
            r = 1.0 / (1.0 + exp_f64(-_clamp64(np.float64(g[k]))))
            ez = exp_f64(-_clamp64(np.float64(g[Hp + k])))
            a = np.float64(xt * w_in[k] + b_in[k]) + r * np.float64(g[2 * Hp + k])
            en = exp_f64(-_clamp64(2.0 * a))
            hk = np.float64(h[k])
            h[k] = np.float32((ez * (1.0 - en) + hk * (1.0 + en)) / ((1.0 + ez) * (1.0 + en)))
        out[t] = _readout(h, w_lin, b_lin, xt)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def gru_block_exact(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out):
    """As ``gru_block_f64`` with libm exp/tanh in float64 and the textbook gate formulas."""
    _check_gru(x, h, w0, b0, w_hh, w_in, b_in, w_lin, out)
    Hp = h.shape[0]
    g = np.empty(w0.shape[0], dtype=np.float32)
    for t in range(x.shape[0]):
        xt = x[t]
        _gates(g, h, xt, w0, b0, w_hh, (t & 1) == 1)
        for k in range(Hp):                # padded units too: they stay exactly 0
            r = np.float32(1.0 / (1.0 + math.exp(-np.float64(g[k]))))
            z = np.float32(1.0 / (1.0 + math.exp(-np.float64(g[Hp + k]))))
            n = np.float32(math.tanh(np.float64(xt * w_in[k] + b_in[k] + r * g[2 * Hp + k])))
            h[k] = n + z * (h[k] - n)
        out[t] = _readout(h, w_lin, b_lin, xt)


# ------------------------------------------------------------------------------- helpers
def kernels(cell: str, gates: str = "float32"):
    """The block function for ``cell`` ("LSTM" or "GRU") and ``gates`` (one of ``GATES``)."""
    table = {("LSTM", "float32"): lstm_block, ("LSTM", "float64"): lstm_block_f64,
             ("LSTM", "libm"): lstm_block_exact, ("GRU", "float32"): gru_block,
             ("GRU", "float64"): gru_block_f64, ("GRU", "libm"): gru_block_exact}
    if gates not in GATES:
        raise ValueError(f"gates must be one of {GATES}, got {gates!r}")
    try:
        return table[(cell.upper(), gates)]
    except KeyError:
        raise ValueError(f"cell must be 'LSTM' or 'GRU', got {cell!r}") from None


def _f32(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().to("cpu", torch.float32).numpy()
    return np.ascontiguousarray(t, dtype=np.float32)


#: Byte alignment of the kernel arrays: one cache line, and one 16-lane float32 vector. An
#: unaligned 64-byte load touches two cache lines (what that costs: docs/benchmarks.md,
#: section 'Streaming'), and NumPy only guarantees 16-byte alignment.
ALIGN = 64


def aligned(a) -> np.ndarray:
    """A C-contiguous float32 copy of ``a`` whose data starts on an ``ALIGN``-byte boundary."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    buf = np.empty(a.size + ALIGN // 4, np.float32)
    start = (-buf.ctypes.data % ALIGN) // 4
    out = buf[start:start + a.size].reshape(a.shape)
    out[...] = a
    return out


def _padded(v: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[:v.shape[0]] = v
    return aligned(out)


def padded_hidden(H: int) -> int:
    """Hp: the hidden size padded to a multiple of the vector width (module doc)."""
    return -(-H // LANES) * LANES


def block_layout(w_hh: np.ndarray) -> np.ndarray:
    """W_hh (G, H) -> the flat layout of ``_gates``: G padded with zero rows to Gp, a multiple
    of 16; rows cut into blocks of 16 and blocks grouped into panels of 4 (the last panel may
    hold fewer); each panel stored j-major, ``panel[j, l] = W_hh[row0 + l, j]`` for its
    4 x 16 (or fewer) rows, so that the ``j`` loop reads one contiguous stream per panel."""
    G, H = w_hh.shape
    Gp = padded_hidden(G)
    w = np.zeros((Gp, H), np.float32)
    w[:G] = w_hh
    panels = [np.ascontiguousarray(w[r:r + 4 * LANES].T).reshape(-1)
              for r in range(0, Gp, 4 * LANES)]
    return aligned(np.concatenate(panels))


def _common(model):
    rec = model.rec
    if rec.num_layers != 1 or rec.input_size != 1 or rec.bias is not True:
        raise ValueError("only single-layer, input-size-1 recurrent layers with biases")
    return tuple(_f32(t) for t in (rec.weight_ih_l0.reshape(-1), rec.weight_hh_l0,
                                   rec.bias_ih_l0, rec.bias_hh_l0, model.lin.weight.reshape(-1),
                                   model.lin.bias.reshape(1)))


def _gate_rows(a: np.ndarray, n_gates: int, H: int) -> np.ndarray:
    """(n_gates * H, ...) -> (n_gates * Hp, ...): each gate's rows padded with zero rows."""
    Hp = padded_hidden(H)
    out = np.zeros((n_gates * Hp,) + a.shape[1:], np.float32)
    for q in range(n_gates):
        out[q * Hp:q * Hp + H] = a[q * H:(q + 1) * H]
    return out


def _prepare(model, n_gates: int, w0, b0, w_hh, w_lin, b_lin) -> dict:
    H = model.hidden_size
    return dict(w0=aligned(_gate_rows(w0, n_gates, H)), b0=aligned(_gate_rows(b0, n_gates, H)),
                w_hh=block_layout(_gate_rows(w_hh, n_gates, H)),
                w_lin=_padded(w_lin, padded_hidden(H)), b_lin=b_lin)


def prepare_lstm(model) -> dict:
    """Kernel arrays of an LSTM ``RecurrentModel`` (a snapshot: later weight edits are not seen)."""
    w_ih, w_hh, b_ih, b_hh, w_lin, b_lin = _common(model)
    return _prepare(model, 4, w_ih, b_ih + b_hh, w_hh, w_lin, b_lin)


def prepare_gru(model) -> dict:
    """Kernel arrays of a GRU ``RecurrentModel``: b0 = [b_ir+b_hr, b_iz+b_hz, b_hn], w0 = [W_ir,
    W_iz, 0], and W_in, b_in apart (module doc)."""
    w_ih, w_hh, b_ih, b_hh, w_lin, b_lin = _common(model)
    H = model.hidden_size
    w0 = w_ih.copy()
    w0[2 * H:] = 0.0
    b0 = np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_hh[2 * H:]])
    p = _prepare(model, 3, w0, b0, w_hh, w_lin, b_lin)
    Hp = padded_hidden(H)
    p.update(w_in=_padded(w_ih[2 * H:], Hp), b_in=_padded(b_ih[2 * H:], Hp))
    return p


def state_arrays(model) -> tuple:
    """Zeroed, aligned state for the kernels: (h,) for a GRU, (h, c) for an LSTM, each (Hp,)."""
    Hp = padded_hidden(model.hidden_size)
    n = 2 if model.cell == "LSTM" else 1
    return tuple(aligned(np.zeros(Hp, np.float32)) for _ in range(n))


#: Argument order after the state arrays, per cell.
ARGS = {"LSTM": ("w0", "b0", "w_hh", "w_lin", "b_lin"),
        "GRU": ("w0", "b0", "w_hh", "w_in", "b_in", "w_lin", "b_lin")}


def compile_kernels() -> float:
    """Compile (or load from numba's disk cache) every kernel -- the block functions of both
    cells and every gate variant, the blocked mat-vec, the bare chain of the benchmark, the
    finiteness check of the torch engines and the gate functions -- with the argument types
    the streamer passes; return the seconds it took."""
    t0 = time.perf_counter()
    x = np.zeros(2, np.float32)
    out = np.empty(2, np.float32)
    for cell, prep in (("LSTM", prepare_lstm), ("GRU", prepare_gru)):
        model = _tiny(cell)
        p = prep(model)
        args = [p[k] for k in ARGS[cell]]
        for gates in GATES:
            kernels(cell, gates)(x, *state_arrays(model), *args, out)
    gates_blocked(np.float32(0.0), *state_arrays(model)[:1], p["w0"], p["b0"], p["w_hh"],
                  np.empty_like(p["w0"]))
    bare_chain(x, *state_arrays(model)[:1], p["w0"], p["b0"], p["w_hh"], out)
    all_finite(x)
    apply("tanh", np.zeros(1, np.float32))
    return time.perf_counter() - t0


def _tiny(cell: str):
    return RecurrentModel(cell=cell, hidden_size=2)
