""".nam files (fxlib.nam) for skip-free LSTMs, checked by NAM's own package and by layout.

``neural-amp-modeler`` (NAM's trainer, a test-only dependency) loads the exported file with
``nam.models.init_from_nam`` and plays 10 s of audio from the file's initial state; fxlib's model
plays the same audio from the same state (the state after ``BURN_IN`` samples of silence), and
the two agree to 1e-5. The layout test pins every position of the flat weight list on a model
with numbered weights, at H = 3, the size of NAM's own example ``lstm.nam`` (70 numbers).
"""
import json

import numpy as np
import pytest
import torch

from fxlib.models import build_model
from fxlib.models.rnn import RecurrentModel
from fxlib.nam import BURN_IN, NAM_VERSION, NamError, check_nam, nam_document, save_nam

SR = 44_100


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    """Decaying plucked partials and a little noise, peak 0.5."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.01 * rng.standard_normal(len(t))
    for onset in np.arange(0, seconds, 0.5):
        f0, env = rng.uniform(80, 400), np.where(t >= onset, np.exp(-(t - onset) * 4), 0.0)
        x += env * np.sin(2 * np.pi * f0 * (t - onset))
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def _model(hidden: int, seed: int = 0) -> RecurrentModel:
    torch.manual_seed(seed)
    model = build_model(f"B{hidden}-noskip")
    with torch.no_grad():                        # saturating gates: a harder comparison
        for p in model.rec.parameters():
            p.mul_(2.0)
    return model.eval()


def _fxlib_plays(model, x, input_mean=0.0, input_std=1.0):
    """fxlib's output on x after BURN_IN samples of silence (what the file's state encodes)."""
    z = torch.from_numpy(np.concatenate([np.zeros(BURN_IN, np.float32), x]))
    with torch.no_grad():
        return model(((z - input_mean) / input_std)[None])[0, BURN_IN:].numpy()


def test_layout_known_answers_at_nam_example_size():
    H = 3
    model = RecurrentModel("LSTM", H, skip=False)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(100 * (i + 1) + torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape))
    doc = nam_document(model, burn_in=0)
    w = doc["weights"]
    assert len(w) == 70                          # NAM's example lstm.nam: H = 3, 70 weights
    assert doc["version"] == NAM_VERSION and doc["architecture"] == "LSTM"
    assert doc["config"] == {"input_size": 1, "hidden_size": 3, "num_layers": 1}
    assert doc["sample_rate"] == SR
    # row 0 of [W_ih | W_hh]: W_ih[0, 0] = 100, then W_hh[0, :] = 200, 201, 202
    assert w[:4] == [100.0, 200.0, 201.0, 202.0]
    assert w[4:8] == [101.0, 203.0, 204.0, 205.0]           # row 1 (row-major)
    assert w[48] == 300.0 + 400.0                           # bias = b_ih + b_hh, gate i, unit 0
    assert w[59] == 311.0 + 411.0
    assert w[60:66] == [0.0] * 6                            # h0, c0 (no burn-in)
    assert w[66:] == [500.0, 501.0, 502.0, 600.0]           # head weight, head bias


def test_refuses_what_nam_cannot_play():
    with pytest.raises(NamError, match="B16-noskip"):
        check_nam(build_model("B16"))
    with pytest.raises(NamError, match="GRU"):
        check_nam(build_model("C8-noskip"))
    with pytest.raises(NamError, match="onnx"):
        check_nam(build_model("Av2"))


nam_models = pytest.importorskip("nam.models")


@pytest.mark.parametrize("hidden", [16, 8, 3])
def test_nam_package_plays_the_file_as_fxlib_plays_the_model(tmp_path, hidden):
    model, x = _model(hidden), _audio(10.0)
    path = save_nam(model, tmp_path / "m.nam", metadata={"name": f"B{hidden}-noskip"})
    nam = nam_models.init_from_nam(json.loads(path.read_text())).eval()
    with torch.no_grad():
        got = nam(torch.from_numpy(x)[None], pad_start=False)[0].numpy()
    assert np.abs(got - _fxlib_plays(model, x)).max() <= 1e-5


def test_std_runs_fold_into_the_weights(tmp_path):
    model, x = _model(8, seed=2), _audio(2.0, seed=1)
    mean, std = 0.02, 0.25
    path = save_nam(model, tmp_path / "std.nam", input_mean=mean, input_std=std)
    nam = nam_models.init_from_nam(json.loads(path.read_text())).eval()
    with torch.no_grad():
        got = nam(torch.from_numpy(x)[None], pad_start=False)[0].numpy()
    ref = _fxlib_plays(model, x, mean, std)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_export_run_writes_nam_for_noskip_lstms_only(tmp_path):
    from test_export import _fake_run                     # a run folder as fxlib.train writes
    from fxlib.export import ExportError, default_formats, export_run
    from fxlib.train import load_run
    ns, skip = _fake_run(tmp_path / "a", "B16-noskip"), _fake_run(tmp_path / "b", "B16")
    assert default_formats(load_run(ns)) == ("aidax", "json", "nam", "onnx")
    assert "nam" not in default_formats(load_run(skip))
    doc = json.loads(export_run(ns, formats=("nam",))["nam"].read_text())
    assert doc["config"]["hidden_size"] == 16 and doc["metadata"]["model"] == "B16-noskip"
    with pytest.raises(ExportError, match="B16-noskip"):
        export_run(skip, formats=("nam",))
