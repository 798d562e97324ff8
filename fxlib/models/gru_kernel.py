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

Kernels (all ``@njit(cache=True, error_model="numpy")``, serial: no ``parallel=True``):

* ``_gru_fwd``: time-major forward; per step one BLAS GEMM ``h_prev @ W_hh^T`` for the whole
  batch (``np.dot``, i.e. scipy's BLAS, single-threaded at these sizes) and a vectorized gate
  loop; it saves r, z, n and ``W_hn h + b_hn`` for backward, or writes them to a per-step
  scratch buffer for inference (no-save path);
* ``_gru_bwd``: backward through time; it produces the per-step gate gradients
  (``dL/d(W_h· h + b_h·)`` and ``dL/d(W_in x + b_in)``) and ``dL/dh0`` (per step, one GEMM
  ``g @ W_hh``). The sequential part stops there: the weight/bias/input gradients are then
  formed in torch as one float32 GEMM / sum over all (time, batch) rows (as PyTorch itself
  does for ``nn.GRU``), i.e. weight gradients are accumulated in float32 by the BLAS and
  torch's reductions, not in a running scalar.

Results are deterministic (fixed loop and GEMM shapes; no threading in the kernels).
Arithmetic: GEMMs run in the input dtype (float32 for the models; float64 is supported, for
``gradcheck``); the element-wise gate maths is done in float64 scalars and rounded on store.
For float32, σ and tanh use a rational approximation of tanh (Eigen's, max abs error 2.2e-7,
σ(v) = ½ + ½ tanh(v/2)), which LLVM vectorizes (libm calls are not vectorized without SVML,
and dominated the run time); float64 uses libm ``exp``/``tanh``. Hence results agree with
``nn.GRU`` to float32 rounding, not bitwise (observed differences: docs/benchmarks.md, section
'Kernel fidelity').

``GRUFunction`` is the ``torch.autograd.Function``; ``gru_forward`` picks the no-save path when
no gradient is needed. Shapes: x (B, T), h0 (B, H), w_ih (3H, 1), w_hh (3H, H), b_ih, b_hh (3H,);
returns (all hidden states (B, T, H), final state (B, H)). First-call JIT cost: see
``compile_kernels`` (cached on disk by numba afterwards).
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from numba import njit

__all__ = ["GRUFunction", "gru_forward", "compile_kernels"]


# tanh as Eigen's float rational approximation (odd 13/even 6), evaluated in float64: max
# absolute error 2.2e-7 (a few float32 ulp) and, unlike ``math.tanh``/``math.exp``, it has no
# library call, so LLVM vectorizes the gate loops. Used for float32; float64 uses math.tanh.
# The coefficients (highest power first) are shared with fxlib.models.lstm_kernel, which
# evaluates the same approximation in float32.
_TANH_CLAMP = 7.99881172180175781
_TANH_P = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
           5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
           4.89352455891786e-03)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
           4.89352518554385e-03)
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = _TANH_P
_Q0, _Q1, _Q2, _Q3 = _TANH_Q


@njit(cache=True, inline="always", error_model="numpy")
def _tanh_fast(v):
    v = min(max(v, -_TANH_CLAMP), _TANH_CLAMP)
    v2 = v * v
    p = _P0
    p = p * v2 + _P1
    p = p * v2 + _P2
    p = p * v2 + _P3
    p = p * v2 + _P4
    p = p * v2 + _P5
    p = p * v2 + _P6
    q = _Q0
    q = q * v2 + _Q1
    q = q * v2 + _Q2
    q = q * v2 + _Q3
    return v * p / q


@njit(cache=True, error_model="numpy")
def _step_fast(xt, gh, hp, w_ih, b_ih, b_hh, ot, r_o, z_o, n_o, hn_o):
    """One time step's gate maths for the whole batch (vectorizable: no library calls)."""
    B, H = hp.shape
    for b in range(B):
        xb = float(xt[b])
        for k in range(H):
            r = 0.5 + 0.5 * _tanh_fast(0.5 * (xb * w_ih[k] + b_ih[k] + gh[b, k] + b_hh[k]))
            z = 0.5 + 0.5 * _tanh_fast(0.5 * (xb * w_ih[H + k] + b_ih[H + k] + gh[b, H + k]
                                              + b_hh[H + k]))
            hn = gh[b, 2 * H + k] + b_hh[2 * H + k]
            n = _tanh_fast(xb * w_ih[2 * H + k] + b_ih[2 * H + k] + r * hn)
            ot[b, k] = (1.0 - z) * n + z * hp[b, k]
            r_o[b, k] = r
            z_o[b, k] = z
            n_o[b, k] = n
            hn_o[b, k] = hn


