"""Streaming (block-by-block, real-time style) inference for the study's models.

``Streamer(model, backend="auto")`` with ``process(block) -> block``, ``reset()``, ``flush()``,
``latency`` (samples) and ``backend``; ``stream(model, x, block)`` runs a whole signal through
one. Recurrent models (B, C) stream with latency 0 through numba per-sample kernels
(``fxlib.runtime.kernels``) or PyTorch; CAFx (A, Av2) streams its Hann overlap-add exactly with
a latency of frame_length - 2 = 4094 samples (derivation in ``fxlib.runtime.streamer``).
"""
from .streamer import BACKENDS, Streamer, stream

__all__ = ["Streamer", "stream", "BACKENDS"]
