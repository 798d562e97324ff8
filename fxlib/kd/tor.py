"""Teacher outlier rejection (TOR) knowledge distillation.

Takamoto, Morishita, Imaoka, "An efficient method of training small models for regression
problems with knowledge distillation", MIPR 2020 (arXiv 2002.12597), as modified by the thesis
(§2.8, §3.4.3; docs/kd.md, section 'TOR').

Notation: ``t`` target, ``R_t`` teacher output, ``R_s`` student output, all (batch, samples)
(or (samples,)) tensors of one shape. Teacher and student may be of different families (a
teacher B distilled into a student A): TOR only needs their output tensors.

* **Mask** (per sample): ``m = |t - R_t| <= ε``. Samples where the teacher disagrees with the
  target by more than ε are treated as label outliers and rejected.
* **Thesis variant** (default)::

      L = c_TOR · E(R_s, t; m) + c_D · L1(R_t, R_s)

  E is the student's own training loss on kept samples only (f = 0 on rejected ones): MAE for
  A-family students, E_B = ESR + DC after pre-emphasis for B/C students. L1(R_t, R_s) =
  mean |R_t - R_s| over *all* samples (it is not masked: the teacher term is what carries the
  student through the rejected samples).

  Masking the ratio losses (decision): pre-emphasis runs on the full signals first; then the
  ESR numerator *and* its energy denominator are summed over kept samples only, so the ratio
  stays an error-to-signal ratio over the kept set; the DC numerator is each item's mean
  difference over its kept samples (squared, averaged over items keeping anything), the DC
  denominator the power over kept samples. See ``fxlib.losses`` (module notes, ``mask=``).
  Masking only the numerator instead would make the loss shrink with the rejected fraction and
  couple it to where the rejected energy lies; the chosen form equals the plain loss when
  nothing is rejected. With every sample rejected, E = 0 and only c_D·L1 remains (finite).
* **Original variant** (``variant="original"``), the paper's per-sample loss, averaged over all
  N samples of the batch::

      L_TOR = (1/N) Σ_i { (R_s,i - t_i)²          if |t_i - R_t,i| <= ε
                        { f(R_s,i - R_t,i)         otherwise,   f ∈ {0, sqrt(|·|)}
      L = c_TOR · L_TOR + c_D · L1(R_t, R_s)

  (normalised by all N, as a per-sample loss averaged over a batch; with f = 0 it is therefore
  (kept fraction) × MSE over kept samples). The L1 distillation term L_D = L1(R_t, R_s) is
  weighed in with c_D as the thesis presents the paper's loss (eq. 2.19); pass ``c_d=0`` for
  L_TOR alone. sqrt(|x|) is given a zero (sub)gradient at
  x = 0 to avoid the infinite derivative there.

Defaults and rationale:

* ε from the teacher's own residuals: ``epsilon_from_residuals(|t - R_t| on the training set,
  quantile=0.99)`` rejects the 1 % of training samples where the teacher disagrees most with the
  target. A fixed absolute ε would have to be re-tuned per effect and per teacher quality
  (ε must be relative to the teacher's own residual statistics); a quantile keeps the rejected
  fraction known and small, which is the intent of outlier rejection (outliers are rare), and
  ε = ∞ (quantile 1 → max, or ``math.inf``) recovers the
  plain loss + c_D·L1.
* c_TOR = 1, c_D = 1: the thesis's form weighs the two terms without stated values; 1:1 is the
  neutral choice, and also the weighting used in the only public audio-effect KD code
  (aleksati/kd-audio-fx, 1:1 feature and target loss).
* **The L1 term is made scale-free** (``l1_scale="auto"``, fxlib's choice; the thesis is
  silent): MAE and L1 are both in amplitude units, but E_B and ESR are ratios of energies, so
  with a plain L1 the weight of the distillation term for an E_B student grows with the
  recording level (a target 9x louder weighs like c_D = 9). For a ratio loss (E_B, ESR) the L1
  term is therefore divided by ``l1_norm``, the mean |t| of the training target, which makes it a
  relative error like E: L = c_TOR · E + c_D · L1(R_t, R_s) / mean|t|. For MAE (A-family
  students) both terms are already in the same units and nothing is divided. ``l1_scale="none"``
  gives the thesis's literal form (docs/kd.md, section 'TOR').
"""
from __future__ import annotations

import math
from typing import Callable, Union

import numpy as np
import torch
from torch import nn

from .. import losses as _L
from ..models import FAMILIES

LossFn = Callable[..., torch.Tensor]

#: Named student losses accepted by ``tor_loss(loss=...)``; each takes ``mask=``.
STUDENT_LOSSES: dict[str, LossFn] = _L.LOSSES

