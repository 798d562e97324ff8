"""One compiled entry point per recurrent model: its weights and state packed in one array (the
"bank"), and ``run_lstm(bank, x, out)`` / ``run_gru(bank, x, out)`` that check, run and write
into a preallocated output in a single call from Python.

Why. At 64-sample blocks a streamer makes 689 calls per second of audio, and for the students
(8 and 16 units) the arithmetic of a block is a few microseconds: what a call costs on its way
in matters as much as the kernel. A numba call pays for each argument it types and unboxes
(about 40 ns per array on the 2-core dev machine, on top of about 220 ns per call), so the
nine arrays of ``kernels.lstm_block`` cost twice what three do; the bank brings them to three.
(Measured per-call costs: docs/benchmarks.md, section 'Streaming at small sizes'.)

Layout of the bank (float32, 64-byte aligned; every segment is a multiple of 16 floats, so
every segment is aligned too)::

    header (16) | h (Hp) | c (Hp, LSTM only) | g (Gp, scratch) | w0 (Gp) | b0 (Gp)
    | w_in (Hp), b_in (Hp) (GRU only) | w_lin (Hp) | b_lin (16) | w_hh (H * Gp)

with the arrays of ``kernels.prepare_lstm`` / ``prepare_gru`` (Hp = H padded to 16, Gp = Hp
times the gates). The header holds small integers as floats (exact below 2**24): the cell
(0 LSTM, 1 GRU), H, Hp and the gate arithmetic (the index in ``kernels.GATES``). An entry
reads the header, checks that the bank's length fits it, that ``x`` and ``out`` have the same
length and that ``x`` is finite, then runs the kernel on views of the bank (no copy, no
allocation). There is one entry per cell and gate arithmetic (``ENTRIES``), so a first use
compiles only the kernels that model needs, and each is compiled for one signature only
(``ENTRY_SIGNATURE``, on first use: importing this module compiles nothing), so numba's
dispatcher refuses any other argument type with a TypeError before running anything.

Small sizes. For H = 8 and 16 (the students' sizes) and float32 gates the entries run
``_lstm16`` / ``_gru16``: the same arithmetic as ``kernels.lstm_block`` / ``gru_block`` in the
same order (so bit for bit the same output; a test checks), with the gate pre-activations, the
state and the input weights held in registers for the whole block instead of going through
memory every sample, and the mat-vec unrolled, each h[j] taken from a register lane
(``simd.vmatvec``) instead of storing h and loading it back. Other sizes run the general
kernels.
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit, types
from numba.core.dispatcher import Dispatcher

from ..models.rnn import RecurrentModel
from . import kernels as K
from .simd import (LANES, vfma, vload, vmatvec, vmul, vsigmoid, vsigmoid_fast, vsplat, vstore,
                   vsub, vsum, vtanh)

__all__ = ["pack", "run_lstm", "run_gru", "run_lstm_f64", "run_gru_f64", "run_lstm_libm",
           "run_gru_libm", "entry", "ENTRIES", "state_views", "compile_entries", "HEADER",
           "CELLS", "ENTRY_SIGNATURE"]

#: Floats before the state: the header, padded to one 16-lane vector (64 bytes).
HEADER = 16
#: Cell codes of the header.
CELLS = ("LSTM", "GRU")
#: The one signature of the entries (``entry`` compiles it on first use and closes the entry
#: to any other): (bank, x, out), each a writable C-contiguous float32 1-D array. Any other
#: argument type raises TypeError at the call, before any code runs, which is how
#: ``Streamer.process_into`` knows to check and convert the block on its slow path instead.
ENTRY_SIGNATURE = "void(float32[::1], float32[::1], float32[::1])"
_SIGNATURE = (types.float32[::1],) * 3        # as a dispatcher lists it in ``signatures``


def pack(model, gates: str = "float32") -> np.ndarray:
    """The bank of a single-layer ``RecurrentModel`` (module doc): a snapshot of its weights
    (later edits are not seen) and a zero state."""
    cell = model.cell
    if gates not in K.GATES:
        raise ValueError(f"gates must be one of {K.GATES}, got {gates!r}")
    p = K.prepare_lstm(model) if cell == "LSTM" else K.prepare_gru(model)
    H, Hp = model.hidden_size, K.padded_hidden(model.hidden_size)
    Gp = p["w0"].shape[0]
    header = np.zeros(HEADER, np.float32)
    header[:4] = (CELLS.index(cell), H, Hp, K.GATES.index(gates))
    b_lin = np.zeros(LANES, np.float32)
    b_lin[0] = p["b_lin"][0]
    state = [np.zeros(Hp, np.float32)] * (2 if cell == "LSTM" else 1)
    extra = [p["w_in"], p["b_in"]] if cell == "GRU" else []
    parts = [header, *state, np.zeros(Gp, np.float32), p["w0"], p["b0"], *extra, p["w_lin"],
             b_lin, p["w_hh"]]
    return K.aligned(np.concatenate(parts))


def state_views(bank: np.ndarray) -> tuple:
    """(h,) for a GRU bank, (h, c) for an LSTM bank: views into the bank (writes reach it)."""
    Hp = int(bank[2])
    n = 2 if int(bank[0]) == 0 else 1
    return tuple(bank[HEADER + k * Hp:HEADER + (k + 1) * Hp] for k in range(n))


@njit(cache=True, error_model="numpy", fastmath=False)
def _check_io(x, out):
    if out.shape[0] != x.shape[0]:
        raise ValueError("out must have the block's length")
    if not K.all_finite(x):
        raise ValueError("process() got non-finite samples (NaN or inf) in the block")


@njit(cache=True, error_model="numpy", fastmath=False)
def _require_fit(bank, cell, gates, size, H, Hp):
    """The header names this cell and gates, and the bank is as long as it says: the vector
    code does not bounds-check, so a bank that does not fit is refused before any load."""
    if (int(bank[0]) != cell or int(bank[3]) != gates or bank.shape[0] != size or H > Hp
            or Hp % LANES):
        raise ValueError("the bank does not fit its header, or not this entry: build it with "
                         "fxlib.runtime.bank.pack and run it with entry(cell, gates)")


@njit(cache=True, inline="always")
def _student(w_hh, g):
    """H = 8 or 16, the students' sizes, which the register kernels serve (H = w_hh / Gp);
    every other size runs the general kernels."""
    H = w_hh.shape[0] // g.shape[0]
    return H == 8 or H == 16


# ---------------------------------------------------------------------------------- LSTM
@njit(cache=True, error_model="numpy")
def _lstm16(x, h, c, w0, b0, w_hh, w_lin, b_lin, out):
    """``kernels.lstm_block`` for H = 8 or 16 (Hp = 16: one 16-lane vector per gate), in
    registers: the mat-vec broadcasts h from register lanes (``simd.vmatvec``), and h and c
    go back to memory once, after the block."""
    H = w_hh.shape[0] // (4 * LANES)
    w0i, w0f, w0g, w0o = vload(w0, 0), vload(w0, 16), vload(w0, 32), vload(w0, 48)
    b0i, b0f, b0g, b0o = vload(b0, 0), vload(b0, 16), vload(b0, 32), vload(b0, 48)
    wl = vload(w_lin, 0)
    zero = vsplat(np.float32(0.0))
    hv, cv = vload(h, 0), vload(c, 0)
    for t in range(x.shape[0]):
        xt = x[t]
        xs = vsplat(xt)
        ai, af = vfma(xs, w0i, b0i), vfma(xs, w0f, b0f)
        ag, ao = vfma(xs, w0g, b0g), vfma(xs, w0o, b0o)
        if H == 16:                          # one panel of 4 blocks, j-major (kernels doc)
            ai, af, ag, ao = vmatvec(hv, w_hh, (ai, af, ag, ao), 16)
        else:
            ai, af, ag, ao = vmatvec(hv, w_hh, (ai, af, ag, ao), 8)
        i = vsigmoid_fast(ai)
        f = vsigmoid(af)                     # compensated: f scales c every sample
        cv = vfma(f, cv, vmul(i, vtanh(ag)))
        hv = vmul(vsigmoid_fast(ao), vtanh(cv))
        out[t] = (vsum(vfma(hv, wl, zero)) + b_lin[0]) + xt
    vstore(h, 0, hv)
    vstore(c, 0, cv)


@njit(cache=True, inline="always", error_model="numpy", fastmath=False)
def _lstm_views(bank, gates):
    """The arrays of an LSTM bank, as views; a bank that does not fit its header, or was
    packed for other gates, is refused."""
    H, Hp = int(bank[1]), int(bank[2])
    Gp = 4 * Hp
    o = HEADER
    h, c, g = bank[o:o + Hp], bank[o + Hp:o + 2 * Hp], bank[o + 2 * Hp:o + 2 * Hp + Gp]
    o += 2 * Hp + Gp
    w0, b0 = bank[o:o + Gp], bank[o + Gp:o + 2 * Gp]
    o += 2 * Gp
    w_lin, b_lin = bank[o:o + Hp], bank[o + Hp:o + Hp + LANES]
    o += Hp + LANES
    _require_fit(bank, 0, gates, o + H * Gp, H, Hp)
    return h, c, g, w0, b0, bank[o:], w_lin, b_lin


@njit(cache=True, error_model="numpy")
def run_lstm(bank, x, out):
    """Check, then run one block of an LSTM bank with float32 gates (module doc); the state
    is updated in place."""
    _check_io(x, out)
    h, c, g, w0, b0, w_hh, w_lin, b_lin = _lstm_views(bank, 0)
    if _student(w_hh, g):
        _lstm16(x, h, c, w0, b0, w_hh, w_lin, b_lin, out)
    else:
        K.lstm_run(x, h, c, w0, b0, w_hh, w_lin, b_lin, out, g)


@njit(cache=True, error_model="numpy")
def run_lstm_f64(bank, x, out):
    """``run_lstm`` with the float64 gates (``kernels.lstm_block_f64``)."""
    _check_io(x, out)
    h, c, g, w0, b0, w_hh, w_lin, b_lin = _lstm_views(bank, 1)
    K.lstm_block_f64(x, h, c, w0, b0, w_hh, w_lin, b_lin, out)


@njit(cache=True, error_model="numpy")
def run_lstm_libm(bank, x, out):
    """``run_lstm`` with the libm gates (``kernels.lstm_block_exact``)."""
    _check_io(x, out)
    h, c, g, w0, b0, w_hh, w_lin, b_lin = _lstm_views(bank, 2)
    K.lstm_block_exact(x, h, c, w0, b0, w_hh, w_lin, b_lin, out)


# ----------------------------------------------------------------------------------- GRU
@njit(cache=True, error_model="numpy")
def _gru16(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out):
    """``kernels.gru_block`` for H = 8 or 16, in registers (``_lstm16``)."""
    H = w_hh.shape[0] // (3 * LANES)
    w0r, w0z, w0n = vload(w0, 0), vload(w0, 16), vload(w0, 32)
    b0r, b0z, b0n = vload(b0, 0), vload(b0, 16), vload(b0, 32)
    win, bin_ = vload(w_in, 0), vload(b_in, 0)
    wl = vload(w_lin, 0)
    zero = vsplat(np.float32(0.0))
    hv = vload(h, 0)
    for t in range(x.shape[0]):
        xt = x[t]
        xs = vsplat(xt)
        ar, az, an = vfma(xs, w0r, b0r), vfma(xs, w0z, b0z), vfma(xs, w0n, b0n)
        if H == 16:                          # one partial panel of 3 blocks, j-major
            ar, az, an = vmatvec(hv, w_hh, (ar, az, an), 16)
        else:
            ar, az, an = vmatvec(hv, w_hh, (ar, az, an), 8)
        r = vsigmoid_fast(ar)
        z = vsigmoid(az)                     # compensated: z scales h every sample
        n = vtanh(vfma(r, an, vfma(xs, win, bin_)))
        hv = vfma(z, vsub(hv, n), n)
        out[t] = (vsum(vfma(hv, wl, zero)) + b_lin[0]) + xt
    vstore(h, 0, hv)


@njit(cache=True, inline="always", error_model="numpy", fastmath=False)
def _gru_views(bank, gates):
    """The arrays of a GRU bank, as views (``_lstm_views``)."""
    H, Hp = int(bank[1]), int(bank[2])
    Gp = 3 * Hp
    o = HEADER
    h, g = bank[o:o + Hp], bank[o + Hp:o + Hp + Gp]
    o += Hp + Gp
    w0, b0 = bank[o:o + Gp], bank[o + Gp:o + 2 * Gp]
    o += 2 * Gp
    w_in, b_in = bank[o:o + Hp], bank[o + Hp:o + 2 * Hp]
    o += 2 * Hp
    w_lin, b_lin = bank[o:o + Hp], bank[o + Hp:o + Hp + LANES]
    o += Hp + LANES
    _require_fit(bank, 1, gates, o + H * Gp, H, Hp)
    return h, g, w0, b0, bank[o:], w_in, b_in, w_lin, b_lin


@njit(cache=True, error_model="numpy")
def run_gru(bank, x, out):
    """Check, then run one block of a GRU bank with float32 gates (module doc); the state is
    updated in place."""
    _check_io(x, out)
    h, g, w0, b0, w_hh, w_in, b_in, w_lin, b_lin = _gru_views(bank, 0)
    if _student(w_hh, g):
        _gru16(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out)
    else:
        K.gru_run(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out, g)


@njit(cache=True, error_model="numpy")
def run_gru_f64(bank, x, out):
    """``run_gru`` with the float64 gates (``kernels.gru_block_f64``)."""
    _check_io(x, out)
    h, g, w0, b0, w_hh, w_in, b_in, w_lin, b_lin = _gru_views(bank, 1)
    K.gru_block_f64(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out)


@njit(cache=True, error_model="numpy")
def run_gru_libm(bank, x, out):
    """``run_gru`` with the libm gates (``kernels.gru_block_exact``)."""
    _check_io(x, out)
    h, g, w0, b0, w_hh, w_in, b_in, w_lin, b_lin = _gru_views(bank, 2)
    K.gru_block_exact(x, h, w0, b0, w_hh, w_in, b_in, w_lin, b_lin, out)


#: The entry point of each (cell, gates), by name in this module.
ENTRIES = {("LSTM", "float32"): "run_lstm", ("LSTM", "float64"): "run_lstm_f64",
           ("LSTM", "libm"): "run_lstm_libm", ("GRU", "float32"): "run_gru",
           ("GRU", "float64"): "run_gru_f64", ("GRU", "libm"): "run_gru_libm"}


def entry(cell: str, gates: str = "float32"):
    """The entry point for banks of ``cell`` and ``gates``, compiled (or loaded from numba's
    disk cache) for ``ENTRY_SIGNATURE`` on first use and then closed to any other signature:
    a call with other argument types raises TypeError before running anything."""
    try:
        run = globals()[ENTRIES[(cell.upper(), gates)]]
    except KeyError:
        raise ValueError(f"no entry for cell {cell!r} with gates {gates!r}: cells {CELLS}, "
                         f"gates {K.GATES}") from None
    if isinstance(run, Dispatcher) and run.signatures != [_SIGNATURE]:   # a test may wrap it
        run.compile(ENTRY_SIGNATURE)
        run.disable_compile()
    return run


def compile_entries() -> float:
    """``kernels.compile_kernels``, then both entry points with every gate variant and the
    argument types ``Streamer`` passes; return the seconds it took. Afterwards no ``Streamer``
    of a recurrent model has anything left to compile (numba caches all of it on disk)."""
    t0 = time.perf_counter()
    K.compile_kernels()
    x = np.zeros(2, np.float32)
    out = np.empty(2, np.float32)
    for cell in CELLS:
        model = RecurrentModel(cell=cell, hidden_size=2)
        for gates in K.GATES:
            entry(cell, gates)(pack(model, gates), x, out)
    return time.perf_counter() - t0
