"""A numba implementation of the single-layer, input-size-1 GRU recurrence, with exact backward.

Why: on CPU, PyTorch's ``nn.GRU`` has no fused kernel, so every time step is a handful of small
ATen calls in forward and again in backward; for the study's models (hidden 8/16/64, one input
channel) that per-step overhead, not arithmetic, sets the cost (see ``fxlib.models.rnn``'s module
doc for the numbers). Here the whole sequential loop runs in one compiled function.

Equations (PyTorch's, gate order r, z, n in the stacked weights)::

    r  = σ(W_ir x + b_ir + W_hr h + b_hr)
    z  = σ(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h

Kernels (``@njit(cache=True, error_model="numpy")``, serial: no ``parallel=True``):

* ``_gru_fwd``: time-major forward; per step one BLAS GEMM ``h_prev @ W_hh^T`` for the whole
  batch (``np.dot``, i.e. scipy's BLAS, single-threaded at these sizes) and the gate loops; it
  saves r, z (``rz``), n and ``W_hn h + b_hn`` (``hn``) for backward, or writes them to a
  per-step scratch buffer for inference (no-save path);
* ``_gru_bwd``: backward through time; it produces the per-step gate gradients
  (``dL/d(W_h· h + b_h·)`` and ``dL/d(W_in x + b_in)``) and ``dL/dh0`` (per step, one GEMM
  ``g @ W_hh``). The sequential part stops there: the weight/bias/input gradients are then
  formed in torch as one float32 GEMM / sum over all (time, batch) rows (as PyTorch itself
  does for ``nn.GRU``).

Each inner loop writes one array: LLVM cannot prove that numba arrays do not alias, and a loop
storing to several of them is left scalar (this, and float64 gate scalars, made an earlier
version of this kernel 2-3x slower: docs/benchmarks.md, section 'Training throughput'). The
scratch and saved buffers come from the shared pool (``fxlib.models.kernel_common``).

Results are deterministic (fixed loop and GEMM shapes; no threading in the kernels).
Arithmetic: everything in the input dtype (float32 for the models; float64 for ``gradcheck``),
as in the LSTM kernel. For float32, σ and tanh use the shared float32 rational tanh (Eigen's,
``fxlib.models.kernel_common``; σ(v) = ½ + ½ tanh(v/2)), which LLVM vectorizes; float64 uses
libm ``tanh``. Hence results agree with ``nn.GRU`` to float32 rounding, not bitwise (observed
differences: docs/benchmarks.md, section 'Kernel fidelity').

``GRUFunction`` is the ``torch.autograd.Function``; ``gru_forward`` picks the no-save path when
no gradient is needed. Shapes: x (B, T), h0 (B, H), w_ih (3H, 1), w_hh (3H, H), b_ih, b_hh (3H,);
returns (all hidden states (B, T, H), final state (B, H)). First-call JIT cost: see
``compile_kernels`` (cached on disk by numba afterwards).
"""
from __future__ import annotations

import time
import weakref

import numpy as np
import torch
from numba import njit

from .kernel_common import _HALF, _ONE, _POOL, _np, _th

__all__ = ["GRUFunction", "gru_forward", "compile_kernels"]


@njit(cache=True, inline="always", error_model="numpy")
def _gru_fwd(x, h0, w_ih, w_hhT, b_rz, b_in, b_hn, out, rz, ns, hns, exact):
    """Time-major forward. x (T,B); h0 (B,H); w_ih (3H,); w_hhT (H,3H) = W_hh transposed,
    contiguous; b_rz (2H,) = b_ih + b_hh of the r and z gates; b_in, b_hn (H,). Writes out
    (T,B,H) and rz (r and z, (·,B,2H)), ns (n, (·,B,H)), hns (W_hn h + b_hn, (·,B,H)), each
    either T long (saved for backward) or 1 long (scratch, overwritten every step: inference).
    """
    T = x.shape[0]
    B, H = h0.shape
    gh = np.empty((B, 3 * H), dtype=w_hhT.dtype)
    save = rz.shape[0] == T
    for t in range(T):
        hp = h0 if t == 0 else out[t - 1]
        s = t if save else 0
        ht, rzt, nt, hnt = out[t], rz[s], ns[s], hns[s]
        np.dot(hp, w_hhT, gh)                   # h W_hh^T: one BLAS GEMM for the batch
        for b in range(B):
            xb = x[t, b]
            for k in range(2 * H):                                  # r, z = σ(...)
                rzt[b, k] = _HALF * _th(_HALF * (xb * w_ih[k] + b_rz[k] + gh[b, k]),
                                        exact) + _HALF
            for k in range(H):
                hnt[b, k] = gh[b, 2 * H + k] + b_hn[k]
            for k in range(H):                                      # n
                nt[b, k] = _th(xb * w_ih[2 * H + k] + b_in[k] + rzt[b, k] * hnt[b, k], exact)
            for k in range(H):                                      # h' = (1 - z) n + z h
                z = rzt[b, H + k]
                ht[b, k] = (_ONE - z) * nt[b, k] + z * hp[b, k]


