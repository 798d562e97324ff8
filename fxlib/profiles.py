"""Training profiles: the ONE place where epochs, batch sizes, learning rates and friends live.

Three profiles, chosen by name (``get_profile("quick")``):

* ``paper``: the thesis's settings (§3.4; PROTOCOL.md §Training). A / Av2: 1500 epochs, batch 64,
  Adam 1e-4, MAE. B / C: 700 epochs, batch 40, Adam 5e-4, truncated BPTT with an update every
  2048 samples, loss E_B. Validation every 6 epochs. Full-scale data.
* ``quick``: the whole study (~30 trainings) in about an hour on a 2-core CPU (sizing below).
* ``smoke``: seconds per model, on the ``smoke`` scale of the embedded data; for CI and for
  checking that a notebook runs end to end. Its numbers mean nothing.

Choices not fixed by the thesis (documented once here, used by ``fxlib.train``):

* ``segment_length`` = 22,050 samples (0.5 s at 44.1 kHz), CoreAudioML's default: the training
  audio is cut into non-overlapping segments and the remainder (< 0.5 s) is dropped.
* ``init_len`` = 1000 samples of warm-up per segment, run WITHOUT gradient, before the first
  update (Wright et al. warm the state on the first 1000 samples; CoreAudioML's script default is
  200 and back-propagates into the warm-up, which we do not copy). Those samples are not in the
  loss. Then one Adam step per ``tbptt`` = 2048 samples, state detached between steps; the last,
  shorter chunk of a segment gets its own step (as CoreAudioML).
* ``cafx_hop`` = 2048: CAFx trains on 4096-sample frames cut from the training audio with 50 %
  overlap (the same hop as the Hann overlap-add framing used for whole signals).
* ``val_chunk`` = 100,000 samples: RNN validation/test processes the whole file as one stateful
  sequence in chunks of this size (memory bound only; it does not change the result).
* ``rnn_max_batches`` / ``cafx_max_batches``: ``None`` uses every segment/frame each epoch
  (paper). ``quick`` and ``smoke`` cap the mini-batches per epoch (a fresh random subset each
  epoch), so that an "epoch" costs a fixed, known time.
* ``val_max_samples``: ``None`` validates on the whole val file (paper); ``quick`` validates on
  its first 10 s, because whole-file passes of A / C cost minutes here. Test metrics always use
  the whole test file.
* The untrained model is validated too (epoch 0), so "best by validation" can never be worse
  than the initialisation and the history shows the starting point.

Sizing of ``quick``. Measured on this project's 2-core CPU (torch 2.13, 1 thread, full-scale
embedded muff data, one process per model; ``_QUICK_SIZING`` below) -- seconds per training
mini-batch / full epoch (all batches) / 10 s validation prefix / whole 64 s test file:

    B (LSTM-64)  4.9 / ~88   / 1.2  / 6.7        A    15.5 / ~1800 / 12.7 / 84
    C (GRU-64)   6.2 / ~111  / 6.0  / 38         Av2   8.9 / ~1030 /  9.0 / 58
    B8           0.6 / ~11   / 0.2  / 1.0        C8    3.3 / ~59  /  5.7 / 33

A full epoch of A takes half an hour here, and its whole-test pass alone 84 s, so "quick" cannot
train anything to convergence on this machine; it runs the real pipeline on the real-size data
and gives rough numbers. Per training: ``epochs x batches x per-batch + (epochs / val_every + 1)
x validation + test``. With 6 epochs, 2 RNN / 1 CAFx mini-batches per epoch, validation every
3 epochs on the first 441,000 samples (10 s) of the val file:

    B ~69 s, C ~130 s, B8/B16 ~10-25 s, C8/C16 ~90 s (GRU eval is per-step bound), A ~215 s,
    Av2 ~140 s.

The study's ~30 trainings: 2 B-64 (140 s) + 8 small B (~120 s) + 8 C-64 (scratch, std, DF,
TOR x 5 seeds: ~1040 s) + 8 small C (~710 s) + 4 A-size (A, A std, B->A x 2: ~860 s) + 4 Av2
(~550 s) = ~3400 s, i.e. about 57 min, plus the KD overheads (teacher forward passes, DF
generator): about an hour, a little more. Test metrics are always on the whole test file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

FAMILIES = ("rnn", "cafx")

#: Measured seconds (see module docstring and the ``fxlib.train`` report) used to size ``quick``.
_QUICK_SIZING = {
    # seconds per mini-batch (40 x 22,050-sample segments with TBPTT 2048 / 64 x 4096 frames),
    # for the 10 s validation prefix, and for the whole test file; 1 thread, measured 2026-11-24
    "B": {"batch": 4.9, "val10s": 1.2, "test": 6.7},
    "C": {"batch": 6.2, "val10s": 6.0, "test": 38.3},
    "B8": {"batch": 0.6, "val10s": 0.2, "test": 1.0},
    "C8": {"batch": 3.3, "val10s": 5.7, "test": 32.5},
    "A": {"batch": 15.5, "val10s": 12.7, "test": 83.8},
    "Av2": {"batch": 8.9, "val10s": 9.0, "test": 58.1},
}


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
    # -- cost caps for quick runs (None = no cap; see module docstring) -----------------
    rnn_max_batches: Optional[int] = None     # mini-batches per epoch, B / C
    cafx_max_batches: Optional[int] = None    # mini-batches per epoch, A / Av2
    val_max_samples: Optional[int] = None     # validate on the first N samples of val only
    # -- evaluation: inference-time runs per model (thesis: 10, profiler, 1 s of audio) ----
    timing_runs: int = 10
    seed_repetitions: int = 5        # seeds of the best model (thesis table 4.10)
    # -- data-free KD (fxlib.train.df): the official code's values (MODEL-SPEC §6); the
    #    thesis does not give its own. One "epoch" of a DF run = df_log_every iterations.
    df_iterations: int = 2_000       # outer iterations (1 generator step + n_s student steps)
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

    def epochs(self, family: str) -> int:
        return self._pick(family, self.rnn_epochs, self.cafx_epochs)

    def batch_size(self, family: str) -> int:
        return self._pick(family, self.rnn_batch, self.cafx_batch)

    def lr(self, family: str) -> float:
        return self._pick(family, self.rnn_lr, self.cafx_lr)

    def max_batches(self, family: str) -> Optional[int]:
        return self._pick(family, self.rnn_max_batches, self.cafx_max_batches)

    @staticmethod
    def _pick(family, rnn, cafx):
        if family == "rnn":
            return rnn
        if family == "cafx":
            return cafx
        raise ValueError(f"unknown model family {family!r}; choose one of {FAMILIES}")

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
                     rnn_epochs=6, cafx_epochs=6, val_every=3, rnn_max_batches=2,
                     cafx_max_batches=1, val_max_samples=441_000, df_iterations=60, df_n_s=2,
                     df_batch=8, df_log_every=10),
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


__all__ = ["Profile", "PROFILES", "PROFILE_NAMES", "FAMILIES", "get_profile"]
