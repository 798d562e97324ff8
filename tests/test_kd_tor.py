"""TOR knowledge distillation: hand-computed known answers, limits, gradients."""
import math
from fractions import Fraction as Fr

import numpy as np
import pytest
import torch

from fxlib import losses as L
from fxlib.kd import TORLoss, epsilon_from_residuals, rejected_fraction, tor_loss, tor_mask
from fxlib.kd.tor import DEFAULTS, FAMILY_LOSS, l1_norm
from fxlib.models import build_model

# A 5-sample example; eps = 3/10 rejects sample 2 only (|t - R_t| = 1).
T_ = [Fr(1, 2), Fr(-1, 4), Fr(1), Fr(0), Fr(1, 4)]        # target t
RT = [Fr(1, 2), Fr(0), Fr(0), Fr(1, 8), Fr(1, 4)]          # teacher R_t, |t-R_t| = 0,.25,1,.125,0
RS = [Fr(1, 4), Fr(-1, 2), Fr(1, 2), Fr(0), Fr(1, 2)]     # student R_s
EPS_ = 0.3
KEEP = [abs(t - r) <= Fr(3, 10) for t, r in zip(T_, RT)]


def _t(v, **kw):
    return torch.tensor([float(x) for x in v], dtype=torch.float64, **kw)


def _l1_fr():
    return sum(abs(a - b) for a, b in zip(RT, RS)) / len(RS)


def test_mask_tiny_example():
    m = tor_mask(_t(T_), _t(RT), EPS_)
    # |t - R_t| = 0, 1/4, 1, 1/8, 0 against eps = 3/10: only sample 2 is over
    assert m.dtype == torch.bool and m.tolist() == [True, True, False, True, True]
    # boundary is kept (<=); 2-D works per sample
    m2 = tor_mask(torch.tensor([[0.0, 1.0], [2.0, 0.5]]), torch.zeros(2, 2), 1.0)
    assert m2.tolist() == [[True, True], [False, True]]
    assert rejected_fraction(_t(T_), _t(RT), EPS_) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        tor_mask(_t(T_), _t(RT), -1.0)


def test_thesis_variant_mae_hand_computed():
    # kept samples 0, 1, 3, 4: |R_s - t| = 1/4, 1/4, 0, 1/4 -> MAE over kept = 3/4 / 4 = 3/16
    # all samples: |R_t - R_s| = 1/4, 1/2, 1/2, 1/8, 1/4 -> L1 = (13/8) / 5 = 13/40
    # L = c_tor * 3/16 + c_d * 13/40 = 2 * 3/16 + 1/2 * 13/40 = 30/80 + 13/80 = 43/80
    expected = Fr(43, 80)
    got = tor_loss(_t(RS), _t(T_), _t(RT), EPS_, loss="mae", c_tor=2.0, c_d=0.5)
    assert got.item() == pytest.approx(float(expected), rel=1e-12)
    module = TORLoss(EPS_, loss="mae", c_tor=2.0, c_d=0.5)
    assert module(_t(RS), _t(T_), _t(RT)).item() == pytest.approx(float(expected), rel=1e-12)


def test_thesis_variant_esr_dc_hand_computed():
    a = Fr(19, 20)

    def pre(x):  # pre-emphasis of the full signals, zero initial state
        return [x[0]] + [x[n] - a * x[n - 1] for n in range(1, len(x))]

    pt, ps = pre(T_), pre(RS)
    kept = [i for i in range(5) if KEEP[i]]
    power = sum(pt[i] ** 2 for i in kept)
    esr_k = sum((pt[i] - ps[i]) ** 2 for i in kept) / power
    offset = sum(pt[i] - ps[i] for i in kept) / len(kept)
    dc_k = offset ** 2 / (power / len(kept))
    expected = esr_k + dc_k + _l1_fr()
    got = tor_loss(_t(RS), _t(T_), _t(RT), EPS_, loss="esr_dc")
    assert got.item() == pytest.approx(float(expected), rel=1e-6)   # eps = 1e-8 in denominators
    fam = TORLoss.for_family("rnn", EPS_)
    assert fam(_t(RS), _t(T_), _t(RT)).item() == pytest.approx(got.item(), rel=1e-12)


