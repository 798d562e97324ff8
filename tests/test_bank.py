"""``fxlib.runtime.bank``: one compiled entry point per model. The entries (small-size kernels
included) give bit for bit the output of the block kernels they stand for, refuse a bank that
does not fit its header, and ``Streamer.process_into`` keeps every input check."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from numba import types

from fxlib.models.rnn import RecurrentModel
from fxlib.runtime import Streamer
from fxlib.runtime import bank
from fxlib.runtime import kernels as K


def _model(cell: str, hidden: int, seed: int = 0) -> RecurrentModel:
    torch.manual_seed(seed)
    return RecurrentModel(cell=cell, hidden_size=hidden).eval()


def _signal(n: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def _block_kernel(model, gates: str, x: np.ndarray) -> np.ndarray:
    """The separate-array block kernel of ``kernels`` on a fresh state, in blocks of 64."""
    p = K.prepare_lstm(model) if model.cell == "LSTM" else K.prepare_gru(model)
    state = K.state_arrays(model)
    out = np.empty_like(x)
    for i in range(0, len(x), 64):
        K.kernels(model.cell, gates)(x[i:i + 64], *state, *[p[k] for k in K.ARGS[model.cell]],
                                     out[i:i + 64])
    return out


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("hidden", [1, 5, 8, 12, 16, 17, 20])
def test_entry_is_bitwise_the_block_kernel(cell, hidden):
    """H = 8 and 16 run the register-resident small kernels, other H the general ones:
    either way the same arithmetic in the same order as ``lstm_block`` / ``gru_block``."""
    model = _model(cell, hidden, seed=hidden)
    x = _signal(3000, seed=hidden)
    b = bank.pack(model)
    out = np.empty_like(x)
    for i in range(0, len(x), 100):                 # another partition than the reference's
        bank.entry(cell)(b, x[i:i + 100], out[i:i + 100])
    np.testing.assert_array_equal(out, _block_kernel(model, "float32", x))


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("gates", ["float64", "libm"])
def test_entry_runs_the_other_gate_variants(cell, gates):
    model = _model(cell, 12, seed=3)
    x = _signal(500, seed=3)
    b = bank.pack(model, gates)
    out = np.empty_like(x)
    bank.entry(cell, gates)(b, x, out)
    np.testing.assert_array_equal(out, _block_kernel(model, gates, x))
    with pytest.raises(ValueError, match="not this entry"):      # a float32 entry refuses it
        bank.entry(cell)(b, x, out)


def test_state_views_are_the_banks_state():
    model = _model("LSTM", 8)
    b = bank.pack(model)
    h, c = bank.state_views(b)
    assert h.shape == c.shape == (16,) and not h.any() and not c.any()
    bank.run_lstm(b, _signal(50), np.empty(50, np.float32))
    assert h.any() and c.any() and not h[8:].any()       # padded units stay exactly 0
    (hg,) = bank.state_views(bank.pack(_model("GRU", 20)))
    assert hg.shape == (32,)


def test_a_bank_that_does_not_fit_its_header_is_refused():
    lstm, gru = bank.pack(_model("LSTM", 8)), bank.pack(_model("GRU", 8))
    x, out = _signal(10), np.empty(10, np.float32)
    for run, b in [(bank.run_lstm, lstm[:-16]), (bank.run_lstm, gru), (bank.run_gru, lstm),
                   (bank.run_gru, np.concatenate([gru, np.zeros(16, np.float32)]))]:
        with pytest.raises(ValueError, match="does not fit its header"):
            run(b, x, out)
    with pytest.raises(ValueError, match="block's length"):
        bank.run_lstm(lstm, x, np.empty(9, np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        bank.run_gru(gru, np.array([0.0, np.nan], np.float32), np.empty(2, np.float32))
    with pytest.raises(ValueError, match="gates must be one of"):
        bank.pack(_model("GRU", 8), "float16")
    with pytest.raises(ValueError, match="no entry for cell 'RNN'"):
        bank.entry("RNN")


def test_process_into_writes_the_callers_buffer_and_keeps_the_checks():
    model = _model("GRU", 8)
    x = _signal(256)
    ref = Streamer(model).process(x)
    s = Streamer(model)
    out = np.full(256, 7.0, np.float32)
    for i in range(0, 256, 64):
        assert s.process_into(x[i:i + 64], out[i:i + 64]) is not None
    np.testing.assert_array_equal(out, ref)
    s.reset()
    mine = np.empty(64, np.float32)
    assert s.process_into(x[:64], mine) is mine
    s.reset()
    readonly = np.empty(64, np.float32)
    readonly.flags.writeable = False
    bad_out = [np.empty(64, np.float64), np.empty((1, 64), np.float32), np.empty(63, np.float32),
               np.empty(128, np.float32)[::2], readonly, [0.0] * 64]
    for o in bad_out:
        with pytest.raises(ValueError, match="out must"):
            s.process_into(x[:64], o)
    with pytest.raises(ValueError, match="non-finite"):
        s.process_into(np.full(64, np.inf, np.float32), mine)
    # nothing above touched the state; float64, int16 and read-only blocks are converted
    readonly_block = x[:64].copy()
    readonly_block.flags.writeable = False
    np.testing.assert_array_equal(s.process_into(readonly_block, mine), ref[:64])
    s.reset()
    np.testing.assert_array_equal(s.process_into(x[:64].astype(np.float64), mine), ref[:64])
    s.reset()
    pcm = (x[:64] * 2 ** 15).astype(np.int16)
    np.testing.assert_array_equal(s.process_into(pcm, mine),
                                  Streamer(model).process(pcm.astype(np.float32) / 2 ** 15))


def test_process_into_on_a_torch_engine_checks_the_length():
    s = Streamer(_model("LSTM", 8), "torch")
    with pytest.raises(ValueError, match="out must"):
        s.process_into(_signal(64), np.empty(32, np.float32))


def test_an_entry_takes_one_signature_only():
    """Compiled for float32 C-contiguous arrays on first use and closed to anything else: a
    TypeError before any work (``Streamer.process_into`` converts on that cue)."""
    b = bank.pack(_model("LSTM", 8))
    run = bank.entry("LSTM")
    h, _ = bank.state_views(b)
    for x in (np.zeros(4), np.zeros(8, np.float32)[::2], [0.0] * 4):
        with pytest.raises(TypeError):
            run(b, x, np.empty(4, np.float32))
    assert not h.any()
    assert run.signatures == [(types.float32[::1],) * 3]       # nothing else was compiled
