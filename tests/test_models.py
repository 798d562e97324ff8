"""Models A/Av2 (CAFx) and B/C (recurrent): exact sizes, structure, framing, state."""
import pytest
import torch
import torch.nn.functional as F

import fxlib
from fxlib.models import CAFx, RecurrentModel, RNNStream, SAAF, build_model, count_parameters
from fxlib.models.cafx import same_pad

# Thesis tables 4.1-4.9 (and MODEL-SPEC's layer arithmetic).
EXPECTED_PARAMS = {"A": 72065, "Av2": 34113, "B": 17217, "B16": 1233, "B8": 361,
                   "C": 12929, "C16": 929, "C8": 273}


@pytest.mark.parametrize("name,count", EXPECTED_PARAMS.items())
def test_exact_trainable_parameter_counts(name, count):
    assert count_parameters(build_model(name)) == count


def test_registry_names_and_unknown_name():
    assert fxlib.MODEL_NAMES == tuple(EXPECTED_PARAMS)
    assert fxlib.build_model is build_model
    with pytest.raises(ValueError, match="unknown model 'D'.*A, Av2"):
        build_model("D")


def test_count_parameters_ignores_frozen_and_counts_shared_once():
    m = build_model("B8")
    m.lin.weight.requires_grad_(False)
    assert count_parameters(m) == 361 - 8


@pytest.mark.parametrize("name,kernel,local,segments,dense", [
    ("A", 64, 128, 12, [(128, 128), (128, 64), (64, 64), (64, 64), (64, 128)]),
    ("Av2", 32, 64, 6, [(128, 128)]),
])
def test_cafx_layer_structure(name, kernel, local, segments, dense):
    m = build_model(name)
    assert m.conv.weight.shape == (128, 1, kernel)
    assert m.local_conv.weight.shape == (128, 1, local)       # depthwise: one filter per channel
    assert m.latent.weight.shape == (64, 64)                  # 4096 / 64 pooled steps
    assert [(l.in_features, l.out_features) for l in m.dense] == dense
    assert m.saaf.n_segments == segments
    # The deconvolution owns only a bias: its kernel is the front-end conv's weight.
    names = [n for n, _ in m.named_parameters()]
    assert "deconv_bias" in names and m.deconv_bias.numel() == 1
    assert not any("deconv" in n and "weight" in n for n in names)


def test_cafx_tied_deconvolution_is_unflipped_correlation_with_the_conv_weight():
    """The synthesis layer cross-correlates with conv.weight (not flipped) plus one bias, and
    gradients reach conv.weight through it (MODEL-SPEC §1.4)."""
    m = build_model("Av2")
    with torch.no_grad():
        m.deconv_bias.fill_(0.25)
    captured = {}
    m.saaf.register_forward_hook(lambda mod, inp, out: captured.update(h=out))
    y = m.forward_frames(0.1 * torch.randn(2, 4096))
    h = captured["h"].transpose(1, 2).detach()                    # (B, C, T) into the deconv
    k = m.config.kernel_size
    expected = F.conv1d(same_pad(h, k), m.conv.weight.transpose(0, 1), m.deconv_bias).squeeze(1)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
    flipped = F.conv1d(same_pad(h, k), m.conv.weight.transpose(0, 1).flip(-1), m.deconv_bias)
    assert not torch.allclose(y, flipped.squeeze(1), atol=1e-4)
    (grad,) = torch.autograd.grad(expected.sum(), m.conv.weight)
    assert grad.abs().sum() > 0


