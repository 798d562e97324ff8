"""The data-free (DF) distillation loop of a run: ``fxlib.kd.df.DFDistiller`` with checkpoints.

The student learns from the teacher and from noise only (Kang & Kang 2021; ``fxlib.kd.df``).
This loop is given no audio, and runs inside ``fxlib.data.forbid_data_access``, so any read
of a dataset from inside it (by this code, a callback, or a future edit) raises
``DataAccessError``: the run's data is loaded by ``fxlib.train.train`` only to name the run and
to evaluate the finished student, outside this section.

Consequences of "no data", documented in the run's history and metrics:

* no validation during training, so no best-by-validation selection: the run keeps the final
  student (selecting on validation audio would be using data). The validation loss of the final
  student is computed after training and stored in ``metrics.json`` with the test metrics;
* "epoch" means ``df_log_every`` outer iterations: the unit of the history, the progress bar,
  the callback and the checkpoint (and of ``max_epochs_this_call``).

Generated segments: ``df_segment_length`` samples (4096, a CAFx frame, so every family pair
works, B -> A included). An RNN teacher or student processes each segment from the zero state
with no warm-up (``fxlib.kd.df`` module notes); a CAFx model uses ``forward_frames``.
Input space: the teacher's. A ``std`` teacher's student is a ``std`` model with the teacher's
standardiser (x_p ~ N(0, 1)); a raw-audio teacher (Wright JSON, or a plain run) gets
``input_scale`` = ``fxlib.kd.df.RAW_INPUT_SCALE`` unless the run's ``kd`` options say otherwise.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Optional

import torch

from ..data.access import forbid_data_access
from ..kd.df import DFDistiller, Generator
from ..models import build_model
from .fit import CHECKPOINT_FORMAT, FitResult, save_torch
from .seeding import rng_states, seed_everything, set_rng_states
from .teacher import Teacher


def fit_data_free(*, model_name: str, family: str, hp: dict, kd: dict, seed: int, path: Path,
                  teacher: Teacher, device: torch.device, show: bool,
                  callback: Optional[Callable[[int, dict], None]] = None,
                  max_epochs_this_call: Optional[int] = None) -> FitResult:
    """Distil ``teacher`` into a fresh ``model_name`` without data; see module notes."""
    from tqdm.auto import tqdm

    seed_everything(seed)
    student = build_model(model_name).to(device)
    seg = hp["segment_length"]
    for who, fam, m in (("student", family, student), ("teacher", teacher.family, teacher.model)):
        if fam == "cafx" and seg != m.frame_length:
            raise ValueError(f"DF with a CAFx {who} needs df_segment_length = "
                             f"{m.frame_length} (one frame), got {seg}")
    generator = Generator(seg, input_scale=kd["input_scale"]).to(device)
    distiller = DFDistiller(
        teacher.segment_fn(), student if family == "rnn" else student.forward_frames, generator,
        total_iterations=hp["iterations"], batch_size=hp["batch"],
        n_student_steps=hp["n_student_steps"], beta=kd["beta"], gamma=kd["gamma"],
        lr=hp["lr"], seed=seed, student_parameters=student.parameters())

    ckpt_path = path / "checkpoint.pt"
    status = "trained"
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        student.load_state_dict(ck["model"])
        generator.load_state_dict(ck["generator"])
        distiller.g_optimizer.load_state_dict(ck["g_optimizer"])
        distiller.s_optimizer.load_state_dict(ck["s_optimizer"])
        distiller.rng.set_state(ck["noise_rng"])
        distiller.iteration = ck["iteration"]
        set_rng_states(ck["rng"])
        epoch, history = ck["epoch"], ck["history"]
        status = "resumed"
    else:
        epoch = 0
        history = {"epoch": [], "iteration": [], "train_loss": [], "generator_loss": [],
                   "alpha": [], "epoch_time_s": [], "val_epoch": [], "val_loss": []}

    def checkpoint():
        save_torch({"format": CHECKPOINT_FORMAT, "model": student.state_dict(),
                    "generator": generator.state_dict(),
                    "g_optimizer": distiller.g_optimizer.state_dict(),
                    "s_optimizer": distiller.s_optimizer.state_dict(),
                    "noise_rng": distiller.rng.get_state(), "iteration": distiller.iteration,
                    "rng": rng_states(), "epoch": epoch, "history": history}, ckpt_path)

    if status == "trained":
        checkpoint()
    n_epochs = math.ceil(hp["iterations"] / hp["log_every"])
    bar = tqdm(total=n_epochs, initial=epoch, disable=not show, unit="block",
               desc=path.name, dynamic_ncols=True)
    done_this_call = 0
    try:
        with forbid_data_access(f"data-free distillation (run {path.name})"):
            while epoch < n_epochs:
                if max_epochs_this_call is not None and done_this_call >= max_epochs_this_call:
                    return FitResult(student, history, math.nan, epoch, epoch, "partial")
                epoch += 1
                t0 = time.perf_counter()
                todo = min(hp["log_every"], hp["iterations"] - distiller.iteration)
                records = distiller.run(todo)
                history["epoch"].append(epoch)
                history["iteration"].append(distiller.iteration)
                history["train_loss"].append(sum(r["student_loss"] for r in records) / todo)
                history["generator_loss"].append(
                    sum(r["generator_loss"] for r in records) / todo)
                history["alpha"].append(records[-1]["alpha"])
                history["epoch_time_s"].append(time.perf_counter() - t0)
                checkpoint()
                bar.set_postfix({"student": f"{history['train_loss'][-1]:.4g}",
                                 "generator": f"{history['generator_loss'][-1]:.4g}"})
                bar.update(1)
                done_this_call += 1
                if callback is not None:
                    callback(epoch, history)
    finally:
        bar.close()
    student.eval()
    return FitResult(student, history, math.nan, epoch, epoch, status)


__all__ = ["fit_data_free"]
