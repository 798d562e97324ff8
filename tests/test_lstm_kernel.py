"""The numba LSTM kernel (fxlib.models.lstm_kernel) against nn.LSTM: outputs, gradients, state.

Tolerances: the kernel sums in a different order and, for float32, evaluates the gates with a
float32 rational tanh (max abs error pinned below), so agreement is to float32 rounding, not
bitwise: outputs within atol 1e-6 / rtol 1e-5; gradients (sums over ~1000 rows) within 1e-4
relative to each tensor's largest entry (observed ~1e-6). float64 goes through libm and is
checked by ``gradcheck``.
"""
import numpy as np
import pytest
import torch

import fxlib.models.rnn as R
from fxlib.models import RNNStream, build_model
from fxlib.models.kernel_common import _POOL, _tanh32
from fxlib.models.lstm_kernel import LSTMFunction, lstm_forward
from test_gru_kernel import _close_grads           # the same tolerance for both kernels


def _case(H, B, T=300, seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(1, H, batch_first=True)
    with torch.no_grad():                      # larger than default init: saturating gates
        for p in lstm.parameters():
            p.mul_(2.0)
    x = (0.5 * torch.randn(B, T)).requires_grad_()
    h0 = (0.5 * torch.randn(1, B, H)).requires_grad_()
    c0 = (0.5 * torch.randn(1, B, H)).requires_grad_()
    return lstm, x, h0, c0


def test_float32_tanh_error_bound():
    v = np.linspace(-12, 12, 200_001, dtype=np.float32)
    got = np.array([_tanh32(np.float32(a)) for a in v[::50]], dtype=np.float64)
    err = np.abs(got - np.tanh(v[::50].astype(np.float64))).max()
    assert err < 5e-7, err                     # a few float32 ulp near |tanh| = 1


@pytest.mark.parametrize("H", [8, 16, 64])
@pytest.mark.parametrize("B", [1, 3])
def test_outputs_and_gradients_match_nn_lstm(H, B):
    lstm, x, h0, c0 = _case(H, B)
    params = list(lstm.parameters())
    hs, (hT, cT) = lstm(x.unsqueeze(-1), (h0, c0))
    g_out, g_h, g_c = torch.randn_like(hs), torch.randn_like(hT), torch.randn_like(cT)
    loss = (hs * g_out).sum() + (hT * g_h).sum() + (cT * g_c).sum()
    ref = torch.autograd.grad(loss, [x, h0, c0] + params)

    hs2, hT2, cT2 = lstm_forward(x, h0[0], c0[0], *params)
    for got, want in ((hs2, hs), (hT2, hT[0]), (cT2, cT[0])):
        torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6)
    loss2 = (hs2 * g_out).sum() + (hT2 * g_h[0]).sum() + (cT2 * g_c[0]).sum()
    _close_grads(torch.autograd.grad(loss2, [x, h0, c0] + params), ref)

    with torch.no_grad():                      # no-save inference path: the same numbers
        inf = lstm_forward(x, h0[0], c0[0], *params)
    for got, want in zip(inf, (hs2, hT2, cT2)):
        torch.testing.assert_close(got, want.detach(), rtol=0, atol=0)


def test_only_some_outputs_used_and_partial_requires_grad():
    lstm, x, h0, c0 = _case(8, 2, T=50, seed=1)
    x, h0, c0 = x.detach(), h0.detach(), c0.detach()  # only parameters require grad
    params = list(lstm.parameters())
    _, (_, cT) = lstm(x.unsqueeze(-1), (h0, c0))
    ref = torch.autograd.grad(cT.sum(), params)
    _, _, cT2 = lstm_forward(x, h0[0], c0[0], *params)
    _close_grads(torch.autograd.grad(cT2.sum(), params), ref)


def test_gradcheck_float64():
    torch.manual_seed(2)
    H, B, T = 3, 2, 6
    args = [torch.randn(B, T), torch.randn(B, H), torch.randn(B, H), torch.randn(4 * H, 1),
            torch.randn(4 * H, H), torch.randn(4 * H), torch.randn(4 * H)]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(LSTMFunction.apply, args)


@pytest.fixture
def kernel_on(monkeypatch):
    monkeypatch.setattr(R, "USE_LSTM_KERNEL", True)
    monkeypatch.setattr(R, "LSTM_KERNEL_HIDDEN", frozenset({8, 16, 64}))


