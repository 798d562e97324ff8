"""``train(config) -> Run``: reuse, resume or train one run, then test it.

In order: check the config; load the teacher (TOR, DF) and, for DF, move the run into the
teacher's input space; derive the typed settings; load the data (or take the ``TrainingData``
given) and name the run by its identity (``fxlib.train.runs``); return a complete run as it is,
or resume / start it through the shared loop (``fxlib.train.loop``) with the supervised or the
data-free task; finally test the kept weights on the whole test file and write ``model.pt``,
``history.json`` and ``metrics.json`` (last: its presence marks completion).

``train`` is idempotent: a complete run is returned as is unless ``force=True``; an incomplete
one resumes from its checkpoint and ends with exactly the weights an uninterrupted run would
have had. A DF run works in its teacher's input space, so its std flag is the teacher's.
"""
from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .._atomic import write_json
from ..data import forbid_data_access
from ..kd import df as kd_df
from ..kd import tor as kd_tor
from ..losses import LOSSES, esr, esr_dc, mae
from ..paths import runs_root
from .config import TrainConfig
from .data_free import DataFreeTask
from .dataset import TrainingData, load_training_data
from .loop import CHECKPOINT, FitResult, progress_enabled, run_loop, save_torch
from .runs import (MissingRun, Run, RunError, identity_hash, is_complete, load_run,
                   read_json, remove_stale_parts, resolve_compute, run_identity, run_lock,
                   run_name, weights_sha256)
from .supervised import SupervisedTask
from .teacher import Teacher, TeacherError, load_teacher, teacher_outputs

#: Under the runs root: cached TOR teacher outputs (``fxlib.train.teacher``).
TEACHER_CACHE = "_teacher_outputs"

#: Torch threads of a CPU training when none are asked for. The thread count changes a CPU
#: training's float32 rounding, so one fixed default makes the same seed and profile give the
#: same numbers on every machine and with any number of grid jobs; and these small models train
#: barely faster with more threads. Both measured: docs/benchmarks.md, section 'Run grid'.
CPU_THREADS = 1

# glibc's malloc: blocks up to this size come from the heap, and free memory is returned to the
# system only above the trim threshold. By default a freed multi-MB block (a TBPTT update's
# hidden states and their gradient) goes back to the system and the next update faults its
# pages in again: ~2,000 page faults and ~3 ms of system time per update of a 64-unit model
# at batch 8, about a tenth of the update (docs/benchmarks.md, section 'Training throughput').
_MALLOC_MMAP_THRESHOLD = 256 << 20
_MALLOC_TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Let this process's glibc malloc reuse freed blocks of up to 256 MB instead of unmapping
    them (``mallopt``; a process-wide setting, made once a CPU training starts). Numbers are
    unchanged; only page faults go. False where there is no glibc (macOS, Windows, musl)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, _MALLOC_MMAP_THRESHOLD)       # M_MMAP_THRESHOLD
                    and libc.mallopt(-1, _MALLOC_TRIM_THRESHOLD))  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return False


def _data_free_space(config: TrainConfig, teacher: Teacher, kd: dict) -> TrainConfig:
    """A DF run lives in its teacher's input space: std flag and input scale follow it."""
    if config.standardize and not teacher.standardized:
        raise ValueError(f"standardize=True but teacher {teacher.id} was trained on raw audio: "
                         "a DF student works in its teacher's input space; drop --standardize, "
                         "or use a teacher trained with --standardize")
    if kd["input_scale"] is None:
        kd["input_scale"] = 1.0 if teacher.standardized else kd_df.RAW_INPUT_SCALE
    return dataclasses.replace(config, standardize=teacher.standardized)


def _training_data(config: TrainConfig, scale: str, data) -> TrainingData:
    """``data``: None (load ``config.source``), a ``TrainingData``, or a dict of arrays."""
    if isinstance(data, TrainingData):
        if not data.matches(config.source, config.effect, scale, config.data_seed):
            raise ValueError(f"the TrainingData given ({data.desc['source']}/{data.effect}) "
                             f"is not the config's ({config.source}/{config.effect}, scale "
                             f"{scale})")
        return data
    return load_training_data(config.source, config.effect, config.data_root, scale=scale,
                              data_seed=config.data_seed, arrays=data,
                              resample=config.resample, downmix=config.downmix)


