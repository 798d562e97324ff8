"""fxlib.runtime: streaming B/C (numba kernels, torch) and CAFx against the whole-signal forward.

Correctness only (no timing). The numba kernels use a call-free exp (relative error
EXP_MAX_REL_ERR = 2e-12, checked here) and their own summation order and rounding points, so
the stream matches ``model(x)`` to float32 rounding, not bitwise; the bound asserted is 1e-5 max
abs over 60 s of audio-like input (observed ~1e-7 for random weights). The pretrained
muff-muff2 LSTM and muff-muff4 GRU amplify float32 rounding beyond that bound -- PyTorch's own
float32 forward is 1.7e-5 (LSTM) and 8e-4 (GRU) from the float64 forward after 60 s -- so for
them the stream must be at least as close to the float64 forward as PyTorch's float32 is.
Set FXLIB_RUNTIME_FULL=1 to run every block partition over the whole 60 s.
"""
from __future__ import annotations

import copy
import math
import os

import numpy as np
import pytest
import torch
from numba import njit

from fxlib.io import load_wright_json
from fxlib.models import build_model
from fxlib.runtime import Streamer, stream
from fxlib.runtime import bank
from fxlib.runtime import kernels as K
from fxlib.runtime import simd

SR = 44_100
TOL = 1e-5
LONG_S = 60          # seconds of input for the block partitions
SHORT_S = 2          # seconds for the 1-sample partition and the slower torch backend
PREFIX_S = 10        # seconds for the other fixed partitions unless FXLIB_RUNTIME_FULL=1
FULL = os.environ.get("FXLIB_RUNTIME_FULL", "0") not in ("", "0")
FIXED_BLOCKS = (32, 64, 128, 512, 8192)


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    """Audio-like: 0.3 * exponential sine sweeps (40 Hz -> 8 kHz, 5 s each) with a slow
    amplitude envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    period, f0, f1 = 5.0, 40.0, 8000.0
    tau = t % period
    k = np.log(f1 / f0) / period
    phase = 2 * np.pi * f0 * (np.exp(k * tau) - 1) / k
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 0.13 * t)
    x = 0.3 * env * np.sin(phase) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def long_signal() -> np.ndarray:
    return _signal(LONG_S)


def _reference(model, x: np.ndarray) -> np.ndarray:
    """PyTorch's whole-signal forward, ``model(x)`` (batch 1, float32, no_grad)."""
    with torch.no_grad():
        return model(torch.from_numpy(x)[None])[0].numpy()


REF_SEGMENT = 10 * SR


def _reference_long(model, x: np.ndarray, segment: int = REF_SEGMENT) -> np.ndarray:
    """``model(x)`` for long recurrent inputs, computed by PyTorch in 10-s segments with the
    state carried (``forward_stateful``). One 60-s (2.6 M-step) ``nn.LSTM`` call fails in
    oneDNN ("could not create a primitive": its per-step buffers exceed its limits) and the
    native fallback takes ~46 s; ``test_segmented_reference_equals_one_call`` checks that the
    segmentation does not change the reference."""
    out, state = [], None
    with torch.no_grad():
        for i in range(0, len(x), segment):
            y, state = model.forward_stateful(torch.from_numpy(x[i:i + segment])[None], state)
            out.append(y[0].numpy())
    return np.concatenate(out)


def _random_partition(n: int, seed: int, max_block: int = 8192) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(1, max_block + 1)))
        if rng.random() < 0.05:
            sizes.append(0)                         # empty blocks are allowed
    sizes[-1] -= sum(sizes) - n
    return sizes


def _run(streamer: Streamer, x: np.ndarray, sizes) -> np.ndarray:
    out, i = [], 0
    for m in sizes:
        y = streamer.process(x[i:i + m])
        assert y.dtype == np.float32 and y.shape == (m,)
        out.append(y)
        i += m
    assert i == x.shape[0]
    return np.concatenate(out)


def _fixed(n: int, block: int) -> list[int]:
    return [min(block, n - i) for i in range(0, n, block)]


