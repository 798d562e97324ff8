"""CAFx: the convolutional audio-effects model (models A and Av2 of the thesis).

Martínez Ramírez & Reiss, "Modeling nonlinear audio effects with end-to-end deep neural
networks", ICASSP 2019 (arXiv:1810.06603); layer-by-layer as in MODEL-SPEC §1-2, i.e. the public
DL-AFx ``CAFx`` graph minus its per-channel ``Dense_local`` (that removal is what gives the
thesis's 72,065 / 34,113 trainable parameters).

One frame of ``frame_length`` = 4096 samples, shapes (batch, channels, time)::

    x (B,1,4096) -> Conv1d(1->128, k, 'same')            = P          (adaptive front-end)
      -> |.| -> depthwise Conv1d(k2 = 2k, 'same') -> softplus
      -> MaxPool(64) (B,128,64) -> Linear(64->64) over pooled time, shared by channels, softplus
      -> repeat x64 (B,128,4096) -> * P                                (latent space, unpool)
      -> dense stack over channels at every time step -> SAAF          (DNN-SAAF back-end)
      -> tied deconvolution: cross-correlation with the *same* Conv1d weight, own bias (1 param)

Choices where the sources are silent (MODEL-SPEC §1.3, §9), all count-neutral:

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


def _same(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Zero-pad time for a 'same' convolution as Keras does: (k-1)//2 left, k//2 right.

    For even kernels this is 31/32 (k = 64) and 63/64 (k = 128); PyTorch's padding='same'
    splits the same way but warns and copies, so the padding is explicit here.
    """
    return F.pad(x, ((kernel_size - 1) // 2, kernel_size // 2))


class CAFx(nn.Module):
    """CAFx model; ``forward(x)`` maps (batch, samples) -> (batch, samples) for any length."""

    def __init__(self, config: CAFxConfig | None = None, **overrides):
        super().__init__()
        cfg = config or CAFxConfig()
        if overrides:
            cfg = CAFxConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        k, c = cfg.kernel_size, cfg.filters
        # 'same' padding is applied explicitly (see _same): no bias in the split, no warning.
        self.conv = nn.Conv1d(1, c, k)
        self.local_conv = nn.Conv1d(c, c, 2 * k, groups=c)
        self.pool = nn.MaxPool1d(cfg.pool)
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
        k = self.config.kernel_size
        p = self.conv(_same(frames.unsqueeze(1), k))                # (B, C, T): residual P
        h = F.softplus(self.local_conv(_same(p.abs(), 2 * k)))
        z = F.softplus(self.latent(self.pool(h)))                   # (B, C, T / pool)
        # Unpool by repetition and multiply by P, without materialising the repeated tensor.
        h = (p.unflatten(-1, (-1, self.config.pool)) * z.unsqueeze(-1)).flatten(-2)
        h = h.transpose(1, 2)                                       # (B, T, C): dense on C
        for i, layer in enumerate(self.dense):
            h = layer(h)
            if i < len(self.dense) - 1:
                h = torch.relu(h)
        h = self.saaf(h).transpose(1, 2)                            # (B, C, T)
        tied = self.conv.weight.transpose(0, 1)                     # (1, C, k), not flipped
        y = F.conv1d(_same(h, k), tied, self.deconv_bias)
        return y.squeeze(1)

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
