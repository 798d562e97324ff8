"""One entry point for every dataset: ``load(source, effect) -> {split: (input, target)}``.

Sources share one layout, ``<folder>/{train,val,test}/<effect>-{input,target}.wav`` (the layout of
Wright et al.'s repository without its ``Data/`` prefix), so the same code reads:

* ``"embedded"``: the synthesised set, ``<data root>/embedded/<scale>``, built on first use
  (``build_embedded`` reuses a matching build, so calling it every time is cheap);
* ``"wright2019"``: the real recordings, ``<data root>/wright2019``, after ``fetch_wright2019``;
  never downloaded implicitly, because a silent 200 MB download inside a training call is a
  surprise and fails offline;
* any folder (``str`` or ``Path``) in that layout: a user's own re-amped recordings. A folder
  holding ``Data/{train,val,test}`` (a clone of the original repository) works too.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..paths import data_root
from ..thesis import SPLIT_SECONDS
from .._compat import renamed
from .access import check_data_access
from .audio import SAMPLE_RATE, read_wav
from .errors import DataError, DataWarning
from .embedded import DEVICES, EFFECTS, SPLITS, build_embedded
from .validation import ValidationReport, validate as validate_pair

SOURCES = ("embedded", "wright2019")
#: Split lengths of the real dataset (thesis: 5:42, 1:24, 1:04); checked with 5 % tolerance.
WRIGHT2019_DURATIONS_S = SPLIT_SECONDS
_DURATION_TOLERANCE = 0.05


def _is_builtin(source) -> bool:
    return isinstance(source, str) and source in SOURCES


def dataset_dir(source: str | os.PathLike, root: str | os.PathLike | None = None, *,
                scale: str = "full", seed: int = 0) -> Path:
    """The folder holding ``source``'s split folders (building the embedded set if needed)."""
    if source == "embedded":
        return Path(build_embedded(scale, seed, root))
    if source == "wright2019":
        return data_root(root) / "wright2019"
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"dataset source {str(source)!r} is neither one of {list(SOURCES)} nor an existing "
            "folder. A folder must hold {train,val,test}/<effect>-{input,target}.wav.")
    if not (folder / "train").is_dir() and (folder / "Data" / "train").is_dir():
        folder = folder / "Data"  # a clone of Alec-Wright/Automated-GuitarAmpModelling
    return folder


def pair_paths(folder: str | os.PathLike, effect: str, split: str) -> tuple[Path, Path]:
    """Paths of the input and target WAV of one split."""
    folder = Path(folder)
    return (folder / split / f"{effect}-input.wav", folder / split / f"{effect}-target.wav")


def check_effect(source, effect: str) -> None:
    """Refuse an effect name the source cannot have (built-in sets: ``EFFECTS``)."""
    if _is_builtin(source):
        if effect not in EFFECTS:
            raise DataError(f"effect {effect!r} is not in the {source} dataset; choose one of "
                            f"{list(EFFECTS)}")
    elif not effect or any(c in effect for c in "/\\") or effect.startswith("."):
        raise DataError(f"effect {effect!r}: expected a plain name such as 'muff' (the files are "
                        "<split>/<effect>-input.wav and <split>/<effect>-target.wav)")


def require_files(source, folder: Path, effect: str, splits) -> None:
    """Raise ``DataError`` naming every missing WAV of ``splits`` (and how to get them)."""
    missing = [p for s in splits for p in pair_paths(folder, effect, s) if not p.is_file()]
    if not missing:
        return
    listed = ", ".join(str(p.relative_to(folder)) for p in missing)
    if source == "wright2019":
        raise DataError(
            f"the real dataset is not in {folder} (missing: {listed}). Download it first with "
            "`python -m fxlib.data fetch` (or fxlib.data.fetch_wright2019(); needs internet), "
            "or use the embedded dataset: load('embedded', ...).")
    raise DataError(f"{folder}: missing {listed}. Expected the layout "
                    f"{{train,val,test}}/{effect}-{{input,target}}.wav (mono, 44.1 kHz).")


@renamed(device="effect")
def load_with_reports(source: str | os.PathLike, effect: str,
                      root: str | os.PathLike | None = None, *, scale: str = "full",
                      seed: int = 0, validate: bool = True, resample: bool = False,
                      downmix: bool = False, splits=SPLITS):
    """``load`` that also returns ``{split: ValidationReport}`` (empty when not validating)."""
    check_effect(source, effect)
    folder = dataset_dir(source, root, scale=scale, seed=seed)
    require_files(source, folder, effect, splits)
    label = source if _is_builtin(source) else str(folder)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    reports: dict[str, ValidationReport] = {}
    for split in splits:
        in_path, tg_path = pair_paths(folder, effect, split)
        x, sr = read_wav(in_path, resample=resample, downmix=downmix)
        y, _ = read_wav(tg_path, resample=resample, downmix=downmix)
        if validate:
            report = validate_pair(x, y, sr, name=f"{label}/{split}/{effect}")
            if source == "wright2019" and split in WRIGHT2019_DURATIONS_S:
                want = WRIGHT2019_DURATIONS_S[split]
                if abs(report.duration_s - want) > _DURATION_TOLERANCE * want:
                    report.warnings.append(
                        f"{label}/{split}/{effect}: {report.duration_s:.1f} s, but the published "
                        f"split is about {want:g} s; is this the pinned version of the data?")
                    report.ok = False
            for message in report.warnings:
                warnings.warn(message, DataWarning, stacklevel=3)
            reports[split] = report
        data[split] = (x, y)
    return data, reports


@renamed(device="effect")
def load(source: str | os.PathLike, effect: str, root: str | os.PathLike | None = None, *,
         scale: str = "full", seed: int = 0, validate: bool = True, resample: bool = False,
         downmix: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load all splits of a dataset as ``{"train"|"val"|"test": (input, target)}``.

    Arrays are mono float32 at 44.1 kHz. ``source`` is ``"embedded"``, ``"wright2019"`` or a
    folder path (see module docstring); ``effect`` is ``"muff"`` or ``"ht1"`` for the built-in
    sources and any file-name prefix for a folder. ``scale``/``seed`` select the embedded build.
    With ``validate`` each split is checked (``fxlib.data.validate``): errors raise
    ``DataError``, warnings are emitted as ``DataWarning``. ``resample`` converts files at
    other rates to 44.1 kHz and ``downmix`` averages multi-channel files (both errors otherwise).
    """
    check_data_access(f"fxlib.data.load({source!r}, {effect!r})")
    data, _ = load_with_reports(source, effect, root, scale=scale, seed=seed, validate=validate,
                                resample=resample, downmix=downmix)
    return data


__all__ = ["SPLITS", "EFFECTS", "DEVICES", "SOURCES", "SAMPLE_RATE", "load", "load_with_reports",
           "dataset_dir", "pair_paths", "check_effect", "require_files"]
