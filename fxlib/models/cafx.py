"""CAFx: the convolutional audio-effects model (models A and Av2 of the thesis).

Martínez Ramírez & Reiss, "Modeling nonlinear audio effects with end-to-end deep neural
networks", ICASSP 2019 (arXiv:1810.06603); layer by layer as in docs/models.md (section
'CAFx (A, Av2)'), i.e. the public DL-AFx ``CAFx`` graph minus its per-channel ``Dense_local``
(that removal is what gives the thesis's 72,065 / 34,113 trainable parameters).

One frame of ``frame_length`` = 4096 samples, shapes (batch, channels, time)::

    x (B,1,4096) -> Conv1d(1->128, k, 'same')            = P          (adaptive front-end)
      -> |.| -> depthwise Conv1d(k2 = 2k, 'same') -> softplus
      -> MaxPool(64) (B,128,64) -> Linear(64->64) over pooled time, shared by channels, softplus
      -> repeat x64 (B,128,4096) -> * P                                (latent space, unpool)
      -> dense stack over channels at every time step -> SAAF          (DNN-SAAF back-end)
      -> tied deconvolution: cross-correlation with the *same* Conv1d weight, own bias (1 param)

Choices where the sources are silent (docs/models.md), all count-neutral:

* latent dense: softplus; DNN-SAAF of A: relu x4 then linear (as DL-AFx); Av2's single
  Linear(128->128) is linear, playing the role of A's last (linear) layer in front of the SAAF;
* unpool: plain repetition (DL-AFx's CAFx), not argmax-indexed;
* deconvolution: cross-correlation with the un-flipped encoder kernel, gradients flowing into
  the shared weight from both uses (as Keras reading the live kernel);
* initialisation as DL-AFx/Keras: lecun-uniform convolutions, glorot-uniform dense layers, zero
  biases, SAAF N(0, 0.05^2).

**Whole signals** (``forward``): frames of 4096 with hop 2048 (50 % overlap), each frame's output
multiplied by a periodic Hann window and overlap-added. The periodic Hann at half-frame hop sums
to exactly 1, and the signal is padded with 2048 zeros in front and enough at the end that every
output sample is covered by exactly two frames. This is DL-AFx's evaluation framing; it is the
framing fxlib uses for evaluation *and* timing (1 s = 44,100 samples -> 23 frames).
Frame-level work (training on 4096-sample frames) uses ``forward_frames``.

**Implementation** (CPU speed, same function): the diagram above is the math; ``forward_frames``
computes it with equivalent but faster formulations -- the front-end convolution as im2col +
matmul producing P in (B, T, C) (the dense stack's layout, so no transposing copies), the
depthwise conv + softplus + max-pool as one autograd Function whose backward only touches the
argmax windows (``_LocalConvPool``), and the tied deconvolution as matmul + col2im
(``_TiedDeconv``). Parameters, initialisation and state_dict are those of the plain layers
(``conv``, ``local_conv``, ...); the results equal the direct ``F.conv1d`` formulation up to
float rounding (tests/test_cafx_fast.py); the speed-up: docs/benchmarks.md, section 'Training
throughput'.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .saaf import SAAF


@dataclass(frozen=True)
class CAFxConfig:
    """Hyper-parameters of one CAFx variant (defaults = model A)."""

    kernel_size: int = 64          # front-end Conv1d kernel; the local conv uses 2x this
    filters: int = 128
    frame_length: int = 4096
    pool: int = 64                 # max-pool size = stride; frame_length // pool pooled steps
    dense: tuple[int, ...] = (128, 64, 64, 64, 128)   # DNN-SAAF widths; the last is linear
    saaf_breakpoints: int = 25
    saaf_range: float = 0.2
    saaf_magnitude: float = 100.0
    hop: int = 2048                # whole-signal framing (Hann overlap-add)

    def __post_init__(self):
        if self.frame_length % self.pool:
            raise ValueError("frame_length must be a multiple of pool")
        if self.dense[-1] != self.filters:
            raise ValueError("the last DNN-SAAF layer must output `filters` channels")
        if self.frame_length != 2 * self.hop:
            raise ValueError("the Hann overlap-add framing needs hop = frame_length / 2")


def _lecun_uniform_(weight: torch.Tensor, fan_in: int) -> None:
    bound = math.sqrt(3.0 / fan_in)
    nn.init.uniform_(weight, -bound, bound)


def same_pad(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Zero-pad time for a 'same' convolution as Keras does: (k-1)//2 left, k//2 right.

    For even kernels this is 31/32 (k = 64) and 63/64 (k = 128); PyTorch's padding='same'
    splits the same way but warns and copies, so the padding is explicit here.
    """
    return F.pad(x, ((kernel_size - 1) // 2, kernel_size // 2))


class _LocalConvPool(torch.autograd.Function):
    """``max_pool(softplus(depthwise_conv1d(same_pad(|P|, k), weight, bias)), pool)``.

    P comes in the dense stack's (B, T, C) layout; the result is (B, C, T/pool). |P| is written
    straight into the zero-padded (B, C, T + k - 1) buffer the convolution reads (abs, the
    layout change and the 'same' padding in one pass).

    The forward is the plain depthwise convolution. The backward exploits that the max-pool
    passes gradient to one position per pool window only (the argmax, the same index max_pool
    itself reports): the weight gradient is built from just those B*C*T/pool input windows
    (an indexed gather and one batched matmul) instead of a dense correlation over all T
    positions -- the dense depthwise weight gradient was the single slowest op of CAFx
    training. The input gradient uses the ordinary
    (fast) convolution input-gradient on the scattered, mostly-zero output gradient.
    """

    @staticmethod
    def forward(ctx, p, weight, bias, pool):
        b, t, c = p.shape
        k = weight.shape[-1]
        left = (k - 1) // 2                                          # Keras split, see same_pad
        xp = p.new_empty(b, c, t + k - 1)
        xp[..., :left].zero_()
        xp[..., left + t:].zero_()
        torch.abs(p.transpose(1, 2), out=xp[..., left:left + t])
        v = F.conv1d(xp, weight, bias, groups=c)                     # (B, C, T)
        out, idx = F.max_pool1d(F.softplus(v), pool, return_indices=True)
        ctx.save_for_backward(p, xp, weight, v.gather(2, idx), idx)
        return out

    @staticmethod
    def backward(ctx, g):
        p, xp, weight, v_max, idx = ctx.saved_tensors
        b, t, c = p.shape
        k = weight.shape[-1]
        # Through softplus at the argmax positions only (beta 1, threshold 20 as F.softplus).
        gv = torch.ops.aten.softplus_backward(g, v_max, 1, 20)       # (B, C, T/pool)
        dp = dw = db = None
        if ctx.needs_input_grad[0]:
            dense = gv.new_zeros(b, c, t).scatter_(2, idx, gv)
            dxp = torch.nn.grad.conv1d_input(xp.shape, weight, dense, groups=c)
            left = (k - 1) // 2
            dxp = dxp[..., left:left + t].transpose(1, 2)             # un-pad, (B, T, C) view
            dp = torch.mul(dxp, p.sgn(), out=torch.empty_like(p))    # through |.|, P's layout
        if ctx.needs_input_grad[1]:
            # dw[c, j] = sum_{b, i} gv[b, c, i] * xp[b, c, idx[b, c, i] + j]
            bi = torch.arange(b, device=xp.device).view(b, 1, 1)
            ci = torch.arange(c, device=xp.device).view(1, c, 1)
            wins = xp.unfold(-1, k, 1)[bi, ci, idx]                    # (B, C, T/pool, k)
            dw = torch.matmul(gv.unsqueeze(-2), wins).sum(0).view_as(weight)
        if ctx.needs_input_grad[2]:
            db = gv.sum((0, 2))
        return dp, dw, db, None


class _TiedDeconv(torch.autograd.Function):
    """The tied deconvolution ``F.conv1d(same_pad(h^T, k), weight.transpose(0, 1), bias)``.

    h is (B, T, C) (the dense stack's layout), weight the front-end's (C, 1, k); returns (B, T).
    Computed as one batched matmul ``G = flip(W)^T h^T`` (B, k, T) followed by col2im
    (F.fold), which overlap-adds ``G[b, j, u]`` at ``u + j``: with the kernel flipped this is
    the unflipped cross-correlation, and output t sits at fold position ``t + k // 2`` (Keras
    'same' split). The backward is im2col (F.unfold) of the padded output gradient and two
    matmuls, returning dh directly in h's (B, T, C) layout. Same sums as the direct 128->1
    convolution, whose CPU backward is much slower.
    """

    @staticmethod
    def forward(ctx, h, weight, bias):
        b, t, c = h.shape
        k = weight.shape[-1]
        wf = weight.view(c, k).flip(-1)                              # (C, k)
        g = torch.bmm(wf.t().expand(b, k, c), h.transpose(1, 2))     # (B, k, T)
        y = F.fold(g, (1, t + k - 1), (1, k)).view(b, t + k - 1)
        ctx.save_for_backward(h, wf)
        return y[:, k // 2: k // 2 + t] + bias

    @staticmethod
    def backward(ctx, gy):
        h, wf = ctx.saved_tensors
        (b, t, c), k = h.shape, wf.shape[-1]
        gz = F.pad(gy, (k // 2, (k - 1) // 2)).view(b, 1, 1, t + k - 1)
        dg = F.unfold(gz, (1, k))                                    # (B, k, T)
        dh = dw = db = None
        if ctx.needs_input_grad[0]:
            dh = torch.bmm(dg.transpose(1, 2), wf.expand(b, c, k).transpose(1, 2))  # (B,T,C)
        if ctx.needs_input_grad[1]:
            dwf = torch.bmm(dg, h).sum(0)                            # (k, C)
            dw = dwf.t().flip(-1).reshape(c, 1, k)
        if ctx.needs_input_grad[2]:
            db = gy.sum().reshape(1)
        return dh, dw, db


def _front_conv(frames: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.conv1d(same_pad(frames[:, None], k), weight, bias)`` (1 -> C channels), as (B, T, C).

    im2col + one matmul: the (B*T, k) patch matrix is small for one input channel, the result
    comes out directly in the dense stack's (B, T, C) layout (no transposing copy later), and
    the backward (weight gradient only: frames need none) is one more matmul -- both faster
    than the oneDNN convolution path on CPU.
    """
    b, t = frames.shape
    c, _, k = weight.shape
    patches = same_pad(frames, k).unfold(-1, k, 1).reshape(b * t, k)   # (B*T, k), a copy
    return torch.addmm(bias, patches, weight.view(c, k).t()).view(b, t, c)


class CAFx(nn.Module):
    """CAFx model; ``forward(x)`` maps (batch, samples) -> (batch, samples) for any length."""

    def __init__(self, config: CAFxConfig | None = None, **overrides):
        super().__init__()
        cfg = config or CAFxConfig()
        if overrides:
            cfg = CAFxConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        k, c = cfg.kernel_size, cfg.filters
        # 'same' padding is applied explicitly (see same_pad): no bias in the split, no warning.
        self.conv = nn.Conv1d(1, c, k)
        self.local_conv = nn.Conv1d(c, c, 2 * k, groups=c)
        self.pool = nn.MaxPool1d(cfg.pool)   # the layer; forward_frames pools in _LocalConvPool
        n_pooled = cfg.frame_length // cfg.pool
        self.latent = nn.Linear(n_pooled, n_pooled)
        widths = (c,) + tuple(cfg.dense)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.saaf = SAAF(c, cfg.saaf_breakpoints, cfg.saaf_range, cfg.saaf_magnitude)
        # The deconvolution reuses self.conv.weight; its only own parameter is this bias.
        self.deconv_bias = nn.Parameter(torch.zeros(1))
        self.register_buffer("window", torch.hann_window(cfg.frame_length, periodic=True),
                             persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        _lecun_uniform_(self.conv.weight, fan_in=self.conv.kernel_size[0])
        _lecun_uniform_(self.local_conv.weight, fan_in=self.local_conv.kernel_size[0])
        for layer in (self.conv, self.local_conv):
            nn.init.zeros_(layer.bias)
        for layer in (self.latent, *self.dense):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    @property
    def frame_length(self) -> int:
        return self.config.frame_length

    # -- one frame -------------------------------------------------------------------------
    def forward_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Process independent frames: (batch, frame_length) -> (batch, frame_length)."""
        if frames.dim() != 2 or frames.shape[-1] != self.frame_length:
            raise ValueError(f"forward_frames expects (batch, {self.frame_length}), "
                             f"got {tuple(frames.shape)}")
        pool = self.config.pool
        p = _front_conv(frames, self.conv.weight, self.conv.bias)   # (B, T, C): residual P
        # softplus(local_conv(|P|)) max-pooled, with a sparse backward (see _LocalConvPool).
        h = _LocalConvPool.apply(p, self.local_conv.weight, self.local_conv.bias, pool)
        z = F.softplus(self.latent(h))                               # (B, C, T / pool)
        # Unpool by repetition and multiply by P, without materialising the repeated tensor;
        # everything from here to the deconvolution stays in (B, T, C): dense on C.
        h = (p.unflatten(1, (-1, pool)) * z.transpose(1, 2).unsqueeze(2)).flatten(1, 2)
        for i, layer in enumerate(self.dense):
            h = layer(h)
            if i < len(self.dense) - 1:
                h = torch.relu_(h)
        h = self.saaf(h)                                             # (B, T, C)
        return _TiedDeconv.apply(h, self.conv.weight, self.deconv_bias)

    def forward_frames_direct(self, frames: torch.Tensor) -> torch.Tensor:
        """``forward_frames`` in its direct form: the diagram of the module notes with plain
        convolutions, max-pool and SAAF by its definition. Equal to ``forward_frames`` up to
        float rounding (tests/test_cafx_fast.py); slower, but made of traceable operators only
        (the ONNX export, ``fxlib.export``)."""
        k = self.config.kernel_size
        p = F.conv1d(same_pad(frames.unsqueeze(1), k), self.conv.weight, self.conv.bias)
        h = F.softplus(F.conv1d(same_pad(p.abs(), 2 * k), self.local_conv.weight,
                                self.local_conv.bias, groups=self.config.filters))
        z = F.softplus(self.latent(F.max_pool1d(h, self.config.pool)))       # (B, C, T/p)
        h = (p.unflatten(-1, (-1, self.config.pool)) * z.unsqueeze(-1)).flatten(-2)
        h = h.transpose(1, 2)                                                 # (B, T, C)
        for i, layer in enumerate(self.dense):
            h = layer(h)
            if i < len(self.dense) - 1:
                h = torch.relu(h)
        h = self.saaf.reference(h).transpose(1, 2)                            # (B, C, T)
        tied = self.conv.weight.transpose(0, 1)                               # (1, C, k)
        return F.conv1d(same_pad(h, k), tied, self.deconv_bias).squeeze(1)

    # -- whole signals ---------------------------------------------------------------------
    def n_frames(self, n_samples: int) -> int:
        """Frames the overlap-add framing uses for a signal of ``n_samples`` (44,100 -> 23)."""
        return (n_samples - 1) // self.config.hop + 2

    def forward(self, x: torch.Tensor, frames_per_batch: int = 32) -> torch.Tensor:
        """Whole signal (batch, samples) or (samples,) -> same shape, by Hann overlap-add.

        ``frames_per_batch`` bounds memory (one frame of A holds ~2 MB per activation);
        it does not change the result.
        """
        squeeze = x.dim() == 1
        if squeeze:
            x = x.unsqueeze(0)
        if x.dim() != 2:
            raise ValueError(f"expected (batch, samples) or (samples,), got {tuple(x.shape)}")
        batch, n = x.shape
        if n == 0:
            return x.clone() if not squeeze else x.squeeze(0).clone()
        hop, length = self.config.hop, self.frame_length
        n_frames = self.n_frames(n)
        padded = (n_frames + 1) * hop
        xp = F.pad(x, (length - hop, padded - n - (length - hop)))
        frames = xp.unfold(-1, length, hop).reshape(-1, length)     # (B * J, N)
        outs = [self.forward_frames(chunk) for chunk in frames.split(frames_per_batch)]
        y = torch.cat(outs) * self.window
        y = y.reshape(batch, n_frames, length).transpose(1, 2)      # (B, N, J) for fold
        y = F.fold(y, output_size=(1, padded), kernel_size=(1, length), stride=(1, hop))
        y = y.reshape(batch, padded)[:, length - hop: length - hop + n]
        return y.squeeze(0) if squeeze else y
