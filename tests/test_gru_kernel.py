"""The numba GRU kernel (fxlib.models.gru_kernel) against nn.GRU: outputs, gradients, state.

Tolerances: the kernel sums in a different order and uses a rational tanh approximation (max abs
error 2.2e-7) for float32, so agreement is to float32 rounding, not bitwise: outputs within
atol 1e-6 / rtol 1e-5; gradients (sums over ~1000 rows) within 1e-4 relative to each tensor's
largest entry (observed ~1e-6).
"""
import pytest
import torch

import fxlib.models.rnn as R
from fxlib.models import RNNStream, build_model
from fxlib.models.gru_kernel import GRUFunction, gru_forward


def _close_grads(got, ref, rel=1e-4):
    for g, r in zip(got, ref):
        g = g.reshape(r.shape)
        torch.testing.assert_close(g, r, rtol=0, atol=rel * r.abs().max().item())


def _case(H, B, T=300, seed=0):
    torch.manual_seed(seed)
    gru = torch.nn.GRU(1, H, batch_first=True)
    with torch.no_grad():                      # larger than default init: saturating gates
        for p in gru.parameters():
            p.mul_(2.0)
    x = (0.5 * torch.randn(B, T)).requires_grad_()
    h0 = (0.5 * torch.randn(1, B, H)).requires_grad_()
    return gru, x, h0