def _check_all_partitions(model, x: np.ndarray, seed: int, ref64: np.ndarray | None = None,
                          gates: str = "float32"):
    """Stream ``x`` in every partition and compare with ``model(x)``.

    Every partition is checked against the reference over ``FULL_S`` seconds when
    FXLIB_RUNTIME_FULL=1 (the whole matrix: ~2-3 min on the 2-core dev machine). By default,
    to keep this file under a minute, the random partition and 64-sample blocks run over all of
    ``x`` (60 s) and the other fixed sizes over its first ``PREFIX_S`` seconds -- and every
    partition's output must be *bitwise* equal to the random partition's (the kernels do the
    same arithmetic per sample whatever the block boundaries), which extends the 60-s bound to
    all of them.

    ``ref64``: a float64 reference, for models whose recurrence amplifies float32 rounding so
    much that no float32 implementation can match PyTorch's float32 output to TOL (the stream
    must then be at least as close to the float64 reference as PyTorch's float32 output is).
    """
    ref = _reference_long(model, x)
    s = Streamer(model, gates=gates)
    assert s.backend == "numba" and s.latency == 0
    n = len(x)
    n_prefix = n if FULL else min(n, PREFIX_S * SR)
    n1 = min(n, SHORT_S * SR)
    parts = {"random 1..8192": (n, _random_partition(n, seed)), "fixed 64": (n, _fixed(n, 64))}
    parts.update({f"fixed {b}": (n_prefix, _fixed(n_prefix, b)) for b in FIXED_BLOCKS if b != 64})
    parts["fixed 1"] = (n1, [1] * n1)
    outs, errors = {}, {}
    for name, (m, sizes) in parts.items():
        s.reset()
        outs[name] = _run(s, x[:m], sizes)
        errors[f"{name} ({m / SR:g} s)"] = float(np.abs(outs[name] - ref[:m]).max())
    label = f"{model.cell}-{model.hidden_size} ({gates} gates)"
    print(f"\n{label} max abs error vs model(x): {errors}")
    base = outs["random 1..8192"]
    for name, y in outs.items():
        np.testing.assert_array_equal(y, base[:len(y)], err_msg=f"{label}: {name} differs")
    if ref64 is None:
        bad = {k: v for k, v in errors.items() if not v <= TOL}
        assert not bad, f"errors above {TOL}: {bad}"
    else:
        floor = float(np.abs(ref - ref64).max())
        ours = float(np.abs(base - ref64).max())
        print(f"{label}: vs float64, torch float32 {floor:.2e}, stream {ours:.2e}")
        assert ours <= floor
    return errors


@pytest.mark.parametrize("name,gates",
                         [(n, "float32") for n in ("B", "B16", "B8", "C", "C16", "C8")]
                         + [(n, "float64") for n in ("B", "B8", "C", "C16")])
def test_numba_stream_matches_forward_random_weights(name, gates, long_signal):
    torch.manual_seed(1234)
    model = build_model(name).eval()
    _check_all_partitions(model, long_signal, seed=sum(map(ord, name)), gates=gates)


