"""Least-squares linear FIR baseline: how much of a target a linear filter can explain.

Used to check that a target is genuinely nonlinear (docs/data.md, 'The embedded dataset'): fit the
best FIR ``h`` (``taps`` coefficients) mapping input to target on the training split, then score
it on the test split with the error-to-signal ratio ESR = sum (y - y_hat)^2 / sum y^2 (Wright et
al., DAFx 2019, without pre-emphasis). A linear target scores ~0; a heavy fuzz around 0.4-0.7.

The fit is exact least squares over all samples, with the input taken as zero before its start
(the same convention as ``scipy.signal.lfilter`` when scoring). The 64x64 normal equations are
built from lag products computed once (O(N taps)), with the exact end corrections that make the
Gram matrix slightly non-Toeplitz, so no N x taps design matrix is ever formed. numpy/scipy only.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve
from scipy.signal import lfilter


def _as_1d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D signal, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def fit_fir(x, y, taps: int = 64) -> np.ndarray:
    """Least-squares FIR ``h`` (length ``taps``) minimising sum_n (y[n] - sum_k h[k] x[n-k])^2."""
    x, y = _as_1d(x, "x"), _as_1d(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if not isinstance(taps, (int, np.integer)) or not 1 <= taps < x.size:
        raise ValueError(f"taps must be an integer in [1, {x.size - 1}], got {taps!r}")
    n = x.size
    # r[k] = sum_m x[m+k] x[m]; p[i] = sum_m y[m+i] x[m] (m over the whole signal).
    r = np.array([np.dot(x[k:], x[: n - k]) for k in range(taps)])
    p = np.array([np.dot(y[i:], x[: n - i]) for i in range(taps)])
    # Gram matrix with zero pre-padding: R[i, j] = sum_{n=max(i,j)}^{N-1} x[n-i] x[n-j]. For j >= i
    # and k = j - i this is r[k] minus the products that would need samples past the end.
    R = np.empty((taps, taps))
    for i in range(taps):
        for j in range(i, taps):
            k = j - i
            tail = np.dot(x[n - j + k: n], x[n - j: n - k]) if j > 0 else 0.0
            R[i, j] = R[j, i] = r[k] - tail
    # A whisper of ridge keeps the solve well posed on band-limited or silent inputs.
    R[np.diag_indices(taps)] += 1e-10 * (np.trace(R) / taps + 1e-30)
    return solve(R, p, assume_a="pos")


def esr(y, y_hat) -> float:
    """Error-to-signal ratio sum (y - y_hat)^2 / sum y^2."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    den = float(np.dot(y, y))
    if den <= 0.0:
        raise ValueError("ESR is undefined for an all-zero target")
    d = y - y_hat
    return float(np.dot(d, d)) / den


def fir_esr(train_xy, test_xy, taps: int = 64) -> float:
    """ESR on ``test_xy = (x, y)`` of the FIR fitted on ``train_xy = (x, y)``."""
    h = fit_fir(*train_xy, taps=taps)
    x_test, y_test = _as_1d(test_xy[0], "test x"), _as_1d(test_xy[1], "test y")
    if x_test.shape != y_test.shape:
        raise ValueError("test x and y must have the same length")
    return esr(y_test, lfilter(h, [1.0], x_test))


#: ``nonlinearity`` thresholds on the FIR-64 test ESR: a linear filter leaving >= 30 % of the
#: target's energy unexplained is "strongly nonlinear" (a fuzz: 0.4-0.7), >= 5 % "mildly"
#: (an overdrive), below that "nearly linear".
STRONG, MILD = 0.3, 0.05


def nonlinearity(fir_test_esr: float) -> str:
    """The verdict the dataset notebook prints for a FIR-64 test ESR (thresholds above)."""
    if fir_test_esr >= STRONG:
        return "strongly nonlinear"
    return "mildly nonlinear" if fir_test_esr >= MILD else "nearly linear"
