"""A numba implementation of the single-layer, input-size-1 LSTM recurrence, with exact backward.

Why: the study's small students (B16, B8) train slowly on CPU. PyTorch's CPU ``nn.LSTM`` is
oneDNN's fused LSTM, but at hidden 8-16 and batch 8 its per-step cost (a GEMM dispatch and the
gate kernels in forward, again in backward) dwarfs the ~8,000 multiply-adds a step needs. Here
the whole sequential loop, forward and backward, runs in one compiled function per direction:
per step one small BLAS GEMM for the batch (called from compiled code, so without Python or
dispatcher overhead) and gate loops that LLVM vectorizes.
``fxlib.models.rnn`` routes an LSTM through this kernel only at the hidden sizes where it was
measured to be faster than ``nn.LSTM`` (``rnn.LSTM_KERNEL_HIDDEN``; the measurement:
docs/benchmarks.md, section 'Training throughput').

Equations (PyTorch's, gate order i, f, g, o in the stacked weights)::

    i  = σ(W_ii x + b_ii + W_hi h + b_hi)        f = σ(W_if x + b_if + W_hf h + b_hf)
    g  = tanh(W_ig x + b_ig + W_hg h + b_hg)     o = σ(W_io x + b_io + W_ho h + b_ho)
    c' = f ⊙ c + i ⊙ g,    h' = o ⊙ tanh(c')

Backward through one step, with d = dL/dh' (from the output and the next step) and
e = dL/dc' + d ⊙ o ⊙ (1 − tanh²c')::

    da_i = e g i(1−i),  da_f = e c f(1−f),  da_g = e i (1−g²),  da_o = d tanh(c') o(1−o)
    dL/dc = e ⊙ f,      dL/dh = W_hh^T da

where ``da`` = dL/d(pre-activations). Both biases enter the pre-activations unchanged, so
``da`` is also the gradient of the input-side terms.

Kernels (``@njit(cache=True, error_model="numpy")``, serial, deterministic):

* ``_lstm_fwd``: time-major forward; per step the GEMM ``h W_hh^T`` for the whole batch and
  the gate maths; it saves the gate activations, c' and tanh(c') for backward, or keeps only
  the carried state (inference, no-save path);
* ``_lstm_bwd``: backward through time; it produces ``da`` per step (and, by one GEMM
  ``da W_hh`` per step, the carried dL/dh) and dL/dh0, dL/dc0. As in
  ``fxlib.models.gru_kernel``, the weight, bias and input gradients are then formed in torch as
  one float32 GEMM / sum over all (time, batch) rows (as PyTorch's LSTM backward does).

Arithmetic: everything in the input dtype (float32 for the models; float64 for
``gradcheck``), as in the GRU kernel. For float32, σ and tanh use the shared float32 rational
tanh (Eigen's, ``fxlib.models.kernel_common``; σ(v) = ½ + ½ tanh(v/2)), which LLVM vectorizes;
float64 uses libm. The tests pin its error bound; the measured maximum: docs/benchmarks.md,
section 'Kernel fidelity'. Results agree with
``nn.LSTM`` to float32 rounding, not bitwise (``tests/test_lstm_kernel.py`` holds the bounds).

``LSTMFunction`` is the ``torch.autograd.Function``; ``lstm_forward`` picks the no-save path
when no gradient is needed. Shapes: x (B, T), h0 and c0 (B, H), w_ih (4H, 1), w_hh (4H, H),
b_ih, b_hh (4H,); returns (all hidden states (B, T, H), h_T, c_T (B, H)).
"""
from __future__ import annotations

import time
import weakref

import numpy as np
import torch
from numba import njit

from .kernel_common import _HALF, _ONE, _POOL, _ZERO, _np, _th

__all__ = ["LSTMFunction", "lstm_forward", "compile_kernels"]


