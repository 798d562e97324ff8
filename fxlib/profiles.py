"""Training profiles and the typed settings derived from them: every hyper-parameter, once.

Three profiles, chosen by name (``get_profile("quick")``):

* ``paper``: the thesis's settings (A / Av2: 1500 epochs, batch 64, Adam 1e-4, MAE; B / C: 700
  epochs, batch 40, Adam 5e-4, truncated BPTT every 2048 samples, E_B; validation every 6
  epochs; full-scale data).
* ``quick``: the whole study on a 2-core CPU (three seeds per 8/16-unit arm: 68 trainings),
  B/C trained to a validation plateau under an epoch ceiling; the measurements that sized it and
  its wall time: docs/benchmarks.md, section 'The quick study'.
* ``smoke``: seconds per model on the ``smoke`` scale of the embedded data, for CI and for
  checking that a notebook runs end to end. Its numbers mean nothing.

A ``Profile`` holds values per model family where they differ (``rnn_epochs``, ``cafx_epochs``
...). A training does not read it directly: its model family (``fxlib.models.family``) turns it
into one frozen, typed settings object -- ``RNNSettings`` or ``CAFxSettings`` for scratch and TOR
runs, ``DataFreeSettings`` for DF runs -- which is what the training loops receive, what a run's
``config.json`` records under ``hyper_parameters`` and what names the run (its hash).

What each value means, where the thesis fixes it, the choices it leaves open (segment length,
warm-up, caps, validation subset, epoch-0 validation) and why ``quick`` is sized as it is:
docs/profiles.md. The measurements behind that sizing: docs/benchmarks.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Optional


@dataclass(frozen=True)
class Profile:
    """Every hyper-parameter of a training, per model family where they differ."""
    name: str
    data_scale: str                  # "full" | "smoke" (embedded dataset scale)
    # -- shared ----------------------------------------------------------------------------
    val_every: int = 6               # validate (and checkpoint) every N epochs, and at the end
    # -- RNN (B / C): truncated back-propagation through time ----------------------------
    rnn_epochs: int = 700
    rnn_batch: int = 40
    rnn_lr: float = 5e-4
    segment_length: int = 22_050
    init_len: int = 1_000
    tbptt: int = 2_048
    val_chunk: int = 100_000
    # -- CAFx (A / Av2): independent 4096-sample frames ----------------------------------
    cafx_epochs: int = 1_500
    cafx_batch: int = 64
    cafx_lr: float = 1e-4
    cafx_hop: int = 2_048
    # -- stopping at a plateau (docs/profiles.md, section 'Stopping at a plateau'): stop
    #    when none of the last ``plateau_patience`` validations improved on the best before
    #    them by more than ``plateau_min_rel`` (relative); None = the thesis's fixed epochs.
    #    The epochs above are then the ceiling.
    plateau_patience: Optional[int] = None
    plateau_min_rel: float = 0.01
    # -- cost caps for quick runs (None = no cap; docs/profiles.md) --------------------
    rnn_max_batches: Optional[int] = None     # mini-batches per epoch, B / C
    cafx_max_batches: Optional[int] = None    # mini-batches per epoch, A / Av2
    val_max_samples: Optional[int] = None     # validate on the first N samples of val only
    # -- evaluation: inference-time runs per model (thesis: 10, profiler, 1 s of audio) ----
    timing_runs: int = 10
    seed_repetitions: int = 5        # seeds of the best model (thesis table 4.10)
    arm_seeds: int = 1               # seeds of each 8/16-unit arm of tables 4.4, 4.5, 4.8, 4.9
                                     # (fxlib.study.Study.seeds; teachers: seed 0, shared)
    # -- data-free KD: the official code's values (docs/kd.md, section 'DF'); the thesis
    #    does not give its own. One "epoch" of a DF run = df_log_every iterations.
    df_iterations: int = 2_000       # outer iterations (1 generator step + n_s student steps)
    cafx_df_iterations: Optional[int] = None   # for A / Av2 students; None = df_iterations
    df_n_s: int = 10                 # student steps per generator step
    df_batch: int = 50               # m: z, x_g and x_p per step
    df_segment_length: int = 4_096   # generated segment = a CAFx frame; RNNs from zero state
    df_lr: float = 1e-3              # RMSprop, generator and student
    df_log_every: int = 20           # iterations per history entry / checkpoint

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v <= 0:
                raise ValueError(f"profile {self.name!r}: {f.name} must be > 0, got {v}")
        if self.init_len >= self.segment_length:
            raise ValueError("init_len must be shorter than segment_length")
        if not self.plateau_min_rel < 1:
            raise ValueError(f"profile {self.name!r}: plateau_min_rel is a relative "
                             f"improvement, below 1; got {self.plateau_min_rel}")

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **changes) -> "Profile":
        """A copy with some fields changed (e.g. for experiments); the name is kept."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(name="smoke", data_scale="smoke",
                     rnn_epochs=2, cafx_epochs=2, val_every=1, rnn_batch=8, cafx_batch=8,
                     rnn_max_batches=2, cafx_max_batches=2, segment_length=4_410,
                     init_len=200, tbptt=1_024, df_iterations=4, df_n_s=1, df_batch=2,
                     df_log_every=2, timing_runs=2, seed_repetitions=2),
    "quick": Profile(name="quick", data_scale="full",
                     rnn_epochs=160, rnn_batch=8, rnn_max_batches=10, rnn_lr=5e-3,
                     plateau_patience=8,
                     cafx_epochs=20, cafx_batch=16, cafx_max_batches=4,
                     val_every=4, val_max_samples=441_000, arm_seeds=3, seed_repetitions=3,
                     df_iterations=200, cafx_df_iterations=20, df_n_s=4, df_batch=8,
                     df_log_every=10),
    "paper": Profile(name="paper", data_scale="full"),
}

PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (a ``Profile`` is returned as is)."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown profile {name!r}; choose one of "
                         f"{', '.join(PROFILE_NAMES)}") from None


# -- the settings a training receives -----------------------------------------------------------
class _Settings:
    """Shared behaviour of the frozen settings classes below."""

    def to_dict(self) -> dict:
        """Plain values, as ``config.json`` records them (and as the run's hash covers them)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        """The settings a run recorded (``config.json`` -> ``hyper_parameters``)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown setting(s) {unknown}")
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class SupervisedSettings(_Settings):
    """A scratch or TOR training: Adam, epochs, validation every ``val_every`` epochs."""
    epochs: int
    batch: int
    lr: float
    val_every: int
    max_train_batches: Optional[int]     # mini-batches per epoch (None: all)
    val_max_samples: Optional[int]       # validate on the first N samples (None: whole file)
    data_scale: str
    loss: str                            # a name in fxlib.losses.LOSSES
    optimizer: str = "Adam"
    plateau_patience: Optional[int] = None   # validations without improvement (None: off)
    plateau_min_rel: float = 0.01            # the relative improvement that counts

    @property
    def n_epochs(self) -> int:
        """The ceiling: a run stops earlier at a plateau (``plateau_reached``)."""
        return self.epochs

    def to_dict(self) -> dict:
        """As ``_Settings.to_dict``; with the plateau criterion off (the thesis's fixed epochs)
        its two fields are left out, so such runs keep the identity (and folder name) they
        had before the criterion existed."""
        d = asdict(self)
        if self.plateau_patience is None:
            del d["plateau_patience"], d["plateau_min_rel"]
        return d


@dataclass(frozen=True, kw_only=True)
class RNNSettings(SupervisedSettings):
    """B / C: truncated back-propagation through time over segments of the training audio."""
    segment_length: int
    init_len: int
    tbptt: int
    val_chunk: int


@dataclass(frozen=True, kw_only=True)
class CAFxSettings(SupervisedSettings):
    """A / Av2: independent frames of the model's length cut with hop ``hop``."""
    frame_length: int
    hop: int


@dataclass(frozen=True, kw_only=True)
class DataFreeSettings(_Settings):
    """A DF distillation: RMSprop, outer iterations of 1 generator + ``n_student_steps`` student
    steps on ``batch`` generated segments of ``segment_length``; ``loss``, ``val_max_samples``
    and ``val_chunk`` serve the validation of the finished student."""
    iterations: int
    n_student_steps: int
    batch: int
    segment_length: int
    lr: float
    log_every: int                       # iterations per history entry / checkpoint
    data_scale: str
    loss: str
    val_max_samples: Optional[int]
    val_chunk: int
    optimizer: str = "RMSprop"

    @property
    def n_epochs(self) -> int:
        """DF "epochs": blocks of ``log_every`` iterations (the last may be shorter)."""
        return -(-self.iterations // self.log_every)


TrainingSettings = SupervisedSettings | DataFreeSettings


__all__ = ["Profile", "PROFILES", "PROFILE_NAMES", "get_profile", "SupervisedSettings",
           "RNNSettings", "CAFxSettings", "DataFreeSettings", "TrainingSettings"]
