"""Losses: known answers, a hand-computed E_B, and agreement with auraloss."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from fxlib import losses as L

N = 44100
T = torch.arange(N, dtype=torch.float64)


def tone(amplitude=0.5, freq=441.0):
    # 441 Hz at 44.1 kHz: exactly 100 samples per period, so the mean over 1 s is exactly 0.
    return amplitude * torch.sin(2 * torch.pi * freq * T / N)


def test_esr_known_answers():
    y = tone()
    assert L.esr(y, y).item() == 0.0
    assert L.esr(torch.zeros_like(y), y).item() == pytest.approx(1.0, abs=1e-6)
    assert L.esr(-y, y).item() == pytest.approx(4.0, abs=1e-6)
    assert L.esr(0.5 * y, y).item() == pytest.approx(0.25, abs=1e-6)


def test_dc_of_constant_offset_is_c2_over_power():
    amplitude, c = 0.5, 0.03
    y = tone(amplitude)
    power = amplitude ** 2 / 2
    assert L.dc(y + c, y).item() == pytest.approx(c ** 2 / power, rel=1e-6)
    assert L.dc(y, y).item() == 0.0


def test_pre_emphasis_of_unit_impulse():
    x = torch.zeros(6)
    x[0] = 1.0
    torch.testing.assert_close(L.pre_emphasis(x), torch.tensor([1.0, -0.95, 0, 0, 0, 0]))
    torch.testing.assert_close(L.pre_emphasis(x, coef=0.85), torch.tensor([1.0, -0.85, 0, 0, 0, 0]))
    batch = torch.stack([x, 2 * x])
    torch.testing.assert_close(L.pre_emphasis(batch)[1, :2], torch.tensor([2.0, -1.9]))


def test_esr_dc_on_a_hand_computed_example():
    t = [Fraction(1, 2), Fraction(-1, 4), Fraction(3, 4), Fraction(0)]
    o = [Fraction(1, 4), Fraction(0), Fraction(1, 2), Fraction(1, 4)]
    a = Fraction(95, 100)
    pre = lambda s: [s[0]] + [s[i] - a * s[i - 1] for i in range(1, len(s))]
    pt, po = pre(t), pre(o)          # pt = [1/2, -29/40, 79/80, -57/80]
    d = [x - y for x, y in zip(pt, po)]
    esr = sum(x * x for x in d) / sum(x * x for x in pt)
    dc = (sum(d) / 4) ** 2 / (sum(x * x for x in pt) / 4)
    assert (esr, dc) == (Fraction(4963, 14454), Fraction(361, 57816))   # worked by hand
    expected = float(esr + dc)      # 20213 / 57816 = 0.3496091...
    got = L.esr_dc(torch.tensor([float(v) for v in o], dtype=torch.float64),
                   torch.tensor([float(v) for v in t], dtype=torch.float64))
    assert got.item() == pytest.approx(expected, rel=1e-7)
    # CoreAudioML's variant: DC on the raw signals.
    dc_raw = (sum(x - y for x, y in zip(t, o)) / 4) ** 2 / (sum(x * x for x in t) / 4)
    got_raw = L.esr_dc(torch.tensor([float(v) for v in o], dtype=torch.float64),
                       torch.tensor([float(v) for v in t], dtype=torch.float64), dc_on_raw=True)
    assert got_raw.item() == pytest.approx(float(esr + dc_raw), rel=1e-7)


def test_mae():
    assert L.mae(torch.tensor([0.0, 1.0]), torch.tensor([1.0, -1.0])).item() == 1.5


def test_agreement_with_auraloss_on_batch_one():
    auraloss_time = pytest.importorskip("auraloss.time")
    gen = torch.Generator().manual_seed(3)
    target = 0.3 * torch.randn(1, 1, 20000, generator=gen)
    output = target + 0.1 * torch.randn(1, 1, 20000, generator=gen) + 0.01
    ours_esr, ours_dc = L.esr(output[0, 0], target[0, 0]), L.dc(output[0, 0], target[0, 0])
    ref_esr = auraloss_time.ESRLoss()(output, target)
    ref_dc = auraloss_time.DCLoss()(output, target)
    assert ours_esr.item() == pytest.approx(ref_esr.item(), rel=1e-6, abs=1e-6)
    assert ours_dc.item() == pytest.approx(ref_dc.item(), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("fn", [L.esr, L.dc, L.esr_dc])
def test_silent_target_gives_finite_values_and_gradients(fn):
    target = torch.zeros(2, 1000)
    output = (1e-3 * torch.randn(2, 1000)).requires_grad_()
    value = fn(output, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(output.grad).all()
    assert fn(torch.zeros(2, 1000), target).item() == 0.0
    assert L.esr(output.detach(), torch.full((2, 1000), 1e-9)).isfinite()


def test_batches_pool_energy_but_not_offsets():
    y = torch.stack([tone(0.5), tone(1e-3)])
    out = y.clone()
    out[1] += 1e-3                                   # an error on the quiet item only
    pooled = L.esr(out, y).item()
    assert pooled == pytest.approx(L.esr(out.reshape(-1), y.reshape(-1)).item(), rel=1e-9)
    assert pooled < 1e-3                             # the quiet item does not dominate
    offsets = torch.stack([y[0] + 0.01, y[0] - 0.01])
    # per-item offsets of opposite sign do not cancel
    assert L.dc(offsets, y[[0, 0]]).item() == pytest.approx(0.01 ** 2 / 0.125, rel=1e-6)


def test_modules_match_functions_and_shapes_are_checked():
    out, tgt = torch.randn(3, 100), torch.randn(3, 100)
    assert L.ESRLoss()(out, tgt) == L.esr(out, tgt)
    assert L.DCLoss()(out, tgt) == L.dc(out, tgt)
    assert L.MAELoss()(out, tgt) == L.mae(out, tgt)
    assert L.ESRDCLoss()(out, tgt) == L.esr_dc(out, tgt)
    assert L.ESRDCLoss(dc_on_raw=True)(out, tgt) == L.esr_dc(out, tgt, dc_on_raw=True)
    torch.testing.assert_close(L.PreEmphasis(0.5)(out), L.pre_emphasis(out, 0.5))
    with pytest.raises(ValueError, match="shapes differ"):
        L.esr(out, tgt[:, :50])
    with pytest.raises(ValueError, match="batch, samples"):
        L.mae(out[None], tgt[None])
