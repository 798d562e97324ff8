"""The one training skeleton: epochs, checkpoints, exact resume, progress, partial runs.

Supervised training (scratch, TOR; ``fxlib.train.supervised``) and data-free distillation
(``fxlib.train.data_free``) differ only in what one epoch does. Each is a *task* with:

* ``n_epochs``; ``unit`` (the progress bar's word for an epoch);
* ``start()``: set up a fresh run (e.g. validate the untrained model, epoch 0);
* ``run_epoch(epoch) -> (checkpoint_now, postfix)``: train one epoch, append to ``history``;
* ``state_dict()`` / ``load_state_dict(state)``: everything but the loop's own entries;
* ``result(epoch, status) -> FitResult``: the model the run keeps;
* ``stopped() -> bool``: the task has reached its stopping criterion before ``n_epochs``
  (supervised runs: a validation plateau, ``plateau_reached``); read from the history, so a
  resumed run stops where an uninterrupted one would;
* ``history``: the dict that ``history.json`` receives; its ``train_loss`` list is checked
  after every epoch: a loss that is NaN or infinite stops the run with ``TrainingDiverged``
  (before it is checkpointed: the last checkpoint keeps the last finite state).

``run_loop`` seeds Python/NumPy/torch from the run's seed *before* the task is built (so the
model's initial weights come from the seed), resumes from ``checkpoint.pt`` when there is one
(the task's state, every RNG state, the epoch and the history) or starts fresh and writes the
first checkpoint, then runs epochs until ``n_epochs``. It checkpoints atomically whenever the
task asks (supervised runs: at every validation) and, between those, after any epoch that ends
``CHECKPOINT_EVERY_S`` seconds or more after the last checkpoint, so an interrupted run (a
Colab disconnect) loses at most that much training plus one epoch. It calls
``callback(epoch, history)`` after every epoch (an exception stops training; the last
checkpoint stays and the next call resumes), and returns a "partial" result after
``max_epochs_this_call`` epochs. A resumed run ends with exactly the weights an uninterrupted
one would have had (tested on CPU). ``guard`` wraps the epochs (DF: ``forbid_data_access``).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Optional

import torch
from tqdm.auto import tqdm

from .._atomic import atomic_path
from .runs import RunError
from .seeding import rng_states, seed_everything, set_rng_states

CHECKPOINT_FORMAT = 1
CHECKPOINT = "checkpoint.pt"
#: Checkpoint after an epoch when the last checkpoint is at least this old (seconds), whether or
#: not the task asked: what an interruption can cost at most, beyond the epoch in progress
#: (docs/colab.md). Resuming from any epoch's checkpoint gives the weights of an uninterrupted
#: run, so the time-dependent moments of these checkpoints change no result.
CHECKPOINT_EVERY_S = 120.0
#: Progress bars redraw at most this often (seconds): Colab's page freezes under fast updates.
PROGRESS_INTERVAL_S = 0.5


def plateau_reached(val_losses, patience: Optional[int], min_rel: float) -> bool:
    """The stopping criterion of supervised runs: True when none of the last ``patience``
    validation losses improved on the best one before them by more than ``min_rel``
    (relative: below ``best * (1 - min_rel)``). ``patience`` None: never (fixed epochs). The
    first entry is the untrained model's (epoch 0)."""
    if patience is None or len(val_losses) <= patience:
        return False
    best_before = min(val_losses[:-patience])
    return min(val_losses[-patience:]) >= best_before * (1.0 - min_rel)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite: the run cannot finish as configured."""


@dataclass
class FitResult:
    model: torch.nn.Module        # holding the weights the run keeps
    history: dict
    best_val: float               # NaN when the loop did not validate (DF)
    best_epoch: int
    epochs: int
    status: str                   # "trained" | "resumed" | "partial"
    plateaued: Optional[bool] = None   # stopped at the plateau criterion (None: not assessed)


def save_torch(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: never a half-written file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def progress_enabled(progress: Optional[bool]) -> bool:
    """Explicit choice wins; else off under ``CI``; else on in a TTY or a notebook kernel."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    ipython = sys.modules.get("IPython")       # a notebook kernel has imported it already
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        return True
    return sys.stderr.isatty()


def run_loop(make_task: Callable[[], object], *, path: Path, seed: int, device: torch.device,
             show: bool, callback: Optional[Callable[[int, dict], None]] = None,
             max_epochs_this_call: Optional[int] = None,
             guard: Optional[ContextManager] = None) -> FitResult:
    """Train the task ``make_task()`` builds (after seeding) in ``path``; see module notes."""
    seed_everything(seed)
    task = make_task()
    ckpt_path = path / CHECKPOINT
    if ckpt_path.is_file():
        try:
            ck = torch.load(ckpt_path, map_location=device, weights_only=False)
            task.load_state_dict(ck)
            set_rng_states(ck["rng"])
            epoch, task.history, status = ck["epoch"], ck["history"], "resumed"
        except Exception as err:          # truncated, empty, of another model: not resumable
            raise RunError(f"{ckpt_path}: the checkpoint of this unfinished run cannot be "
                           f"resumed ({type(err).__name__}: {err}); rerun with --force (or "
                           f"train(..., force=True)) to train it from the start, or delete "
                           f"{path}") from None
    else:
        task.start()
        epoch, status = 0, "trained"

    last_save = time.monotonic()

    def checkpoint():
        nonlocal last_save
        save_torch({"format": CHECKPOINT_FORMAT, **task.state_dict(), "rng": rng_states(),
                    "epoch": epoch, "history": task.history}, ckpt_path)
        last_save = time.monotonic()

    if status == "trained":
        checkpoint()
    bar = tqdm(total=task.n_epochs, initial=epoch, disable=not show, unit=task.unit,
               desc=path.name, dynamic_ncols=True, mininterval=PROGRESS_INTERVAL_S)
    done_this_call = 0
    try:
        with guard if guard is not None else contextlib.nullcontext():
            while epoch < task.n_epochs and not task.stopped():
                if max_epochs_this_call is not None and done_this_call >= max_epochs_this_call:
                    return task.result(epoch, "partial")
                epoch += 1
                save_now, postfix = task.run_epoch(epoch)
                loss = task.history["train_loss"][-1]
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"run {path.name}: the training loss became {loss} in epoch {epoch}; "
                        "the run stops here (its last checkpoint is from before). Check the "
                        "data (fxlib.data.validate) and the profile's learning rate")
                if save_now or time.monotonic() - last_save >= CHECKPOINT_EVERY_S:
                    checkpoint()
                bar.set_postfix(postfix)
                bar.update(1)
                done_this_call += 1
                if callback is not None:
                    callback(epoch, task.history)
    finally:
        bar.close()
    return task.result(epoch, status)


__all__ = ["TrainingDiverged", "FitResult", "run_loop", "plateau_reached", "save_torch",
           "progress_enabled", "CHECKPOINT", "CHECKPOINT_FORMAT", "CHECKPOINT_EVERY_S",
           "PROGRESS_INTERVAL_S"]
