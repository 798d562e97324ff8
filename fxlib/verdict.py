"""Verdicts with three answers: does arm ``a`` beat arm ``b`` on a metric (lower is better)?

A thesis claim such as "TOR makes the 16-unit LSTM better than training it alone" is tested
here on our runs of both arms, one value per seed, and answered "holds", "does not hold" or
"inconclusive" -- never from one pair of runs unless the gap is larger than the seed spread
measured for that model family.

The interval (``compare_arms``), for the mean difference d = mean(a) - mean(b):

* **paired t-interval** when both arms have the same seeds (at least 2): the per-seed
  differences d_s = a_s - b_s, d = mean(d_s), half-width t(1 - α/2, n - 1) · sd(d_s) / √n. Seed s
  of a TOR student and seed s of its scratch baseline start from the same initial weights and
  draw the same mini-batch order, so pairing removes the part of the spread they share.
* **Welch t-interval** when the seeds differ and both arms have at least 2 values.
* **one seed** in an arm: the normal interval d ± z(1 - α/2) · √(σ_a²/n_a + σ_b²/n_b), with σ of
  each arm taken from ``spread``, the coefficient of variation (std / mean over seeds) measured
  for the model family on other arms (``σ = spread · |mean|``); with no spread measured the
  answer is "inconclusive (one seed)".

Answer at confidence 1 - α (default 95 %): "holds" when the whole interval is below 0 (a is lower),
"does not hold" when it is above 0 (b is lower), "inconclusive (difference within the seed
spread)" when it contains 0. For inference time the samples are the timing runs of each model
(``Arm.from_summary`` of their mean, std and count), so a time claim is answered by a Welch
interval on those.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
from scipy import stats

HOLDS, FAILS = "holds", "does not hold"
INCONCLUSIVE_SPREAD = "inconclusive (difference within the seed spread)"
INCONCLUSIVE_ONE_SEED = "inconclusive (one seed)"
ANSWERS = (HOLDS, FAILS, INCONCLUSIVE_SPREAD, INCONCLUSIVE_ONE_SEED)


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: ``values`` keyed by seed, or only a summary (mean, sample std,
    n) where the single values are not kept (inference time: ``Arm.from_summary``)."""
    label: str
    values: Mapping[int, float] = field(default_factory=dict)
    summary: Optional[tuple[float, float, int]] = None

    def __post_init__(self):
        if not self.values and self.summary is None:
            raise ValueError(f"arm {self.label!r} has no values")
        nums = list(self.values.values()) + (list(self.summary[:2]) if self.summary else [])
        if not all(math.isfinite(v) for v in nums):
            raise ValueError(f"arm {self.label!r}: non-finite values {nums}")

    @classmethod
    def from_summary(cls, label: str, mean: float, std: float, n: int) -> "Arm":
        if n < 1 or std < 0:
            raise ValueError(f"arm {label!r}: need n >= 1 and std >= 0, got n={n}, std={std}")
        return cls(label, summary=(float(mean), float(std), int(n)))

    @property
    def n(self) -> int:
        return self.summary[2] if self.summary else len(self.values)

    @property
    def mean(self) -> float:
        return self.summary[0] if self.summary else float(np.mean(list(self.values.values())))

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof 1); 0 for a single value."""
        if self.summary:
            return self.summary[1] if self.summary[2] > 1 else 0.0
        v = list(self.values.values())
        return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


@dataclass(frozen=True)
class Verdict:
    """The answer to "does ``a`` beat ``b`` on ``metric``" with the numbers behind it."""
    a: Arm
    b: Arm
    metric: str
    diff: float                              # mean(a) - mean(b)
    ci: Optional[tuple[float, float]]        # None: no interval (one seed, no spread)
    method: str
    answer: str
    level: float = 0.95

    def __str__(self) -> str:
        ci = "" if self.ci is None else (f", {100 * self.level:g} % CI "
                                         f"[{self.ci[0]:+.3g}, {self.ci[1]:+.3g}]")
        return (f"{self.a.label} beats {self.b.label} on {self.metric.upper()}: {self.answer} "
                f"({fmt_arm(self.a)} vs {fmt_arm(self.b)}; difference {self.diff:+.3g}{ci}; "
                f"{self.method})")


def fmt_arm(arm: Arm) -> str:
    """"0.364" for one value, "0.36 ± 0.04 (n=3)" for several."""
    if arm.n == 1:
        return f"{arm.mean:.4g}"
    return f"{arm.mean:.4g} ± {arm.std:.2g} (n={arm.n})"


def _answer(lo: float, hi: float) -> str:
    if hi < 0:
        return HOLDS
    if lo > 0:
        return FAILS
    return INCONCLUSIVE_SPREAD


def compare_arms(a: Arm, b: Arm, metric: str = "esr", *, spread: Optional[float] = None,
                 level: float = 0.95) -> Verdict:
    """The verdict on "a is lower than b" (module doc for the intervals and answers)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 1 - level
    diff = a.mean - b.mean
    if a.n >= 2 and a.values and set(a.values) == set(b.values):
        d = np.array([a.values[s] - b.values[s] for s in sorted(a.values)])
        half = stats.t.ppf(1 - alpha / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        ci = (float(d.mean() - half), float(d.mean() + half))
        return Verdict(a, b, metric, float(d.mean()), ci,
                       f"paired t-interval over {len(d)} seeds", _answer(*ci), level)
    if a.n >= 2 and b.n >= 2:
        va, vb = a.std ** 2 / a.n, b.std ** 2 / b.n
        se = math.sqrt(va + vb)
        if se == 0:
            ci = (diff, diff)
        else:       # Welch-Satterthwaite degrees of freedom
            dof = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1))
            half = stats.t.ppf(1 - alpha / 2, dof) * se
            ci = (diff - half, diff + half)
        return Verdict(a, b, metric, diff, ci, f"Welch t-interval (n = {a.n}, {b.n})",
                       _answer(*ci), level)
    if spread is None:
        return Verdict(a, b, metric, diff, None, "no seed spread measured for this family",
                       INCONCLUSIVE_ONE_SEED, level)
    if not spread >= 0:
        raise ValueError(f"spread must be a non-negative coefficient of variation, got {spread}")
    sa = a.std if a.n >= 2 else spread * abs(a.mean)
    sb = b.std if b.n >= 2 else spread * abs(b.mean)
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(sa ** 2 / a.n + sb ** 2 / b.n)
    ci = (diff - half, diff + half)
    return Verdict(a, b, metric, diff, ci,
                   f"normal interval from the family's seed spread (CV {100 * spread:.1f} %)",
                   _answer(*ci), level)


def pooled_cv(arms) -> Optional[float]:
    """The family's seed spread: the root-mean-square coefficient of variation (std / mean)
    over the arms with at least 2 seeds, weighted by their degrees of freedom; None if none."""
    num = den = 0.0
    for arm in arms:
        if arm.n >= 2 and arm.mean != 0:
            num += (arm.n - 1) * (arm.std / abs(arm.mean)) ** 2
            den += arm.n - 1
    return math.sqrt(num / den) if den else None


__all__ = ["Arm", "Verdict", "compare_arms", "pooled_cv", "fmt_arm", "ANSWERS",
           "HOLDS", "FAILS", "INCONCLUSIVE_SPREAD", "INCONCLUSIVE_ONE_SEED"]
