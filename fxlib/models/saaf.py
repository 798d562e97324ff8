"""SAAF: the smooth adaptive activation function of CAFx's DNN-SAAF back-end.

Hou, Samaras, Kurc, Gao, Saltz, "ConvNets with Smooth Adaptive Activation Functions for
Regression", AISTATS 2017 (PMLR 54:430-439, arXiv:1608.06557). Used as in the CAFx model of
Martínez Ramírez & Reiss (ICASSP 2019) and its public Keras code (mchijmma/DL-AFx, layer ``SAAF``),
which is what the thesis's parameter counts assume (docs/models.md, section 'CAFx (A, Av2)'):

* ``N`` breakpoints ``linspace(-r, r, N)`` (r = 0.2); the *segments* are the disjoint pairs
  ``(bp0, bp1), (bp2, bp3), ...``, so there are ``floor(N / 2)`` of them (N = 25 -> 12, the last
  breakpoint unused; N = 12 -> 6);
* order-2 basis: the twice-integrated indicator of ``[s, e)``::

      b(x; s, e) = 0                           x < s
                 = (x - s)^2 / 2               s <= x < e
                 = (e - s)(x - e) + (e-s)^2/2  x >= e        (C1, linear tail)

  written branch-free as ``0.5 * (clamp(x, s, e) - s)^2 + (e - s) * relu(x - e)``;
* every basis value is scaled by ``magnitude`` = 100;
* one weight set per channel (``tied_feamap``), shared over batch and time:
  ``f_c(x) = w[n_seg, c] * x + sum_k w[k, c] * 100 * b(x; s_k, e_k)`` -- a linear term, no constant;
* weights initialised N(0, 0.05^2).

Parameters: ``(floor(N/2) + 1) * channels`` (25 breakpoints, 128 channels -> 1,664).
"""
from __future__ import annotations

import torch
from torch import nn


