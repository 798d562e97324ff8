"""Checks on an input/target pair before anything trains on it.

Errors (``DataError``) are things no training can survive: different lengths, NaN/inf, a silent
file, the wrong sample rate. Warnings (strings in the report; the loader turns them into
``warnings.warn(..., DataWarning)``) are things that are legal but usually a mistake:

* **Clipping** -- more than ``CLIP_WARN_FRACTION`` (0.1 %) of the samples of a file at
  ``|x| >= CLIP_LEVEL`` (0.999 of full scale): the recording chain clipped, and a model would
  learn the interface's clipping rather than the effect.
* **Latency** -- the target lags or leads the input by more than ``max_latency`` samples
  (default ``MAX_LATENCY`` = 8, 0.18 ms). Misalignment is the most common cause of failed
  trainings: a causal model cannot produce output that leads its input, and a lag costs it
  memory. A few samples are the effect's own filter delay, hence the tolerance (the embedded
  circuit models' own delays: docs/benchmarks.md, section 'The quick study'); a re-amp chain
  with uncompensated interface latency is typically off by 1-10 ms, i.e. 44-441 samples.
* **No alignment peak** -- input and target do not look related at all (two files that are not
  a pair, or a pair from different takes).

How the latency is measured, and why not by plain cross-correlation: for a coloured input (guitar)
the cross-correlation is the effect's impulse response smeared by the input's autocorrelation,
and its peak moves with the effect's filters (by tens of samples for a fuzz on guitar, even for
Wright et al.'s own pretrained Big Muff and HT-1 models, which are aligned by construction).
We instead estimate the effect's *best linear approximation* h = S_xy / S_xx (Welch averages,
Hann windows; the input spectrum is "pre-whitened", the Roth weighting of generalised
cross-correlation), which is well defined for a nonlinear effect too (Bussgang), and take the lag
of its largest tap within +-``LATENCY_SEARCH_MS``. On those pretrained models this gives 0 (and
exactly d for a target shifted by d). The ratio of that tap to the median tap is the confidence:
low for unrelated signals (the largest of many noise taps), several times higher for a real
effect (measured: docs/benchmarks.md, section 'The quick study').
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .audio import SAMPLE_RATE
from .errors import DataError

#: RMS below this (-80 dBFS; 16-bit quantisation noise is about -101 dBFS) counts as silence.
SILENCE_RMS = 1e-4
#: A sample at or above this magnitude counts as clipped ...
CLIP_LEVEL = 0.999
#: ... and more than this fraction of clipped samples in a file gives a warning.
CLIP_WARN_FRACTION = 1e-3
#: Largest input->target lag (samples, either sign) accepted without a warning (see above).
MAX_LATENCY = 8
#: The lag search range (ms, either side): covers audio-interface round trips of a re-amp setup.
LATENCY_SEARCH_MS = 20.0
#: Below this peak-to-median ratio of the linear response, no alignment can be read off.
MIN_LATENCY_CONFIDENCE = 8.0

_BLOCK = 8192            # Welch block for the linear-response estimate (186 ms)
_MAX_BLOCKS = 1024       # at most ~95 s of audio is analysed, spread over the whole file
_REGULARISATION = 1e-2   # of the mean input power: tames bins where the guitar has no energy
#: Shorter pairs are not measured: one or two notes are too narrow-band (and too periodic) to pin
#: a lag down, and a wrong "misaligned" warning is worse than none.
MIN_LATENCY_SECONDS = 2.0
#: Swapped files: warn when the target's crest factor (peak / RMS) exceeds the input's by this
#: factor. A guitar DI has sharp attacks that a distorting effect flattens: on the embedded muff
#: and ht1 splits the target's crest is 0.29-0.93x the input's (measured 2026-12-04), so a swap
#: gives 1.1-3.4x; 1.5 catches every swapped muff split and no correct pair. An effect that adds
#: peaks (an expander) could trip it: it is a warning, phrased as a question.
SWAP_CREST_RATIO = 1.5


@dataclass
class ValidationReport:
    """What ``validate`` measured. ``ok`` is False when there are warnings (errors raise)."""
    name: str
    sr: int
    n_samples: int
    duration_s: float
    input_peak: float
    input_rms: float
    target_peak: float
    target_rms: float
    input_clip_fraction: float
    target_clip_fraction: float
    latency_samples: int | None     # > 0: the target lags the input; None: not measurable
    latency_confidence: float       # peak-to-median ratio of the linear response (see module)
    polarity: int                   # sign of the linear response at the peak (-1: inverting)
    warnings: list[str] = field(default_factory=list)
    ok: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        short = self.duration_s < MIN_LATENCY_SECONDS
        lat = (f"not checked (a split under {MIN_LATENCY_SECONDS:g} s is too short to pin a lag "
               "down)" if short else "n/a (no energy)") if self.latency_samples is None else (
            f"{self.latency_samples:+d} samples (confidence {self.latency_confidence:.1f}"
            f"{', inverting' if self.polarity < 0 else ''})")
        lines = [f"{self.name or 'pair'}: {self.duration_s:.2f} s at {self.sr} Hz, "
                 f"input peak {self.input_peak:.3f} rms {self.input_rms:.4f}, target peak "
                 f"{self.target_peak:.3f} rms {self.target_rms:.4f}, latency {lat}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _as_mono(x, what: str, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        a = a.squeeze()
    if a.ndim != 1 or a.size == 0:
        raise DataError(f"{name}: {what} must be a non-empty 1-D (mono) signal, got shape "
                        f"{np.shape(x)}")
    return a


def estimate_latency(x: np.ndarray, y: np.ndarray, sr: int = SAMPLE_RATE,
                     search_ms: float = LATENCY_SEARCH_MS) -> tuple[int | None, float, int]:
    """Return ``(lag, confidence, polarity)`` of ``y`` relative to ``x`` (see module docstring).

    ``lag > 0`` means ``y`` is late: ``y[n] ~ f(x[n - lag])``. ``lag`` is None when the signals
    are shorter than ``MIN_LATENCY_SECONDS`` or either has no energy.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = min(len(x), len(y))
    block = _BLOCK
    if n < max(MIN_LATENCY_SECONDS * sr, 2 * block):
        return None, 0.0, 1
    max_lag = min(int(round(search_ms * sr / 1000)), block // 2 - 1)
    hop = block // 2
    starts = np.arange(0, n - block + 1, hop)
    if len(starts) > _MAX_BLOCKS:
        starts = starts[np.linspace(0, len(starts) - 1, _MAX_BLOCKS).astype(int)]
    window = np.hanning(block)
    sxx = np.zeros(block // 2 + 1)
    sxy = np.zeros(block // 2 + 1, dtype=np.complex128)
    idx = np.arange(block)
    for chunk in np.array_split(starts, max(1, len(starts) // 64)):  # bounded memory
        frames = chunk[:, None] + idx[None, :]
        fx = np.fft.rfft(x[frames] * window, axis=1)
        fy = np.fft.rfft(y[frames] * window, axis=1)
        sxx += (np.abs(fx) ** 2).sum(axis=0)
        sxy += (np.conj(fx) * fy).sum(axis=0)
    if sxx.mean() == 0 or not np.any(sxy):
        return None, 0.0, 1
    h = np.fft.irfft(sxy / (sxx + _REGULARISATION * sxx.mean()), block)
    lags = np.arange(-max_lag, max_lag + 1)
    taps = h[lags % block]
    i = int(np.argmax(np.abs(taps)))
    median = float(np.median(np.abs(taps)))
    confidence = float(abs(taps[i]) / median) if median > 0 else float("inf")
    return int(lags[i]), confidence, (1 if taps[i] >= 0 else -1)


def validate(input, target, sr: int, *, name: str = "", max_latency: int = MAX_LATENCY,
             expected_sr: int | None = SAMPLE_RATE,
             latency_search_ms: float = LATENCY_SEARCH_MS) -> ValidationReport:
    """Check an input/target pair; raise ``DataError`` on errors, list warnings in the report.

    ``name`` (e.g. ``"embedded/train/muff"``) prefixes every message so the user knows which
    pair is at fault. Thresholds are the module constants documented above.
    """
    label = name or "input/target pair"
    x = _as_mono(input, "input", label)
    y = _as_mono(target, "target", label)
    if expected_sr is not None and int(sr) != int(expected_sr):
        raise DataError(f"{label}: sample rate {sr} Hz, expected {expected_sr} Hz. Resample the "
                        "files (the loader's resample=True does it on load).")
    if len(x) != len(y):
        raise DataError(
            f"{label}: input has {len(x)} samples ({len(x) / sr:.3f} s) but target has "
            f"{len(y)} ({len(y) / sr:.3f} s). Input and target must be sample-aligned "
            "recordings of the same length: trim both to the common part (after aligning them).")
    for what, a in (("input", x), ("target", y)):
        if not np.isfinite(a).all():
            raise DataError(f"{label}: {what} contains NaN/infinite samples; re-export it.")
    rms = {w: float(np.sqrt(np.mean(a * a))) for w, a in (("input", x), ("target", y))}
    for what, r in rms.items():
        if r < SILENCE_RMS:
            raise DataError(
                f"{label}: {what} is silent (RMS {r:.2e}, below {SILENCE_RMS:g} = -80 dBFS). "
                "Check the file (wrong channel? muted recording? wrong gain?).")

    warns: list[str] = []
    clip = {w: float(np.mean(np.abs(a) >= CLIP_LEVEL)) for w, a in (("input", x), ("target", y))}
    for what, frac in clip.items():
        if frac > CLIP_WARN_FRACTION:
            warns.append(
                f"{label}: {frac:.2%} of the {what} samples are at full scale (|x| >= "
                f"{CLIP_LEVEL}): the recording probably clipped. Re-record with less gain, or "
                "accept that the model learns the clipping.")
    peak = {w: float(np.max(np.abs(a))) for w, a in (("input", x), ("target", y))}
    crest = {w: peak[w] / rms[w] for w in peak}
    if crest["target"] > SWAP_CREST_RATIO * crest["input"]:
        warns.append(
            f"{label}: the input looks more distorted than the target (crest factor, peak / "
            f"RMS: input {crest['input']:.2f}, target {crest['target']:.2f}); a dry guitar has "
            "sharp peaks that an effect flattens. Are the input and target files swapped?")
    lag, conf, polarity = estimate_latency(x, y, sr, latency_search_ms)
    if lag is not None and conf < MIN_LATENCY_CONFIDENCE:
        warns.append(
            f"{label}: no clear input->target alignment (confidence {conf:.1f} < "
            f"{MIN_LATENCY_CONFIDENCE:g}): the target does not look like a processed version "
            "of this input. Check that the two files are a pair from the same take.")
    elif lag is not None and abs(lag) > max_latency:
        ms = 1000.0 * lag / sr
        if lag > 0:
            fix = (f"shift the target {lag} samples earlier (target[{lag}:] with input[:-{lag}])")
        else:
            fix = (f"the target leads the input, which no causal device does; shift it {-lag} "
                   f"samples later (input[{-lag}:] with target[:-{-lag}])")
        warns.append(
            f"{label}: the target is misaligned with the input by {lag:+d} samples ({ms:+.2f} ms; "
            f"tolerance {max_latency}). Misalignment is the most common cause of failed "
            f"trainings: {fix}, or compensate the recording latency of your interface.")
    return ValidationReport(
        name=name, sr=int(sr), n_samples=len(x), duration_s=len(x) / float(sr),
        input_peak=peak["input"], input_rms=rms["input"],
        target_peak=peak["target"], target_rms=rms["target"],
        input_clip_fraction=clip["input"], target_clip_fraction=clip["target"],
        latency_samples=lag, latency_confidence=conf, polarity=polarity,
        warnings=warns, ok=not warns)