def train(config: TrainConfig, *, runs: str | os.PathLike | None = None, force: bool = False,
          compute: str = "auto", threads: Optional[int] = None,
          progress: Optional[bool] = None, data=None,
          callback: Optional[Callable[[int, dict], None]] = None,
          max_epochs_this_call: Optional[int] = None, reuse_only: bool = False) -> Run:
    """Train (or reuse, or resume) the run described by ``config``; return it.

    ``runs``: the runs root (default ``fxlib.paths.runs_root()``). ``force``: retrain from
    scratch even if a complete or partial run exists. ``compute``: "auto" | "cpu" | "cuda"...
    ``threads``: torch threads while this call trains (None: ``CPU_THREADS`` on a CPU, torch's
    own count on a GPU; the count before the call is restored). ``progress``: tqdm bar (None =
    automatic: off when
    ``CI`` is set or output is neither a terminal nor a notebook). ``data``: splits as
    ``{"train"|"val"|"test": (input, target)}`` arrays, or a ``TrainingData`` (loaded once and
    shared between runs), instead of loading ``config.source``. ``callback(epoch, history)``
    after every epoch (an exception stops training; the next call resumes).
    ``max_epochs_this_call``: stop after that many epochs, leaving the run incomplete (the
    ``Run`` has ``status="partial"`` and empty metrics). ``reuse_only``: never train; a run
    that is not complete raises ``MissingRun``, a ``RunError`` (figures from saved runs).
    """
    config.check()
    kd = config.kd_options()
    dev = resolve_compute(compute)
    n = int(threads) if threads is not None else (CPU_THREADS if dev.type == "cpu" else None)
    if dev.type == "cpu":
        keep_freed_memory()
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        return _train(config, kd, dev, runs=runs, force=force, progress=progress, data=data,
                      callback=callback, max_epochs_this_call=max_epochs_this_call,
                      reuse_only=reuse_only)
    finally:
        torch.set_num_threads(before)


def _train(config: TrainConfig, kd: dict, dev: torch.device, *, runs, force, progress, data,
           callback, max_epochs_this_call, reuse_only) -> Run:
    """``train`` once its thread count is set (arguments as there)."""
    config, teacher = _teacher(config, kd, runs, dev)
    settings = config.settings()
    data = _training_data(config, settings.data_scale, data)
    if teacher is not None:
        _check_teacher_data(config, teacher, data.desc)
    stdz = teacher.standardizer if config.method == "df" else (
        data.standardizer() if config.standardize else None)
    path, doc = _run_record(config, settings, teacher, kd, data, stdz, runs_root(runs))
    if reuse_only:                     # a look-up: no lock, nothing written
        done = _existing_run(path, doc["hash"], False)
        if done is None:
            raise MissingRun(f"no finished run {path.name} under {path.parent}: train it first "
                             f"(run the notebook that trains {config.model} {config.method}, "
                             f"or `make reproduce PROFILE={config.profile}`)")
        return done
    with run_lock(path):               # a second identical command waits, then reuses
        done = _existing_run(path, doc["hash"], force)
        if done is not None:
            return done
        remove_stale_parts(path)
        try:
            return _fit(config, kd, dev, teacher, data, stdz, path, doc, progress, callback,
                        max_epochs_this_call)
        except BaseException:
            if path.is_dir() and not (path / CHECKPOINT).exists() and not is_complete(path):
                shutil.rmtree(path, ignore_errors=True)     # nothing to resume: no litter
            raise