class SAAF(nn.Module):
    """Per-channel smooth adaptive activation on the last axis of ``(..., channels)``."""

    def __init__(self, channels: int, breakpoints: int = 25, break_range: float = 0.2,
                 magnitude: float = 100.0, init_std: float = 0.05):
        super().__init__()
        if breakpoints < 2:
            raise ValueError(f"SAAF needs at least 2 breakpoints (one segment), got {breakpoints}")
        self.channels = channels
        self.magnitude = float(magnitude)
        bps = torch.linspace(-break_range, break_range, breakpoints, dtype=torch.float64)
        n_seg = breakpoints // 2
        # Buffers, not parameters: breakpoints are fixed (only the weights learn).
        self.register_buffer("starts", bps[0:2 * n_seg:2].float(), persistent=False)
        self.register_buffer("ends", bps[1:2 * n_seg:2].float(), persistent=False)
        # Rows 0..n_seg-1 weight the bases, the last row weights the identity term.
        self.weight = nn.Parameter(torch.randn(n_seg + 1, channels) * init_std)

    @property
    def n_segments(self) -> int:
        return self.weight.shape[0] - 1

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """The unscaled basis values ``b(x; s_k, e_k)``, shape ``(..., channels, n_seg)``."""
        s, e = self.starts, self.ends
        xe = x.unsqueeze(-1)
        return 0.5 * (torch.clamp(xe, s, e) - s) ** 2 + (e - s) * torch.relu(xe - e)

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """Direct evaluation of the definition (slow, memory-hungry); used to test ``forward``."""
        out = x * self.weight[-1]
        return out + (self.basis(x) * (self.magnitude * self.weight[:-1]).T).sum(-1)

    def coefficients(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-piece, per-channel (a, b, c) with f(x) = a x² + b x + c on each piece.

        The breakpoints in use, sorted, are u = (s0, e0, s1, e1, ...); piece j covers
        [u_{j-1}, u_j). On piece j a segment k (with d = e - s) contributes
        0 if j <= 2k (below it), (1/2, -s, s²/2) if j = 2k + 1 (inside), and
        (0, d, d²/2 - d e) if j >= 2k + 2 (its linear tail). The coefficients are linear in the
        weights, so gradients flow to them through this map.
        """
        n = self.n_segments
        s, e = self.starts, self.ends
        d = e - s
        j = torch.arange(2 * n + 1, device=s.device).unsqueeze(1)      # (pieces, 1)
        k = torch.arange(n, device=s.device).unsqueeze(0)              # (1, segments)
        inside, above = (j == 2 * k + 1).to(s.dtype), (j >= 2 * k + 2).to(s.dtype)
        ma = 0.5 * inside
        mb = -s * inside + d * above
        mc = 0.5 * s ** 2 * inside + (0.5 * d ** 2 - d * e) * above
        w = self.magnitude * self.weight[:-1]                          # (segments, channels)
        return ma @ w, mb @ w + self.weight[-1], mc @ w

    def piece_index(self, x: torch.Tensor) -> torch.Tensor:
        """Index of each value's piece, ``bucketize(x, (s0, e0, s1, ...), right=True)``.

        The breakpoints are uniform (a linspace), so the piece is an affine map of ``x``, clamped
        and truncated: a few elementwise passes instead of a binary search per value.
        Values within rounding of a breakpoint may land in the neighbouring piece; the activation
        is C1 there, so the result differs from bucketize's only by float rounding.
        """
        bounds = 2 * self.n_segments
        lo, hi = float(self.starts[0]), float(self.ends[-1])
        inv = (bounds - 1) / (hi - lo)                                 # 1 / breakpoint spacing
        q = torch.addcmul(x.new_tensor(1.0 - lo * inv), x.detach(), x.new_tensor(inv))
        q = q.nan_to_num_(0.0).clamp_(0, bounds)                       # NaN: any valid piece
        return q.long()                                                # trunc = floor, q >= 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.channels:
            raise ValueError(f"SAAF expects {self.channels} channels on the last axis, "
                             f"got shape {tuple(x.shape)}")
        # The activation is a piecewise quadratic: find each sample's piece once and look its
        # coefficients up, instead of summing n_seg basis functions (far fewer passes over
        # the (batch, 4096, 128) tensor, which dominate CAFx's run time). The evaluation and its
        # backward are one autograd Function (_PiecewiseQuadratic) so that the backward is a
        # few fused passes rather than autograd's chain of gathers, muls and adds.
        a, b, c = self.coefficients()
        xs = x.reshape(-1, self.channels)
        piece = self.piece_index(xs)                                    # (M, C) in [0, 2n]
        return _PiecewiseQuadratic.apply(xs, piece, a, b, c).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, segments={self.n_segments}, magnitude={self.magnitude:g}"


class _PiecewiseQuadratic(torch.autograd.Function):
    """``y = a[p] x^2 + b[p] x + c[p]`` per channel, with tables ``a, b, c`` of (pieces, C).

    Backward: ``dx = g (2 a[p] x + b[p])`` (that slope is computed in the forward, where the
    looked-up coefficients are at hand) and the table gradients are per-piece sums of
    ``g x^2, g x, g`` (scatter-adds over the piece index).
    """

    @staticmethod
    def forward(ctx, x, piece, a, b, c):
        ag, bg = a.gather(0, piece), b.gather(0, piece)
        t = torch.addcmul(bg, ag, x)                                    # a x + b
        y = torch.addcmul(c.gather(0, piece), t, x)                     # (a x + b) x + c
        if ctx.needs_input_grad[0]:
            slope = t.add_(ag.mul_(x))                                  # 2 a x + b
        else:
            slope = None
        ctx.save_for_backward(x, piece, slope)
        ctx.table_shape = a.shape
        return y

    @staticmethod
    def backward(ctx, g):
        x, piece, slope = ctx.saved_tensors
        dx = g * slope if ctx.needs_input_grad[0] else None
        da = db = dc = None
        if any(ctx.needs_input_grad[2:]):
            gx = g * x
            zeros = lambda: g.new_zeros(ctx.table_shape)                # noqa: E731
            da = zeros().scatter_add_(0, piece, gx * x)
            db = zeros().scatter_add_(0, piece, gx)
            dc = zeros().scatter_add_(0, piece, g)
        return dx, None, da, db, dc
