"""CAFx's fast forward_frames (and SAAF fast path) equal the original direct formulation.

The reference below is the pre-optimisation implementation of ``CAFx.forward_frames`` (plain
depthwise/tied ``F.conv1d``, dense ``nn.MaxPool1d``, SAAF via ``bucketize`` + ``gather``),
evaluated from the *same* module's parameters. Forward outputs and the gradient of every
parameter must agree.

Tolerances (float32): the fast path reorders sums (tied deconvolution as matmul + fold, the
depthwise weight gradient as a batched matmul over the argmax windows, SAAF pieces by an affine
map instead of a binary search -- the activation is C1 at its breakpoints), so results differ by
float rounding only. Observed differences are ~1e-6 relative to each tensor's largest entry; we
assert ``max|new - ref| <= 1e-5 * max|ref|`` (plus a tiny absolute floor) per tensor.
"""
import pytest
import torch
import torch.nn.functional as F

from fxlib.models import build_model
from fxlib.models.cafx import same_pad


def _reference_saaf(saaf, x):
    a, b, c = saaf.coefficients()
    bounds = torch.stack((saaf.starts, saaf.ends), dim=1).reshape(-1).contiguous()
    piece = torch.bucketize(x.detach(), bounds, right=True).reshape(-1, saaf.channels)
    xs = x.reshape(-1, saaf.channels)
    y = (a.gather(0, piece) * xs + b.gather(0, piece)) * xs + c.gather(0, piece)
    return y.reshape(x.shape)


def _reference_forward_frames(m, frames):
    k = m.config.kernel_size
    p = F.conv1d(same_pad(frames.unsqueeze(1), k), m.conv.weight, m.conv.bias)
    h = F.softplus(F.conv1d(same_pad(p.abs(), 2 * k), m.local_conv.weight, m.local_conv.bias,
                            groups=m.local_conv.weight.shape[0]))
    z = F.softplus(m.latent(F.max_pool1d(h, m.config.pool)))
    h = (p.unflatten(-1, (-1, m.config.pool)) * z.unsqueeze(-1)).flatten(-2)
    h = h.transpose(1, 2)
    for i, layer in enumerate(m.dense):
        h = layer(h)
        if i < len(m.dense) - 1:
            h = torch.relu(h)
    h = _reference_saaf(m.saaf, h).transpose(1, 2)
    tied = m.conv.weight.transpose(0, 1)
    return F.conv1d(same_pad(h, k), tied, m.deconv_bias).squeeze(1)


def _close(new, ref, rel=1e-5, floor=1e-7):
    err = (new - ref).abs().max().item()
    scale = ref.abs().max().item()
    assert err <= rel * scale + floor, f"max abs err {err:.3g} vs max |ref| {scale:.3g}"


@pytest.mark.parametrize("name", ["A", "Av2"])
def test_fast_forward_frames_matches_reference_values_and_gradients(name):
    torch.manual_seed(0)
    m = build_model(name)
    with torch.no_grad():                       # non-trivial biases so every path is exercised
        for prm in (m.conv.bias, m.local_conv.bias, m.deconv_bias, m.latent.bias):
            prm.uniform_(-0.1, 0.1)
    frames = 0.3 * torch.randn(2, m.frame_length)
    target = 0.3 * torch.randn(2, m.frame_length)
    params = [p for p in m.parameters()]
    names = [n for n, _ in m.named_parameters()]

    y = m.forward_frames(frames)
    grads = torch.autograd.grad(F.l1_loss(y, target), params)
    y_ref = _reference_forward_frames(m, frames)
    grads_ref = torch.autograd.grad(F.l1_loss(y_ref, target), params)

    assert y.shape == y_ref.shape == frames.shape
    _close(y, y_ref)
    for n, g, g_ref in zip(names, grads, grads_ref):
        assert g.shape == g_ref.shape, n
        assert g_ref.abs().max() > 0, n          # the check is not vacuous
        try:
            _close(g, g_ref)
        except AssertionError as e:
            raise AssertionError(f"gradient of {n}: {e}") from None


@pytest.mark.parametrize("name", ["A", "Av2"])
def test_fast_path_under_no_grad_and_input_gradient(name):
    torch.manual_seed(1)
    m = build_model(name)
    frames = (0.3 * torch.randn(2, m.frame_length)).requires_grad_()
    with torch.no_grad():
        _close(m.forward_frames(frames), _reference_forward_frames(m, frames))
    (gx,) = torch.autograd.grad(m.forward_frames(frames).square().sum(), frames)
    (gx_ref,) = torch.autograd.grad(_reference_forward_frames(m, frames).square().sum(), frames)
    _close(gx, gx_ref)


def test_saaf_piece_index_equals_bucketize_away_from_breakpoints():
    for n in (25, 12, 3, 2):
        m = build_model("A").saaf.__class__(4, n)
        x = torch.cat([torch.linspace(-0.5, 0.5, 10001), torch.tensor([float("inf"),
                                                                      -float("inf")])])
        bounds = torch.stack((m.starts, m.ends), dim=1).reshape(-1)
        ref = torch.bucketize(x, bounds, right=True)
        got = m.piece_index(x)
        near = (x.unsqueeze(-1) - bounds).abs().min(-1).values < 1e-6
        assert torch.equal(got[~near], ref[~near]), n
        assert ((got - ref).abs() <= 1).all()
        assert m.piece_index(torch.tensor([float("nan")])).item() in range(bounds.numel() + 1)
