"""The audio a run trains and is tested on, loaded once, described and hashed.

``load_training_data(source, effect, ...)`` loads (and validates) the three splits through
``fxlib.data.load`` and describes them: kind (embedded / wright2019 / folder / arrays), source,
effect, embedded scale and seed, and a SHA-256 of the samples. That description enters the run's
identity (``fxlib.train.runs``), so a moved dataset folder finds the same runs, and changed
audio never does. ``fxlib.study`` loads the data once per source and effect and hands the same
``TrainingData`` to every run.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .._compat import renamed
from ..data import Standardizer, load, standardizer_for

BUILTIN_SOURCES = ("embedded", "wright2019")


def data_hash(splits: dict) -> str:
    """16 hex digits of SHA-256 over the float32 samples of train, val and test."""
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        for a in splits[split]:
            a = np.ascontiguousarray(a, dtype=np.float32)
            h.update(split.encode() + str(a.shape).encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def source_label(source: str) -> str:
    """A built-in source's name, or a folder's resolved path (how a run records its data)."""
    return source if source in BUILTIN_SOURCES else str(Path(source).expanduser().resolve())


@dataclass
class TrainingData:
    """Loaded splits ``{"train"|"val"|"test": (input, target)}`` plus their description.

    ``desc`` is what a run records under ``config.json`` -> ``data``; its key ``device`` names
    the effect (the key of run format 1, kept so that existing run folders keep their names).
    """
    splits: dict
    desc: dict
    data_root: Optional[str] = None
    _standardizer: Optional[Standardizer] = field(default=None, repr=False)

    @property
    def effect(self) -> str:
        return self.desc["device"]

    def standardizer(self) -> Standardizer:
        """mu/sigma of the training input (the cached stats file for on-disk sources)."""
        if self._standardizer is None:
            d = self.desc
            if d["kind"] == "arrays":
                self._standardizer = Standardizer.fit(self.splits["train"][0])
            else:
                self._standardizer = standardizer_for(d["source"], d["device"], self.data_root,
                                                      scale=d["scale"] or "full",
                                                      seed=d["data_seed"] or 0)
        return self._standardizer

    def matches(self, source: str, effect: str, scale: str, data_seed: int) -> bool:
        """Whether this is the data a config with these values would load."""
        d = self.desc
        if d["kind"] == "arrays":
            return True
        return (d["source"], d["device"]) == (source_label(source), effect) and (
            d["kind"] != "embedded" or (d["scale"], d["data_seed"]) == (scale, data_seed))


@renamed(device="effect")
def load_training_data(source: str = "embedded", effect: str = "muff", data_root=None, *,
                       scale: str = "full", data_seed: int = 0,
                       arrays: Optional[dict] = None, resample: bool = False,
                       downmix: bool = False) -> TrainingData:
    """Load (and validate, and hash) a dataset once; ``arrays``: in-memory splits instead.
    ``resample`` / ``downmix``: convert files at other rates / with several channels on load
    (``fxlib.data.load``); the data hash covers the converted audio."""
    if arrays is not None:
        splits = {k: (np.asarray(v[0], np.float32), np.asarray(v[1], np.float32))
                  for k, v in arrays.items()}
        kind = label = "arrays"
    else:
        kind = source if source in BUILTIN_SOURCES else "folder"
        label = source_label(source)
        splits = load(source, effect, data_root, scale=scale, seed=data_seed,
                      resample=resample, downmix=downmix)
    missing = {"train", "val", "test"} - set(splits)
    if missing:
        raise ValueError(f"data lacks split(s) {sorted(missing)}")
    desc = {"kind": kind, "source": label, "device": effect,
            "scale": scale if kind == "embedded" else None,
            "data_seed": data_seed if kind == "embedded" else None,
            "hash": data_hash(splits)}
    return TrainingData(splits, desc, data_root)


#: The old names (README, "Renamed").
Dataset = TrainingData
load_dataset = load_training_data

__all__ = ["TrainingData", "load_training_data", "data_hash", "source_label", "Dataset",
           "load_dataset", "BUILTIN_SOURCES"]
