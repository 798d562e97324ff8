"""Training and evaluation steps for the recurrent models B (LSTM) and C (GRU).

Truncated back-propagation through time as in CoreAudioML's ``SimpleRNN.train_epoch``
(MODEL-SPEC §4.2), with the choices of ``fxlib.profiles``:

* the training audio is cut into non-overlapping segments of ``segment_length`` samples; the
  remainder is dropped (``make_segments``);
* each epoch the segments are shuffled (by a ``numpy.random.Generator`` the caller seeds) and
  taken ``batch`` at a time (the last, smaller batch is kept);
* per mini-batch the state starts at zero, the first ``init_len`` samples warm it up **without
  gradient** and are not in the loss; the rest is processed in chunks of ``tbptt`` samples, with
  one loss (E_B), backward and optimiser step per chunk and the state detached in between.

Validation / test (MODEL-SPEC §4.3): the whole file is one sequence, processed in chunks with
the state carried (``process_stateful``); every sample is written, whatever the file length, and
the loss is computed once on the full output.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..losses import esr_dc

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_segments(x: torch.Tensor, y: torch.Tensor, segment_length: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D signals -> (n_segments, segment_length) pairs; the remainder is dropped."""
    n = x.shape[-1] // segment_length
    if n == 0:
        raise ValueError(f"training audio has {x.shape[-1]} samples, fewer than one segment of "
                         f"{segment_length}; use a shorter segment_length or more data")
    keep = n * segment_length
    return x[:keep].reshape(n, segment_length), y[:keep].reshape(n, segment_length)


def batch_order(n_items: int, batch: int, rng: np.random.Generator,
                max_batches: Optional[int] = None) -> list[np.ndarray]:
    """A shuffled partition of ``range(n_items)`` into batches (last may be smaller), capped."""
    perm = rng.permutation(n_items)
    batches = [perm[i:i + batch] for i in range(0, n_items, batch)]
    return batches if max_batches is None else batches[:max_batches]


def train_epoch(model, optimizer, x_seg: torch.Tensor, y_seg: torch.Tensor, *, batch: int,
                init_len: int, tbptt: int, rng: np.random.Generator,
                max_batches: Optional[int] = None, loss_fn: Loss = esr_dc,
                t_seg: Optional[torch.Tensor] = None) -> float:
    """One epoch of TBPTT over the segments; returns the mean loss over all updates.

    With ``t_seg`` (a teacher's output cut like ``y_seg``, for KD) the loss is called as
    ``loss_fn(output, target, teacher_output)`` on each chunk, else ``loss_fn(output, target)``.
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
            if tb is None:
                loss = loss_fn(out, yb[:, start:stop])
            else:
                loss = loss_fn(out, yb[:, start:stop], tb[:, start:stop])
            loss.backward()
            optimizer.step()
            state = model.detach_state(state)
            total += float(loss.detach())
            count += 1
    return total / max(count, 1)


@torch.no_grad()
def process_stateful(model, x: torch.Tensor, chunk: int = 100_000) -> torch.Tensor:
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
    n = x.shape[-1]
    for start in range(0, n, chunk):
        y, state = model.forward_stateful(x[..., start:start + chunk], state)
        out[..., start:start + y.shape[-1]] = y
    model.train(was_training)
    return out


def predict(model, x: torch.Tensor, chunk: int = 100_000) -> torch.Tensor:
    """Whole-signal output of an RNN model (the same call the validation uses)."""
    return process_stateful(model, x, chunk)


__all__ = ["make_segments", "batch_order", "train_epoch", "process_stateful", "predict"]
