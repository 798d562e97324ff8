"""Model families as types: how the CAFx models (A, Av2) and the recurrent ones (B, C) train,
validate and run on whole signals.

Everything that differs between the two kinds of model lives in one ``ModelFamily`` subclass:

* training items: non-overlapping segments of ``segment_length`` (B/C); frames of the model's
  length cut with hop ``hop`` (A/Av2);
* one epoch: truncated BPTT -- a warm-up without gradient, then a step every ``tbptt`` samples
  (B/C); one step per mini-batch of frames (A/Av2);
* training loss: E_B, ``esr_dc`` (B/C); MAE (A/Av2);
* a whole signal: one stateful sequence in chunks of ``val_chunk`` (B/C); the Hann overlap-add
  of frames (A/Av2);
* a DF segment: from the zero state, ``model`` (B/C); one frame, ``model.forward_frames``
  (A/Av2);
* settings: ``RNNSettings`` from the profile's ``rnn_*`` values; ``CAFxSettings`` from
  ``cafx_*``; for a DF student ``DataFreeSettings`` (``df_*``; A/Av2 students may have their own
  ``cafx_df_iterations``).

Both shuffle the items every epoch with a generator the caller seeds (``batch_order``; the last,
smaller batch is kept; ``max_train_batches`` caps the mini-batches per epoch). The TBPTT detail
follows CoreAudioML's ``SimpleRNN.train_epoch`` with the choices of docs/profiles.md (section
'Choices the thesis does not fix'); validation and test follow docs/evaluation.md ('Metrics').

The registry of families is ``fxlib.models.FAMILIES`` (``family_of(model name or module)``).
Layers above dispatch on the family type in a table of their own (streaming:
``fxlib.runtime.streamer``; ONNX graphs: ``fxlib.export``), never by comparing names.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..losses import LOSSES
from ..profiles import (CAFxSettings, DataFreeSettings, Profile, RNNSettings,
                        SupervisedSettings)
from .cafx import CAFx, CAFxConfig
from .rnn import RecurrentModel

Loss = Callable[..., torch.Tensor]


def batch_order(n_items: int, batch: int, rng: np.random.Generator,
                max_batches: Optional[int] = None) -> list[np.ndarray]:
    """A shuffled partition of ``range(n_items)`` into batches (last may be smaller), capped."""
    perm = rng.permutation(n_items)
    batches = [perm[i:i + batch] for i in range(0, n_items, batch)]
    return batches if max_batches is None else batches[:max_batches]


def _loss(loss_fn: Loss, out, target, teacher):
    """``loss_fn(output, target)``, or ``(output, target, teacher_output)`` for KD."""
    return loss_fn(out, target) if teacher is None else loss_fn(out, target, teacher)


class ModelFamily:
    """What one kind of model does differently (module notes). Subclasses set the attributes."""
    name: str                    # what config.json records: "rnn" | "cafx"
    loss: str                    # training loss, a name in fxlib.losses.LOSSES
    model_type: type             # the nn.Module class of the family's models
    settings_type: type          # the SupervisedSettings subclass ``settings`` returns

    def settings(self, profile: Profile) -> SupervisedSettings:
        """The scratch / TOR settings of this family under ``profile``."""
        raise NotImplementedError

    def _shared_settings(self, profile: Profile) -> dict:
        """The supervised settings both families take from the same profile fields."""
        return {"val_every": profile.val_every, "val_max_samples": profile.val_max_samples,
                "data_scale": profile.data_scale, "loss": self.loss,
                "plateau_patience": profile.plateau_patience,
                "plateau_min_rel": profile.plateau_min_rel}

    def df_iterations(self, profile: Profile) -> int:
        """DF outer iterations for a student of this family."""
        return profile.df_iterations

    def data_free_settings(self, profile: Profile) -> DataFreeSettings:
        """The DF settings of a student of this family under ``profile``."""
        p = profile
        return DataFreeSettings(
            iterations=self.df_iterations(p), n_student_steps=p.df_n_s, batch=p.df_batch,
            segment_length=p.df_segment_length, lr=p.df_lr, log_every=p.df_log_every,
            data_scale=p.data_scale, loss=self.loss, val_max_samples=p.val_max_samples,
            val_chunk=p.val_chunk)

    def cut(self, x: torch.Tensor, y: torch.Tensor, settings) -> tuple[torch.Tensor, ...]:
        """1-D training signals -> (items of x, the same items of y)."""
        raise NotImplementedError

    def train_epoch(self, model, optimizer, x_items, y_items, settings, *,
                    rng: np.random.Generator, loss_fn: Loss,
                    t_items: Optional[torch.Tensor] = None) -> float:
        """One epoch over shuffled items; the mean loss over the updates. With ``t_items`` (a
        teacher's output cut like ``y_items``) the loss gets the teacher's output too."""
        raise NotImplementedError

    def predict(self, model, x: torch.Tensor, chunk: int) -> torch.Tensor:
        """Whole-signal output, as at inference; ``chunk`` bounds memory only."""
        raise NotImplementedError

    def segment_fn(self, model) -> Callable[[torch.Tensor], torch.Tensor]:
        """(batch, L) -> (batch, L): how DF feeds independent generated segments."""
        raise NotImplementedError

    def check_segment(self, model, length: int, who: str) -> None:
        """Refuse a DF segment length this family's model cannot take."""

    def validation_loss(self, model, x: torch.Tensor, y: torch.Tensor, settings,
                        chunk: int) -> float:
        """The training loss on the validation signal (its first ``val_max_samples``)."""
        if settings.val_max_samples:
            x, y = x[:settings.val_max_samples], y[:settings.val_max_samples]
        return float(LOSSES[settings.loss](self.predict(model, x, chunk), y))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# -- B / C ------------------------------------------------------------------------------------
def make_segments(x: torch.Tensor, y: torch.Tensor, segment_length: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D signals -> (n_segments, segment_length) pairs; the remainder is dropped."""
    n = x.shape[-1] // segment_length
    if n == 0:
        raise ValueError(f"training audio has {x.shape[-1]} samples, fewer than one segment of "
                         f"{segment_length}; use a shorter segment_length or more data")
    keep = n * segment_length
    return x[:keep].reshape(n, segment_length), y[:keep].reshape(n, segment_length)


def tbptt_epoch(model, optimizer, x_seg, y_seg, *, batch: int, init_len: int, tbptt: int,
                rng: np.random.Generator, max_batches: Optional[int], loss_fn: Loss,
                t_seg: Optional[torch.Tensor] = None) -> float:
    """One epoch of truncated BPTT over the segments; the mean loss over all updates.

    Per mini-batch the state starts at zero, the first ``init_len`` samples warm it up without
    gradient (and are not in the loss), then one loss, backward and optimiser step per chunk of
    ``tbptt`` samples (the last, shorter chunk too), the state detached in between.
    """
    model.train()
    total, count = 0.0, 0
    seg_len = x_seg.shape[1]
    for idx in batch_order(x_seg.shape[0], batch, rng, max_batches):
        idx_t = torch.as_tensor(idx, device=x_seg.device)
        xb, yb = x_seg.index_select(0, idx_t), y_seg.index_select(0, idx_t)
        tb = t_seg.index_select(0, idx_t) if t_seg is not None else None
        with torch.no_grad():
            _, state = model.forward_stateful(xb[:, :init_len], None)
        for start in range(init_len, seg_len, tbptt):
            stop = min(start + tbptt, seg_len)
            optimizer.zero_grad(set_to_none=True)
            out, state = model.forward_stateful(xb[:, start:stop], state)
            loss = _loss(loss_fn, out, yb[:, start:stop],
                         None if tb is None else tb[:, start:stop])
            loss.backward()
            optimizer.step()
            state = model.detach_state(state)
            total += float(loss.detach())
            count += 1
    return total / max(count, 1)


@torch.no_grad()
def process_stateful(model, x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Run a whole signal (samples,) or (batch, samples) through ``model`` chunk by chunk.

    The state is carried across chunks, so the result equals one full pass; every output sample
    is written (the last chunk may be shorter, and a signal shorter than ``chunk`` is one chunk).
    """
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    was_training = model.training
    model.eval()
    out = torch.empty_like(x)
    state = None
    for start in range(0, x.shape[-1], chunk):
        y, state = model.forward_stateful(x[..., start:start + chunk], state)
        out[..., start:start + y.shape[-1]] = y
    model.train(was_training)
    return out


class RecurrentFamily(ModelFamily):
    """B (LSTM) and C (GRU): sample-recurrent, trained by truncated BPTT (module notes)."""
    name, loss, model_type, settings_type = "rnn", "esr_dc", RecurrentModel, RNNSettings

    def settings(self, profile: Profile) -> RNNSettings:
        p = profile
        return RNNSettings(epochs=p.rnn_epochs, batch=p.rnn_batch, lr=p.rnn_lr,
                           max_train_batches=p.rnn_max_batches, segment_length=p.segment_length,
                           init_len=p.init_len, tbptt=p.tbptt, val_chunk=p.val_chunk,
                           **self._shared_settings(p))

    def cut(self, x, y, settings):
        return make_segments(x, y, settings.segment_length)

    def train_epoch(self, model, optimizer, x_items, y_items, settings, *, rng, loss_fn,
                    t_items=None):
        return tbptt_epoch(model, optimizer, x_items, y_items, batch=settings.batch,
                           init_len=settings.init_len, tbptt=settings.tbptt, rng=rng,
                           max_batches=settings.max_train_batches, loss_fn=loss_fn,
                           t_seg=t_items)

    def predict(self, model, x, chunk):
        return process_stateful(model, x, chunk)

    def segment_fn(self, model):
        return model            # RecurrentModel.forward starts every segment from zero state


# -- A / Av2 ----------------------------------------------------------------------------------
def make_frames(x: torch.Tensor, y: torch.Tensor, frame_length: int, hop: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D signals -> (n_frames, frame_length) views, hop ``hop``; the partial frame dropped."""
    if x.shape[-1] < frame_length:
        raise ValueError(f"training audio has {x.shape[-1]} samples, fewer than one frame of "
                         f"{frame_length}")
    return x.unfold(-1, frame_length, hop), y.unfold(-1, frame_length, hop)


def frames_epoch(model, optimizer, x_frames, y_frames, *, batch: int,
                 rng: np.random.Generator, max_batches: Optional[int], loss_fn: Loss,
                 t_frames: Optional[torch.Tensor] = None) -> float:
    """One epoch over shuffled frames (``model.forward_frames``); the mean mini-batch loss."""
    model.train()
    total, count = 0.0, 0
    for idx in batch_order(x_frames.shape[0], batch, rng, max_batches):
        idx_t = torch.as_tensor(idx, device=x_frames.device)
        xb, yb = x_frames.index_select(0, idx_t), y_frames.index_select(0, idx_t)
        optimizer.zero_grad(set_to_none=True)
        out = model.forward_frames(xb)
        loss = _loss(loss_fn, out, yb,
                     None if t_frames is None else t_frames.index_select(0, idx_t))
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        count += 1
    return total / max(count, 1)


@torch.no_grad()
def overlap_add(model, x: torch.Tensor, frames_per_batch: int = 32) -> torch.Tensor:
    """Whole-signal output of a CAFx model (Hann overlap-add, ``CAFx.forward``), in eval mode."""
    was_training = model.training
    model.eval()
    y = model(x, frames_per_batch=frames_per_batch)
    model.train(was_training)
    return y


class CAFxFamily(ModelFamily):
    """A and Av2: frame-based, trained on independent frames (module notes)."""
    name, loss, model_type, settings_type = "cafx", "mae", CAFx, CAFxSettings

    def settings(self, profile: Profile) -> CAFxSettings:
        p = profile
        return CAFxSettings(epochs=p.cafx_epochs, batch=p.cafx_batch, lr=p.cafx_lr,
                            max_train_batches=p.cafx_max_batches,
                            frame_length=CAFxConfig.frame_length, hop=p.cafx_hop,
                            **self._shared_settings(p))

    def df_iterations(self, profile: Profile) -> int:
        return (profile.df_iterations if profile.cafx_df_iterations is None
                else profile.cafx_df_iterations)

    def cut(self, x, y, settings):
        return make_frames(x, y, settings.frame_length, settings.hop)

    def train_epoch(self, model, optimizer, x_items, y_items, settings, *, rng, loss_fn,
                    t_items=None):
        return frames_epoch(model, optimizer, x_items, y_items, batch=settings.batch, rng=rng,
                            max_batches=settings.max_train_batches, loss_fn=loss_fn,
                            t_frames=t_items)

    def predict(self, model, x, chunk):
        return overlap_add(model, x)       # frames in batches of 32; ``chunk`` is not needed

    def segment_fn(self, model):
        return model.forward_frames

    def check_segment(self, model, length, who):
        if length != model.frame_length:
            raise ValueError(f"DF with a CAFx {who} needs df_segment_length = "
                             f"{model.frame_length} (one frame), got {length}")


__all__ = ["ModelFamily", "RecurrentFamily", "CAFxFamily", "batch_order", "make_segments",
           "tbptt_epoch", "process_stateful", "make_frames", "frames_epoch", "overlap_add"]
