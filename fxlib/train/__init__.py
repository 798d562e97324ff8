"""Training of the study's models: ``train(TrainConfig(...)) -> Run``.

    from fxlib.train import TrainConfig, train
    run = train(TrainConfig(model="B8", profile="smoke", seed=0))
    run.metrics, run.path, run.load_model()

Modules, bottom up: ``seeding`` (RNG states), ``dataset`` (the audio a run uses, described and
hashed), ``config`` (``TrainConfig``: which run; its typed settings come from the profile),
``runs`` (run folders, their identity and ``find_runs``), ``teacher`` (run or Wright JSON
teachers), ``loop`` (the one training skeleton: checkpoints, exact resume, progress),
``supervised`` and ``data_free`` (the two tasks the loop runs), ``trainer`` (``train``).
What differs between model families lives in ``fxlib.models.family``.
Command line: ``python -m fxlib.train --help``.
"""
from .config import KD_DEFAULTS, METHODS, TrainConfig
from .dataset import Dataset, TrainingData, load_dataset, load_training_data
from .runs import (MissingRun, Run, RunError, find_runs, is_complete, load_run,
                   resolve_compute, run_name)
from .seeding import seed_everything
from .trainer import CPU_THREADS, train

__all__ = ["TrainingData", "load_training_data", "TrainConfig", "Run", "RunError", "MissingRun",
           "train",
           "load_run", "find_runs", "is_complete", "run_name", "resolve_compute",
           "seed_everything", "METHODS", "KD_DEFAULTS", "CPU_THREADS", "Dataset", "load_dataset"]
