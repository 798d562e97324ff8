"""A switch that makes every dataset read fail: how data-free training proves it is data-free.

Data-free distillation (``fxlib.kd.df``, ``fxlib.train.data_free``) must not see the training audio.
Not passing the arrays is the first guard; this module is the second: inside
``forbid_data_access("...")`` every entry point of ``fxlib.data`` that reads or builds audio
(``read_wav``, ``load``, ``build_embedded``, ``standardizer_for``) raises ``DataAccessError``
instead. A thread-local flag, so a forbidden section in one thread does not block another.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

from .errors import DataError

_state = threading.local()


class DataAccessError(DataError):
    """A dataset was read inside a ``forbid_data_access`` section (e.g. data-free training)."""


def data_access_forbidden() -> str | None:
    """The reason given to the innermost active ``forbid_data_access``, or None."""
    stack = getattr(_state, "reasons", None)
    return stack[-1] if stack else None


def check_data_access(what: str) -> None:
    """Raise ``DataAccessError`` if reading data is forbidden here; ``what`` names the read."""
    reason = data_access_forbidden()
    if reason is not None:
        raise DataAccessError(f"{what}: reading the dataset is forbidden during {reason}. "
                              "Data-free training may only use the teacher, the student and "
                              "noise; evaluate on data after training, outside this section.")


@contextmanager
def forbid_data_access(reason: str):
    """Within the ``with`` block every fxlib.data read raises ``DataAccessError``."""
    stack = getattr(_state, "reasons", None)
    if stack is None:
        stack = _state.reasons = []
    stack.append(reason)
    try:
        yield
    finally:
        stack.pop()


__all__ = ["DataAccessError", "forbid_data_access", "check_data_access", "data_access_forbidden"]
