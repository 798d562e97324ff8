"""WAV reading/writing checks (``fxlib.data.audio``) and pair validation (``fxlib.data.validation``)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, lfilter

from fxlib.data.audio import DataError, read_wav, write_wav
from fxlib.data.validation import (CLIP_LEVEL, SILENCE_RMS, ValidationReport, estimate_latency,
                                 validate)

SR = 44100


def guitar_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Overlapping decaying harmonic notes E2..E5: broadband and non-periodic like a DI take."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.zeros(n)
    t = 0
    while t < n:
        f0 = 82.4 * 2 ** (rng.integers(0, 36) / 12)
        length = min(int(rng.uniform(0.15, 0.6) * SR), n - t)
        tt = np.arange(length) / SR
        note = sum(np.sin(2 * np.pi * k * f0 * tt + rng.uniform(0, 6)) / k
                   for k in range(1, 8) if k * f0 < 8000)
        x[t:t + length] += rng.uniform(0.1, 0.4) * note * np.exp(-tt * rng.uniform(3, 10))
        t += max(1, int(length * rng.uniform(0.5, 1.0)))
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def overdrive(x: np.ndarray) -> np.ndarray:
    """Static tanh drive with a DC-blocking high-pass: nonlinear, and aligned (no delay)."""
    b, a = butter(1, 30 / (SR / 2), "high")
    return (0.6 * lfilter(b, a, np.tanh(5 * x))).astype(np.float32)


def delayed(y: np.ndarray, d: int) -> np.ndarray:
    out = np.zeros_like(y)
    if d >= 0:
        out[d:] = y[:len(y) - d]
    else:
        out[:d] = y[-d:]
    return out


@pytest.fixture(scope="module")
def pair():
    x = guitar_like(4.0)
    return x, overdrive(x)


# --------------------------------------------------------------------------- read/write
def test_write_read_roundtrip_float32(tmp_path):
    x = (0.9 * np.sin(np.arange(2000) / 7)).astype(np.float32)
    path = write_wav(tmp_path / "a.wav", x)
    y, sr = read_wav(path)
    assert sr == SR and y.dtype == np.float32 and np.array_equal(x, y)
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]  # no temporary file left


def test_reads_16bit_pcm(tmp_path):
    x = (0.5 * np.sin(np.arange(1000) / 5)).astype(np.float32)
    sf.write(tmp_path / "p.wav", x, SR, subtype="PCM_16")
    y, _ = read_wav(tmp_path / "p.wav")
    assert y.dtype == np.float32 and np.max(np.abs(y - x)) < 1 / 32768 + 1e-6


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(OSError):
        write_wav(tmp_path / "b.wav", np.zeros(10))
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_nan(tmp_path):
    with pytest.raises(DataError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file") as err:
        read_wav(tmp_path / "nope.wav")
    assert "nope.wav" in str(err.value) and isinstance(err.value, ValueError)


def test_garbage_file(tmp_path):
    (tmp_path / "g.wav").write_bytes(b"this is not a wav file" * 50)
    with pytest.raises(DataError, match="not a readable audio file"):
        read_wav(tmp_path / "g.wav")


def test_truncated_wav_is_detected(tmp_path):
    x = (0.5 * np.sin(np.arange(20000) / 9)).astype(np.float32)
    sf.write(tmp_path / "full.wav", x, SR, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])  # valid header, half the data
    with pytest.raises(DataError, match="truncated") as err:
        read_wav(tmp_path / "cut.wav")
    assert "cut.wav" in str(err.value)


def test_sample_rate_mismatch_and_resample(tmp_path):
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)).astype(np.float32)
    write_wav(tmp_path / "48k.wav", x, sr=48000)
    with pytest.raises(DataError, match="48000 Hz.*resample=True"):
        read_wav(tmp_path / "48k.wav")
    y, sr = read_wav(tmp_path / "48k.wav", resample=True)
    assert sr == SR and len(y) == SR and y.dtype == np.float32
    ref = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    assert np.max(np.abs(y[1000:-1000] - ref[1000:-1000])) < 1e-3
    assert read_wav(tmp_path / "48k.wav", expected_sr=None)[1] == 48000


def test_stereo_needs_downmix(tmp_path):
    st = np.stack([np.full(100, 0.2), np.full(100, 0.4)], axis=1).astype(np.float32)
    write_wav(tmp_path / "st.wav", st)
    with pytest.raises(DataError, match="2 channels.*downmix=True"):
        read_wav(tmp_path / "st.wav")
    y, _ = read_wav(tmp_path / "st.wav", downmix=True)
    assert y.shape == (100,) and np.allclose(y, 0.3)


def test_nan_in_float_wav(tmp_path):
    x = np.zeros(50, dtype=np.float32)
    x[7] = np.inf
    sf.write(tmp_path / "inf.wav", x, SR, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN/infinite.*index 7"):
        read_wav(tmp_path / "inf.wav")


# --------------------------------------------------------------------------- validate
def test_clean_pair_is_ok(pair):
    x, y = pair
    report = validate(x, y, SR, name="demo")
    assert isinstance(report, ValidationReport) and report.ok and report.warnings == []
    assert report.n_samples == len(x) and report.duration_s == pytest.approx(4.0)
    assert report.latency_samples == 0 and report.polarity == 1
    assert report.input_peak == pytest.approx(0.5, abs=1e-6)
    assert report.target_rms > 0.1 and report.input_clip_fraction == 0
    assert "demo" in str(report) and report.to_dict()["ok"] is True


@pytest.mark.parametrize("lag", [12, 30, -9])
def test_latency_is_measured_and_warned(pair, lag):
    x, y = pair
    report = validate(x, delayed(y, lag), SR, name="shifted")
    assert report.latency_samples == lag and not report.ok
    (message,) = report.warnings
    assert f"{lag:+d} samples" in message and "misaligned" in message
    assert ("leads" in message) == (lag < 0)
    # within the tolerance: no warning
    assert validate(x, delayed(y, lag), SR, max_latency=abs(lag)).ok


def test_latency_is_robust_to_polarity_and_noise(pair):
    x, y = pair
    noisy = -delayed(y, 3) + 0.01 * np.random.default_rng(0).standard_normal(len(y))
    lag, confidence, polarity = estimate_latency(x, noisy)
    assert (lag, polarity) == (3, -1) and confidence > 20


def test_unrelated_pair_is_flagged(pair):
    x, _ = pair
    other = overdrive(guitar_like(4.0, seed=7))
    report = validate(x, other, SR)
    assert any("no clear input->target alignment" in w for w in report.warnings)


def test_short_pair_skips_latency():
    x = guitar_like(1.0)
    report = validate(x, delayed(overdrive(x), 40), SR)
    assert report.latency_samples is None and report.ok


def test_clipping_warning(pair):
    x, y = pair
    clipped = np.clip(3 * y, -CLIP_LEVEL, CLIP_LEVEL)
    report = validate(x, clipped, SR, name="hot")
    assert report.target_clip_fraction > 0.01
    assert any("full scale" in w and "target" in w for w in report.warnings)


def test_errors(pair):
    x, y = pair
    with pytest.raises(DataError, match="p1: input has .* but target has"):
        validate(x, y[:-5], SR, name="p1")
    bad = y.copy()
    bad[100] = np.nan
    with pytest.raises(DataError, match="target contains NaN"):
        validate(x, bad, SR)
    with pytest.raises(DataError, match="input is silent"):
        validate(np.full_like(x, SILENCE_RMS / 10), y, SR)
    with pytest.raises(DataError, match="target is silent"):
        validate(x, np.zeros_like(y), SR)
    with pytest.raises(DataError, match="sample rate 48000"):
        validate(x, y, 48000)
    with pytest.raises(DataError, match="1-D"):
        validate(np.stack([x, x]), y, SR)