@pytest.mark.parametrize("name", ["B", "C"])
def test_segmented_reference_equals_one_call(name):
    torch.manual_seed(1234)
    model = build_model(name).eval()
    x = _signal(2.5, seed=1)
    np.testing.assert_allclose(_reference_long(model, x, segment=SR), _reference(model, x),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("gates", ["float32", "float64"])
def test_numba_stream_pretrained_lstm_at_float32_floor(pretrained_dir, long_signal, gates):
    """muff-muff2 (LSTM-64, a high-gain fuzz) amplifies float32 rounding: PyTorch's own float32
    forward is 1.3e-5 from its float64 forward within 5 s and 1.7e-5 after 60 s, above TOL, so
    which float32 implementation lands within 1e-5 of it depends on how closely it copies its
    rounding points. Checked instead: the stream is at least as close to the float64 forward
    as PyTorch's float32 forward. Measured on this signal: float32 gates 1.3e-5, float64 gates
    1.0e-5 (with the plain ``vsigmoid_fast`` on the forget gate: 4.6e-5, which this test would
    catch: the forget gate's rounding compounds in the cell state). And partition invariance,
    bitwise."""
    model = load_wright_json(pretrained_dir / "muff-muff2.json")
    assert model.cell == "LSTM"
    _check_all_partitions(model, long_signal, seed=7, ref64=_lstm_reference_f64(model, long_signal),
                          gates=gates)


def _lstm_reference_f64(model, x: np.ndarray) -> np.ndarray:
    """The LSTM model in float64, textbook formulas with libm (numba; ``nn.LSTM`` in float64
    takes ~65 s for 60 s here)."""
    rec = model.rec
    w_ih, w_hh, b_ih, b_hh = (t.detach().double().numpy() for t in (
        rec.weight_ih_l0, rec.weight_hh_l0, rec.bias_ih_l0, rec.bias_hh_l0))
    w = model.lin.weight.detach().double().numpy().reshape(-1)
    b = float(model.lin.bias.detach().double())
    return _lstm_f64(x.astype(np.float64), w_ih.reshape(-1), w_hh, b_ih + b_hh, w, b)


@njit(cache=True)
def _lstm_f64(x, w_ih, w_hh, bias, w_lin, b_lin):
    H = w_hh.shape[1]
    h = np.zeros(H)
    c = np.zeros(H)
    out = np.empty_like(x)
    for t in range(x.shape[0]):
        g = w_hh @ h + w_ih * x[t] + bias
        i = 1.0 / (1.0 + np.exp(-g[:H]))
        f = 1.0 / (1.0 + np.exp(-g[H:2 * H]))
        o = 1.0 / (1.0 + np.exp(-g[3 * H:]))
        c = f * c + i * np.tanh(g[2 * H:3 * H])
        h = o * np.tanh(c)
        out[t] = x[t] + (w_lin @ h + b_lin)
    return out


@pytest.mark.parametrize("gates", ["float32", "float64"])
def test_numba_stream_pretrained_gru_at_float32_floor(pretrained_dir, long_signal, gates):
    """muff-muff4 (GRU-64) amplifies float32 rounding: PyTorch's own float32 forward is
    ~8e-4 from its float64 forward after 60 s (1e-4 within the first 5 s), so matching the
    float32 forward to 1e-5 is not a property any float32 implementation has (the numba
    kernels with libm tanh differ from it by as much). Checked instead: the stream is at least
    as close to the float64 forward as PyTorch's float32 forward (measured: float32 gates
    6.1e-5, float64 gates 2.6e-4, PyTorch 8.5e-4), and partition invariance, bitwise."""
    model = load_wright_json(pretrained_dir / "muff-muff4.json")
    assert model.cell == "GRU"
    ref64 = _gru_reference_f64(model, long_signal)
    _check_all_partitions(model, long_signal, seed=8, ref64=ref64, gates=gates)


def _gru_reference_f64(model, x: np.ndarray) -> np.ndarray:
    """The GRU model in float64: fxlib's GRU recurrence (``gru_forward``, whose float64 path
    uses libm exp/tanh; ``nn.GRU`` in float64 would take ~35 s here) and the read-out, in
    10-s segments with the state carried."""
    from fxlib.models.gru_kernel import gru_forward
    rec = model.rec
    p = [t.detach().double() for t in (rec.weight_ih_l0, rec.weight_hh_l0, rec.bias_ih_l0,
                                       rec.bias_hh_l0)]
    w, b = model.lin.weight.detach().double(), model.lin.bias.detach().double()
    h = torch.zeros(1, model.hidden_size, dtype=torch.float64)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), REF_SEGMENT):
            xs = torch.from_numpy(x[i:i + REF_SEGMENT].astype(np.float64))[None]
            hs, h = gru_forward(xs, h, *p)
            out.append((xs + (hs @ w.t() + b).squeeze(-1))[0].numpy())
    return np.concatenate(out)


@pytest.mark.parametrize("name", ["B16", "C16"])
@pytest.mark.parametrize("backend,gates", [("torch", None), ("numba", "libm"),
                                           ("numba", "float64")])
def test_other_backends_match_forward(name, backend, gates):
    torch.manual_seed(5)
    model = build_model(name).eval()
    x = _signal(SHORT_S, seed=3)
    ref = _reference(model, x)
    s = Streamer(model, backend, gates=gates)
    assert s.backend == backend and s.latency == 0
    y = _run(s, x, _random_partition(len(x), seed=11, max_block=2048))
    assert np.abs(y - ref).max() <= TOL