def test_original_variant_f_zero_and_sqrt():
    n = len(RS)
    sq = sum((RS[i] - T_[i]) ** 2 for i in range(n) if KEEP[i]) / n   # mean over all N
    got0 = tor_loss(_t(RS), _t(T_), _t(RT), EPS_, variant="original", f="zero", c_d=0.0)
    assert got0.item() == pytest.approx(float(sq), rel=1e-12)
    # rejected sample 2: sqrt|R_s - R_t| = sqrt(1/2)
    expected_sqrt = float(sq) + math.sqrt(0.5) / n
    got1 = tor_loss(_t(RS), _t(T_), _t(RT), EPS_, variant="original", f="sqrt", c_d=0.0)
    assert got1.item() == pytest.approx(expected_sqrt, rel=1e-12)
    # c_d > 0 adds the L1 term, c_tor scales the TOR term
    got2 = tor_loss(_t(RS), _t(T_), _t(RT), EPS_, variant="original", f="sqrt", c_tor=3.0)
    assert got2.item() == pytest.approx(3 * expected_sqrt + float(_l1_fr()), rel=1e-12)


# The documented defaults (DEFAULTS) on a tiny known answer. The teacher's training residuals
# t - R_t, signed, 11 samples: |.| sorted = 0.1, 0.2, ..., 1.0, 3.0.
TRAIN_RT = torch.full((11,), 0.5, dtype=torch.float64)
TRAIN_T = TRAIN_RT + torch.tensor([0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9, 1.0, -3.0],
                                  dtype=torch.float64)
# A batch of 4: |t - R_t| = 0.5, 1.5, 2.9, 0.25; |R_s - t| = 0.25, 0.5, 1.0, 0.75;
# |R_t - R_s| = 0.25, 1.0, 1.9, 0.5.
B_T = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
B_RT = torch.tensor([0.0, 0.5, -0.9, 0.25], dtype=torch.float64)
B_RS = torch.tensor([0.25, -0.5, 1.0, 0.75], dtype=torch.float64)
L1_ALL = (0.25 + 1.0 + 1.9 + 0.5) / 4                # = 0.9125, never masked


def _tor_from_options(opts: dict, family: str = "cafx") -> TORLoss:
    """A TOR run's options -> its loss, as documented: epsilon None = the epsilon_quantile of
    the teacher's absolute training residuals."""
    eps = opts["epsilon"]
    if eps is None:
        eps = epsilon_from_residuals(TRAIN_T - TRAIN_RT, opts["epsilon_quantile"])
    norm = l1_norm(FAMILY_LOSS[family], TRAIN_T, opts["l1_scale"])
    return TORLoss.for_family(family, eps, c_tor=opts["c_tor"], c_d=opts["c_d"],
                              variant=opts["variant"], f=opts["f"], l1_norm=norm)


def _with(**changes) -> float:
    return _tor_from_options({**DEFAULTS, **changes})(B_RS, B_T, B_RT).item()


def test_defaults_give_the_hand_computed_loss():
    # epsilon None -> 0.99 quantile of |train residuals| (linear interpolation, 11 values):
    # position 0.99 * (11 - 1) = 9.9, between the 10th (1.0) and 11th (3.0) order statistics:
    # eps = 1.0 + 0.9 * (3.0 - 1.0) = 2.8 (not the max 3.0: the worst training sample is out)
    loss = _tor_from_options(DEFAULTS)
    assert loss.epsilon == pytest.approx(2.8, rel=1e-12)
    assert rejected_fraction(TRAIN_T, TRAIN_RT, loss.epsilon) == pytest.approx(1 / 11)
    # on the batch, eps = 2.8 keeps samples 0, 1, 3 (|t - R_t| = 2.9 at sample 2 is rejected)
    assert loss.mask(B_T, B_RT).tolist() == [True, True, False, True]
    # thesis variant, c_tor = c_d = 1, MAE student (A family):
    # E = (0.25 + 0.5 + 0.75) / 3 = 0.5 over kept; L = 1 * 0.5 + 1 * 0.9125 = 1.4125
    assert loss(B_RS, B_T, B_RT).item() == pytest.approx(1.4125, rel=1e-12)
    # tor_loss's own keyword defaults are DEFAULTS' c_tor, c_d, variant and f
    assert tor_loss(B_RS, B_T, B_RT, loss.epsilon).item() == pytest.approx(1.4125, rel=1e-12)