# One compiled forward per arithmetic: ``exact`` is a constant inside each (inlined body), so
# the loops carry no branch (as in fxlib.models.lstm_kernel).
@njit(cache=True, error_model="numpy")
def _gru_fwd_fast(x, h0, w_ih, w_hhT, b_rz, b_in, b_hn, out, rz, ns, hns):
    _gru_fwd(x, h0, w_ih, w_hhT, b_rz, b_in, b_hn, out, rz, ns, hns, False)


@njit(cache=True, error_model="numpy")
def _gru_fwd_exact(x, h0, w_ih, w_hhT, b_rz, b_in, b_hn, out, rz, ns, hns):
    _gru_fwd(x, h0, w_ih, w_hhT, b_rz, b_in, b_hn, out, rz, ns, hns, True)


def _fwd(exact):
    return _gru_fwd_exact if exact else _gru_fwd_fast


@njit(cache=True, error_model="numpy")
def _gru_bwd(dout, dhT, h0, out, rz, ns, hns, w_hh, dgh, dgin, dh0):
    """Backward through time, time-major. dout (T,B,H) (may be strided), dhT (B,H), w_hh
    (3H,H); rz, ns, hns as saved by ``_gru_fwd``. Writes dgh (T,B,3H) = dL/d(W_hh h + b_hh)
    per step, dgin (T,B,H) = dL/d(W_in x + b_in) (the r and z input-side gate gradients equal
    dgh's), dh0 (B,H). Arithmetic in the arrays' dtype."""
    T, B, H = dout.shape
    dh = dhT.copy()
    d = np.empty((B, H), dtype=dh.dtype)        # dL/dh' of the step
    tmp = np.empty((B, H), dtype=dh.dtype)      # g W_hh
    for t in range(T - 1, -1, -1):
        hp = h0 if t == 0 else out[t - 1]
        g, gi, rzt, nt, hnt, dt = dgh[t], dgin[t], rz[t], ns[t], hns[t], dout[t]
        for b in range(B):
            for k in range(H):
                d[b, k] = dh[b, k] + dt[b, k]
            for k in range(H):                                      # through n's tanh
                n = nt[b, k]
                gi[b, k] = d[b, k] * (_ONE - rzt[b, H + k]) * (_ONE - n * n)
            for k in range(H):                                      # r
                r = rzt[b, k]
                g[b, k] = gi[b, k] * hnt[b, k] * r * (_ONE - r)
            for k in range(H):                                      # z
                z = rzt[b, H + k]
                g[b, H + k] = d[b, k] * (hp[b, k] - nt[b, k]) * z * (_ONE - z)
            for k in range(H):                                      # W_hn h + b_hn
                g[b, 2 * H + k] = gi[b, k] * rzt[b, k]
        np.dot(g, w_hh, tmp)                    # dL/dh through the gates: one BLAS GEMM
        for b in range(B):
            for k in range(H):
                dh[b, k] = d[b, k] * rzt[b, H + k] + tmp[b, k]
    dh0[:] = dh


def _prep(x, h0, w_ih, w_hh, b_ih, b_hh):
    """numpy arguments of ``_gru_fwd`` (time-major x, transposed W_hh, r/z biases summed)."""
    H = h0.shape[1]
    b_ih, b_hh = b_ih.detach(), b_hh.detach()
    b_rz = (b_ih[:2 * H] + b_hh[:2 * H]).contiguous().numpy()
    return (_np(x.t()), _np(h0), _np(w_ih).reshape(-1), _np(w_hh.t()), b_rz,
            _np(b_ih[2 * H:]), _np(b_hh[2 * H:]))


