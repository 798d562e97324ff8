"""Seeds and RNG states: what makes a run repeatable and a resumed run identical.

``seed_everything`` seeds Python, NumPy's legacy global RNG and torch (CPU and every CUDA
device). ``rng_states`` / ``set_rng_states`` capture and restore all of them, so a checkpoint
taken mid-run resumes with exactly the random numbers the uninterrupted run would have drawn.
Per-epoch shuffling does not use these global states: it is drawn from
``numpy.random.default_rng([seed, epoch])`` (``fxlib.train.supervised``), independent of history.
"""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_states() -> dict:
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


__all__ = ["seed_everything", "rng_states", "set_rng_states"]