@njit(cache=True, error_model="numpy")
def _step_exact(xt, gh, hp, w_ih, b_ih, b_hh, ot, r_o, z_o, n_o, hn_o):
    """As ``_step_fast`` with libm exp/tanh (float64 path, e.g. for gradcheck)."""
    B, H = hp.shape
    for b in range(B):
        xb = float(xt[b])
        for k in range(H):
            r = 1.0 / (1.0 + math.exp(-(xb * w_ih[k] + b_ih[k] + gh[b, k] + b_hh[k])))
            z = 1.0 / (1.0 + math.exp(-(xb * w_ih[H + k] + b_ih[H + k] + gh[b, H + k]
                                        + b_hh[H + k])))
            hn = gh[b, 2 * H + k] + b_hh[2 * H + k]
            n = math.tanh(xb * w_ih[2 * H + k] + b_ih[2 * H + k] + r * hn)
            ot[b, k] = (1.0 - z) * n + z * hp[b, k]
            r_o[b, k] = r
            z_o[b, k] = z
            n_o[b, k] = n
            hn_o[b, k] = hn


@njit(cache=True, error_model="numpy")
def _gru_fwd(x, h0, w_ih, w_hhT, b_ih, b_hh, out, r_s, z_s, n_s, hn_s, exact):
    """Time-major forward. x (T,B); h0 (B,H); w_ih (3H,); w_hhT (H,3H) = W_hh transposed,
    contiguous; biases (3H,). Writes out (T,B,H) and r_s/z_s/n_s/hn_s (``n_s``: tanh output,
    ``hn_s``: W_hn h + b_hn), each either (T,B,H) (saved for backward) or (1,B,H) (scratch,
    overwritten every step: inference). Per step, ``h W_hh^T`` for the whole batch is one BLAS
    GEMM (np.dot; single-threaded at these sizes)."""
    T = x.shape[0]
    B, H = h0.shape
    gh = np.empty((B, 3 * H), dtype=w_hhT.dtype)
    save = r_s.shape[0] == T
    for t in range(T):
        hp = h0 if t == 0 else out[t - 1]
        np.dot(hp, w_hhT, gh)
        s = t if save else 0
        if exact:
            _step_exact(x[t], gh, hp, w_ih, b_ih, b_hh, out[t], r_s[s], z_s[s], n_s[s], hn_s[s])
        else:
            _step_fast(x[t], gh, hp, w_ih, b_ih, b_hh, out[t], r_s[s], z_s[s], n_s[s], hn_s[s])


@njit(cache=True, error_model="numpy")
def _bwd_step(dh, dout, hp, r_s, z_s, n_s, hn_s, g, dgin):
    """One step's gate gradients (vectorizable); on return dh holds dL/dh_prev minus the
    W_hh^T g term."""
    B, H = hp.shape
    for b in range(B):
        for k in range(H):
            d = float(dh[b, k]) + float(dout[b, k])
            z = float(z_s[b, k])
            n = float(n_s[b, k])
            r = float(r_s[b, k])
            dan = d * (1.0 - z) * (1.0 - n * n)
            g[b, k] = dan * float(hn_s[b, k]) * r * (1.0 - r)
            g[b, H + k] = d * (float(hp[b, k]) - n) * z * (1.0 - z)
            g[b, 2 * H + k] = dan * r
            dgin[b, k] = dan
            dh[b, k] = d * z


@njit(cache=True, error_model="numpy")
def _gru_bwd(dout, dhT, h0, out, r_s, z_s, n_s, hn_s, w_hh, dgh, dgin, dh0):
    """Backward through time, time-major. dout (T,B,H), dhT (B,H), w_hh (3H,H).
    Writes dgh (T,B,3H) = dL/d(W_hh h + b_hh) per step, dgin (T,B,H) = dL/d(W_in x + b_in)
    (the r and z input-side gate gradients equal dgh's), dh0 (B,H)."""
    T, B, H = dout.shape
    dh = dhT.copy()
    tmp = np.empty((B, H), dtype=w_hh.dtype)
    for t in range(T - 1, -1, -1):
        hp = h0 if t == 0 else out[t - 1]
        g = dgh[t]
        _bwd_step(dh, dout[t], hp, r_s[t], z_s[t], n_s[t], hn_s[t], g, dgin[t])
        np.dot(g, w_hh, tmp)
        for b in range(B):
            for k in range(H):
                dh[b, k] += tmp[b, k]
    for b in range(B):
        for k in range(H):
            dh0[b, k] = dh[b, k]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _prep(x, h0, w_ih, w_hh, b_ih, b_hh):
    """numpy arguments of ``_gru_fwd`` (time-major x, transposed W_hh)."""
    return (_np(x.t()), _np(h0), _np(w_ih).reshape(-1), _np(w_hh.t()), _np(b_ih), _np(b_hh))