@pytest.mark.parametrize("name", ["B8", "B"])
def test_model_uses_kernel_and_matches_nn_lstm_path(monkeypatch, kernel_on, name):
    torch.manual_seed(3)
    m = build_model(name)
    x = 0.3 * torch.randn(2, 400)
    calls = []
    monkeypatch.setattr(m.rec, "forward", lambda *a, **k: calls.append(1) or
                        torch.nn.LSTM.forward(m.rec, *a, **k))
    y, s = m.forward_stateful(x)
    assert not calls and isinstance(s, tuple) and s[0].shape == s[1].shape == (1, 2, m.hidden_size)
    monkeypatch.setattr(R, "USE_LSTM_KERNEL", False)       # the switch: back to nn.LSTM
    y_ref, s_ref = m.forward_stateful(x)
    assert calls
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(s, s_ref, rtol=1e-5, atol=1e-6)


def test_hidden_sizes_outside_the_measured_set_use_nn_lstm(monkeypatch, kernel_on):
    import fxlib.models.lstm_kernel as lk

    class KernelUsed(Exception):
        pass

    def used(*a):
        raise KernelUsed

    monkeypatch.setattr(R, "LSTM_KERNEL_HIDDEN", frozenset({8}))
    monkeypatch.setattr(lk, "lstm_forward", used)
    build_model("B16")(torch.randn(2, 50))
    with pytest.raises(KernelUsed):
        build_model("B8")(torch.randn(2, 50))


def test_model_training_gradients_match_nn_lstm(monkeypatch, kernel_on):
    torch.manual_seed(4)
    m = build_model("B16")
    x, t = 0.3 * torch.randn(3, 300), 0.3 * torch.randn(3, 300)
    state = (0.1 * torch.randn(1, 3, 16), 0.1 * torch.randn(1, 3, 16))
    grads = []
    for on in (True, False):
        monkeypatch.setattr(R, "USE_LSTM_KERNEL", on)
        m.zero_grad()
        y, (h, c) = m.forward_stateful(x, state)
        ((y - t) ** 2).mean().add(h.sum() + 0.5 * c.sum()).backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    _close_grads(grads[0], grads[1])


def test_stateful_chunks_equal_one_pass(kernel_on):
    torch.manual_seed(5)
    m = build_model("B16")
    x = 0.3 * torch.randn(2, 500)
    with torch.no_grad():
        y, s = m.forward_stateful(x)
        stream = RNNStream(m)
        y2 = torch.cat([stream.process(x[:, :173]), stream.process(x[:, 173:])], dim=1)
    torch.testing.assert_close(y2, y, rtol=0, atol=0)   # same kernel, same order: bitwise
    torch.testing.assert_close(stream.state, s, rtol=0, atol=0)
    # with grad (TBPTT: detach the carried state between chunks)
    y_a, s_a = m.forward_stateful(x[:, :173])
    y_b, _ = m.forward_stateful(x[:, 173:], m.detach_state(s_a))
    torch.testing.assert_close(torch.cat([y_a, y_b], 1).detach(), y, rtol=0, atol=0)
    # 1-D input and a zero_state start
    y1 = m(x[0]).detach()
    torch.testing.assert_close(y1, m.forward_stateful(x[:1], m.zero_state(1))[0][0].detach())


def test_falls_back_for_float64_and_mixed_dtypes(monkeypatch, kernel_on):
    import fxlib.models.lstm_kernel as lk
    monkeypatch.setattr(lk, "lstm_forward", lambda *a: pytest.fail("kernel used"))
    m = build_model("B8").double()
    m(torch.randn(2, 50, dtype=torch.float64))
    state64 = (torch.zeros(1, 2, 8, dtype=torch.float64),) * 2   # state in another dtype
    with pytest.raises(RuntimeError):                            # nn.LSTM's own message
        build_model("B8").forward_stateful(torch.randn(2, 30), state64)
    build_model("C8")(torch.randn(2, 50))               # a GRU never takes the LSTM kernel


def test_buffers_are_reused_only_after_their_graph_is_freed():
    lstm, x, h0, c0 = _case(8, 2, T=64, seed=6)
    params = list(lstm.parameters())
    hs, hT, cT = lstm_forward(x, h0[0], c0[0], *params)
    first = torch.autograd.grad(hs.sum(), params, retain_graph=True)
    hs_b, _, _ = lstm_forward(x, h0[0], c0[0], *params)      # another graph meanwhile
    second = torch.autograd.grad(hs.sum(), params)            # the kept graph: same buffers
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    key = ((64, 2, 8), torch.float32)
    del hs, hT, cT                                           # the first graph is freed now
    assert _POOL._free.get(key)                           # its activations are back
    again, _, _ = lstm_forward(x, h0[0], c0[0], *params)     # and reused: same numbers
    torch.testing.assert_close(again, hs_b, rtol=0, atol=0)
