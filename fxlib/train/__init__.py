"""Training of the study's models: ``train(TrainConfig(...)) -> Run``.

    from fxlib.train import TrainConfig, train
    run = train(TrainConfig(model="B8", profile="smoke", seed=0))
    run.metrics, run.path, run.load_model()

Every hyper-parameter comes from a profile (``fxlib.profiles``). Each training is a run folder
(``fxlib.train.runs``) that is reused when complete and resumed when interrupted. Family-specific
steps: ``fxlib.train.rnn`` (B/C, truncated BPTT) and ``fxlib.train.cafx`` (A/Av2, frames).
Command line: ``python -m fxlib.train --help``.
"""
from .runs import (AVAILABLE_METHODS, METHODS, Dataset, Run, RunError, TrainConfig, is_complete,
                   load_dataset, load_run, resolve_compute, run_name, seed_everything,
                   train)

__all__ = ["Dataset", "load_dataset", "TrainConfig", "Run", "RunError", "train", "load_run",
           "is_complete", "run_name", "resolve_compute", "seed_everything", "METHODS", "AVAILABLE_METHODS"]
