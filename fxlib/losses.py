"""Losses and metrics of the study, functional and as modules with ``forward(output, target)``.

Definitions (thesis §2.9 and eq. 3.1-3.3; Wright et al. DAFx 2019; CoreAudioML ``training.py``),
for a target ``y`` and model output ``ŷ`` of N samples:

* ESR  = Σ (y - ŷ)² / Σ y²                      error-to-signal ratio, scale-invariant
* DC   = |mean(y - ŷ)|² / mean(y²)              DC error (Wright et al., [25] in the thesis)
* pre-emphasis  H(z) = 1 - a z⁻¹, a = 0.95      first-order high-pass FIR, zero initial state
* E_B  = ESR(pre(ŷ), pre(y)) + DC(pre(ŷ), pre(y))   the training loss of models B and C
* MAE  = mean |y - ŷ|                           the training loss of models A/Av2, and a metric

Decisions, stated once here:

* **DC in E_B sees the pre-emphasised signals.** The thesis (§3.4, before eq. 3.3) applies the
  filter to output and target first and *then* computes both terms. The original CoreAudioML
  code instead takes DC on the raw signals ('ESRPre' + 'DC'); ``esr_dc(..., dc_on_raw=True)``
  reproduces that. Note that the filter's DC gain is 1 - a = 0.05, so the thesis's DC term is weak.
* **Batches are pooled.** For (batch, samples) inputs, ESR and the DC denominator use the energy
  of the whole batch (as CoreAudioML), so a silent segment in a batch cannot blow the loss up;
  the DC numerator is the squared mean difference *per item*, averaged over the batch, so offsets
  of opposite sign in two items do not cancel. For a single signal every choice coincides.
* **Silence.** Denominators are ``mean(y²) + eps`` with ``eps = 1e-8`` (a -80 dB power floor,
  RMS 1e-4): a silent target gives a finite value (the output's power / 1e-8), never inf/NaN, and
  on audible signals the bias is below 1e-6 relative. Sums and means are the same ratio, so the
  mean form is used to make ``eps`` independent of the signal length.
* **Masks** (optional ``mask=``, same shape as the signals, bool or 0/1; used by TOR KD,
  ``fxlib.kd.tor``). Only kept samples (mask true) count, in numerators *and* denominators, so a
  ratio stays a ratio over the kept set: ESR = Σ_kept (y - ŷ)² / Σ_kept y²; DC numerator = the
  squared mean difference over each item's kept samples, averaged over the items that keep at
  least one sample; DC denominator = mean y² over all kept samples; MAE = mean over kept. In
  ``esr_dc`` the pre-emphasis filter runs on the *full* signals first and the mask is applied to
  the filtered signals (filtering a gappy signal would invent edges); so a rejected sample n
  still enters the kept filtered sample n+1 as -a·x[n]. With no kept sample at all
  every loss is 0 (finite, no gradient), never NaN. ``mask=None`` or an all-true mask gives
  exactly the unmasked value.
"""
from __future__ import annotations

import torch
from torch import nn

EPS = 1e-8
PRE_EMPHASIS_COEF = 0.95


def _check(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.shape != target.shape:
        raise ValueError(f"output and target shapes differ: {tuple(output.shape)} vs "
                         f"{tuple(target.shape)} (expected (batch, samples) or (samples,))")
    if output.dim() not in (1, 2):
        raise ValueError(f"expected (batch, samples) or (samples,), got {tuple(output.shape)}")


def _mask_of(mask, output: torch.Tensor):
    """The mask as a float tensor of the output's dtype (or None), shape-checked."""
    if mask is None:
        return None
    if mask.shape != output.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} differs from the signals' "
                         f"{tuple(output.shape)}")
    return mask.to(device=output.device, dtype=output.dtype).detach()


def _masked_mean(values: torch.Tensor, m) -> torch.Tensor:
    """Mean over kept entries (all entries when m is None); 0 when nothing is kept."""
    if m is None:
        return values.mean()
    return (values * m).sum() / m.sum().clamp(min=1.0)


def pre_emphasis(x: torch.Tensor, coef: float = PRE_EMPHASIS_COEF) -> torch.Tensor:
    """y[n] = x[n] - coef * x[n-1] along the last axis, with x[-1] = 0 (same length)."""
    previous = torch.nn.functional.pad(x[..., :-1], (1, 0))
    return x - coef * previous