def test_same_padding_follows_keras_split():
    # A delta at tap (k-1)//2 with Keras 'same' padding is the identity, for even k.
    x = torch.arange(10.0).reshape(1, 1, 10)
    for k in (64, 128, 32):
        w = torch.zeros(1, 1, k)
        w[0, 0, (k - 1) // 2] = 1.0
        assert torch.equal(F.conv1d(same_pad(x, k), w), x)
        assert same_pad(x, k).shape[-1] == 10 + k - 1


def test_cafx_frame_shapes_and_input_checks():
    m = build_model("Av2")
    assert m.forward_frames(torch.zeros(3, 4096)).shape == (3, 4096)
    with pytest.raises(ValueError, match=r"\(batch, 4096\)"):
        m.forward_frames(torch.zeros(3, 4000))


def test_cafx_overlap_add_framing_is_exact_for_identity_frames():
    """Periodic Hann at hop N/2 sums to one: an identity frame model reproduces the input."""
    m = build_model("Av2")
    m.forward_frames = lambda frames: frames
    for n in (1, 100, 2048, 4096, 4097, 44100):
        x = torch.randn(2, n)
        torch.testing.assert_close(m(x), x, atol=1e-6, rtol=0)
    assert m.n_frames(44100) == 23


@pytest.mark.parametrize("name", ["A", "Av2"])
def test_cafx_whole_signal_shapes_and_batching_invariance(name):
    m = build_model(name).eval()
    x = 0.1 * torch.randn(2, 9000)
    with torch.no_grad():
        y = m(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
        torch.testing.assert_close(m(x, frames_per_batch=1), y, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(m(x[1]), y[1], atol=1e-6, rtol=1e-5)


def test_saaf_fast_path_equals_definition_values_and_gradients():
    for n in (25, 12, 3):
        s = SAAF(16, n)
        x = (0.2 * torch.randn(5, 40, 16)).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        y, y_ref = s(x), s.reference(x2)
        torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)
        g = torch.randn_like(y)
        (gx, gw), (gx2, gw2) = (torch.autograd.grad(y, (x, s.weight), g),
                                torch.autograd.grad(y_ref, (x2, s.weight), g))
        torch.testing.assert_close(gx, gx2, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(gw, gw2, atol=1e-4, rtol=1e-4)


def test_saaf_known_answers():
    s = SAAF(1, breakpoints=25)          # breakpoints -0.2 : 1/60 : 0.2, first pair (-0.2, -0.18333)
    assert s.weight.shape == (13, 1) and s.n_segments == 12
    with torch.no_grad():
        s.weight.zero_()
        s.weight[-1, 0] = 1.0            # identity term only
    x = torch.linspace(-1, 1, 101).unsqueeze(-1)
    torch.testing.assert_close(s(x), x)
    with torch.no_grad():
        s.weight.zero_()
        s.weight[0, 0] = 1.0             # only the first segment's basis, times magnitude 100
    start, end = -0.2, -0.2 + 0.4 / 24
    pts = torch.tensor([[-0.5], [start + 0.01], [0.1]])
    expected = torch.tensor([[0.0],
                             [100 * 0.5 * 0.01 ** 2],
                             [100 * ((end - start) * (0.1 - end) + 0.5 * (end - start) ** 2)]])
    torch.testing.assert_close(s(pts), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", ["B", "B8", "C", "C16"])
def test_rnn_any_chunk_partition_equals_one_pass(name):
    m = build_model(name).eval()
    x = 0.3 * torch.randn(2, 3000)
    with torch.no_grad():
        whole = m(x)
        gen = torch.Generator().manual_seed(1)
        cuts = sorted(torch.randint(1, 2999, (7,), generator=gen).tolist())
        cuts = [0] + cuts + [3000]
        stream = RNNStream(m)
        parts = [stream.process(x[:, a:b]) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-6, rtol=0)
        stream.reset()
        torch.testing.assert_close(stream.process(x), whole, atol=1e-6, rtol=0)


def test_rnn_skip_connection_state_and_detach():
    m = build_model("C8")
    with torch.no_grad():
        m.lin.weight.zero_()
        m.lin.bias.zero_()
    x = torch.randn(3, 50)
    torch.testing.assert_close(m(x), x)                      # output = input + lin(h) = input
    assert m(x[0]).shape == (50,)
    y, state = m.forward_stateful(x, m.zero_state(3))
    torch.testing.assert_close(y, m(x))
    assert RecurrentModel.detach_state(state).requires_grad is False
    lstm_state = build_model("B8").zero_state(2)
    assert isinstance(lstm_state, tuple) and lstm_state[0].shape == (1, 2, 8)
    with pytest.raises(ValueError, match="cell must be"):
        RecurrentModel("RNN", 8)


def test_rnn_tbptt_detach_cuts_the_graph():
    m = build_model("B8")
    stream = RNNStream(m)
    stream.process(torch.randn(1, 20))
    stream.detach()
    y = stream.process(torch.randn(1, 20))
    y.sum().backward()   # would fail ("backward through the graph a second time") if not cut
    stream.process(torch.randn(1, 5))
    stream.detach()
    assert all(not s.requires_grad for s in stream.state)


@pytest.mark.parametrize("name", list(EXPECTED_PARAMS))
def test_forward_accepts_batch_and_single_signal(name):
    m = build_model(name).eval()
    with torch.no_grad():
        assert m(torch.zeros(2, 5000)).shape == (2, 5000)
        assert m(torch.zeros(5000)).shape == (5000,)
        with pytest.raises(ValueError, match="batch, samples"):
            m(torch.zeros(1, 1, 10))