#: Student loss per model family (``fxlib.models.FAMILIES``): MAE for A, E_B for B/C.
FAMILY_LOSS: dict[str, str] = {name: family.loss for name, family in FAMILIES.items()}

VARIANTS = ("thesis", "original")

#: Defaults of a TOR run's options (``TrainConfig.kd``); the rationale is in the module notes.
#: ``epsilon`` None = ``epsilon_from_residuals(teacher's training-set residuals, epsilon_quantile)``.
DEFAULTS = {"epsilon": None, "epsilon_quantile": 0.99, "c_tor": 1.0, "c_d": 1.0,
            "variant": "thesis", "f": "zero", "l1_scale": "auto"}
REJECTED_F = ("zero", "sqrt")
L1_SCALES = ("auto", "none")

#: Student losses that are ratios (dimensionless): with ``l1_scale="auto"`` their L1 term is
#: divided by the training target's mean |t| (module notes).
RATIO_LOSSES = ("esr_dc", "esr")


def l1_norm(loss: Union[str, LossFn], target, l1_scale: str = "auto") -> float:
    """The divisor of the L1 term: mean |t| of the training ``target`` for a ratio loss with
    ``l1_scale="auto"``, else 1 (module notes)."""
    if l1_scale not in L1_SCALES:
        raise ValueError(f"l1_scale must be one of {L1_SCALES}, got {l1_scale!r}")
    if l1_scale == "none" or loss not in RATIO_LOSSES:
        return 1.0
    m = float(np.mean(np.abs(_to_numpy(target))))
    if not m > 0:
        raise ValueError("the training target is silent (mean |t| = 0): a scale-free L1 term "
                         "is undefined; check the data (fxlib.data.validate)")
    return m


def tor_mask(target: torch.Tensor, teacher_out: torch.Tensor,
             epsilon: float) -> torch.Tensor:
    """Per-sample keep mask ``|t - R_t| <= ε`` (bool, same shape; ε = inf keeps all)."""
    if target.shape != teacher_out.shape:
        raise ValueError(f"target and teacher output shapes differ: {tuple(target.shape)} vs "
                         f"{tuple(teacher_out.shape)}")
    if not epsilon >= 0:  # also rejects NaN
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    return (target.detach() - teacher_out.detach()).abs() <= epsilon


