"""Two-stage triode preamp: the ``ht1`` (Blackstar HT-1 stand-in) target of the embedded set.

A milder overdrive than the fuzz. Signal path (the HT-1 is built around one ECC82/12AU7)::

    grid coupling (blocking) -> triode stage 1 -> gain pot -> grid coupling -> triode stage 2
    -> coupling high-pass -> push-pull saturation -> output EQ (speaker-emulated line out)

**Triode**: Koren's phenomenological model (N. Koren, "Improved VT models for SPICE
simulations", Glass Audio 1996), 12AU7 constants (mu 21.5, Ex 1.3, Kg1 1180, Kp 84, Kvb 300)::

    E1 = (Vpk/Kp) ln(1 + exp(Kp (1/mu + Vgk / sqrt(Kvb + Vpk^2))));   Ip = 2 E1^Ex / Kg1

**Stage** (common cathode, B+ 250 V, plate resistor Rp 100 k, cathode Rk 1.5 k bypassed by Ck
22 uF). The bypass capacitor is a trapezoidal companion (``Gk = 2 Ck fs`` with a history
current ``hk``), so the cathode voltage ``Vk = (Ip + hk) / (1/Rk + Gk)`` carries the bias memory
(the operating point sags and recovers after loud notes). With ``Vp = B+ - Rp Ip`` the stage is
one scalar equation in the plate current, solved per sample by Newton-Raphson from the previous
samples' currents (linearly extrapolated) with the *analytic* derivative (a finite-difference
derivative was the prototype's bottleneck)::

    F(Ip) = Ip - Ip_koren(Vp - Vk, Vg - Vk) = 0,   F' = 1 + dIp/dVpk (Rp + Rk') + dIp/dVgk Rk'

F' >= 1 everywhere, so the root is unique and Newton converges in a few steps. Each stage starts
at its DC operating point (solved once) so splits begin without a bias transient.

**Grid**: the grid is fed through a coupling capacitor (22 nF) with a 1 M grid leak (7 Hz
high-pass). When the grid swings above the cathode, grid current flows: the grid-cathode voltage
is soft-limited (unit slope below 0, ``Vgc tanh(v/Vgc)`` above) and the excess, divided by the
source resistance, charges the coupling capacitor, shifting the bias negative for tens of ms
(blocking distortion, the other memory effect of a driven tube stage).

**Power section and EQ**: push-pull saturation ``tanh(v/Vsat + d) - tanh(d)`` (a small imbalance
``d`` adds some even order), then a fixed EQ standing in for the HT-1 emulated output: 2nd-order
high-pass 70 Hz, +4 dB peak at 700 Hz, 2nd-order low-pass 5.5 kHz (RBJ audio-EQ cookbook
biquads). Everything up to the push-pull stage runs at 2x oversampling like the fuzz; the EQ,
being linear and last, runs after decimation. Newton stops when a step is below 1e-7 A: with
quadratic convergence the plate-voltage error is then ~1e-6 V on swings of tens of volts.

**Settings**: 6 V at grid 1 per DI unit, gain pot 0.5, push-pull Vsat 100 V, volume 0.45
(output peaks about 0.8). Chosen for a milder overdrive than the fuzz: a much lower 64-tap
linear-FIR test ESR than the fuzz's, of which a floor is the amp's long linear memory (coupling
and cathode time constants, EQ) that 64 taps cannot represent even with the drive turned down
(measured: docs/benchmarks.md, section 'The quick study').
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.optimize import brentq
from scipy.signal import bilinear, lfilter, resample_poly, sosfilt

#: Every parameter of the model; goes verbatim into the dataset manifest.
PARAMS = {
    "oversample": 2,
    "tube": {"mu": 21.5, "ex": 1.3, "kg1": 1180.0, "kp": 84.0, "kvb": 300.0},   # 12AU7 (Koren)
    "stage": {"bplus": 250.0, "Rp": 100e3, "Rk": 1.5e3, "Ck": 22e-6},
    "grid": {"Cc": 22e-9, "Rg": 1e6, "Rsrc1": 68e3, "Rsrc2": 100e3, "Vgc": 0.8},
    "input_gain": 6.0,          # volts at grid 1 per DI unit (front-end gain)
    "gain": 0.5,                # gain pot between the stages (fraction of stage-1 swing)
    "coupling_hz": 10.0,
    "pp": {"vsat": 100.0, "imbalance": 0.1},
    "eq": {"hp_hz": 70.0, "peak_hz": 700.0, "peak_db": 4.0, "peak_q": 0.8, "lp_hz": 5500.0},
    "volume": 0.45,
    "newton": {"maxit": 8, "tol": 1e-7},
}


@njit(cache=True, nogil=True, inline="always")
def _koren(vpk, vgk, mu, ex, kg1, kp, kvb):
    """Plate current and its partial derivatives (d/dVpk, d/dVgk)."""
    if vpk <= 0.0:
        return 0.0, 0.0, 0.0
    r = np.sqrt(kvb + vpk * vpk)
    z = kp * (1.0 / mu + vgk / r)
    if z > 30.0:
        sp, sig = z, 1.0
    else:
        ez = np.exp(z)
        sp, sig = np.log1p(ez), ez / (1.0 + ez)
    e1 = vpk / kp * sp
    if e1 <= 1e-30:                      # deep cutoff; also keeps pow() out of denormals
        return 0.0, 0.0, 0.0
    ip = 2.0 * e1 ** ex / kg1
    dip = ex * ip / e1
    return ip, dip * (sp / kp - sig * vgk * vpk * vpk / (r * r * r)), dip * (vpk * sig / r)


@njit(cache=True, nogil=True)
def _triode_stage(u, fs, mu, ex, kg1, kp, kvb, bplus, rp, rk, ck, cc, rg, rsrc, vgc, ip0,
                  maxit, tol):
    """Coupling cap + grid limiting + common-cathode triode. Returns (plate AC volts, iters)."""
    n = u.shape[0]
    y = np.empty(n)
    dt = 1.0 / fs
    gk = 2.0 * ck * fs
    rk_eq = 1.0 / (1.0 / rk + gk)
    vk = rk * ip0                        # DC operating point: capacitor current zero
    hk = gk * vk
    vp0 = bplus - rp * ip0
    ip = ip0
    ip_prev = ip0
    vcc = 0.0                            # coupling-capacitor voltage (AC part)
    iters = 0
    for i in range(n):
        # Linear prediction from the last two solutions: at 2x oversampling it is usually
        # within tolerance after one Newton step.
        guess = 2.0 * ip - ip_prev
        ip_prev = ip
        ip = guess if guess > 0.0 else 0.0
        vg = u[i] - vcc
        over = vg - vk                   # grid-cathode voltage, previous cathode (1 sample lag)
        if over > 0.0:
            lim = vgc * np.tanh(over / vgc)
            ig = (over - lim) / rsrc     # grid current through the source resistance
            vg = vk + lim
        else:
            ig = 0.0
        vcc += dt * (vg / rg + ig) / cc  # grid leak and grid current charge the coupling cap
        for _ in range(maxit):
            vk_i = (ip + hk) * rk_eq
            vp = bplus - rp * ip
            ik, gp, gg = _koren(vp - vk_i, vg - vk_i, mu, ex, kg1, kp, kvb)
            f = ip - ik
            d = f / (1.0 + gp * (rp + rk_eq) + gg * rk_eq)
            ip -= d
            if ip < 0.0:
                ip = 0.0
            iters += 1
            if abs(d) < tol:
                break
        vk = (ip + hk) * rk_eq
        hk = 2.0 * gk * vk - hk
        y[i] = (bplus - rp * ip) - vp0
    return y, iters


@njit(cache=True, nogil=True)
def _push_pull(v, vsat, d):
    """Symmetric push-pull saturation with a small bias imbalance ``d`` (zero in, zero out)."""
    y = np.empty_like(v)
    off = np.tanh(d)
    for i in range(v.shape[0]):
        y[i] = np.tanh(v[i] / vsat + d) - off
    return y


def operating_point(p: dict) -> float:
    """Quiescent plate current (A) of one stage: Ip = Ip_koren(B+ - (Rp + Rk) Ip, -Rk Ip)."""
    t, s = p["tube"], p["stage"]

    def f(ip):
        vk = s["Rk"] * ip
        return ip - _koren(s["bplus"] - s["Rp"] * ip - vk, -vk, t["mu"], t["ex"], t["kg1"],
                           t["kp"], t["kvb"])[0]

    return brentq(f, 0.0, s["bplus"] / s["Rp"], xtol=1e-15)


def _stage(u, fs, p, rsrc):
    t, s, g, nw = p["tube"], p["stage"], p["grid"], p["newton"]
    return _triode_stage(np.ascontiguousarray(u, dtype=np.float64), float(fs), t["mu"], t["ex"],
                         t["kg1"], t["kp"], t["kvb"], s["bplus"], s["Rp"], s["Rk"], s["Ck"],
                         g["Cc"], g["Rg"], rsrc, g["Vgc"], operating_point(p), nw["maxit"],
                         nw["tol"])


def _biquad(kind, f0, fs, q=0.7071, gain_db=0.0):
    """RBJ audio-EQ-cookbook biquad (b, a)."""
    w = 2 * np.pi * f0 / fs
    cw, alpha = np.cos(w), np.sin(w) / (2 * q)
    if kind == "lp":
        b, a = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2], [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "hp":
        b, a = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2], [1 + alpha, -2 * cw, 1 - alpha]
    else:
        g = 10 ** (gain_db / 40)
        b, a = [1 + alpha * g, -2 * cw, 1 - alpha * g], [1 + alpha / g, -2 * cw, 1 - alpha / g]
    return np.array(b) / a[0], np.array(a) / a[0]


def process(x: np.ndarray, fs: int = 44100, params: dict | None = None,
            info: dict | None = None) -> np.ndarray:
    """Tube-amp output for input ``x`` (DI units; float64 out, same length)."""
    p = PARAMS if params is None else params
    os_ = int(p["oversample"])
    fs2 = fs * os_
    v = resample_poly(np.asarray(x, dtype=np.float64), os_, 1) * p["input_gain"]
    v, it1 = _stage(v, fs2, p, p["grid"]["Rsrc1"])
    v, it2 = _stage(v * p["gain"], fs2, p, p["grid"]["Rsrc2"])
    n2 = v.size
    b, a = bilinear([1.0, 0.0], [1.0, 2 * np.pi * p["coupling_hz"]], fs2)
    v = lfilter(b, a, v)
    v = _push_pull(v, float(p["pp"]["vsat"]), float(p["pp"]["imbalance"]))
    # The EQ is linear and follows the last nonlinearity, so it commutes with the decimator:
    # run it at the base rate, as one second-order-section cascade.
    v = resample_poly(v, 1, os_)[: len(x)]
    eq = p["eq"]
    sos = np.array([np.concatenate(_biquad(kind, f0, fs, **kw)) for kind, f0, kw in (
        ("hp", eq["hp_hz"], {}), ("lp", eq["lp_hz"], {}),
        ("peak", eq["peak_hz"], {"q": eq["peak_q"], "gain_db": eq["peak_db"]}))])
    y = sosfilt(sos, v) * p["volume"]
    if info is not None:
        info["newton_iters_per_sample"] = [it1 / n2, it2 / n2]
    if not np.all(np.isfinite(y)):
        raise RuntimeError("tube-amp model produced non-finite samples")
    return y