@pytest.mark.parametrize("name", ["B8", "C8"])
@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_reset_restores_initial_behaviour(name, backend):
    torch.manual_seed(2)
    model = build_model(name).eval()
    x = _signal(0.3, seed=4)
    s = Streamer(model, backend)
    first = s.process(x)
    carried = s.process(x)
    assert not np.array_equal(first, carried)      # the state was carried
    s.reset()
    np.testing.assert_array_equal(s.process(x), first)


def test_state_carried_across_calls():
    torch.manual_seed(3)
    model = build_model("C8").eval()
    x = _signal(0.5, seed=5)
    ref = _reference(model, x)
    np.testing.assert_allclose(stream(model, x, 100), ref, rtol=0, atol=TOL)
    np.testing.assert_allclose(stream(model, x, 100, align=True), ref, rtol=0, atol=TOL)


@pytest.mark.parametrize("backend,gates", [("numba", g) for g in K.GATES] + [("torch", None)])
def test_bad_input_raises_and_keeps_state(backend, gates):
    torch.manual_seed(4)
    model = build_model("B8").eval()
    x = _signal(0.1, seed=6)
    s = Streamer(model, backend, gates=gates)
    ref = s.process(x).copy()
    s.reset()
    bad = [np.zeros((2, 64), np.float32), np.zeros((1, 64), np.float32), np.float32(0.5),
           np.array([0.1, np.nan], np.float32), np.array([np.inf, 0.0], np.float32),
           np.array([-np.inf], np.float64), np.array([0.0, 1e300], np.float64),
           np.zeros(4, np.complex64), np.zeros(3, bool)]
    for b in bad:
        with pytest.raises(ValueError):
            s.process(b)
    assert s.process(np.zeros(0, np.float32)).shape == (0,)
    np.testing.assert_array_equal(s.process(x), ref)     # state untouched by the failures
    # float64 input is converted
    s.reset()
    np.testing.assert_array_equal(s.process(x.astype(np.float64)), ref)
    with pytest.raises(ValueError):
        s.process(x, out=np.empty(3, np.float32))


def test_backend_selection_errors():
    with pytest.raises(ValueError):
        Streamer(build_model("B8"), "cuda")
    with pytest.raises(ValueError):
        Streamer(build_model("Av2"), "numba")
    with pytest.raises(TypeError):
        Streamer(torch.nn.Linear(1, 1))
    with pytest.raises(ValueError):
        Streamer(build_model("B8"), "torch", gates="libm")
    with pytest.raises(ValueError):
        Streamer(build_model("B8"), gates="float16")


def test_exp_error_bound():
    """The documented bound of the float64 call-free exp of the default kernels."""
    y = np.concatenate([np.linspace(-700.0, 700.0, 2_000_001), np.linspace(-1.0, 1.0, 1_000_001),
                        np.linspace(-41.0, 41.0, 1_000_001), np.array([0.0, -0.0, 1e-300])])
    rel = np.abs(simd.exp_array(y) / np.exp(y) - 1.0)
    print(f"\nexp_f64 max relative error {rel.max():.3e} (bound {simd.EXP_MAX_REL_ERR:.1e})")
    assert rel.max() <= simd.EXP_MAX_REL_ERR


