"""The supervised training loop (scratch and TOR): epochs, validation, checkpoints, resume.

One loop for both families; the per-epoch step is ``fxlib.train.rnn.train_epoch`` (B/C, TBPTT)
or ``fxlib.train.cafx.train_epoch`` (A/Av2, frames). What it does, in order:

1. seed Python/NumPy/torch from the run's seed and build the model and Adam;
2. either resume from ``checkpoint.pt`` (model, optimiser, every RNG state, epoch, history,
   best-so-far) or validate the untrained model (epoch 0, so "best by validation" can never be
   worse than the initialisation) and write the first checkpoint;
3. per epoch: shuffle from ``(seed, epoch)``, train, and every ``val_every`` epochs (and at the
   last) validate, keep the best weights, checkpoint atomically;
4. return the model holding the best-by-validation weights.

With a teacher (TOR), ``teacher_train`` is the teacher's output on the training audio, cut into
the same segments / frames as the target, and ``loss_fn`` takes ``(output, target, teacher)``.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .._atomic import atomic_path
from ..losses import LOSSES
from ..models import build_model
from . import cafx as _cafx
from . import rnn as _rnn
from .seeding import rng_states, seed_everything, set_rng_states

CHECKPOINT_FORMAT = 1


@dataclass
class FitResult:
    model: torch.nn.Module        # holding the weights the run keeps (best by validation)
    history: dict
    best_val: float
    best_epoch: int
    epochs: int
    status: str                   # "trained" | "resumed" | "partial"


def save_torch(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def evaluate(model, family: str, hp: dict, x: torch.Tensor) -> torch.Tensor:
    """Whole-signal output, as at inference (RNN stateful in chunks; CAFx overlap-add)."""
    if family == "rnn":
        return _rnn.predict(model, x, hp["val_chunk"])
    return _cafx.predict(model, x)


def val_loss(model, family: str, hp: dict, pair) -> float:
    """The family's training loss on the validation signal (its first ``val_max_samples``)."""
    x, y = pair
    if hp.get("val_max_samples"):
        x, y = x[:hp["val_max_samples"]], y[:hp["val_max_samples"]]
    return float(LOSSES[hp["loss"]](evaluate(model, family, hp, x), y))


def cut_items(family: str, hp: dict, x: torch.Tensor, y: torch.Tensor):
    """Training items: (segments or frames of x, the same of y)."""
    if family == "rnn":
        return _rnn.make_segments(x, y, hp["segment_length"])
    return _cafx.make_frames(x, y, hp["frame_length"], hp["hop"])


def fit_supervised(*, model_name: str, family: str, hp: dict, seed: int, path: Path,
                   tensors: dict, device: torch.device, show: bool, loss_fn: Callable,
                   teacher_train: Optional[torch.Tensor] = None,
                   callback: Optional[Callable[[int, dict], None]] = None,
                   max_epochs_this_call: Optional[int] = None) -> FitResult:
    from tqdm.auto import tqdm

    seed_everything(seed)
    model = build_model(model_name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    x_tr, y_tr = tensors["train"]
    items = cut_items(family, hp, x_tr, y_tr)
    t_items = cut_items(family, hp, teacher_train, y_tr)[0] if teacher_train is not None else None

    ckpt_path = path / "checkpoint.pt"
    status = "trained"
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        set_rng_states(ck["rng"])
        epoch, history = ck["epoch"], ck["history"]
        best_val, best_epoch, best_state = ck["best_val"], ck["best_epoch"], ck["best_state"]
        status = "resumed"
    else:
        epoch = 0
        history = {"epoch": [], "train_loss": [], "epoch_time_s": [],
                   "val_epoch": [], "val_loss": []}
        best_val = val_loss(model, family, hp, tensors["val"])    # the untrained model
        best_epoch, best_state = 0, copy.deepcopy(model.state_dict())
        history["val_epoch"].append(0)
        history["val_loss"].append(best_val)

    def checkpoint():
        save_torch({"format": CHECKPOINT_FORMAT, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "rng": rng_states(), "epoch": epoch,
                    "history": history, "best_val": best_val, "best_epoch": best_epoch,
                    "best_state": best_state}, ckpt_path)

    if status == "trained":
        checkpoint()

    n_epochs = hp["epochs"]
    bar = tqdm(total=n_epochs, initial=epoch, disable=not show, unit="epoch",
               desc=path.name, dynamic_ncols=True)
    done_this_call = 0
    try:
        while epoch < n_epochs:
            if max_epochs_this_call is not None and done_this_call >= max_epochs_this_call:
                return FitResult(model, history, best_val, best_epoch, epoch, "partial")
            epoch += 1
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, epoch])
            if family == "rnn":
                train_loss = _rnn.train_epoch(
                    model, optimizer, *items, batch=hp["batch"], init_len=hp["init_len"],
                    tbptt=hp["tbptt"], rng=rng, max_batches=hp["max_train_batches"],
                    loss_fn=loss_fn, t_seg=t_items)
            else:
                train_loss = _cafx.train_epoch(
                    model, optimizer, *items, batch=hp["batch"], rng=rng,
                    max_batches=hp["max_train_batches"], loss_fn=loss_fn, t_frames=t_items)
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["epoch_time_s"].append(time.perf_counter() - t0)
            postfix = {"train": f"{train_loss:.4g}"}
            if epoch % hp["val_every"] == 0 or epoch == n_epochs:
                val = val_loss(model, family, hp, tensors["val"])
                history["val_epoch"].append(epoch)
                history["val_loss"].append(val)
                if val < best_val:
                    best_val, best_epoch = val, epoch
                    best_state = copy.deepcopy(model.state_dict())
                checkpoint()
            postfix.update(val=f"{history['val_loss'][-1]:.4g}", best=f"{best_val:.4g}")
            bar.set_postfix(postfix)
            bar.update(1)
            done_this_call += 1
            if callback is not None:
                callback(epoch, history)
    finally:
        bar.close()
    model.load_state_dict(best_state)
    return FitResult(model, history, best_val, best_epoch, epoch, status)


__all__ = ["FitResult", "fit_supervised", "evaluate", "val_loss", "cut_items", "save_torch"]