@pytest.mark.parametrize("H", [8, 64])
@pytest.mark.parametrize("B", [1, 3])
def test_outputs_and_gradients_match_nn_gru(H, B):
    gru, x, h0 = _case(H, B)
    params = [gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]
    hs, hT = gru(x.unsqueeze(-1), h0)
    g_out, g_T = torch.randn_like(hs), torch.randn_like(hT)
    ref = torch.autograd.grad((hs * g_out).sum() + (hT * g_T).sum(), [x, h0] + params)

    hs2, hT2 = gru_forward(x, h0[0], *params)
    torch.testing.assert_close(hs2, hs.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(hT2, hT[0].detach(), rtol=1e-5, atol=1e-6)
    got = torch.autograd.grad((hs2 * g_out).sum() + (hT2 * g_T[0]).sum(), [x, h0] + params)
    _close_grads(got, ref)

    with torch.no_grad():                      # no-save inference path
        hs3, hT3 = gru_forward(x, h0[0], *params)
    torch.testing.assert_close(hs3, hs2.detach(), rtol=0, atol=0)
    torch.testing.assert_close(hT3, hT2.detach(), rtol=0, atol=0)


def test_only_some_outputs_used_and_partial_requires_grad():
    gru, x, h0 = _case(8, 2, T=50, seed=1)
    x = x.detach()                             # only parameters require grad
    params = [gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]
    _, hT = gru(x.unsqueeze(-1), h0.detach())
    ref = torch.autograd.grad(hT.sum(), params)
    _, hT2 = gru_forward(x, h0[0].detach(), *params)
    _close_grads(torch.autograd.grad(hT2.sum(), params), ref)


def test_gradcheck_float64():
    torch.manual_seed(2)
    H, B, T = 3, 2, 6
    args = [torch.randn(B, T), torch.randn(B, H), torch.randn(3 * H, 1), torch.randn(3 * H, H),
            torch.randn(3 * H), torch.randn(3 * H)]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(GRUFunction.apply, args)


@pytest.fixture
def kernel_on(monkeypatch):
    monkeypatch.setattr(R, "USE_GRU_KERNEL", True)


@pytest.mark.parametrize("name", ["C8", "C"])
def test_model_uses_kernel_and_matches_nn_gru_path(monkeypatch, kernel_on, name):
    torch.manual_seed(3)
    m = build_model(name)
    x = 0.3 * torch.randn(2, 400)
    calls = []
    monkeypatch.setattr(m.rec, "forward", lambda *a, **k: calls.append(1) or
                        torch.nn.GRU.forward(m.rec, *a, **k))
    y, s = m.forward_stateful(x)
    assert not calls and s.shape == (1, 2, m.hidden_size)
    monkeypatch.setattr(R, "USE_GRU_KERNEL", False)        # the switch: back to nn.GRU
    y_ref, s_ref = m.forward_stateful(x)
    assert calls
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(s, s_ref, rtol=1e-5, atol=1e-6)


def test_model_training_gradients_match_nn_gru(monkeypatch, kernel_on):
    torch.manual_seed(4)
    m = build_model("C8")
    x, t = 0.3 * torch.randn(3, 300), 0.3 * torch.randn(3, 300)
    state = 0.1 * torch.randn(1, 3, 8)
    grads = []
    for on in (True, False):
        monkeypatch.setattr(R, "USE_GRU_KERNEL", on)
        m.zero_grad()
        y, s = m.forward_stateful(x, state)
        ((y - t) ** 2).mean().add(s.sum()).backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    _close_grads(grads[0], grads[1])


def test_stateful_chunks_equal_one_pass(kernel_on):
    torch.manual_seed(5)
    m = build_model("C16")
    x = 0.3 * torch.randn(2, 500)
    with torch.no_grad():
        y, s = m.forward_stateful(x)
        stream = RNNStream(m)
        y2 = torch.cat([stream.process(x[:, :173]), stream.process(x[:, 173:])], dim=1)
    torch.testing.assert_close(y2, y, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(stream.state, s, rtol=1e-6, atol=1e-7)
    # with grad (TBPTT: detach the carried state between chunks)
    y_a, s_a = m.forward_stateful(x[:, :173])
    y_b, _ = m.forward_stateful(x[:, 173:], m.detach_state(s_a))
    torch.testing.assert_close(torch.cat([y_a, y_b], 1).detach(), y, rtol=1e-6, atol=1e-7)
    # 1-D input and a zero_state start
    y1 = m(x[0]).detach()
    torch.testing.assert_close(y1, m.forward_stateful(x[:1], m.zero_state(1))[0][0].detach())


def test_falls_back_for_float64_and_lstm(monkeypatch, kernel_on):
    import fxlib.models.gru_kernel as gk
    monkeypatch.setattr(gk, "gru_forward", lambda *a: pytest.fail("kernel used"))
    m = build_model("C8").double()
    m(torch.randn(2, 50, dtype=torch.float64))
    build_model("B8")(torch.randn(2, 50))


def test_buffers_are_reused_only_after_their_graph_is_freed():
    from fxlib.models.kernel_common import _POOL
    gru, x, h0 = _case(8, 2, T=64, seed=6)
    params = [gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]
    hs, hT = gru_forward(x, h0[0], *params)
    first = torch.autograd.grad(hs.sum(), params, retain_graph=True)
    hs_b, _ = gru_forward(x, h0[0], *params)                 # another graph meanwhile
    second = torch.autograd.grad(hs.sum(), params)           # the kept graph: same buffers
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    key = ((64, 2, 16), torch.float32)                       # r and z of the first graph
    had = len(_POOL._free.get(key, []))
    del hs, hT                                               # the first graph is freed now
    assert len(_POOL._free.get(key, [])) == had + 1          # its activations are back
    again, _ = gru_forward(x, h0[0], *params)                # and reused: same numbers
    torch.testing.assert_close(again, hs_b, rtol=0, atol=0)


def test_tbptt_updates_reuse_their_buffers():
    """Consecutive TBPTT updates (the previous graph alive until the next forward returns) take
    every saved and scratch buffer from the pool once it is warm: no new ones per update."""
    from fxlib.models.kernel_common import _POOL
    torch.manual_seed(7)
    for name in ("C8", "B8"):
        m = build_model(name)
        x = 0.3 * torch.randn(2, 96)
        made = []
        take = _POOL.take

        def counting_take(shape, dtype):
            free = _POOL._free.get((shape, dtype))
            if not free:
                made.append(shape)
            return take(shape, dtype)

        _POOL.take = counting_take
        try:
            out = None
            for update in range(4):
                if update == 2:
                    made.clear()                  # the first two updates fill the pool
                out, _ = m.forward_stateful(x)
                out.pow(2).mean().backward()
        finally:
            _POOL.take = take
        assert made == [], (name, made)
