"""The errors and warnings of ``fxlib.data``, in a module of their own so that every other
module of the package (audio I/O, the data-access switch, validation, fetching) can import
them without importing each other."""
from __future__ import annotations


class DataError(ValueError):
    """Unusable data: the message says what is wrong, with which file, and how to fix it."""


class DataWarning(UserWarning):
    """Suspicious but usable data (clipping, misalignment); emitted via ``warnings.warn``."""


__all__ = ["DataError", "DataWarning"]
