"""``fxlib.verdict``: the intervals against known answers and scipy, and the three answers."""
import math

import pytest
from scipy import stats

from fxlib.verdict import (FAILS, HOLDS, INCONCLUSIVE_ONE_SEED, INCONCLUSIVE_SPREAD, Arm,
                           compare_arms, fmt_arm, pooled_cv)


def test_paired_interval_known_answer():
    # differences -0.10, -0.09, -0.11: mean -0.1, sd 0.01, t(0.975, 2) = 4.302652729911275
    a = Arm("a", {0: 0.30, 1: 0.36, 2: 0.31})
    b = Arm("b", {0: 0.40, 1: 0.45, 2: 0.42})
    v = compare_arms(a, b)
    half = 4.302652729911275 * 0.01 / math.sqrt(3)
    assert v.ci == pytest.approx((-0.1 - half, -0.1 + half), abs=1e-12)
    assert (v.answer, v.method) == (HOLDS, "paired t-interval over 3 seeds")
    assert compare_arms(b, a).answer == FAILS
    assert compare_arms(a, b, level=0.999).ci[0] < v.ci[0]       # wider at 99.9 %


def test_welch_interval_equals_scipys():
    a, b = Arm("a", {0: 1.0, 1: 1.2}), Arm("b", {5: 2.0, 6: 2.4, 7: 2.2})   # other seeds
    ref = stats.ttest_ind([1.0, 1.2], [2.0, 2.4, 2.2], equal_var=False).confidence_interval(0.95)
    v = compare_arms(a, b)
    assert v.ci == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert v.method == "Welch t-interval (n = 2, 3)" and v.answer == HOLDS


def test_summary_arms_and_zero_spread():
    v = compare_arms(Arm.from_summary("x", 10.0, 1.0, 10), Arm.from_summary("y", 10.5, 1.0, 10),
                     "time")
    assert v.answer == INCONCLUSIVE_SPREAD and v.ci[0] < 0 < v.ci[1]
    same = compare_arms(Arm("x", {0: 1.0, 1: 1.0}), Arm("y", {0: 1.0, 1: 1.0}))
    assert same.ci == (0.0, 0.0) and same.answer == INCONCLUSIVE_SPREAD


def test_one_seed_needs_a_measured_family_spread():
    a, b = Arm("a", {0: 0.30}), Arm("b", {0: 0.40})
    assert compare_arms(a, b).answer == INCONCLUSIVE_ONE_SEED
    # spread CV 0.1: sd 0.03 and 0.04, half-width 1.959964 * 0.05 = 0.098 < 0.1: holds
    v = compare_arms(a, b, spread=0.1)
    assert v.ci == pytest.approx((-0.1 - 1.959963984540054 * 0.05, -0.1 + 1.959963984540054 * 0.05))
    assert v.answer == HOLDS
    assert compare_arms(a, b, spread=0.2).answer == INCONCLUSIVE_SPREAD
    with pytest.raises(ValueError, match="non-negative"):
        compare_arms(a, b, spread=-1.0)


def test_pooled_cv_and_formatting_and_bad_arms():
    arms = [Arm("a", {0: 1.0, 1: 1.2, 2: 1.1}), Arm("b", {0: 2.0, 1: 2.2}), Arm("c", {0: 5.0})]
    cv_a, cv_b = 0.1 / 1.1, math.sqrt(0.02) / 2.1
    assert pooled_cv(arms) == pytest.approx(math.sqrt((2 * cv_a ** 2 + cv_b ** 2) / 3))
    assert pooled_cv([arms[2]]) is None
    assert fmt_arm(arms[2]) == "5" and fmt_arm(arms[0]) == "1.1 ± 0.1 (n=3)"
    with pytest.raises(ValueError, match="has no values"):
        Arm("e", {})
    with pytest.raises(ValueError, match="non-finite"):
        Arm("n", {0: float("nan")})
    with pytest.raises(ValueError, match="level must be in"):
        compare_arms(arms[0], arms[1], level=1.0)