def test_each_default_changes_the_loss_as_documented():
    assert _with() == pytest.approx(1.4125, rel=1e-12)
    # quantile 1 -> eps = max = 3.0 keeps all: E = (0.25 + 0.5 + 1.0 + 0.75) / 4 = 0.625
    assert _with(epsilon_quantile=1.0) == pytest.approx(0.625 + L1_ALL, rel=1e-12)
    # a fixed epsilon replaces the quantile: 0.4 keeps sample 3 only, E = 0.75
    assert _with(epsilon=0.4) == pytest.approx(0.75 + L1_ALL, rel=1e-12)
    assert _with(epsilon=0.4, epsilon_quantile=1.0) == pytest.approx(0.75 + L1_ALL, rel=1e-12)
    # epsilon = inf: the plain loss + L1, the same as quantile 1 here
    assert _with(epsilon=math.inf) == pytest.approx(0.625 + L1_ALL, rel=1e-12)
    # c_tor scales E only: 2 * 0.5 + 0.9125
    assert _with(c_tor=2.0) == pytest.approx(1.9125, rel=1e-12)
    # c_d scales L1 only; 0 leaves E alone: 0.5 + 0.5 * 0.9125 = 0.95625, and 0.5
    assert _with(c_d=0.5) == pytest.approx(0.95625, rel=1e-12)
    assert _with(c_d=0.0) == pytest.approx(0.5, rel=1e-12)
    # f only matters for the original variant
    assert _with(f="sqrt") == pytest.approx(1.4125, rel=1e-12)
    # original: squared error on kept samples averaged over all N = 4:
    # (0.25^2 + 0.5^2 + 0.75^2) / 4 = (0.0625 + 0.25 + 0.5625) / 4 = 0.21875, + L1
    assert _with(variant="original") == pytest.approx(0.21875 + L1_ALL, rel=1e-12)
    # f = sqrt adds sqrt|R_s - R_t| of the rejected sample 2: sqrt(1.9) / 4
    assert _with(variant="original", f="sqrt") == pytest.approx(
        0.21875 + math.sqrt(1.9) / 4 + L1_ALL, rel=1e-12)
    # an E_B student (B/C family) with the same defaults: E_B over the kept samples + L1
    kept = torch.tensor([True, True, False, True])
    e_b = L.esr_dc(B_RS, B_T, mask=kept).item()
    # ... whose L1 term is scale-free (l1_scale "auto"): divided by the training target's
    # mean |t| = (0.6 + 0.3 + 0.8 + 0.1 + 1.0 + 1.1 + 0.2 + 1.3 + 1.4 + 1.5 + 2.5) / 11
    assert l1_norm("esr_dc", TRAIN_T) == pytest.approx(10.8 / 11, rel=1e-12)
    assert _tor_from_options(DEFAULTS, "rnn")(B_RS, B_T, B_RT).item() == pytest.approx(
        e_b + L1_ALL / (10.8 / 11), rel=1e-12)
    # the thesis's literal form: plain L1
    assert _tor_from_options({**DEFAULTS, "l1_scale": "none"}, "rnn")(
        B_RS, B_T, B_RT).item() == pytest.approx(e_b + L1_ALL, rel=1e-12)
    # an MAE student's terms share units already: nothing is divided
    assert l1_norm("mae", TRAIN_T) == 1.0 and _with(l1_scale="none") == _with()


def test_the_scale_free_l1_term_does_not_depend_on_the_recording_level():
    """Scaling target, teacher and student by 9 leaves E_B and L1 / mean|t| unchanged."""
    g = torch.Generator().manual_seed(0)
    t, rt, rs = (torch.randn(3, 500, generator=g, dtype=torch.float64) for _ in range(3))
    train_t = torch.randn(10_000, generator=g, dtype=torch.float64)

    def loss(k, scale):
        return tor_loss(k * rs, k * t, k * rt, loss="esr_dc",
                        l1_norm=l1_norm("esr_dc", k * train_t, scale)).item()

    # (to E_B's tiny epsilon in its denominators, which is not scaled)
    assert loss(9.0, "auto") == pytest.approx(loss(1.0, "auto"), rel=1e-7)
    assert loss(9.0, "none") > 2 * loss(1.0, "none")          # the literal form: it grows
    with pytest.raises(ValueError, match="l1_scale must be one of"):
        l1_norm("esr_dc", train_t, "energy")
    with pytest.raises(ValueError, match="silent"):
        l1_norm("esr_dc", torch.zeros(10))
    with pytest.raises(ValueError, match="l1_norm must be > 0"):
        tor_loss(rs, t, rt, l1_norm=0.0)


