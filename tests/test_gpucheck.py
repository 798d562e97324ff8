"""``python -m fxlib.gpucheck`` on the CPU (``--device cpu``: PyTorch's nn.LSTM / nn.GRU, the
GPU path's maths, against the kernels), its comparisons and its estimates. That the CPU GRU and
LSTM kernels agree with nn.GRU / nn.LSTM forward and backward, which CUDA uses, is pinned in
tests/test_gru_kernel.py and tests/test_lstm_kernel.py."""
import json

import pytest
import torch

from fxlib import gpucheck
from fxlib.experiments import experiment
from fxlib.kd.df import DFDistiller, Generator
from fxlib.study import Study
from fxlib.train import TrainConfig


def test_relative_difference_known_answers():
    ref = torch.tensor([1.0, -4.0, 2.0])
    assert gpucheck.relative_difference(ref, ref) == 0.0
    assert gpucheck.relative_difference(ref + torch.tensor([0.0, 0.0, 0.4]), ref) == \
        pytest.approx(0.1)
    assert gpucheck.relative_difference(torch.zeros(2), torch.zeros(2)) == 0.0
    assert gpucheck.relative_difference(torch.ones(2), torch.zeros(2)) == float("inf")
    got = [[torch.tensor([1.0, 2.0]), None], [torch.tensor([3.0])]]
    ref = [[torch.tensor([1.0, 2.5]), None], [torch.tensor([3.0])]]
    assert gpucheck.grads_difference(got, ref) == pytest.approx(0.2)
    assert gpucheck.grads_difference([[None]], [[torch.ones(1)]]) == float("inf")
    with pytest.raises(RuntimeError, match="different optimizers"):
        gpucheck.grads_difference([[torch.ones(1)]], [[torch.ones(1)], [torch.ones(1)]])


def test_first_steps_are_deterministic_and_tell_seeds_apart(tmp_path):
    """The comparison can fail: the same seed gives identical first-step gradients on the CPU,
    another seed differs far beyond the tolerance."""
    cfg = TrainConfig(model="B8", profile="smoke", seed=0)
    a = gpucheck.first_steps(cfg, "cpu", tmp_path / "a", None)
    b = gpucheck.first_steps(cfg, "cpu", tmp_path / "b", None)
    c = gpucheck.first_steps(TrainConfig(model="B8", profile="smoke", seed=1), "cpu",
                             tmp_path / "c", None)
    assert len(a) == 1 and len(a[0]) == 6            # one Adam: LSTM 4 tensors, read-out 2
    assert gpucheck.grads_difference(b, a) == 0.0
    assert gpucheck.grads_difference(c, a) > 100 * gpucheck.GRAD_TOL


def test_validations_and_estimates_known_answers():
    study = Study("paper")
    b = study.config("B").settings()                 # 700 epochs, validation every 6
    assert gpucheck.validations(b) == 1 + 116 + 1     # epoch 0, 6..696, the last (700)
    assert gpucheck.validations(study.config("DF B h16").settings()) == 1
    keys = {gpucheck.timing_key(p.label) for p in gpucheck.planned(study)}
    models = {experiment(p.label).model for p in gpucheck.planned(study)}
    rows = gpucheck.notebook_estimates(study, dict.fromkeys(keys, 1.0), dict.fromkeys(models, 0))
    by = {r["notebook"]: r for r in rows}
    assert by["01_A_vs_B"]["trainings"] == 2 and by["01_A_vs_B"]["seconds"] == 1500 + 700
    assert by["06_seed_repetition"]["trainings"] == 4       # paper: 5 seeds, seed 0 exists
    assert all(r["seconds"] == r["epochs"] for r in rows)
    rows = gpucheck.notebook_estimates(study, dict.fromkeys(keys, 0.0), dict.fromkeys(models, 1))
    assert {r["notebook"]: r["seconds"] for r in rows}["01_A_vs_B"] == (
        gpucheck.validations(study.config("A").settings()) + 118)


def test_df_noise_is_drawn_on_the_cpu_whatever_the_device():
    """A CUDA DF run must see the noise a CPU run of the same seed sees: the distiller's
    generator is a CPU one and the noise is moved to the models' device ("meta" stands in)."""
    gen = Generator(64).to("meta")
    teacher, student = torch.nn.Linear(64, 64).to("meta"), torch.nn.Linear(64, 64).to("meta")
    d = DFDistiller(teacher, student, gen, batch_size=2, seed=3)
    assert d.rng.device.type == "cpu"
    assert d.sample_noise_inputs().device.type == "meta"
    assert gen.sample_z(2, d.rng).device.type == "meta"
    cpu = DFDistiller(torch.nn.Linear(64, 64), torch.nn.Linear(64, 64), Generator(64),
                      batch_size=2, seed=3)
    again = DFDistiller(torch.nn.Linear(64, 64), torch.nn.Linear(64, 64), Generator(64),
                        batch_size=2, seed=3)
    torch.testing.assert_close(cpu.sample_noise_inputs(), again.sample_noise_inputs(),
                               rtol=0, atol=0)


def test_cpu_check_end_to_end(tmp_path, capsys):
    """``--device cpu``: every checked family agrees within the tolerances, the tables print,
    the JSON is written."""
    out = tmp_path / "gpucheck.json"
    code = gpucheck.main(["--device", "cpu", "--profile", "smoke", "--epochs", "2",
                          "--no-estimate", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    result = json.loads(out.read_text())
    assert [r["label"] for r in result["checked"]] == list(gpucheck.CHECKED)
    for r in result["checked"]:
        assert r["ok"] and r["forward float32"] <= gpucheck.FORWARD_TOL
        assert r["grads float32"] <= gpucheck.GRAD_TOL
        assert r["cpu_epoch_s"] > 0 and r["dev_epoch_s"] > 0
        assert r["loss_epoch"] == 1                   # CPU: 1 epoch (default), "device": 2
    # A has no CPU kernel: both sides run the same code, bit for bit; the RNN families went
    # through two code paths (kernels vs nn modules) and agree to rounding, not bitwise
    a, b = result["checked"][0], result["checked"][1]
    assert a["forward float32"] == a["grads float32"] == a["loss_rel"] == 0.0
    assert b["grads float32"] > 0
    assert "## Agreement" in text and "| DF B h16 |" in text


def test_no_cuda_says_what_to_do(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert gpucheck.main([]) == 2
    assert "--device cpu" in capsys.readouterr().err
