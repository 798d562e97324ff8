"""Fake finished runs for unit tests of ``fxlib.study`` and ``fxlib.figures``.

A fake run lives exactly where the trainer would put it: ``train(..., max_epochs_this_call=0)``
names the run by its identity (config + data hash), writes ``config.json`` and a checkpoint of
the untrained model, and returns a "partial" ``Run`` without training. ``fake_run`` completes
that folder with numbers the test chooses: ``model.pt`` (the untrained weights),
``history.json`` and, last, ``metrics.json``. A ``Study`` over the same runs root and data then
reuses it as a finished run (``train=False`` included).

The data is a tiny in-memory waveshaper (``tiny_data``): 9,000 training samples (2 segments of
the smoke profile's 4,410, 2 CAFx frames of 4,096), 5,000 validation and 6,000 test samples.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Optional

import pytest
import torch

from fxlib._atomic import write_json
from fxlib.study import EXPERIMENTS, LABELS, Study, experiment
from fxlib.train import Run, TrainingData, load_run, load_training_data, train
from test_train_rnn import waveshaper_data

N_TRAIN, N_VAL, N_TEST = 9_000, 5_000, 6_000

#: Every experiment: the thesis's rows (``LABELS``), then fxlib's ablations.
ALL = list(EXPERIMENTS)


@functools.lru_cache(maxsize=None)
def tiny_data() -> TrainingData:
    """The shared tiny dataset (kind "arrays", effect "muff")."""
    return load_training_data(arrays=waveshaper_data(N_TRAIN, N_VAL, N_TEST, seed=3))


def make_study(runs: Path, *, train: bool = True, **kw) -> Study:
    """A smoke-profile ``Study`` over ``runs`` on the tiny dataset (nothing loaded from disk)."""
    study = Study(profile="smoke", runs=runs, compute="cpu", progress=False, train=train, **kw)
    study._dataset = tiny_data()
    return study


def default_metrics(label: str, seed: int = 0) -> tuple[float, float]:
    """(esr, mae) of a fake run when the test gives none: distinct per label and seed."""
    i = ALL.index(label)
    return round(0.1 + 0.01 * i + 0.001 * seed, 6), round(0.001 * (i + 1) + 0.0001 * seed, 6)


def default_history(label: str, seed: int = 0) -> dict:
    """A two-epoch history (a DF run's has iterations and generator losses instead)."""
    i = ALL.index(label) + 1
    if experiment(label).method == "df":
        return {"epoch": [1, 2], "iteration": [2, 4], "train_loss": [0.5 * i, 0.25 * i],
                "generator_loss": [-0.5 * i, -0.75 * i], "alpha": [0.1, 0.2],
                "epoch_time_s": [0.01, 0.01], "val_epoch": [], "val_loss": []}
    return {"epoch": [1, 2], "train_loss": [1.0 * i, 0.5 * i], "epoch_time_s": [0.01, 0.01],
            "val_epoch": [0, 2], "val_loss": [2.0 * i, 0.75 * i]}


def _teacher_path(study: Study, label: str) -> Optional[str]:
    e = experiment(label)
    return None if e.teacher is None else str(ensure_fake(study, e.teacher, 0).path)


def ensure_fake(study: Study, label: str, seed: int = 0) -> Run:
    """The finished run of ``label`` if there is one, else a fake with default numbers
    (how ``Study.run`` makes a teacher first: seed 0)."""
    cfg = study.config(label, seed, _teacher_path(study, label))
    run = train(cfg, runs=study.runs, data=study.dataset, compute="cpu", progress=False,
                max_epochs_this_call=0)
    return run if run.status == "reused" else _complete(run, label, seed)


def fake_run(study: Study, label: str, seed: int = 0, *, esr: Optional[float] = None,
             mae: Optional[float] = None, history: Optional[dict] = None,
             epochs: int = 2) -> Run:
    """A finished run of ``label`` / ``seed`` with these test metrics (defaults:
    ``default_metrics``, ``default_history``); an existing one gets the new numbers."""
    cfg = study.config(label, seed, _teacher_path(study, label))
    run = train(cfg, runs=study.runs, data=study.dataset, compute="cpu", progress=False,
                max_epochs_this_call=0)
    return _complete(run, label, seed, esr=esr, mae=mae, history=history, epochs=epochs)


def _complete(run: Run, label: str, seed: int, *, esr=None, mae=None, history=None,
              epochs: int = 2) -> Run:
    d_esr, d_mae = default_metrics(label, seed)
    esr = d_esr if esr is None else esr
    mae = d_mae if mae is None else mae
    history = default_history(label, seed) if history is None else history
    path = run.path
    if not (path / "model.pt").is_file():
        ck = torch.load(path / "checkpoint.pt", map_location="cpu", weights_only=False)
        torch.save(ck["model"], path / "model.pt")
    write_json(path / "history.json", history)
    val = [v for v in history.get("val_loss", []) if not math.isnan(v)]
    write_json(path / "metrics.json",
               {"test_esr": esr, "test_mae": mae, "test_esr_dc": esr / 2,
                "best_val_loss": min(val) if val else 0.0, "best_epoch": epochs,
                "epochs": epochs})
    return load_run(path)


def fake_all(study: Study, labels=tuple(ALL)) -> dict[str, Run]:
    """Default fakes of ``labels`` (default: every experiment, ablations included; teachers
    first), by label."""
    return {label: ensure_fake(study, label, 0) for label in labels}


__all__ = ["tiny_data", "make_study", "fake_run", "ensure_fake", "fake_all",
           "default_metrics", "default_history", "N_TRAIN", "N_VAL", "N_TEST", "fake_study"]


# -- fixtures (import them into a test module: ``from fake_runs import fake_study``) ---------
@pytest.fixture
def fake_study(tmp_path) -> Study:
    """A fresh smoke-profile Study on the tiny data over an empty runs root."""
    return make_study(tmp_path / "runs")