@njit(cache=True, inline="always", error_model="numpy")
def _lstm_fwd(x, h0, c0, w_ih, w_hhT, bias, out, cs, tcs, gates, exact):
    """Time-major forward. x (T,B); h0, c0 (B,H); w_ih, bias (4H,) (bias = b_ih + b_hh);
    w_hhT (H,4H) = W_hh transposed, contiguous. Writes out (T,B,H) (the hidden states) and
    cs, tcs (c' and tanh c', (T,B,H)) and gates (the activations i, f, g, o, (T,B,4H)) when
    saving for backward; for inference cs, tcs, gates are (1,B,·) scratch, overwritten every
    step, and cs[0] holds the final cell state on return.

    Each inner loop writes one array: LLVM cannot prove that numba arrays do not alias, and a
    loop storing to several of them is left scalar (the cost: docs/benchmarks.md, section
    'Training throughput'). The mat-vec is one BLAS GEMM per step, faster at these sizes than
    any loop form tried there."""
    T = x.shape[0]
    B, H = h0.shape
    G = 4 * H
    dt = w_hhT.dtype
    gh = np.empty((B, G), dtype=dt)
    # σ(v) = ½ + ½ tanh(v/2): one activation loop over all four gates, act = s tanh(s v) + a
    # with s = 1, a = 0 for the tanh gate g and s = a = ½ for the sigmoid gates i, f, o
    sc, add = np.empty(G, dtype=dt), np.empty(G, dtype=dt)
    for k in range(G):
        tanh_gate = 2 * H <= k < 3 * H
        sc[k] = _ONE if tanh_gate else _HALF
        add[k] = _ZERO if tanh_gate else _HALF
    save = gates.shape[0] == T
    if not save:
        cs[0] = c0
    for t in range(T):
        hp = h0 if t == 0 else out[t - 1]
        s = t if save else 0
        cp = c0 if t == 0 else cs[s - 1 if save else 0]
        ht, ct, tct, gt = out[t], cs[s], tcs[s], gates[s]
        np.dot(hp, w_hhT, gh)                   # h W_hh^T: one BLAS GEMM for the batch
        for b in range(B):
            xb = x[t, b]
            for k in range(G):
                v = xb * w_ih[k] + bias[k] + gh[b, k]
                gt[b, k] = sc[k] * _th(sc[k] * v, exact) + add[k]
            for k in range(H):                                  # c' = f c + i g
                ct[b, k] = gt[b, H + k] * cp[b, k] + gt[b, k] * gt[b, 2 * H + k]
            for k in range(H):
                tct[b, k] = _th(ct[b, k], exact)
            for k in range(H):                                  # h' = o tanh c'
                ht[b, k] = gt[b, 3 * H + k] * tct[b, k]


# One compiled forward per arithmetic: ``exact`` is a constant inside each (inlined body), so
# the loops carry no branch (a run-time flag inside them stopped the gate loops from being
# vectorized as well: docs/benchmarks.md, section 'Training throughput').
@njit(cache=True, error_model="numpy")
def _lstm_fwd_fast(x, h0, c0, w_ih, w_hhT, bias, out, cs, tcs, gates):
    _lstm_fwd(x, h0, c0, w_ih, w_hhT, bias, out, cs, tcs, gates, False)


@njit(cache=True, error_model="numpy")
def _lstm_fwd_exact(x, h0, c0, w_ih, w_hhT, bias, out, cs, tcs, gates):
    _lstm_fwd(x, h0, c0, w_ih, w_hhT, bias, out, cs, tcs, gates, True)


def _fwd(exact):
    return _lstm_fwd_exact if exact else _lstm_fwd_fast


@njit(cache=True, error_model="numpy")
def _lstm_bwd(dout, dhT, dcT, c0, cs, tcs, gates, w_hh, da, dh0, dc0):
    """Backward through time, time-major. dout (T,B,H); dhT, dcT, c0 (B,H); w_hh (4H,H).
    Writes da (T,B,4H) = dL/d(pre-activations) per step, dh0 and dc0 (B,H). As in
    ``_lstm_fwd``: one array written per inner loop, and the mat-vec ``da W_hh`` one BLAS GEMM
    per step. Arithmetic in the arrays' dtype."""
    T, B, H = dout.shape
    dh = dhT.copy()
    dc = dcT.copy()
    d = np.empty((B, H), dtype=dh.dtype)         # dL/dh' of the step
    e = np.empty((B, H), dtype=dh.dtype)         # dL/dc' of the step
    for t in range(T - 1, -1, -1):
        cp = c0 if t == 0 else cs[t - 1]
        gt, tct, dat, dt = gates[t], tcs[t], da[t], dout[t]
        for b in range(B):
            for k in range(H):
                d[b, k] = dh[b, k] + dt[b, k]
            for k in range(H):
                tc = tct[b, k]
                e[b, k] = dc[b, k] + d[b, k] * gt[b, 3 * H + k] * (_ONE - tc * tc)
            for k in range(H):                                  # i
                i = gt[b, k]
                dat[b, k] = e[b, k] * gt[b, 2 * H + k] * i * (_ONE - i)
            for k in range(H):                                  # f
                f = gt[b, H + k]
                dat[b, H + k] = e[b, k] * cp[b, k] * f * (_ONE - f)
            for k in range(H):                                  # g
                g = gt[b, 2 * H + k]
                dat[b, 2 * H + k] = e[b, k] * gt[b, k] * (_ONE - g * g)
            for k in range(H):                                  # o
                o = gt[b, 3 * H + k]
                dat[b, 3 * H + k] = d[b, k] * tct[b, k] * o * (_ONE - o)
            for k in range(H):
                dc[b, k] = e[b, k] * gt[b, H + k]
        np.dot(dat, w_hh, dh)                  # dL/dh = da W_hh: one BLAS GEMM
    dh0[:] = dh
    dc0[:] = dc


