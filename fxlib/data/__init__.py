"""Datasets of fxlib: the embedded (synthesised) set, the real Wright et al. 2019 recordings,
and any folder of a user's own recordings, all in one layout and behind one ``load``.

    from fxlib.data import load
    splits = load("embedded", "muff")           # effect "muff": {split: (input, target)}

Command line: ``python -m fxlib.data build`` / ``fetch`` / ``check`` (see ``--help``).
"""
from .access import DataAccessError, check_data_access, forbid_data_access
from .audio import SAMPLE_RATE, read_wav, write_wav
from .errors import DataError, DataWarning
from .embedded import build_embedded
from .fetch import (DEFAULT_BASE_URL, WRIGHT2019_COMMIT, ChecksumError, DownloadError,
                    fetch_wright2019, fetch_wright2019_pretrained, git_blob_sha1)
from .loader import DEVICES, EFFECTS, SOURCES, SPLITS, dataset_dir, load
from .standardize import Standardizer, standardizer_for
from .validation import ValidationReport, validate

__all__ = [
    "build_embedded", "fetch_wright2019", "fetch_wright2019_pretrained", "load", "validate",
    "read_wav", "write_wav", "ValidationReport", "DataError", "DataWarning", "DownloadError",
    "ChecksumError", "Standardizer", "standardizer_for", "git_blob_sha1", "dataset_dir",
    "DataAccessError", "forbid_data_access", "check_data_access", "SPLITS", "EFFECTS", "DEVICES", "SOURCES", "SAMPLE_RATE", "DEFAULT_BASE_URL", "WRIGHT2019_COMMIT",
]
