"""Physics checks of the synthesis models behind the embedded dataset (fast, no files)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import bilinear, freqs, lfilter

from fxlib.data import bigmuff, guitar, tube_amp
from fxlib.data.linear_baseline import esr, fir_esr, fit_fir

FS = 44100


# -- strings ------------------------------------------------------------------------------------

def _one_note(f0, t60=2.0, muted=False, seconds=1.0, inst=0):
    n = int(seconds * FS)
    note = np.zeros(1, guitar.NOTE_DTYPE)
    note[0] = (0, n, f0, 1.0, 0.15 if muted else t60, 0.05, 0.45 if muted else 0.15, 0.1, 0.13,
               0.08, inst, 0, 0)
    ph = guitar.Phrase(0, 0, n, "guitar", "mono", "line", 120.0, 1.0, 4000.0, 1.0)
    return guitar.render(note, [ph], n, FS, np.random.SeedSequence(0))


@pytest.mark.parametrize("f0", [41.2, 82.41, 196.0, 659.3, 1318.5])
def test_string_pitch_is_accurate(f0):
    x = _one_note(f0, seconds=0.6)[int(0.1 * FS):]
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 4 * x.size)) ** 2)[: x.size]
    lo, hi = int(FS / (f0 * 1.1)), int(FS / (f0 / 1.1)) + 1
    k = lo + int(np.argmax(ac[lo:hi]))
    a, b, c = ac[k - 1], ac[k], ac[k + 1]                      # parabolic peak interpolation
    period = k + 0.5 * (a - c) / (a - 2 * b + c)
    cents = 1200 * np.log2((FS / period) / f0)
    assert abs(cents) < 5, cents


def test_palm_mute_decays_faster_and_notes_are_finite():
    open_ = _one_note(110.0, t60=3.0)
    muted = _one_note(110.0, muted=True)
    tail = slice(int(0.4 * FS), int(0.6 * FS))
    assert np.std(muted[tail]) < 0.05 * np.std(open_[tail])
    assert np.all(np.isfinite(open_)) and np.all(np.isfinite(muted))


def test_di_is_deterministic_and_normalised():
    a, pa, na = guitar.synth_di(FS * 3, 1234)
    b, pb, nb = guitar.synth_di(FS * 3, 1234)
    np.testing.assert_array_equal(a, b)
    assert pa == pb and np.array_equal(na, nb)
    assert a.dtype == np.float32 and np.max(np.abs(a)) == pytest.approx(0.5, abs=1e-7)
    # The lead-in (>= 20 ms) is a -140 dB noise floor, never digital silence (no denormals).
    assert np.count_nonzero(a == 0) == 0 and np.max(np.abs(a[: FS // 50])) < 1e-6
    c, _, _ = guitar.synth_di(FS * 3, 1235)
    assert not np.allclose(a, c)


# -- Big Muff -----------------------------------------------------------------------------------

def test_clip_stage_small_signal_equals_its_linear_circuit():
    """With the diodes removed, the implicit solver is exactly the bilinear linear stage."""
    c, fs = bigmuff.PARAMS["clip"], 2 * FS
    u = np.random.default_rng(0).standard_normal(20000) * 1e-3
    y, _ = bigmuff._clip_stage(u, float(fs), c["A"], 1e4, c["Cc"], c["Rb"], c["Rf"], c["Cf"],
                               1e-30, 0.045, 8, 1e-15, 0.1)
    b, a = bilinear(*bigmuff.shunt_stage_tf(c["A"], 1e4, c["Cc"], c["Rb"], c["Rf"], c["Cf"]), fs)
    ref = lfilter(b, a, u)
    assert np.max(np.abs(y - ref)) < 1e-9 * np.max(np.abs(ref))


def test_clip_stage_limits_like_a_diode_pair():
    c, fs = bigmuff.PARAMS["clip"], 2 * FS
    t = np.arange(int(0.2 * fs)) / fs
    out = []
    for amp in (0.1, 1.0, 10.0):
        y, iters = bigmuff._clip_stage(amp * np.sin(2 * np.pi * 220 * t), float(fs), c["A"], 1e4,
                                       c["Cc"], c["Rb"], c["Rf"], c["Cf"], c["Is"],
                                       c["n"] * c["Vt"], 8, 1e-9, 0.1)
        out.append(np.max(np.abs(y[y.size // 2:])))
        assert iters / y.size < 6
    assert 0.3 < out[0] < out[1] < out[2] < 0.75            # ~0.5 V forward drop, compressing
    assert out[2] / out[0] < 2.0                              # 40 dB more drive, < 6 dB more out


def test_tone_stack_has_mid_notch_and_booster_gain():
    b, a = bigmuff.tone_stack_tf(**bigmuff.PARAMS["tone"])
    f = np.array([100.0, 1000.0, 8000.0])
    db = 20 * np.log10(np.abs(freqs(b, a, 2 * np.pi * f)[1]))
    assert db[1] < db[0] - 3 and db[1] < db[2] - 3
    bo = bigmuff.PARAMS["booster"]
    b, a = bigmuff.shunt_stage_tf(bo["A"], bo["Rs"], bo["Cc"], bo["Rb"], bo["Rf"], bo["Cf"])
    g = 20 * np.log10(np.abs(freqs(b, a, [2 * np.pi * 300])[1][0]))
    assert 14 < g < 20                                        # ElectroSmash: about 16.7 dB


# -- tube amp -----------------------------------------------------------------------------------

def test_triode_operating_point_and_gain():
    ip0 = tube_amp.operating_point(tube_amp.PARAMS)
    assert 0.5e-3 < ip0 < 2.5e-3                              # 12AU7, 100 k / 1.5 k at 250 V
    fs = 2 * FS
    t = np.arange(int(0.3 * fs)) / fs
    y, _ = tube_amp._stage(0.01 * np.sin(2 * np.pi * 1000 * t), fs, tube_amp.PARAMS, 68e3)
    gain = np.max(np.abs(y[y.size // 2:])) / 0.01
    assert 12 < gain < 20                                     # ~ mu Rp / (Rp + rp), bypassed
    assert abs(np.mean(y[y.size // 2:])) < 1e-3               # starts at its DC point


def test_triode_asymmetric_clipping_and_bias_shift():
    fs = 2 * FS
    t = np.arange(int(0.3 * fs)) / fs
    y, _ = tube_amp._stage(8.0 * np.sin(2 * np.pi * 200 * t), fs, tube_amp.PARAMS, 68e3)
    late = y[y.size // 2:]
    assert late.max() != pytest.approx(-late.min(), rel=0.05)   # even-order asymmetry
    assert abs(np.mean(late)) > 0.5                              # bias moved (memory)


@pytest.mark.parametrize("proc", [bigmuff.process, tube_amp.process])
@pytest.mark.parametrize("kind", ["zeros", "full_scale_noise", "impulse", "dc"])
def test_processors_are_finite_and_length_preserving(proc, kind):
    n = 5000
    x = {"zeros": np.zeros(n), "full_scale_noise": np.random.default_rng(0).uniform(-1, 1, n),
         "impulse": np.eye(1, n, 100)[0], "dc": np.full(n, 0.5)}[kind]
    y = proc(x)
    assert y.shape == x.shape and np.all(np.isfinite(y)) and np.max(np.abs(y)) < 2.0


# -- linear baseline ----------------------------------------------------------------------------

def test_fir_fit_recovers_a_filter_and_scores_zero():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20000)
    h = rng.standard_normal(16)
    y = lfilter(h, [1.0], x)
    np.testing.assert_allclose(fit_fir(x, y, taps=16), h, atol=1e-8)
    assert fir_esr((x, y), (x[:5000], y[:5000]), taps=16) < 1e-12
    assert fir_esr((x, np.tanh(3 * x)), (x, np.tanh(3 * x))) > 0.05
    assert esr(y, np.zeros_like(y)) == pytest.approx(1.0)


def test_fir_fit_matches_dense_least_squares():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(3000)
    y = np.tanh(2 * x) + 0.1 * rng.standard_normal(3000)
    X = np.stack([np.concatenate([np.zeros(k), x[: x.size - k]]) for k in range(8)], axis=1)
    np.testing.assert_allclose(fit_fir(x, y, taps=8), np.linalg.lstsq(X, y, rcond=None)[0],
                               atol=1e-8)


@pytest.mark.parametrize("args, msg", [
    ((np.zeros(10), np.zeros(11)), "same length"),
    ((np.zeros((2, 5)), np.zeros((2, 5))), "1-D"),
    ((np.array([1.0, np.nan, 0.0]), np.zeros(3)), "NaN"),
])
def test_fir_fit_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        fit_fir(*args, taps=2)
    with pytest.raises(ValueError, match="taps"):
        fit_fir(np.ones(10), np.ones(10), taps=0)