def _prep(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """numpy arguments of ``_lstm_fwd`` (time-major x, transposed W_hh, summed biases)."""
    bias = (b_ih.detach() + b_hh.detach()).contiguous().numpy()
    return (_np(x.t()), _np(h0), _np(c0), _np(w_ih).reshape(-1), _np(w_hh.t()), bias)


class LSTMFunction(torch.autograd.Function):
    """``(x, h0, c0, w_ih, w_hh, b_ih, b_hh) -> (hs (B,T,H), h_T, c_T (B,H))``, exact backward.

    CPU only; all tensors share one dtype (float32 or float64). ``hs`` is a (B, T, H) view of
    time-major storage (not contiguous)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        B, T = x.shape
        H = h0.shape[1]
        dt = x.dtype
        out = torch.empty(T, B, H, dtype=dt)                   # returned: never pooled
        cs, tcs = _POOL.take((T, B, H), dt), _POOL.take((T, B, H), dt)
        gates = _POOL.take((T, B, 4 * H), dt)
        _fwd(dt == torch.float64)(*_prep(x, h0, c0, w_ih, w_hh, b_ih, b_hh), out.numpy(),
                                  cs.numpy(), tcs.numpy(), gates.numpy())
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, out)
        # intermediates, back to the pool only when autograd frees this graph node: a graph
        # kept for another backward (retain_graph, gradcheck) keeps its buffers
        ctx.buffers = (cs, tcs, gates)
        weakref.finalize(ctx, _POOL.give, cs, tcs, gates)
        return out.transpose(0, 1), out[-1].clone(), cs[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gout, ghT, gcT):
        x, h0, c0, w_ih, w_hh, out = ctx.saved_tensors
        cs, tcs, gates = ctx.buffers
        T, B, H = out.shape
        dt = out.dtype
        # time-major view of dL/dhs (B,T,H), strided: no copy (the kernel reads it per step)
        gout = torch.zeros_like(out) if gout is None else gout.to(dt).transpose(0, 1)
        ghT = torch.zeros(B, H, dtype=dt) if ghT is None else ghT.to(dt)
        gcT = torch.zeros(B, H, dtype=dt) if gcT is None else gcT.to(dt)
        da = _POOL.take((T, B, 4 * H), dt)
        dh0, dc0 = torch.empty(B, H, dtype=dt), torch.empty(B, H, dtype=dt)
        _lstm_bwd(gout.detach().numpy(), _np(ghT), _np(gcT), _np(c0), cs.numpy(), tcs.numpy(),
                  gates.numpy(), _np(w_hh), da.numpy(), dh0.numpy(), dc0.numpy())
        # Parameter/input gradients: one GEMM or reduction over all T*B rows.
        need = ctx.needs_input_grad
        da2 = da.reshape(T * B, 4 * H)
        dx = dw_ih = dw_hh = db = None
        if need[0]:
            dx = (da2 @ w_ih.detach().reshape(-1)).reshape(T, B).t()
        if need[3]:
            dw_ih = da2.t() @ x.detach().t().reshape(T * B, 1)
        if need[4]:
            # sum over rows of h_{t-1} (x) da_t: h0 with step 0, the outputs with the rest (no
            # concatenated copy); this operand order is the faster GEMM at H <= 16
            hprev = out[:-1].reshape((T - 1) * B, H)
            dw_hh = (h0.detach().t() @ da[0] + hprev.t() @ da2[B:]).t()
        if need[5] or need[6]:
            db = da2.sum(0)
        _POOL.give(da)                         # every result above is a new tensor
        return (dx, dh0 if need[1] else None, dc0 if need[2] else None, dw_ih, dw_hh,
                db if need[5] else None, db if need[6] else None)


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """LSTM over ``x`` (B, T) from (``h0``, ``c0``) (B, H); returns (hs (B,T,H), h_T, c_T).

    Uses the autograd ``LSTMFunction`` when a gradient is needed, else the no-save kernel."""
    args = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    if torch.is_grad_enabled() and any(a.requires_grad for a in args):
        return LSTMFunction.apply(*args)
    B, T = x.shape
    H = h0.shape[1]
    out = torch.empty(T, B, H, dtype=x.dtype)
    cs, tcs = np.empty((2, 1, B, H), dtype=out.numpy().dtype)
    gates = np.empty((1, B, 4 * H), dtype=cs.dtype)
    _fwd(x.dtype == torch.float64)(*_prep(*args), out.numpy(), cs, tcs, gates)
    return out.transpose(0, 1), out[-1].clone(), torch.from_numpy(cs[0].copy())


def compile_kernels(dtype=torch.float32) -> float:
    """Compile (or load from numba's on-disk cache) the kernels for ``dtype``; returns seconds."""
    t0 = time.perf_counter()
    H = 2
    args = [torch.zeros(1, 2, dtype=dtype), torch.zeros(1, H, dtype=dtype),
            torch.zeros(1, H, dtype=dtype), torch.zeros(4 * H, 1, dtype=dtype),
            torch.zeros(4 * H, H, dtype=dtype), torch.zeros(4 * H, dtype=dtype),
            torch.zeros(4 * H, dtype=dtype)]
    with torch.no_grad():
        lstm_forward(*args)
    args = [a.requires_grad_() for a in args]
    hs, hT, cT = LSTMFunction.apply(*args)
    (hs.sum() + hT.sum() + cT.sum()).backward()
    return time.perf_counter() - t0
