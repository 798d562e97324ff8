"""Old names of renamed keyword arguments, kept working (with a ``DeprecationWarning``).

Two user-facing names changed meaning-by-meaning (README, "Renamed"):

* ``device`` -> ``effect``: the audio effect (``"muff"``, ``"ht1"``, a file prefix). In a PyTorch
  library "device" reads as the torch device, which fxlib calls ``compute``.
* ``std`` -> ``standardize``: train on standardised inputs. ``std`` stays what it is everywhere
  else, a standard deviation (``Standardizer.std``).

``renamed(device="effect")`` wraps a function (or a dataclass ``__init__``) so that the old
keyword still works (``None`` counts as not given), warns, and is refused together with the
new one.
"""
from __future__ import annotations

import functools
import warnings


def renamed(**old_to_new: str):
    """Decorator: accept each old keyword as its new name (see module notes)."""

    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs and kwargs[old] is None:    # the old name left unset
                    del kwargs[old]
                elif old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__qualname__}: give {new}= only ({old}= is its "
                                        "old name)")
                    warnings.warn(f"{fn.__qualname__}: {old}= is now {new}=", DeprecationWarning,
                                  stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return call

    return wrap


__all__ = ["renamed"]
