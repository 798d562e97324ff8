"""Training and evaluation steps for the CAFx models A and Av2.

Training follows the thesis (§3.4; Martínez Ramírez & Reiss): independent frames of 4096
samples, batch 64, Adam 1e-4, MAE on ``model.forward_frames``. Frames are cut from the training
audio with hop ``cafx_hop`` (2048 = 50 % overlap, the hop of the whole-signal framing; the
partial frame at the end is dropped) and shuffled every epoch; the last, smaller batch is kept.

Validation / test run the whole signal through ``model.forward`` (Hann-windowed overlap-add of
4096-sample frames at hop 2048), i.e. exactly what the model does at inference, and compute the
MAE once on the full output.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..losses import mae
from .rnn import batch_order

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_frames(x: torch.Tensor, y: torch.Tensor, frame_length: int, hop: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D signals -> (n_frames, frame_length) views, hop ``hop``; the partial frame dropped."""
    if x.shape[-1] < frame_length:
        raise ValueError(f"training audio has {x.shape[-1]} samples, fewer than one frame of "
                         f"{frame_length}")
    return x.unfold(-1, frame_length, hop), y.unfold(-1, frame_length, hop)


def train_epoch(model, optimizer, x_frames: torch.Tensor, y_frames: torch.Tensor, *,
                batch: int, rng: np.random.Generator, max_batches: Optional[int] = None,
                loss_fn: Loss = mae, t_frames: Optional[torch.Tensor] = None) -> float:
    """One epoch over shuffled frames; returns the mean loss over the mini-batches.

    With ``t_frames`` (a teacher's output framed like ``y_frames``, for KD) the loss is called
    as ``loss_fn(output, target, teacher_output)``, else ``loss_fn(output, target)``.
    """
    model.train()
    total, count = 0.0, 0
    for idx in batch_order(x_frames.shape[0], batch, rng, max_batches):
        idx_t = torch.as_tensor(idx, device=x_frames.device)
        xb, yb = x_frames.index_select(0, idx_t), y_frames.index_select(0, idx_t)
        optimizer.zero_grad(set_to_none=True)
        out = model.forward_frames(xb)
        if t_frames is None:
            loss = loss_fn(out, yb)
        else:
            loss = loss_fn(out, yb, t_frames.index_select(0, idx_t))
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
        count += 1
    return total / max(count, 1)


@torch.no_grad()
def predict(model, x: torch.Tensor, frames_per_batch: int = 32) -> torch.Tensor:
    """Whole-signal output of a CAFx model (Hann overlap-add), in eval mode."""
    was_training = model.training
    model.eval()
    y = model(x, frames_per_batch=frames_per_batch)
    model.train(was_training)
    return y


__all__ = ["make_frames", "train_epoch", "predict"]
