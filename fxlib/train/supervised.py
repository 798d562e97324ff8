"""Supervised training (scratch and TOR) as a task of the shared loop (``fxlib.train.loop``).

One epoch is the model family's (``fxlib.models.family``): truncated BPTT over segments for
B/C, mini-batches of frames for A/Av2, with Adam. A fresh run first validates the untrained
model (epoch 0), so "best by validation" can never be worse than the initialisation; then every
``val_every`` epochs (and at the last) it validates on the validation signal, keeps the best
weights and checkpoints. With the profile's ``plateau_patience`` set, it stops early once the
validation loss has plateaued (``fxlib.train.loop.plateau_reached``); ``epochs`` is then the
ceiling. Per-epoch shuffling is drawn from ``numpy.random.default_rng([seed,
epoch])``, independent of history, so a resumed run draws what an uninterrupted one would.

With a teacher (TOR) ``teacher_train`` is the teacher's output on the whole training signal
(``fxlib.train.teacher``), cut into the same segments / frames as the target, and ``loss_fn``
takes ``(output, target, teacher_output)``.
"""
from __future__ import annotations

import copy
import time
from typing import Callable, Optional

import numpy as np
import torch

from ..models import build_model
from ..profiles import SupervisedSettings
from .loop import FitResult, plateau_reached


class SupervisedTask:
    """Scratch / TOR training of ``model_name`` on ``tensors`` (module notes)."""
    unit = "epoch"

    def __init__(self, model_name: str, family, settings: SupervisedSettings, *, seed: int,
                 tensors: dict, device: torch.device, loss_fn: Callable, chunk: int,
                 teacher_train: Optional[torch.Tensor] = None):
        self.family, self.settings, self.seed = family, settings, seed
        self.tensors, self.loss_fn, self.chunk = tensors, loss_fn, chunk
        self.model = build_model(model_name).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr)
        x_tr, y_tr = tensors["train"]
        self.items = family.cut(x_tr, y_tr, settings)
        self.t_items = (family.cut(teacher_train, y_tr, settings)[0]
                        if teacher_train is not None else None)
        self.n_epochs = settings.n_epochs
        self.history: dict = {}
        self.best_val, self.best_epoch, self.best_state = float("nan"), 0, None

    def validation_loss(self) -> float:
        x, y = self.tensors["val"]
        return self.family.validation_loss(self.model, x, y, self.settings, self.chunk)

    def start(self) -> None:
        self.history = {"epoch": [], "train_loss": [], "epoch_time_s": [],
                        "val_epoch": [], "val_loss": []}
        self.best_val = self.validation_loss()                 # the untrained model
        self.best_epoch, self.best_state = 0, copy.deepcopy(self.model.state_dict())
        self.history["val_epoch"].append(0)
        self.history["val_loss"].append(self.best_val)

    def run_epoch(self, epoch: int) -> tuple[bool, dict]:
        t0 = time.perf_counter()
        train_loss = self.family.train_epoch(
            self.model, self.optimizer, *self.items, self.settings,
            rng=np.random.default_rng([self.seed, epoch]), loss_fn=self.loss_fn,
            t_items=self.t_items)
        h = self.history
        h["epoch"].append(epoch)
        h["train_loss"].append(train_loss)
        h["epoch_time_s"].append(time.perf_counter() - t0)
        validate = epoch % self.settings.val_every == 0 or epoch == self.n_epochs
        if validate:
            val = self.validation_loss()
            h["val_epoch"].append(epoch)
            h["val_loss"].append(val)
            if val < self.best_val:
                self.best_val, self.best_epoch = val, epoch
                self.best_state = copy.deepcopy(self.model.state_dict())
        return validate, {"train": f"{train_loss:.4g}", "val": f"{h['val_loss'][-1]:.4g}",
                          "best": f"{self.best_val:.4g}"}

    def stopped(self) -> bool:
        """The validation loss has plateaued (``plateau_reached``; off unless the profile sets
        ``plateau_patience``)."""
        s = self.settings
        return plateau_reached(self.history.get("val_loss", []), s.plateau_patience,
                               s.plateau_min_rel)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "best_val": self.best_val, "best_epoch": self.best_epoch,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.best_val, self.best_epoch = state["best_val"], state["best_epoch"]
        self.best_state = state["best_state"]

    def result(self, epoch: int, status: str) -> FitResult:
        if status != "partial":
            self.model.load_state_dict(self.best_state)      # the weights the run keeps
        plateaued = None if self.settings.plateau_patience is None else self.stopped()
        return FitResult(self.model, self.history, self.best_val, self.best_epoch, epoch,
                         status, plateaued)


__all__ = ["SupervisedTask"]