def epsilon_from_residuals(residuals: Union[torch.Tensor, np.ndarray, list],
                           quantile: float = 0.99) -> float:
    """ε as a quantile of the teacher's absolute residuals ``|t - R_t|`` on the training set.

    ``residuals`` may be signed (the absolute value is taken) and of any shape, or a list of
    such arrays (e.g. one per batch). Linear interpolation between order statistics (numpy's
    default), in float64 and without torch.quantile's input-size limit. quantile = 0.99 rejects
    the worst 1 %; quantile = 1 returns the maximum (nothing rejected on that set).
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    if isinstance(residuals, (list, tuple)):
        parts = [np.abs(_to_numpy(r)).ravel() for r in residuals]
        values = np.concatenate(parts) if parts else np.empty(0)
    else:
        values = np.abs(_to_numpy(residuals)).ravel()
    if values.size == 0:
        raise ValueError("no residuals given")
    if not np.all(np.isfinite(values)):
        raise ValueError("residuals contain NaN or inf")
    return float(np.quantile(values, quantile))


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _safe_sqrt_abs(x: torch.Tensor) -> torch.Tensor:
    """sqrt(|x|) with gradient 0 (not inf/NaN) at x = 0."""
    a = x.abs()
    nz = a > 0
    return torch.where(nz, torch.where(nz, a, torch.ones_like(a)).sqrt(), torch.zeros_like(a))


def _resolve_loss(loss: Union[str, LossFn]) -> LossFn:
    if callable(loss):
        return loss
    try:
        return STUDENT_LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(STUDENT_LOSSES)} "
                         "or pass a callable(output, target, mask=...)") from None


def tor_loss(student_out: torch.Tensor, target: torch.Tensor, teacher_out: torch.Tensor,
             epsilon: float = math.inf, loss: Union[str, LossFn] = "mae",
             c_tor: float = 1.0, c_d: float = 1.0, variant: str = "thesis",
             f: str = "zero", l1_norm: float = 1.0) -> torch.Tensor:
    """TOR loss (see module notes). Gradients reach ``student_out`` only.

    Args:
        student_out, target, teacher_out: tensors of one shape, (batch, samples) or (samples,).
        epsilon: outlier threshold on |t - R_t| (same units as the target); inf keeps all.
        loss: the student's own loss E for the thesis variant: "mae" (A-family), "esr_dc"
            (E_B, B/C), "esr", or a callable ``(output, target, mask=...)``.
        c_tor, c_d: weights of the TOR term and of L1(R_t, R_s).
        variant: "thesis" (default) or "original" (squared error / f on rejected).
        f: for ``variant="original"``: "zero" or "sqrt" (sqrt|R_s - R_t| on rejected samples).
        l1_norm: the L1 term is divided by this (``l1_norm()``: mean |t| for ratio losses).
    """
    if not l1_norm > 0:
        raise ValueError(f"l1_norm must be > 0, got {l1_norm}")
    if student_out.shape != target.shape or student_out.shape != teacher_out.shape:
        raise ValueError("student output, target and teacher output must share one shape; got "
                         f"{tuple(student_out.shape)}, {tuple(target.shape)}, "
                         f"{tuple(teacher_out.shape)}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    target, teacher_out = target.detach(), teacher_out.detach()
    keep = tor_mask(target, teacher_out, epsilon)
    if variant == "thesis":
        term = _resolve_loss(loss)(student_out, target, mask=keep)
    else:
        if f not in REJECTED_F:
            raise ValueError(f"f must be one of {REJECTED_F}, got {f!r}")
        per_sample = torch.where(keep, (student_out - target) ** 2,
                                 torch.zeros_like(student_out))
        if f == "sqrt":
            per_sample = per_sample + torch.where(
                keep, torch.zeros_like(student_out), _safe_sqrt_abs(student_out - teacher_out))
        term = per_sample.mean()
    total = c_tor * term
    if c_d != 0:
        total = total + c_d * (teacher_out - student_out).abs().mean() / l1_norm
    return total


class TORLoss(nn.Module):
    """Module form of ``tor_loss``: ``forward(student_out, target, teacher_out)``.

    ``epsilon`` is a plain attribute (set it from ``epsilon_from_residuals`` once the teacher's
    training-set residuals are known). ``TORLoss.for_family("rnn", eps)`` picks E_B,
    ``"cafx"`` picks MAE.
    """

    def __init__(self, epsilon: float = math.inf, loss: Union[str, LossFn] = "mae",
                 c_tor: float = 1.0, c_d: float = 1.0, variant: str = "thesis",
                 f: str = "zero", l1_norm: float = 1.0):
        super().__init__()
        if not l1_norm > 0:
            raise ValueError(f"l1_norm must be > 0, got {l1_norm}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if f not in REJECTED_F:
            raise ValueError(f"f must be one of {REJECTED_F}, got {f!r}")
        if variant == "thesis":
            _resolve_loss(loss)
        self.epsilon, self.loss = float(epsilon), loss
        self.c_tor, self.c_d, self.variant, self.f = c_tor, c_d, variant, f
        self.l1_norm = float(l1_norm)

    @classmethod
    def for_family(cls, family: str, epsilon: float = math.inf, **kwargs) -> "TORLoss":
        if family not in FAMILY_LOSS:
            raise ValueError(f"family must be one of {sorted(FAMILY_LOSS)}, got {family!r}")
        return cls(epsilon, loss=FAMILY_LOSS[family], **kwargs)

    def forward(self, student_out: torch.Tensor, target: torch.Tensor,
                teacher_out: torch.Tensor) -> torch.Tensor:
        return tor_loss(student_out, target, teacher_out, self.epsilon, self.loss,
                        self.c_tor, self.c_d, self.variant, self.f, self.l1_norm)

    def mask(self, target: torch.Tensor, teacher_out: torch.Tensor) -> torch.Tensor:
        return tor_mask(target, teacher_out, self.epsilon)

    def extra_repr(self) -> str:
        name = self.loss if isinstance(self.loss, str) else getattr(self.loss, "__name__", "fn")
        return (f"epsilon={self.epsilon:g}, loss={name}, c_tor={self.c_tor}, c_d={self.c_d}, "
                f"variant={self.variant}, f={self.f}, l1_norm={self.l1_norm:g}")


def rejected_fraction(target: torch.Tensor, teacher_out: torch.Tensor,
                      epsilon: float) -> float:
    """Fraction of samples the mask rejects (a diagnostic to log per epoch)."""
    keep = tor_mask(target, teacher_out, epsilon)
    return 1.0 - keep.float().mean().item() if keep.numel() else 0.0


__all__ = ["DEFAULTS", "tor_mask", "epsilon_from_residuals", "tor_loss", "TORLoss",
           "rejected_fraction", "l1_norm", "L1_SCALES", "RATIO_LOSSES", "STUDENT_LOSSES",
           "FAMILY_LOSS"]