def _ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got - ref| in units of the last place of ref rounded to float32."""
    unit = np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / np.maximum(unit, np.spacing(np.float32(1e-38)))


def test_gate_function_error_bounds():
    """The documented bounds of the float32 vector exp/expm1/sigmoid/tanh (simd module doc)."""
    y = np.concatenate([np.linspace(-80, 80, 2_000_001), np.linspace(-1, 1, 1_000_001),
                        np.linspace(-1e-3, 1e-3, 200_001)]).astype(np.float32)
    yd = y.astype(np.float64)
    errs = {"exp": _ulps(simd.apply("exp", y), np.exp(yd)).max(),
            "expm1": _ulps(simd.apply("expm1", y), np.expm1(yd)).max()}
    v = np.concatenate([y, np.array([0.0, -0.0, 1e-30, -1e-30, 1e-45, 1e30, -1e30, 3e38, -3e38],
                                    np.float32)])
    vd = v.astype(np.float64)
    errs["tanh"] = _ulps(simd.apply("tanh", v), np.tanh(vd)).max()
    ref = 1.0 / (1.0 + np.exp(-np.clip(vd, -700, 700)))
    big = ref >= 1e-16                  # below the clamp: sigmoid(-40) = 4.2e-18 is returned
    sigs = {name: simd.apply(name, v) for name in ("sigmoid", "sigmoid_fast")}
    for name, sig in sigs.items():
        errs[name] = _ulps(sig[big], ref[big]).max()
        assert np.abs(sig[~big] - ref[~big]).max() <= 4.3e-18
        assert np.all(np.isfinite(sig))
    print("\ngate functions, max ulps:", {k: round(float(e), 3) for k, e in errs.items()})
    assert errs["exp"] <= simd.EXP_MAX_ULP and errs["expm1"] <= simd.EXP_MAX_ULP
    assert errs["sigmoid"] <= simd.SIGMOID_MAX_ULP and errs["tanh"] <= simd.TANH_MAX_ULP
    assert errs["sigmoid_fast"] <= simd.SIGMOID_FAST_MAX_ULP
    assert np.all(np.abs(simd.apply("tanh", v)) <= 1.0)


def _fma32(a, b, c):
    """float32 fused multiply-add: a * b is exact in float64, so one rounding of the float64 sum
    (then to float32) -- a double rounding only in rare ties, which these fixed inputs avoid."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_float32_kernels_use_the_tested_gate_functions(cell):
    """One step of the default kernels, recomputed from ``simd.apply`` (whose error bounds the
    test above checks) and NumPy: bitwise equal. Guards against compiling the kernels with
    fast-math, which rewrites the inlined gate functions (and undoes their compensations)."""
    from fxlib.models.rnn import RecurrentModel
    torch.manual_seed(21)
    model = RecurrentModel(cell=cell, hidden_size=32)
    p = K.prepare_lstm(model) if cell == "LSTM" else K.prepare_gru(model)
    Hp = K.padded_hidden(32)
    rng = np.random.default_rng(21)
    state = [K.aligned(rng.standard_normal(Hp).astype(np.float32)) for _ in K.state_arrays(model)]
    before = [a.copy() for a in state]
    x = np.array([0.7], np.float32)
    K.kernels(cell, "float32")(x, *state, *[p[k] for k in K.ARGS[cell]], np.empty(1, np.float32))
    g = np.empty_like(p["w0"])
    K.gates_blocked(x[0], before[0].copy(), p["w0"], p["b0"], p["w_hh"], g)
    sig, fast, tanh = (lambda v, name=name: simd.apply(name, v)
                       for name in ("sigmoid", "sigmoid_fast", "tanh"))
    blocks = [g[q * Hp:(q + 1) * Hp] for q in range(len(g) // Hp)]
    if cell == "LSTM":
        i, f, gg, o = fast(blocks[0]), sig(blocks[1]), tanh(blocks[2]), fast(blocks[3])
        c = _fma32(f, before[1], i * gg)
        np.testing.assert_array_equal(state[1], c)
        np.testing.assert_array_equal(state[0], o * tanh(c))
    else:
        r, z = fast(blocks[0]), sig(blocks[1])
        n = tanh(_fma32(r, blocks[2], _fma32(np.full(Hp, x[0]), p["w_in"], p["b_in"])))
        np.testing.assert_array_equal(state[0], _fma32(z, before[0] - n, n))


@pytest.mark.parametrize("cell,H", [("LSTM", 64), ("GRU", 64), ("LSTM", 8), ("GRU", 8),
                                    ("GRU", 16), ("LSTM", 20), ("GRU", 40), ("LSTM", 1)])
def test_blocked_matvec(cell, H):
    """The register-blocked mat-vec (full and partial panels, gate padding) against float64."""
    from fxlib.models.rnn import RecurrentModel
    torch.manual_seed(H)
    model = RecurrentModel(cell=cell, hidden_size=H)
    p = K.prepare_lstm(model) if cell == "LSTM" else K.prepare_gru(model)
    n_gates = 4 if cell == "LSTM" else 3
    Hp = K.padded_hidden(H)
    assert Hp % simd.LANES == 0 and Hp - H < simd.LANES and p["w0"].shape[0] == n_gates * Hp
    for name in ("w0", "b0", "w_hh", "w_lin"):      # 16-lane loads on cache-line boundaries
        assert p[name].ctypes.data % K.ALIGN == 0 and p[name].flags.c_contiguous
    w_hh = model.rec.weight_hh_l0.detach().double().numpy()
    rows = np.concatenate([q * Hp + np.arange(H) for q in range(n_gates)])  # real gate rows
    pad = np.setdiff1d(np.arange(n_gates * Hp), rows)
    rng = np.random.default_rng(H)
    for _ in range(3):
        h = np.zeros(Hp, np.float32)
        h[:H] = rng.standard_normal(H)
        xt = np.float32(rng.standard_normal())
        g = np.full_like(p["w0"], np.nan)
        K.gates_blocked(xt, h, p["w0"], p["b0"], p["w_hh"], g)
        ref = (w_hh @ h[:H].astype(np.float64) + p["w0"][rows].astype(np.float64) * float(xt)
               + p["b0"][rows])
        assert np.abs(g[rows] - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
        assert np.all(g[pad] == 0.0)                # zero padding rows stay zero


def test_kernels_refuse_mismatched_arrays():
    model = build_model("B8")
    p = K.prepare_lstm(model)
    h, c = K.state_arrays(model)
    x = np.zeros(4, np.float32)
    K.lstm_block(x, h, c, *[p[k] for k in K.ARGS["LSTM"]], np.empty(4, np.float32))
    with pytest.raises(ValueError):                 # state of the unpadded size
        K.lstm_block(x, np.zeros(8, np.float32), np.zeros(8, np.float32),
                     *[p[k] for k in K.ARGS["LSTM"]], np.empty(4, np.float32))
    with pytest.raises(ValueError):                 # output of another length
        K.lstm_block(x, h, c, *[p[k] for k in K.ARGS["LSTM"]], np.empty(3, np.float32))


def test_gru_bias_split():
    """b_hn stays inside r * (W_hn h + b_hn): moving it out would change the output."""
    torch.manual_seed(6)
    model = build_model("C8").eval()
    with torch.no_grad():
        model.rec.bias_hh_l0.normal_(0, 1.0)        # a large b_hn makes the split matter
    x = _signal(0.5, seed=8)
    ref = _reference(model, x)
    p = K.prepare_gru(model)
    H = model.hidden_size
    bh = model.rec.bias_hh_l0.detach().numpy()
    Hp = K.padded_hidden(H)
    np.testing.assert_array_equal(p["b0"][2 * Hp:2 * Hp + H], bh[2 * H:])
    assert np.abs(stream(model, x, 64) - ref).max() <= TOL


# ------------------------------------------------------------------------------------ CAFx
@pytest.fixture(scope="module")
def av2():
    torch.manual_seed(0)
    return build_model("Av2").eval()


def test_cafx_stream_equals_forward_delayed(av2):
    x = _signal(3.0, seed=9)
    n = len(x)
    ref = _reference(av2, x)
    s = Streamer(av2)
    L = s.latency
    assert s.backend == "torch" and L == 2 * av2.config.hop - 2 == 4094
    for sizes in (_random_partition(n, seed=12), _fixed(n, 64)):
        s.reset()
        y = _run(s, x, sizes)
        assert np.all(y[:L] == 0)
        assert np.abs(y[L:] - ref[:n - L]).max() <= TOL
        # the held-back tail: the stream's output of L more zeros is model(x)'s last L samples
        assert np.abs(s.flush() - ref[n - L:]).max() <= TOL
    np.testing.assert_allclose(stream(av2, x, 1000, align=True), ref, rtol=0, atol=TOL)


def test_cafx_latency_is_minimal(av2):
    """y[1] depends on x[1 + L] (so latency L - 1 could not reproduce model(x)), while y[0] does
    not depend on x[L]: the w[0] = 0 of the periodic Hann window is what saves one sample over
    the naive N - 1. (That y[t] never needs x beyond t + L is the stream-equality test.)"""
    M = av2.config.hop
    L = Streamer(av2).latency
    m64 = copy.deepcopy(av2).double()              # float64: w[1] = 6e-7 times a change must show
    x = _signal(3 * M / SR + 0.01, seed=10)[:3 * M].astype(np.float64)
    with torch.no_grad():
        base = m64(torch.from_numpy(x)[None])[0].numpy()
        x2 = x.copy()
        x2[1 + L] += 1.0                             # = x[2M - 1], last sample of frame 1
        d = np.abs(m64(torch.from_numpy(x2)[None])[0].numpy() - base)
    assert d[0] == 0.0                               # y[0]: frame 1's window weight w[0] = 0
    assert d[1] > 0 and d[2] > 0                     # y[1], y[2] need x[1 + L]


# ------------------------------------------------------------------------- compile_kernels
#: The numba dispatchers ``bank.compile_entries`` must run, by module: every cell x ``GATES``
#: block function, the blocked mat-vec, the bare chain, the finiteness check and the vector
#: gate functions behind ``simd.apply`` (``kernels.compile_kernels``), then both entry points.
BLOCK_KERNELS = {(cell, gates): K.kernels(cell, gates).__name__
                 for cell in ("LSTM", "GRU") for gates in K.GATES}
ENTRIES = dict(bank.ENTRIES)
COMPILED = [(K, name) for name in sorted(BLOCK_KERNELS.values())] + [
    (K, "gates_blocked"), (K, "bare_chain"), (K, "all_finite"), (simd, "_apply")] + [
    (bank, name) for name in sorted(ENTRIES.values())]


def _record_calls(monkeypatch, targets):
    """Replace each numba dispatcher ``module.name`` by a wrapper that records the numba types
    of its arguments (the signature a call compiles or picks) and then calls the dispatcher.
    Calls are recorded whatever was compiled before in this process, so the check does not
    depend on test order."""
    calls = {}

    def wrap(name, disp):
        def recorder(*args):
            calls.setdefault(name, []).append(tuple(disp.typeof_pyval(a) for a in args))
            return disp(*args)
        recorder.__name__ = name
        return recorder

    for module, name in targets:
        disp = getattr(module, name)
        monkeypatch.setattr(module, name, wrap(name, disp))
    return calls


def test_compile_kernels_runs_every_kernel(monkeypatch):
    """``compile_entries`` calls every block kernel (both cells x every gate variant), the
    blocked mat-vec, the gate functions and both entry points, each with exactly the argument
    types the streamer passes at run time: afterwards no ``Streamer`` call has anything left to
    compile. Then each entry and gate variant reproduces PyTorch's forward on a model."""
    originals = {name: getattr(module, name) for module, name in COMPILED}
    calls = _record_calls(monkeypatch, COMPILED)
    seconds = bank.compile_entries()
    assert isinstance(seconds, float) and math.isfinite(seconds)
    missing = sorted({name for _, name in COMPILED} - set(calls))
    assert not missing, f"compile_kernels did not run {missing}"
    for name, sigs in calls.items():                # each call left a compiled overload
        assert set(sigs) <= set(originals[name].signatures), name
        assert all(sig in originals[name].overloads for sig in sigs), name
    compiled = {name: set(sigs) for name, sigs in calls.items()}

    # The signature the streamer uses is one compile_entries compiled: record it (and its
    # empty warm-up block) through the same wrappers, on other model sizes (20: the general
    # kernels with a partial 16-lane block; 8: the small-size kernels).
    calls.clear()
    from fxlib.models.rnn import RecurrentModel
    rng = np.random.default_rng(31)
    x = (0.5 * rng.standard_normal(300)).astype(np.float32)
    for (cell, gates), name in ENTRIES.items():
        for hidden in (20, 8):
            torch.manual_seed(31)
            model = RecurrentModel(cell=cell, hidden_size=hidden).eval()
            s = Streamer(model, gates=gates)
            y = s.process(x)
            used = set(calls.pop(name))
            assert used and used <= compiled[name], (cell, gates, used, compiled[name])
            assert np.abs(y - _reference(model, x)).max() <= TOL, (cell, gates, hidden)
            assert not calls                         # nothing else was dispatched
