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

Sizing of ``quick`` (measured on this project's 2-core CPU, torch 2.13, 1 thread, full-scale
embedded muff data, after the CAFx and GRU speed-ups of fxlib.models). The thesis's batch
sizes make every update expensive on a CPU (an LSTM-64 update on 40 x 2048 samples: 375 ms; on
8 x 2048: 57 ms) and its learning rates are small, so with ~1 min per training the choice is
between ~100 large updates that barely move the loss and ~2000 small ones that do: B at batch
40 (20 epochs x 2 mini-batches, 440 updates, 215 s) reached validation E_B 0.86 and test ESR
0.77, worse than a linear FIR fit; at batch 8 (20 x 10 mini-batches, 2200 updates, 147 s) it
reached 0.25 and 0.19. ``quick`` therefore keeps the thesis's learning rates, losses, TBPTT
step and segment length but uses **batch 8 for B/C and 16 for A/Av2**, with 20 "epochs" of 10 /
4 mini-batches and validation every 4 epochs on the first 10 s of the val file. Its numbers are
a pipeline check and a rough ranking, not the thesis's experiment (that is ``paper``).

Seconds per training mini-batch at the quick batch sizes / per whole test pass:
B 0.63 / 6, C ~0.3 / 2.4, B8 0.12 / 1, C8 ~0.06 / 0.6, A 1.4 / ~50, Av2 0.9 / ~40.
One quick training: B ~150 s, C ~75 s, small B/C 10-40 s, A ~160 s, Av2 ~110 s; DF with a
recurrent student 100 iterations x (1 + 4 student steps) of batch 8, ~0.5-1 s per iteration;
with a CAFx student 20 iterations (a CAFx student step costs ~1.5 s). TOR adds one teacher pass
over the 342 s of training audio, cached per teacher (B ~30 s, A ~270 s). The measured total
of ``make reproduce`` is in the README.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

FAMILIES = ("rnn", "cafx")

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

    def epochs(self, family: str) -> int:
        return self._pick(family, self.rnn_epochs, self.cafx_epochs)

    def batch_size(self, family: str) -> int:
        return self._pick(family, self.rnn_batch, self.cafx_batch)

    def lr(self, family: str) -> float:
        return self._pick(family, self.rnn_lr, self.cafx_lr)

    def df_iterations_for(self, family: str) -> int:
        """DF outer iterations for a student of ``family``."""
        cafx = self.cafx_df_iterations if self.cafx_df_iterations is not None else \
            self.df_iterations
        return self._pick(family, self.df_iterations, cafx)

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
                     rnn_epochs=20, rnn_batch=8, rnn_max_batches=10,
                     cafx_epochs=20, cafx_batch=16, cafx_max_batches=4,
                     val_every=4, val_max_samples=441_000,
                     df_iterations=100, cafx_df_iterations=20, df_n_s=4, df_batch=8,
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


__all__ = ["Profile", "PROFILES", "PROFILE_NAMES", "FAMILIES", "get_profile"]
