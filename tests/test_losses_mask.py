"""Masked losses (``mask=``, used by TOR KD): known answers, None == all-true, empty mask."""
from fractions import Fraction as Fr

import pytest
import torch

from fxlib import losses as L

FUNCS = [L.esr, L.dc, L.mae, L.esr_dc]


def _pair(batch=3, n=64, dtype=torch.float64):
    y = torch.randn(batch, n, dtype=dtype)
    return y + 0.1 * torch.randn(batch, n, dtype=dtype) + 0.05, y


@pytest.mark.parametrize("fn", FUNCS)
def test_all_true_mask_equals_unmasked(fn):
    out, tgt = _pair()
    full = torch.ones_like(out, dtype=torch.bool)
    torch.testing.assert_close(fn(out, tgt, mask=full), fn(out, tgt), rtol=1e-12, atol=0)
    torch.testing.assert_close(fn(out, tgt, mask=None), fn(out, tgt), rtol=0, atol=0)


def test_masked_esr_and_mae_known_answers():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    yh = torch.ones(4, dtype=torch.float64)
    m = torch.tensor([True, False, True, True])
    # ESR over kept: (0 + 4 + 9) / (1 + 9 + 16) = 1/2 ; MAE over kept: (0 + 2 + 3) / 3
    assert L.esr(yh, y, mask=m).item() == pytest.approx(0.5, rel=1e-7)
    assert L.mae(yh, y, mask=m).item() == pytest.approx(5 / 3, rel=1e-12)
    # equals the loss on the kept sub-signal
    assert L.esr(yh, y, mask=m).item() == pytest.approx(L.esr(yh[m], y[m]).item(), rel=1e-12)
    # a float 0/1 mask works the same
    assert L.mae(yh, y, mask=m.double()).item() == pytest.approx(5 / 3, rel=1e-12)


def test_masked_dc_known_answer_per_item():
    y = torch.tensor([[1.0, 1.0, 1.0], [2.0, 0.0, 2.0]], dtype=torch.float64)
    yh = torch.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0]], dtype=torch.float64)
    m = torch.tensor([[True, True, False], [True, True, True]])
    # item 0 kept diffs (1, 0) -> mean 1/2; item 1 diffs (1, 0, 0) -> mean 1/3
    num = (Fr(1, 2) ** 2 + Fr(1, 3) ** 2) / 2
    den = Fr(1 + 1 + 4 + 0 + 4, 5)       # power over the 5 kept samples
    assert L.dc(yh, y, mask=m).item() == pytest.approx(float(num / den), rel=1e-7)
    # an item with nothing kept is left out of the average over items
    m2 = torch.tensor([[False, False, False], [True, True, True]])
    expected = Fr(1, 3) ** 2 / Fr(8, 3)
    assert L.dc(yh, y, mask=m2).item() == pytest.approx(float(expected), rel=1e-7)


def test_masked_esr_dc_filters_before_masking():
    y = [Fr(1, 2), Fr(-1, 4), Fr(1), Fr(0), Fr(1, 4)]
    yh = [Fr(1, 4), Fr(-1, 2), Fr(1, 2), Fr(0), Fr(1, 2)]
    keep = [True, True, False, True, True]
    a = Fr(19, 20)

    def pre(x):
        return [x[0]] + [x[n] - a * x[n - 1] for n in range(1, len(x))]

    py, pyh = pre(y), pre(yh)
    kept = [i for i in range(5) if keep[i]]
    e2 = sum((py[i] - pyh[i]) ** 2 for i in kept) / len(kept)
    p = sum(py[i] ** 2 for i in kept) / len(kept)
    offset = sum(py[i] - pyh[i] for i in kept) / len(kept)
    expected = e2 / p + offset ** 2 / p
    t = lambda v: torch.tensor([float(x) for x in v], dtype=torch.float64)  # noqa: E731
    got = L.esr_dc(t(yh), t(y), mask=torch.tensor(keep))
    assert got.item() == pytest.approx(float(expected), rel=1e-6)
    # the module form takes the mask too
    assert L.ESRDCLoss()(t(yh), t(y), torch.tensor(keep)).item() == pytest.approx(got.item())


@pytest.mark.parametrize("fn", FUNCS)
def test_empty_mask_is_zero_and_finite(fn):
    out, tgt = _pair()
    out.requires_grad_(True)
    value = fn(out, tgt, mask=torch.zeros_like(out, dtype=torch.bool))
    assert value.item() == 0.0
    value.backward()
    assert torch.isfinite(out.grad).all()


def test_mask_shape_checked_and_modules_accept_mask():
    out, tgt = _pair()
    with pytest.raises(ValueError, match="mask shape"):
        L.esr(out, tgt, mask=torch.ones(3, dtype=torch.bool))
    m = torch.rand_like(out) > 0.3
    for module, fn in [(L.ESRLoss(), L.esr), (L.DCLoss(), L.dc), (L.MAELoss(), L.mae),
                       (L.ESRDCLoss(), L.esr_dc)]:
        torch.testing.assert_close(module(out, tgt, m), fn(out, tgt, mask=m))
        torch.testing.assert_close(module(out, tgt), fn(out, tgt))


def test_mask_gives_no_gradient_to_rejected_samples():
    out, tgt = _pair(batch=1, n=16)
    out.requires_grad_(True)
    m = torch.ones_like(out, dtype=torch.bool)
    m[0, 5] = False
    L.mae(out, tgt, mask=m).backward()
    assert out.grad[0, 5].item() == 0.0
    assert (out.grad[0, :5] != 0).all()
