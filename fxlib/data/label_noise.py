"""Optional, seeded corruption of TRAINING targets: a study of robustness to noisy labels.

Real re-amped datasets carry recording faults that a neural model may learn to reproduce:
crackles (connector or static clicks), dropouts (buffer under-runs), hiss (the noise floor of a
high-gain pedal and interface) and mains hum. :class:`LabelNoise` describes them; the builder
applies :func:`corrupt` to the train targets only (validation and test stay clean, so scores
still measure the clean device) and records every parameter in the manifest. Each device's train
target gets its own noise realisation, derived from (seed, split, device).

Definitions (levels in dB re. digital full scale, 1.0):

- crackles: Poisson process, ``crackle_rate`` per second; each click is a 0.1-1.5 ms burst of
  exponentially decaying noise with peak ``crackle_dbfs`` - U(0, 12) dB and random sign;
- dropouts: Poisson process, ``dropout_rate`` per second; each zeroes the signal (after hiss,
  hum and clicks are added, as a digital under-run would) for U(``dropout_ms``) milliseconds;
- hiss: white Gaussian noise of RMS ``hiss_dbfs`` (None: off);
- hum: ``hum_hz`` and its harmonics 2-5 (amplitudes 1, 0.5, 0.3, 0.15, 0.1, random phases),
  total RMS ``hum_dbfs`` (None: off).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelNoise:
    crackle_rate: float = 1.0
    crackle_dbfs: float = -12.0
    dropout_rate: float = 0.1
    dropout_ms: tuple = (2.0, 30.0)
    hiss_dbfs: float | None = -60.0
    hum_dbfs: float | None = -50.0
    hum_hz: float = 50.0

    def __post_init__(self):
        for name in ("crackle_rate", "dropout_rate"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise ValueError(f"label_noise.{name} must be a finite rate >= 0 per second, "
                                 f"got {v!r}")
        lo_hi = tuple(self.dropout_ms)
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1] <= 1000:
            raise ValueError("label_noise.dropout_ms must be (lo, hi) with 0 < lo <= hi <= 1000"
                             f" ms, got {self.dropout_ms!r}")
        object.__setattr__(self, "dropout_ms", (float(lo_hi[0]), float(lo_hi[1])))
        for name in ("crackle_dbfs", "hiss_dbfs", "hum_dbfs"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or not -200 <= v <= 0):
                raise ValueError(f"label_noise.{name} must be None or a level in [-200, 0] dBFS, "
                                 f"got {v!r}")
        if not isinstance(self.hum_hz, (int, float)) or not 1 <= self.hum_hz <= 1000:
            raise ValueError(f"label_noise.hum_hz must be in [1, 1000] Hz, got {self.hum_hz!r}")

    def to_dict(self) -> dict:
        """JSON-ready parameters (what the manifest records)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def tag(self) -> str:
        """8 hex digits identifying these parameters (used in the dataset folder name)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


def parse(spec) -> LabelNoise | None:
    """``None`` -> off; a :class:`LabelNoise`; or a dict of its fields (others: defaults)."""
    if spec is None or isinstance(spec, LabelNoise):
        return spec
    if isinstance(spec, dict):
        names = {f.name for f in dataclasses.fields(LabelNoise)}
        unknown = sorted(set(spec) - names)
        if unknown:
            raise ValueError(f"unknown label_noise field(s) {unknown}; known: {sorted(names)}")
        return LabelNoise(**spec)
    raise TypeError(f"label_noise must be None, a dict or a LabelNoise, got {type(spec).__name__}")


def corrupt(y: np.ndarray, fs: int, params: LabelNoise, seed_seq: np.random.SeedSequence):
    """Corrupted copy of ``y`` and a dict of event counts. Deterministic in ``seed_seq``."""
    rng = np.random.default_rng(seed_seq)
    out = np.array(y, dtype=np.float64, copy=True)
    n = out.size
    dur = n / fs
    counts = {"crackles": 0, "dropouts": 0}
    if params.hiss_dbfs is not None:
        out += 10 ** (params.hiss_dbfs / 20) * rng.standard_normal(n)
    if params.hum_dbfs is not None:
        t = np.arange(n) / fs
        amps = np.array([1.0, 0.5, 0.3, 0.15, 0.1])
        hum = sum(a * np.sin(2 * np.pi * (k + 1) * params.hum_hz * t + rng.uniform(0, 2 * np.pi))
                  for k, a in enumerate(amps))
        out += hum * (10 ** (params.hum_dbfs / 20) / np.sqrt(np.sum(amps ** 2) / 2))
    for _ in range(rng.poisson(params.crackle_rate * dur)):
        length = max(2, int(rng.uniform(1e-4, 1.5e-3) * fs))
        start = int(rng.integers(0, max(1, n - length)))
        peak = 10 ** ((params.crackle_dbfs - rng.uniform(0, 12)) / 20) * rng.choice([-1.0, 1.0])
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.25 * length))
        out[start:start + length] += peak * burst / np.max(np.abs(burst))
        counts["crackles"] += 1
    for _ in range(rng.poisson(params.dropout_rate * dur)):
        length = int(rng.uniform(*params.dropout_ms) * 1e-3 * fs)
        start = int(rng.integers(0, max(1, n - length)))
        out[start:start + length] = 0.0
        counts["dropouts"] += 1
    return out, counts