class GRUFunction(torch.autograd.Function):
    """``(x, h0, w_ih, w_hh, b_ih, b_hh) -> (hs (B,T,H), h_T (B,H))`` with exact backward.

    CPU only; x, h0 and the parameters must share one dtype (float32 or float64). ``hs`` is a
    (B, T, H) view of time-major storage (not contiguous)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        B, T = x.shape
        H = h0.shape[1]
        dt = x.dtype
        out, r_s, z_s, n_s, hn_s = (torch.empty(T, B, H, dtype=dt) for _ in range(5))
        _gru_fwd(*_prep(x, h0, w_ih, w_hh, b_ih, b_hh), out.numpy(), r_s.numpy(), z_s.numpy(),
                 n_s.numpy(), hn_s.numpy(), dt == torch.float64)
        ctx.save_for_backward(x, h0, w_ih, w_hh, out, r_s, z_s, n_s, hn_s)
        return out.transpose(0, 1), out[-1].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gout, ghT):
        x, h0, w_ih, w_hh, out, r_s, z_s, n_s, hn_s = ctx.saved_tensors
        T, B, H = out.shape
        dt = out.dtype
        gout = (torch.zeros_like(out) if gout is None
                else gout.to(dt).transpose(0, 1).contiguous())           # time-major
        ghT = torch.zeros(B, H, dtype=dt) if ghT is None else ghT.to(dt)
        dgh = torch.empty(T, B, 3 * H, dtype=dt)
        dgin = torch.empty(T, B, H, dtype=dt)
        dh0 = torch.empty(B, H, dtype=dt)
        _gru_bwd(gout.numpy(), _np(ghT), _np(h0), out.numpy(), r_s.numpy(), z_s.numpy(),
                 n_s.numpy(), hn_s.numpy(), _np(w_hh), dgh.numpy(), dgin.numpy(), dh0.numpy())
        # Parameter/input gradients: one GEMM or reduction over all T*B rows (float32 for
        # float32 models, as in PyTorch's own GRU backward).
        need = ctx.needs_input_grad
        dgh2 = dgh.reshape(T * B, 3 * H)
        dx = dw_ih = dw_hh = db_ih = db_hh = None
        if need[0] or need[2] or need[4]:
            # Input-side gate gradients: r, z parts equal dgh's; n part is dgin.
            dgi = torch.cat((dgh[..., :2 * H], dgin), dim=-1).reshape(T * B, 3 * H)
            if need[0]:
                dx = (dgi @ w_ih.detach().reshape(-1)).reshape(T, B).t()
            if need[2]:
                dw_ih = dgi.t() @ x.detach().t().reshape(T * B, 1)
            if need[4]:
                db_ih = dgi.sum(0)
        if need[3]:
            hprev = torch.cat((h0.detach().unsqueeze(0), out[:-1]), dim=0).reshape(T * B, H)
            dw_hh = dgh2.t() @ hprev
        if need[5]:
            db_hh = dgh2.sum(0)
        return dx, (dh0 if need[1] else None), dw_ih, dw_hh, db_ih, db_hh


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """GRU over ``x`` (B, T) from ``h0`` (B, H); returns (hs (B,T,H), h_T (B,H)).

    Uses the autograd ``GRUFunction`` when a gradient is needed, else the no-save kernel."""
    args = (x, h0, w_ih, w_hh, b_ih, b_hh)
    if torch.is_grad_enabled() and any(a.requires_grad for a in args):
        return GRUFunction.apply(*args)
    B, T = x.shape
    H = h0.shape[1]
    out = torch.empty(T, B, H, dtype=x.dtype)
    scratch = np.empty((4, 1, B, H), dtype=out.numpy().dtype)
    _gru_fwd(*_prep(*args), out.numpy(), *scratch, x.dtype == torch.float64)
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