def esr(output: torch.Tensor, target: torch.Tensor, eps: float = EPS,
        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Error-to-signal ratio Σ(y - ŷ)² / Σ y² (pooled over the batch; see module notes).

    With ``mask``: Σ_kept (y - ŷ)² / Σ_kept y² (both sums over kept samples only).
    """
    _check(output, target)
    m = _mask_of(mask, output)
    return _masked_mean((target - output) ** 2, m) / (_masked_mean(target ** 2, m) + eps)


def dc(output: torch.Tensor, target: torch.Tensor, eps: float = EPS,
       mask: torch.Tensor | None = None) -> torch.Tensor:
    """DC error |mean(y - ŷ)|² / mean(y²) (numerator per item, averaged over the batch).

    With ``mask``: each item's mean difference is taken over its kept samples, the squares are
    averaged over items with at least one kept sample, the power over all kept samples.
    """
    _check(output, target)
    m = _mask_of(mask, output)
    if m is None:
        offset = (target - output).mean(dim=-1)
        return (offset ** 2).mean() / ((target ** 2).mean() + eps)
    kept = m.sum(dim=-1)
    offset = ((target - output) * m).sum(dim=-1) / kept.clamp(min=1.0)
    has = (kept > 0).to(output.dtype)
    return _masked_mean(offset ** 2, has) / (_masked_mean(target ** 2, m) + eps)


def mae(output: torch.Tensor, target: torch.Tensor,
        mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error mean|y - ŷ| (over kept samples with ``mask``)."""
    _check(output, target)
    return _masked_mean((target - output).abs(), _mask_of(mask, output))


def esr_dc(output: torch.Tensor, target: torch.Tensor, coef: float = PRE_EMPHASIS_COEF,
           dc_on_raw: bool = False, eps: float = EPS,
           mask: torch.Tensor | None = None) -> torch.Tensor:
    """E_B = ESR + DC after pre-emphasis of output and target (thesis eq. 3.3).

    ``dc_on_raw=True`` takes the DC term on the unfiltered signals, as CoreAudioML does.
    ``mask`` selects samples *after* filtering the full signals (see module notes).
    """
    _check(output, target)
    pre_out, pre_tgt = pre_emphasis(output, coef), pre_emphasis(target, coef)
    dc_term = (dc(output, target, eps, mask) if dc_on_raw
               else dc(pre_out, pre_tgt, eps, mask))
    return esr(pre_out, pre_tgt, eps, mask) + dc_term


class PreEmphasis(nn.Module):
    """First-order pre-emphasis FIR 1 - a z⁻¹ (Wright & Välimäki, ICASSP 2020 study a = 0.95)."""

    def __init__(self, coef: float = PRE_EMPHASIS_COEF):
        super().__init__()
        self.coef = coef

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pre_emphasis(x, self.coef)


class ESRLoss(nn.Module):
    """Error-to-signal ratio (Wright, Damskägg, Välimäki, DAFx 2019, eq. 8)."""

    def __init__(self, eps: float = EPS):
        super().__init__()
        self.eps = eps

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return esr(output, target, self.eps, mask)


class DCLoss(nn.Module):
    """DC error (Wright, Damskägg, Välimäki, DAFx 2019, eq. 9; thesis eq. 3.1)."""

    def __init__(self, eps: float = EPS):
        super().__init__()
        self.eps = eps

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return dc(output, target, self.eps, mask)


class MAELoss(nn.Module):
    """Mean absolute error, the loss of CAFx (Martínez Ramírez & Reiss, ICASSP 2019)."""

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return mae(output, target, mask)


class ESRDCLoss(nn.Module):
    """E_B = ESR + DC after pre-emphasis: the thesis's loss for models B and C (eq. 3.3)."""

    def __init__(self, coef: float = PRE_EMPHASIS_COEF, dc_on_raw: bool = False,
                 eps: float = EPS):
        super().__init__()
        self.coef, self.dc_on_raw, self.eps = coef, dc_on_raw, eps

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return esr_dc(output, target, self.coef, self.dc_on_raw, self.eps, mask)


#: Losses by name, as run configs and TOR record them; each accepts ``mask=``.
LOSSES = {"mae": mae, "esr_dc": esr_dc, "esr": esr}
