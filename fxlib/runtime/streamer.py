"""Block-by-block (real-time style) inference: ``Streamer(model).process(block) -> block``.

One interface, several engines:

* recurrent models B/C (``RecurrentModel``): backend ``"numba"`` (the per-sample kernels of
  ``fxlib.runtime.kernels``, on a snapshot of the weights taken at construction, through the
  model's one compiled entry point, ``fxlib.runtime.bank``) or ``"torch"``
  (the model's own ``forward_stateful`` under ``torch.no_grad``, the state carried; note that
  for GRUs on CPU/float32 this itself routes through ``fxlib.models.gru_kernel``).
  ``"auto"`` picks ``"numba"``, the fastest engine in ``python -m fxlib.runtime.benchmark``
  for every B/C size (docs/benchmarks.md, section 'Streaming'). Latency 0: output sample n
  is y[n] of the whole-signal forward.
* CAFx models A/Av2 (``fxlib.models.cafx.CAFx``): backend ``"torch"`` (``"auto"``), an exact
  streaming form of ``CAFx.forward``'s overlap-add, with a fixed latency (below).

Every engine: ``process(block)`` takes a 1-D array (any length, 0 included; converted to
float32; integer PCM such as int16 is scaled to [-1, 1) by its dtype, as a WAV stores it:
``pcm_to_float``), carries its state across calls and returns a new float32 array of the same
length; a non-1-D or non-finite block raises ``ValueError`` (and leaves the state untouched).
``process_into(block, out)`` does the same into the caller's preallocated float32 ``out`` and
allocates nothing: the form for an audio callback (its per-call cost: docs/benchmarks.md,
section 'Streaming at small sizes'). ``reset()`` returns to the initial (zero) state.
``latency`` is in samples, ``backend`` names the engine. Processing a signal in any partition
into blocks gives the same output.

CAFx latency
------------
``CAFx.forward`` (frame N = 4096, hop M = N/2 = 2048) pads the signal with M zeros in front and
cuts frames j = 0, 1, ... of N samples at hop M from the padded signal; frame j therefore holds
x[(j-1)M .. (j+1)M - 1] (zeros for negative indices) and its output, times the periodic Hann
window w, is overlap-added onto y[(j-1)M .. (j+1)M - 1]. Write t = kM + r (0 <= r < M): y[t] is
the sum of frame k's output at index M + r times w[M + r] and frame k+1's output at index r times
w[r]. Frame k+1 is complete only once x[(k+2)M - 1] has arrived, and its output depends on all of
its input (the latent Linear mixes the whole pooled frame). So y[t] can be emitted when input
sample t + L arrives only if (k+2)M - 1 <= kM + r + L whenever w[r] != 0, i.e.
L >= 2M - 1 - r for every r with w[r] != 0, and L >= M - 1 - r for frame k (always weaker).
The periodic Hann window has w[0] = 0 *exactly* (and w[1] = 6e-7 > 0), so the binding case is
r = 1:

    latency L = 2M - 2 = N - 2 = 4094 samples (92.8 ms at 44.1 kHz)

(L = 2M - 1 - r0 with r0 the first non-zero window index, computed from the model's window).
At L = 4094, y[kM] (r = 0) is emitted from frame k alone (frame k+1's term there is 0 * finite
= 0 exactly, added later to an already-emitted sample, harmlessly); any smaller L would need
frame k+1 for y[kM + 1] one sample before it is complete. Output sample s of the stream is
y[s - L] (zeros for s < L), with y = ``model(x)``: since ``CAFx.forward`` pads the end with
zeros, ``flush()`` (= processing L zeros) returns the last L samples of ``model(x)``.
Frames are computed one at a time (batch 1) with ``forward_frames`` as they complete; the
result matches ``model(x)`` (batches of 32 frames) to float32 rounding.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import torch

from ..models import CAFxFamily, RecurrentFamily, family_of
from ..models.cafx import CAFx
from ..models.rnn import RecurrentModel
from . import bank
from . import kernels as K

__all__ = ["Streamer", "stream", "BACKENDS", "ENGINES"]


_F32 = np.dtype(np.float32)


def _require_finite(a: np.ndarray) -> None:
    if not K.all_finite(a):
        raise ValueError("process() got non-finite samples (NaN or inf) in the block")


def _require_length(x: np.ndarray, out: np.ndarray) -> None:
    if out.shape[0] != x.shape[0]:
        raise ValueError("out must have the block's length")


def pcm_to_float(a: np.ndarray) -> np.ndarray:
    """Integer PCM scaled to [-1, 1) by its dtype, as audio files store it: signed n-bit
    samples / 2^(n-1); unsigned ones (8-bit WAV) centred on 2^(n-1) first. float32 out."""
    half = float(2 ** (8 * a.dtype.itemsize - 1))
    x = a.astype(np.float64)
    if a.dtype.kind == "u":
        x -= half
    return np.ascontiguousarray(x / half, dtype=np.float32)


def _writable_contiguous(flags) -> bool:
    return flags.c_contiguous and flags.writeable


def _validate(block) -> np.ndarray:
    """A C-contiguous float32 1-D array of the block's samples, or ValueError. Integer PCM
    (int16 blocks from a sound card, say) is scaled by its dtype (``pcm_to_float``), never
    processed as raw counts. Finiteness is each engine's first step (the numba kernels test it
    themselves, saving a call per block, which matters at small blocks)."""
    # Fast path, the real-time case: a C-contiguous float32 1-D array is used as it is.
    if (type(block) is np.ndarray and block.dtype is _F32 and block.ndim == 1
            and block.flags.c_contiguous):
        return block
    if isinstance(block, torch.Tensor):
        block = block.detach().cpu().numpy()
    a = np.asarray(block)
    if a.ndim != 1:
        raise ValueError(f"process() takes a 1-D block of samples, got shape {a.shape}")
    if a.dtype.kind not in "fiu":
        raise ValueError(f"process() takes real samples, got dtype {a.dtype}")
    if a.dtype.kind in "iu":
        return pcm_to_float(a)
    with np.errstate(over="ignore"):              # float64 beyond float32's range -> inf
        return np.ascontiguousarray(a, dtype=np.float32)


# ------------------------------------------------------------------------------ engines
class _RNNNumba:
    """The numba kernels through one compiled entry point per model (``fxlib.runtime.bank``):
    weights and state in one array, checked and run in one call."""
    backend = "numba"
    latency = 0

    def __init__(self, model: RecurrentModel, gates: str):
        self.bank = bank.pack(model, gates)
        self.state = bank.state_views(self.bank)      # (h,) or (h, c): views into the bank
        # process(x, out) is the compiled entry itself, the bank bound first: no Python frame
        # between the caller and the kernel. Compile (or load from numba's cache) it now, not
        # in the first real-time call.
        self.process = functools.partial(bank.entry(model.cell, gates), self.bank)
        empty = np.zeros(0, np.float32)
        self.process(empty, empty)

    def reset(self) -> None:
        for a in self.state:
            a.fill(0.0)


class _RNNTorch:
    backend = "torch"
    latency = 0

    def __init__(self, model: RecurrentModel):
        self.model = model
        self.state = None

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        _require_length(x, out)
        _require_finite(x)
        if not x.shape[0]:
            return
        p = self.model.lin.weight
        xt = torch.from_numpy(x).to(p.device, p.dtype)[None]
        with torch.no_grad():
            y, self.state = self.model.forward_stateful(xt, self.state)
        out[:] = y[0].to("cpu", torch.float32).numpy()

    def reset(self) -> None:
        self.state = None


class _CAFxTorch:
    """Exact streaming of ``CAFx.forward`` (see the module doc for the latency)."""

    backend = "torch"

    def __init__(self, model: CAFx):
        self.model = model
        N, M = model.frame_length, model.config.hop
        if N != 2 * M:
            raise ValueError("CAFx streaming needs hop = frame_length / 2")
        w = model.window.detach().to("cpu", torch.float32).numpy().copy()
        nz = np.flatnonzero(w[:M])
        if nz.size == 0:
            raise ValueError("the window's first half is all zeros")
        self.N, self.M, self.window = N, M, w
        self.latency = int(2 * M - 1 - nz[0])               # 4094 for the periodic Hann
        self._inbuf = np.zeros(N, np.float32)
        self._acc = np.zeros(3 * M, np.float32)
        self.reset()

    def reset(self) -> None:
        M = self.M
        self._inbuf.fill(0.0)
        self._fill = M                  # the M leading zeros of CAFx.forward's padding
        self._acc.fill(0.0)             # acc[i] = y[base + i]
        self._base = -3 * M             # _frame() shifts by M first: frame k lands at
                                        # acc[M:3M] with base = (k-2)M
        self._n_in = 0                  # input samples consumed
        self._final_end = 0             # y[:final_end] is final

    def _frame(self) -> None:
        p = self.model.conv.weight
        f = torch.from_numpy(self._inbuf).to(p.device, p.dtype)[None]
        with torch.no_grad():
            y = self.model.forward_frames(f)[0].to("cpu", torch.float32).numpy()
        M = self.M
        acc = self._acc
        acc[:2 * M] = acc[M:]
        acc[2 * M:] = 0.0
        self._base += M
        acc[M:] += y * self.window
        # Frame k covers y[(k-1)M, (k+1)M); with it, y up to kM + r0 - 1 is final.
        k_end = self._base + 3 * M          # (k+1)M
        self._final_end = k_end - M + (2 * M - 1 - self.latency)
        self._inbuf[:M] = self._inbuf[M:]
        self._fill = M

    def _emit(self, out: np.ndarray, start: int, n: int) -> None:
        """Write y[s - L] for input indices s in [n_in, n_in + n) into out[start:start+n]."""
        t0 = self._n_in - self.latency
        t1 = t0 + n
        neg = min(max(-t0, 0), n)
        out[start:start + neg] = 0.0
        if neg < n:
            a = max(t0, 0)
            assert t1 <= self._final_end and a - self._base >= 0, "internal latency error"
            out[start + neg:start + n] = self._acc[a - self._base:t1 - self._base]

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        _require_length(x, out)
        _require_finite(x)
        i, n = 0, x.shape[0]
        while i < n:
            m = min(n - i, self.N - self._fill)
            self._inbuf[self._fill:self._fill + m] = x[i:i + m]
            self._fill += m
            if self._fill == self.N:
                self._frame()
            self._emit(out, i, m)
            self._n_in += m
            i += m


#: The engines of each model family, by backend name; the first is what "auto" picks.
ENGINES = {RecurrentFamily: {"numba": _RNNNumba, "torch": _RNNTorch},
           CAFxFamily: {"torch": _CAFxTorch}}

#: Backend names per family name.
BACKENDS = {family.name: tuple(engines) for family, engines in ENGINES.items()}


# ---------------------------------------------------------------------------- public API
class Streamer:
    """Stream a model block by block.

    >>> s = Streamer(fxlib.build_model("C16"))          # backend "auto" -> "numba"
    >>> y1 = s.process(x[:64]); y2 = s.process(x[64:128])   # == model(x)[:128], latency 0
    >>> s.reset()

    ``model``: a ``RecurrentModel`` (B/C, backends "numba", "torch") or a ``CAFx`` (A/Av2,
    backend "torch"). ``gates`` (numba only) picks the kernels' gate arithmetic:
    ``"float32"`` (the default: 16-lane float32 gates, the fastest, rounding where PyTorch
    rounds), ``"float64"`` (call-free float64 exp, slower, the closest to the float64 model)
    or ``"libm"`` (reference); see ``fxlib.runtime.kernels``. The numba backend copies the
    weights at construction (build a new ``Streamer`` after changing them) and compiles (or
    loads from numba's disk cache) its kernel there too, so the first ``process`` call does
    not.
    """

    def __init__(self, model, backend: str = "auto", *, gates: str | None = None):
        try:
            engines = ENGINES[type(family_of(model))]
        except TypeError:
            raise TypeError(f"Streamer supports RecurrentModel (B/C) and CAFx (A/Av2), got "
                            f"{type(model).__name__}") from None
        no_skip = isinstance(model, RecurrentModel) and not model.skip
        if backend == "auto":
            # the numba kernels add the input sample (the skip) in their last step: a -noskip
            # model (NAM's LSTM form) streams through PyTorch
            backend = "torch" if no_skip else next(iter(engines))
        if backend == "numba" and no_skip:
            raise ValueError("the numba streaming kernels add the input (the skip); a model "
                             "without it (-noskip) streams with backend='torch' or 'auto'")
        if backend not in engines:
            raise ValueError(f"backend {backend!r} is not available for "
                             f"{family_of(model).name} models; choose one of "
                             f"{('auto',) + tuple(engines)}")
        if gates is not None and backend != "numba":
            raise ValueError(f"gates={gates!r} applies to the numba backend only")
        gates = K.GATES[0] if gates is None else gates
        if gates not in K.GATES:
            raise ValueError(f"gates must be one of {K.GATES}, got {gates!r}")
        self.model = model
        engine = engines[backend]
        self._engine = engine(model, gates) if backend == "numba" else engine(model)
        # numba's entry refuses wrong types itself (TypeError -> _checked); the others check
        # first, always
        self._process = self._engine.process if backend == "numba" else self._checked

    @property
    def backend(self) -> str:
        return self._engine.backend

    @property
    def latency(self) -> int:
        """Output delay in samples: output sample n is the whole-signal output at n - latency."""
        return self._engine.latency

    def process(self, block, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Process one block (1-D, any length); return its output block (float32, same length).

        ``out``: optional preallocated float32 C-contiguous array of the same length (then
        this is ``process_into``).
        """
        if out is None:
            block = _validate(block)
            out = np.empty(block.shape[0], np.float32)
        return self.process_into(block, out)

    def process_into(self, block, out: np.ndarray) -> np.ndarray:
        """Process one block into the caller's ``out`` (a writable, C-contiguous float32 1-D
        array of the block's length) and return ``out``: the real-time entry, which allocates
        nothing. The block is checked as in ``process`` (1-D, real, finite; converted when it
        is not float32) and a failed check leaves the state untouched.

        For B/C on the numba backend the call goes straight to the model's compiled entry
        point (``fxlib.runtime.bank``), which checks the lengths and finiteness itself and
        takes only float32 C-contiguous arrays: anything else raises TypeError there before
        any work, and lands here on the slow path, which converts the block or names what is
        wrong with ``out``."""
        try:
            self._process(block, out)
        except TypeError:
            if self._process == self._checked:    # raised by the engine itself: not ours
                raise
            self._checked(block, out)
        return out

    def _checked(self, block, out) -> None:
        """Check and convert, then process: every engine but numba's always comes here."""
        block = _validate(block)
        if not block.flags.writeable:           # the compiled entries take writable arrays
            block = block.copy()
        if not (type(out) is np.ndarray and (out.dtype is _F32 or out.dtype == _F32)
                and out.ndim == 1 and _writable_contiguous(out.flags)):
            raise ValueError("out must be a writable, C-contiguous float32 1-D array shaped "
                             "like the block")
        self._engine.process(block, out)      # checks the lengths and NaN/inf, state untouched

    def flush(self) -> np.ndarray:
        """Process ``latency`` zeros: the output still held back (empty for latency 0)."""
        return self.process(np.zeros(self.latency, np.float32))

    def reset(self) -> None:
        """Back to the initial state (zero recurrent state / empty buffers)."""
        self._engine.reset()

    def __repr__(self) -> str:
        return (f"Streamer({type(self.model).__name__}, backend={self.backend!r}, "
                f"latency={self.latency})")


def stream(model, x, block: int = 64, *, backend: str = "auto", align: bool = False,
           **kwargs) -> np.ndarray:
    """Run a whole 1-D signal through a fresh ``Streamer`` in blocks of ``block`` samples.

    Returns the stream's output, the same length as ``x`` (delayed by ``latency``). With
    ``align=True`` the held-back tail is flushed and the delay removed, so the result should
    equal ``model(x)`` up to float rounding.
    """
    if int(block) < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    x = _validate(x)
    s = Streamer(model, backend, **kwargs)
    out = np.empty_like(x)
    for i in range(0, x.shape[0], int(block)):
        s.process(x[i:i + block], out[i:i + block])
    if align and s.latency:
        out = np.concatenate([out, s.flush()])[s.latency:]
    return out
