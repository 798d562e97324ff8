"""Shared fixtures. Files from ``../shared`` (beside the checkout) are used when present;
tests that need them skip with a reason in a user's fresh clone, where it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FXLIB_SHARED", REPO.parent / "shared"))
PRETRAINED = SHARED / "external" / "wright2019-pretrained"


@pytest.fixture
def pretrained_dir() -> Path:
    if not PRETRAINED.is_dir():
        pytest.skip(f"{PRETRAINED} is absent: the Wright et al. pretrained models are only "
                    "provided beside the checkout on the project's CI machines "
                    "(or set FXLIB_SHARED)")
    return PRETRAINED


# One thread: per-sample recurrent ops are too small to gain from threads, and a 2-core CI
# machine shared with other work makes multi-threaded runs erratic.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