def _fit(config: TrainConfig, kd: dict, dev: torch.device, teacher, data, stdz, path: Path,
         doc: dict, progress, callback, max_epochs_this_call) -> Run:
    """Train (or resume) the run in ``path`` once it is locked and known unfinished."""
    family, settings, profile = config.family, config.settings(), config.resolved_profile()
    path.mkdir(parents=True, exist_ok=True)
    write_json(path / "config.json",
               {**doc, "runtime": {"compute": str(dev), "threads": torch.get_num_threads(),
                                   "torch": torch.__version__}})
    tensors = _tensors(data, stdz, dev)
    loop = dict(path=path, seed=config.seed, device=dev, show=progress_enabled(progress),
                callback=callback, max_epochs_this_call=max_epochs_this_call)
    extra = {}
    if config.method == "df":
        result = run_loop(lambda: DataFreeTask(config.model, family, settings, seed=config.seed,
                                               teacher=teacher, kd=kd, device=dev),
                          guard=forbid_data_access(f"data-free distillation (run {path.name})"),
                          **loop)
    else:
        loss_fn, teacher_train = LOSSES[settings.loss], None
        if config.method == "tor":
            raw_train_x = torch.from_numpy(np.ascontiguousarray(data.splits["train"][0])).to(dev)
            loss_fn, teacher_train, extra = _tor_setup(
                teacher, kd, settings.loss, raw_train_x, tensors["train"][1], data.desc,
                path.parent, profile.val_chunk)
        result = run_loop(lambda: SupervisedTask(
            config.model, family, settings, seed=config.seed, tensors=tensors, device=dev,
            loss_fn=loss_fn, chunk=profile.val_chunk, teacher_train=teacher_train), **loop)
    if result.status == "partial":
        return Run(path, read_json(path / "config.json"), result.history, {}, "partial")
    return _finish(path, family, settings, profile.val_chunk, result, tensors, extra)


def _teacher(config: TrainConfig, kd: dict, runs, dev) -> tuple[TrainConfig, Teacher | None]:
    """The run's teacher (TOR, DF), and the config a DF run gets in its teacher's space."""
    if config.method == "scratch":
        return config, None
    try:
        teacher = load_teacher(config.teacher, config.teacher_json, runs=runs).to(dev)
    except TeacherError as err:
        raise ValueError(str(err)) from err
    if config.method == "df":
        config = _data_free_space(config, teacher, kd)
    return config, teacher


def _check_teacher_data(config: TrainConfig, teacher: Teacher, data_desc: dict) -> None:
    """Refuse a run teacher trained on another effect or dataset than the student's (unless
    ``config.foreign_teacher``): its outputs would teach another device. The same audio (equal
    data hash) or the same source and effect (another scale of the embedded set, say) is the
    same dataset. JSON teachers record no data; the identity-baseline check of TOR
    (``_tor_setup``) still applies to them."""
    if teacher.kind != "run" or not teacher.data or config.foreign_teacher:
        return
    if teacher.data.get("hash") and teacher.data.get("hash") == data_desc.get("hash"):
        return                          # the very same audio, wherever it was loaded from
    want = {k: data_desc.get(k) for k in ("device", "source")}
    theirs = {k: teacher.data.get(k) for k in want}
    if theirs != want:
        raise ValueError(f"teacher {teacher.id} was trained on {theirs['device']} audio from "
                         f"{theirs['source']}; this student trains on {want['device']} from "
                         f"{want['source']}: a teacher of another effect or dataset teaches "
                         "another device. Use a teacher of the same data, or pass "
                         "foreign_teacher=True (--foreign-teacher) if you mean it")


def _run_record(config, settings, teacher, kd, data: TrainingData, stdz, root: Path):
    """(run folder, the config.json it records): named by the hash of the run's identity."""
    identity = run_identity(config, settings, teacher.id if teacher else None, kd, data.desc)
    hash8 = identity_hash(identity)
    path = root / run_name(config, hash8)
    doc = {**identity, "hash": hash8, "run_id": path.name, "data": data.desc,
           "teacher_info": teacher.describe() if teacher else None,
           "standardizer": stdz.to_dict() if stdz is not None else None,
           "data_root": config.data_root, "overrides": dict(config.overrides)}
    return path, doc


