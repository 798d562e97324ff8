"""Input standardisation for the data-free KD "std" variants.

Those variants train on standardised inputs z = (x - mu) / sigma, the space where data-free KD
draws its N(0, 1) noise, and need mu and sigma of the training input without keeping the audio
around. The
stats are computed once from the *training* input only (val/test must not leak into training)
and stored beside the data as ``<dataset folder>/stats-<effect>.json``, so a run, a notebook and
an exported model all use the very same numbers. The stored file is reused while the training
input it was computed from is unchanged (same size and modification time, same read options);
anything else recomputes it.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass

import numpy as np

from .._atomic import write_json
from .._compat import renamed
from .access import check_data_access
from .audio import read_wav
from .errors import DataError, DataWarning
from .loader import check_effect, dataset_dir, pair_paths, require_files

_STATS_VERSION = 1


@dataclass(frozen=True)
class Standardizer:
    """``z = (x - mean) / std`` and back; works on NumPy arrays, torch tensors and floats."""
    mean: float
    std: float

    def __post_init__(self):
        if not (np.isfinite(self.mean) and np.isfinite(self.std) and self.std > 0):
            raise DataError(f"invalid standardiser (mean={self.mean}, std={self.std}): the std "
                            "must be finite and > 0 (is the training input silent?)")

    @classmethod
    def fit(cls, x) -> "Standardizer":
        """Mean and (population) std of ``x``, accumulated in float64."""
        a = np.asarray(x, dtype=np.float64)
        return cls(float(a.mean()), float(a.std()))

    def apply(self, x):
        return (x - self.mean) / self.std

    def invert(self, z):
        return z * self.std + self.mean

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        return cls(float(d["mean"]), float(d["std"]))


@renamed(device="effect")
def standardizer_for(source: str | os.PathLike, effect: str,
                     root: str | os.PathLike | None = None, *, scale: str = "full",
                     seed: int = 0, resample: bool = False,
                     downmix: bool = False) -> Standardizer:
    """mu and sigma of the training input of ``source``/``effect``, cached as JSON beside it.

    Arguments as for ``fxlib.data.load``. If the folder is read-only the stats are computed
    but not stored (with a ``DataWarning``).
    """
    check_data_access(f"standardizer_for({source!r}, {effect!r})")
    check_effect(source, effect)
    folder = dataset_dir(source, root, scale=scale, seed=seed)
    require_files(source, folder, effect, ("train",))
    in_path, _ = pair_paths(folder, effect, "train")
    st = in_path.stat()
    fingerprint = {"file": f"train/{in_path.name}", "size": st.st_size,
                   "mtime_ns": st.st_mtime_ns, "resample": bool(resample),
                   "downmix": bool(downmix)}
    stats_path = folder / f"stats-{effect}.json"
    if stats_path.is_file():
        try:
            doc = json.loads(stats_path.read_text(encoding="utf-8"))
            if doc.get("version") == _STATS_VERSION and doc.get("fingerprint") == fingerprint:
                return Standardizer.from_dict(doc)
        except (ValueError, KeyError, TypeError, DataError):
            pass  # unreadable or stale: recompute below and overwrite
    x, sr = read_wav(in_path, resample=resample, downmix=downmix)
    result = Standardizer.fit(x)
    doc = {"version": _STATS_VERSION, **result.to_dict(), "n_samples": int(x.size),
           "sr": sr, "fingerprint": fingerprint}
    try:
        write_json(stats_path, doc)
    except OSError as err:
        warnings.warn(f"could not store {stats_path} ({err}); the stats will be recomputed "
                      "next time", DataWarning, stacklevel=2)
    return result
