"""Data-free (DF) distillation as a task of the shared loop (``fxlib.train.loop``).

The student learns from the teacher and from noise only (Kang & Kang 2021; ``fxlib.kd.df``,
docs/kd.md, section 'DF'). This task is given no audio, and the loop runs it inside
``fxlib.data.forbid_data_access``, so any read of a dataset from inside it (by this code, a
callback, or a future edit) raises ``DataAccessError``: ``fxlib.train.train`` loads the run's
data only to name the run and to evaluate the finished student, outside that section.

Consequences of "no data", recorded in the run's history and metrics:

* no validation during training, so no best-by-validation selection: the run keeps the final
  student (selecting on validation audio would be using data); the validation loss of the final
  student is computed after training and stored in ``metrics.json`` with the test metrics;
* "epoch" means ``log_every`` outer iterations: the unit of the history, the progress bar,
  the callback, the checkpoint and ``max_epochs_this_call``.

Generated segments have ``segment_length`` samples (4096, a CAFx frame, so every family pair
works, B -> A included); each model family says how it takes them (``segment_fn``). Input
space: the teacher's (``fxlib.train.trainer`` resolves the std flag and ``input_scale``).
"""
from __future__ import annotations

import math
import time

import torch

from ..kd.df import DFDistiller, Generator
from ..models import build_model
from ..profiles import DataFreeSettings
from .loop import FitResult
from .teacher import Teacher


class DataFreeTask:
    """Distil ``teacher`` into a fresh ``model_name`` without data (module notes)."""
    unit = "block"

    def __init__(self, model_name: str, family, settings: DataFreeSettings, *, seed: int,
                 teacher: Teacher, kd: dict, device: torch.device):
        self.settings = settings
        self.student = build_model(model_name).to(device)
        seg = settings.segment_length
        family.check_segment(self.student, seg, "student")
        teacher.family.check_segment(teacher.model, seg, "teacher")
        self.generator = Generator(seg, input_scale=kd["input_scale"]).to(device)
        self.distiller = DFDistiller(
            teacher.segment_fn(), family.segment_fn(self.student), self.generator,
            total_iterations=settings.iterations, batch_size=settings.batch,
            n_student_steps=settings.n_student_steps, beta=kd["beta"], gamma=kd["gamma"],
            lr=settings.lr, seed=seed, student_parameters=self.student.parameters())
        self.n_epochs = settings.n_epochs
        self.history: dict = {}

    def start(self) -> None:
        self.history = {"epoch": [], "iteration": [], "train_loss": [], "generator_loss": [],
                        "alpha": [], "epoch_time_s": [], "val_epoch": [], "val_loss": []}

    def run_epoch(self, epoch: int) -> tuple[bool, dict]:
        t0 = time.perf_counter()
        d, h = self.distiller, self.history
        todo = min(self.settings.log_every, self.settings.iterations - d.iteration)
        records = d.run(todo)
        h["epoch"].append(epoch)
        h["iteration"].append(d.iteration)
        h["train_loss"].append(sum(r["student_loss"] for r in records) / todo)
        h["generator_loss"].append(sum(r["generator_loss"] for r in records) / todo)
        h["alpha"].append(records[-1]["alpha"])
        h["epoch_time_s"].append(time.perf_counter() - t0)
        return True, {"student": f"{h['train_loss'][-1]:.4g}",
                      "generator": f"{h['generator_loss'][-1]:.4g}"}

    def stopped(self) -> bool:
        """A DF run always does its iterations (it does not validate while training)."""
        return False

    def state_dict(self) -> dict:
        d = self.distiller
        return {"model": self.student.state_dict(), "generator": self.generator.state_dict(),
                "g_optimizer": d.g_optimizer.state_dict(),
                "s_optimizer": d.s_optimizer.state_dict(), "noise_rng": d.rng.get_state(),
                "iteration": d.iteration}

    def load_state_dict(self, state: dict) -> None:
        d = self.distiller
        self.student.load_state_dict(state["model"])
        self.generator.load_state_dict(state["generator"])
        d.g_optimizer.load_state_dict(state["g_optimizer"])
        d.s_optimizer.load_state_dict(state["s_optimizer"])
        d.rng.set_state(state["noise_rng"])
        d.iteration = state["iteration"]

    def result(self, epoch: int, status: str) -> FitResult:
        if status != "partial":
            self.student.eval()
        return FitResult(self.student, self.history, math.nan, epoch, epoch, status)


__all__ = ["DataFreeTask"]