def _existing_run(path: Path, hash8: str, force: bool) -> Run | None:
    """The complete run at ``path`` (None: train or resume); refuses a folder of another
    config; ``force`` deletes it first."""
    if force and path.exists():
        shutil.rmtree(path)
    if not path.exists():
        return None
    cfg_file = path / "config.json"
    if cfg_file.is_file():
        old = read_json(cfg_file)
        if old.get("hash") != hash8:
            raise RunError(f"{path} holds a different config (hash {old.get('hash')}); "
                           "use force=True to replace it")
    return load_run(path) if is_complete(path) else None


def _tensors(data: TrainingData, stdz, dev) -> dict:
    """``{split: (input, target)}`` tensors on ``dev``, the input standardised for std runs."""
    tensors = {}
    for split, (x, y) in data.splits.items():
        if stdz is not None:
            x = stdz.apply(x).astype(np.float32)
        tensors[split] = (torch.from_numpy(np.ascontiguousarray(x)).to(dev),
                          torch.from_numpy(np.ascontiguousarray(y)).to(dev))
    return tensors


def _tor_setup(teacher: Teacher, kd: dict, loss: str, raw_train_x: torch.Tensor,
               train_y: torch.Tensor, data_desc: dict, root: Path, chunk: int):
    """(TOR loss, teacher output on the training audio, facts for metrics.json)."""
    t_out = teacher_outputs(teacher, raw_train_x, data_desc["hash"], root / TEACHER_CACHE,
                            chunk)
    eps = kd["epsilon"]
    if eps is None:
        eps = kd_tor.epsilon_from_residuals(train_y - t_out, kd["epsilon_quantile"])
    norm = kd_tor.l1_norm(loss, train_y, kd["l1_scale"])
    loss_fn = kd_tor.TORLoss(eps, loss=loss, c_tor=kd["c_tor"], c_d=kd["c_d"],
                             variant=kd["variant"], f=kd["f"], l1_norm=norm)
    facts = {"tor_epsilon": float(eps), "tor_l1_norm": norm,
             "tor_rejected_fraction": kd_tor.rejected_fraction(train_y, t_out, eps),
             "teacher_train_esr": float(esr(t_out, train_y)),
             "identity_train_esr": float(esr(raw_train_x, train_y))}
    if facts["teacher_train_esr"] > facts["identity_train_esr"]:
        warnings.warn(f"teacher {teacher.id}: ESR {facts['teacher_train_esr']:.3g} on this "
                      f"student's training audio, worse than passing the input through "
                      f"({facts['identity_train_esr']:.3g}): it does not model this effect. "
                      "Check that the teacher is the one you mean", stacklevel=2)
    return loss_fn, t_out, facts


def _finish(path: Path, family, settings, chunk: int, result: FitResult, tensors: dict,
            extra: dict) -> Run:
    """Test metrics with the kept weights; model.pt, history.json, metrics.json (last)."""
    model = result.model
    x_te, y_te = tensors["test"]
    out = family.predict(model, x_te, chunk)
    best_val = result.best_val
    if math.isnan(best_val):        # DF: validated once, after training (fxlib.train.data_free)
        best_val = family.validation_loss(model, *tensors["val"], settings, chunk)
    metrics = {"test_esr": float(esr(out, y_te)), "test_mae": float(mae(out, y_te)),
               "test_esr_dc": float(esr_dc(out, y_te)), "best_val_loss": float(best_val),
               "best_epoch": int(result.best_epoch), "epochs": int(result.epochs),
               "plateaued": result.plateaued, **extra}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch(state, path / "model.pt")
    metrics["weights_sha256"] = weights_sha256(state)      # load_run checks model.pt against it
    write_json(path / "history.json", result.history)
    write_json(path / "metrics.json", metrics)       # last: its presence marks completion
    return Run(path, read_json(path / "config.json"), result.history, metrics, result.status)


__all__ = ["train", "TEACHER_CACHE", "CPU_THREADS", "keep_freed_memory"]