@pytest.mark.parametrize("loss,fn", [("mae", L.mae), ("esr_dc", L.esr_dc)])
def test_infinite_epsilon_is_plain_loss_plus_l1(loss, fn):
    t = torch.randn(4, 256, dtype=torch.float64)
    rt = t + 0.2 * torch.randn_like(t)
    rs = t + 0.3 * torch.randn_like(t)
    got = tor_loss(rs, t, rt, math.inf, loss=loss, c_tor=1.0, c_d=0.7)
    expected = fn(rs, t) + 0.7 * (rt - rs).abs().mean()
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    # a quantile of 1 (the max residual) also keeps everything
    eps_max = epsilon_from_residuals(t - rt, quantile=1.0)
    torch.testing.assert_close(tor_loss(rs, t, rt, eps_max, loss=loss, c_d=0.7), expected,
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("kw", [dict(loss="mae"), dict(loss="esr_dc"),
                                dict(variant="original", f="zero"),
                                dict(variant="original", f="sqrt")])
def test_all_rejected_is_finite(kw):
    t = torch.randn(2, 32, dtype=torch.float64)
    rt = t + 1.0                                   # teacher off by 1 everywhere
    rs = rt.clone().requires_grad_(True)           # R_s == R_t: sqrt at 0 must not give NaN
    value = tor_loss(rs, t, rt, 0.5, **kw)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(rs.grad).all()
    # thesis variant with nothing kept reduces to c_d * L1
    rs2 = rt + 0.25
    if kw.get("variant", "thesis") == "thesis":
        assert tor_loss(rs2, t, rt, 0.5, **kw).item() == pytest.approx(0.25)


def test_gradients_flow_to_student_only():
    torch.manual_seed(1)
    teacher, student = build_model("B8"), build_model("C8")
    x = 0.3 * torch.randn(2, 64)
    target = torch.tanh(2 * x)
    teacher_out = teacher(x)                        # deliberately not detached by the caller
    loss = TORLoss.for_family("rnn", epsilon=0.5)(student(x), target, teacher_out)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in student.parameters())
    assert any(p.grad.abs().sum() > 0 for p in student.parameters())


def test_cross_family_teacher_b_student_a():
    torch.manual_seed(2)
    teacher, student = build_model("B8"), build_model("Av2")
    x = 0.3 * torch.randn(1, student.frame_length)
    with torch.no_grad():
        teacher_out = teacher(x)
    out = student.forward_frames(x)
    loss = TORLoss.for_family("cafx", epsilon=0.1)(out, torch.tanh(3 * x), teacher_out)
    loss.backward()
    assert torch.isfinite(loss)
    assert student.conv.weight.grad is not None


def test_epsilon_from_residuals():
    r = np.arange(101) / 100.0                     # 0.00 .. 1.00
    assert epsilon_from_residuals(r, 0.99) == pytest.approx(0.99)
    assert epsilon_from_residuals(-torch.tensor(r), 0.5) == pytest.approx(0.5)   # |.| taken
    assert epsilon_from_residuals([torch.tensor(r[:50]), torch.tensor(r[50:])], 1.0) == 1.0
    # 0.99 quantile rejects ~1 % of the samples it was computed on
    res = torch.randn(100_000, dtype=torch.float64)
    eps = epsilon_from_residuals(res)
    assert (res.abs() > eps).double().mean().item() == pytest.approx(0.01, abs=1e-3)
    with pytest.raises(ValueError):
        epsilon_from_residuals(r, 1.5)
    with pytest.raises(ValueError):
        epsilon_from_residuals(np.array([0.1, np.nan]))


def test_argument_checks():
    t = torch.zeros(4)
    with pytest.raises(ValueError, match="shape"):
        tor_loss(torch.zeros(3), t, t)
    with pytest.raises(ValueError, match="variant"):
        tor_loss(t, t, t, variant="paper")
    with pytest.raises(ValueError, match="loss"):
        tor_loss(t, t, t, loss="mse")
    with pytest.raises(ValueError, match="f must"):
        TORLoss(variant="original", f="abs")
    with pytest.raises(ValueError, match="family"):
        TORLoss.for_family("transformer")
    # a custom callable loss receives the mask
    seen = {}

    def custom(out, tgt, mask=None):
        seen["mask"] = mask
        return (out - tgt).abs().sum()

    tor_loss(t, t + 1, t, 0.5, loss=custom, c_d=0.0)
    assert seen["mask"].tolist() == [False] * 4