class GRUFunction(torch.autograd.Function):
    """``(x, h0, w_ih, w_hh, b_ih, b_hh) -> (hs (B,T,H), h_T (B,H))`` with exact backward.

    CPU only; x, h0 and the parameters must share one dtype (float32 or float64). ``hs`` is a
    (B, T, H) view of time-major storage (not contiguous)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        B, T = x.shape
        H = h0.shape[1]
        dt = x.dtype
        out = torch.empty(T, B, H, dtype=dt)                   # returned: never pooled
        rz = _POOL.take((T, B, 2 * H), dt)
        ns, hns = _POOL.take((T, B, H), dt), _POOL.take((T, B, H), dt)
        _fwd(dt == torch.float64)(*_prep(x, h0, w_ih, w_hh, b_ih, b_hh), out.numpy(),
                                  rz.numpy(), ns.numpy(), hns.numpy())
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        # intermediates, back to the pool only when autograd frees this graph node
        ctx.buffers = (rz, ns, hns)
        weakref.finalize(ctx, _POOL.give, rz, ns, hns)
        return out.transpose(0, 1), out[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gout, ghT):
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        rz, ns, hns = ctx.buffers
        T, B, H = out.shape
        dt = out.dtype
        # time-major view of dL/dhs (B,T,H), strided: no copy (the kernel reads it per step)
        gout = torch.zeros_like(out) if gout is None else gout.to(dt).transpose(0, 1)
        ghT = torch.zeros(B, H, dtype=dt) if ghT is None else ghT.to(dt)
        dgh = _POOL.take((T, B, 3 * H), dt)
        dgin = _POOL.take((T, B, H), dt)
        dh0 = torch.empty(B, H, dtype=dt)
        _gru_bwd(gout.detach().numpy(), _np(ghT), _np(h0), out.numpy(), rz.numpy(), ns.numpy(),
                 hns.numpy(), _np(w_hh), dgh.numpy(), dgin.numpy(), dh0.numpy())
        # Parameter/input gradients: one GEMM or reduction over all T*B rows (float32 for
        # float32 models, as in PyTorch's own GRU backward). Input side: the r and z parts
        # are dgh's, the n part is dgin.
        need = ctx.needs_input_grad
        dgh2, dgin2 = dgh.reshape(T * B, 3 * H), dgin.reshape(T * B, H)
        x2 = x.detach().t().reshape(T * B, 1)
        dx = dw_ih = dw_hh = db_ih = db_hh = None
        if need[0]:
            w = w_ih.detach().reshape(-1)
            dx = (dgh2[:, :2 * H] @ w[:2 * H] + dgin2 @ w[2 * H:]).reshape(T, B).t()
        if need[2]:
            dw_ih = torch.cat((dgh2[:, :2 * H].t() @ x2, dgin2.t() @ x2))
        if need[3]:
            # sum over rows of h_{t-1} (x) g_t: h0 with step 0, the outputs with the rest (no
            # concatenated copy)
            hprev = out[:-1].reshape((T - 1) * B, H)
            dw_hh = (h0.detach().t() @ dgh[0] + hprev.t() @ dgh2[B:]).t()
        if need[4] or need[5]:
            db_hh = dgh2.sum(0)
            db_ih = torch.cat((db_hh[:2 * H], dgin2.sum(0))) if need[4] else None
        _POOL.give(dgh, dgin)                  # every result above is a new tensor
        return (dx, (dh0 if need[1] else None), dw_ih, dw_hh, db_ih,
                db_hh if need[5] else None)


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """GRU over ``x`` (B, T) from ``h0`` (B, H); returns (hs (B,T,H), h_T (B,H)).

    Uses the autograd ``GRUFunction`` when a gradient is needed, else the no-save kernel."""
    args = (x, h0, w_ih, w_hh, b_ih, b_hh)
    if torch.is_grad_enabled() and any(a.requires_grad for a in args):
        return GRUFunction.apply(*args)
    B, T = x.shape
    H = h0.shape[1]
    out = torch.empty(T, B, H, dtype=x.dtype)
    dt = out.numpy().dtype
    rz = np.empty((1, B, 2 * H), dtype=dt)
    ns, hns = np.empty((2, 1, B, H), dtype=dt)
    _fwd(x.dtype == torch.float64)(*_prep(*args), out.numpy(), rz, ns, hns)
    return out.transpose(0, 1), out[-1].clone()


def compile_kernels(dtype=torch.float32) -> float:
    """Compile (or load from numba's on-disk cache) the kernels for ``dtype``; returns seconds."""
    t0 = time.perf_counter()
    H = 2
    args = [torch.zeros(1, 2, dtype=dtype), torch.zeros(1, H, dtype=dtype),
            torch.zeros(3 * H, 1, dtype=dtype), torch.zeros(3 * H, H, dtype=dtype),
            torch.zeros(3 * H, dtype=dtype), torch.zeros(3 * H, dtype=dtype)]
    with torch.no_grad():
        gru_forward(*args)
    args = [a.requires_grad_() for a in args]
    hs, hT = GRUFunction.apply(*args)
    (hs.sum() + hT.sum()).backward()
    return time.perf_counter() - t0
