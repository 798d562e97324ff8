"""fxlib.export: ONNX and Wright/Proteus JSON round trips, run-folder export and its CLI.

Tolerances: B/C through ONNX Runtime's native LSTM/GRU match PyTorch to 1e-6 max abs over 1 s
(observed 6e-8). CAFx frames are convolutions of 64-128 taps over 128 channels, which ONNX
Runtime sums in another order than PyTorch: observed 3-6e-6 on outputs of magnitude 1-5, i.e.
float32 rounding; asserted <= 1e-5 x max|reference| (the bound tests/test_cafx_fast.py uses
between PyTorch's own two CAFx formulations).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fxlib.export import ExportError, OnnxModel, _CAFxFrameGraph, export_onnx, export_run, main
from fxlib.io import load_wright_json
from fxlib.models import build_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

SR = 44_100
PRETRAINED = Path(__file__).resolve().parents[2] / "shared/external/wright2019-pretrained"


def _signal(n: int, seed: int = 0, rms: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * rms).astype(np.float32)


def _torch(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name", ["B8", "B16", "C8", "C16"])
def test_rnn_onnx_round_trip_whole_and_blocks(name, tmp_path):
    torch.manual_seed(1)
    model = build_model(name).eval()
    om = OnnxModel(export_onnx(model, tmp_path / f"{name}.onnx", name=name))
    assert om.family == "rnn" and om.meta["fxlib.model"] == name
    x = _signal(SR)
    ref = _torch(model, x)
    assert np.abs(om.forward(x) - ref).max() <= 1e-6
    s = om.streamer()
    for block in (1, 64, 777):                 # any partition, the state carried
        s.reset()
        n = 3000 if block == 1 else SR
        y = np.concatenate([s.process(x[i:i + block]) for i in range(0, n, block)])
        assert np.abs(y - ref[:n]).max() <= 1e-6, block


@pytest.mark.skipif(not PRETRAINED.is_dir(), reason="needs ../shared/external/wright2019-pretrained")
@pytest.mark.parametrize("file", ["muff-muff2.json", "muff-muff4.json"])
def test_pretrained_models_round_trip_through_onnx(file, tmp_path, monkeypatch):
    """The real high-gain fuzz models amplify float32 rounding: over 0.5 s PyTorch float32
    itself is 8e-6 (LSTM) / 8e-5 (GRU) from a float64 evaluation of the same weights, and ORT
    2e-5 / 4e-5 (measured). No float32 engine can be held to 1e-6 there; ORT is held to the
    model's own float32 floor: within 4x PyTorch float32's distance from float64."""
    import fxlib.models.rnn as rnn
    monkeypatch.setattr(rnn, "USE_GRU_KERNEL", False)     # PyTorch's own nn.GRU
    model = load_wright_json(PRETRAINED / file)
    om = OnnxModel(export_onnx(model, tmp_path / "m.onnx"))
    x = _signal(SR // 2, seed=3, rms=0.1)
    with torch.no_grad():
        xd = torch.from_numpy(x).double()[None]
        m64 = load_wright_json(PRETRAINED / file).double()
        truth = (xd + m64.lin(m64.rec(xd.unsqueeze(-1))[0]).squeeze(-1))[0].numpy()
    floor = np.abs(_torch(model, x) - truth).max()
    assert np.abs(om.forward(x) - truth).max() <= 4 * max(floor, 1e-6)


@pytest.mark.parametrize("name", ["Av2", "A"])
def test_cafx_onnx_round_trip_frames_and_whole_signal(name, tmp_path):
    torch.manual_seed(2)
    model = build_model(name).eval()
    with torch.no_grad():
        for p in (model.conv.bias, model.local_conv.bias, model.deconv_bias):
            p.uniform_(-0.1, 0.1)
    om = OnnxModel(export_onnx(model, tmp_path / f"{name}.onnx"))
    assert (om.family, om.frame_length, om.hop) == ("cafx", 4096, 2048)
    frames = _signal(3 * 4096, seed=1, rms=0.3).reshape(3, 4096)
    with torch.no_grad():
        ref = _CAFxFrameGraph(model)(torch.from_numpy(frames)).numpy()
        fast = model.forward_frames(torch.from_numpy(frames)).numpy()
    got = om.session.run(None, {"frames": frames})[0]
    scale = np.abs(ref).max()
    assert np.abs(fast - ref).max() <= 1e-5 * scale      # the graph is the model
    assert np.abs(got - ref).max() <= 1e-5 * scale
    x = _signal(10_000, seed=4)                           # not a multiple of the hop
    whole = _torch(model, x)
    assert np.abs(om.forward(x) - whole).max() <= 1e-5 * np.abs(whole).max()


def test_standardiser_is_recorded_and_applied(tmp_path):
    torch.manual_seed(0)
    model = build_model("B8").eval()
    om = OnnxModel(export_onnx(model, tmp_path / "s.onnx", input_mean=0.01, input_std=0.25))
    x = _signal(5000)
    ref = _torch(model, ((x - 0.01) / 0.25).astype(np.float32))
    assert np.abs(om.forward(x) - ref).max() <= 1e-6


def test_unsupported_model_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(ExportError, match="supports RecurrentModel"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="CAFx streams"):
        OnnxModel(export_onnx(build_model("Av2"), tmp_path / "a.onnx")).streamer()


def _fake_run(root: Path, model_name: str, std: dict | None = None) -> Path:
    """A complete run folder as fxlib.train writes it (the files export reads)."""
    torch.manual_seed(5)
    model = build_model(model_name)
    path = root / f"{model_name}-scratch-smoke-s0-deadbeef"
    path.mkdir(parents=True)
    family = "cafx" if model_name.startswith("A") else "rnn"
    config = {"model": model_name, "family": family, "method": "scratch"}
    if std:
        config["standardizer"] = std
    (path / "config.json").write_text(json.dumps(config))
    (path / "history.json").write_text("{}")
    (path / "metrics.json").write_text(json.dumps({"esr": 0.5}))
    torch.save(model.state_dict(), path / "model.pt")
    return path


def test_export_run_json_and_onnx_for_a_student(tmp_path, capsys):
    run = _fake_run(tmp_path, "C8")
    assert main([str(run)]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(written) == {"aidax", "json", "onnx"}
    assert json.loads(Path(written["aidax"]).read_text())["metadata"]["model"] == "C8"
    original = build_model("C8")
    original.load_state_dict(torch.load(run / "model.pt", weights_only=True))
    back = load_wright_json(written["json"])
    for k, v in original.state_dict().items():              # JSON keeps float32 exactly
        assert torch.equal(v, back.state_dict()[k]), k
    x = _signal(4000)
    assert np.array_equal(_torch(back.eval(), x), _torch(original.eval(), x))
    assert np.abs(OnnxModel(written["onnx"]).forward(x) - _torch(original.eval(), x)).max() <= 1e-6


def test_export_run_refuses_json_where_it_cannot_be_exact(tmp_path, capsys):
    cafx = _fake_run(tmp_path / "a", "Av2")
    with pytest.raises(ExportError, match="B/C"):
        export_run(cafx, formats=("json",))
    std = _fake_run(tmp_path / "s", "B8", std={"mean": 0.0, "std": 0.1})
    with pytest.raises(ExportError, match="std"):
        export_run(std, formats=("json",))
    with pytest.raises(ExportError, match="AIDA-X"):
        export_run(cafx, formats=("aidax",))
    assert main([str(std)]) == 0                    # default formats: no Wright JSON for std
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(written) == ["aidax", "onnx"] and OnnxModel(written["onnx"]).std == 0.1
    assert json.loads(Path(written["aidax"]).read_text())["in_gain"] == pytest.approx(20.0)
    assert main([str(tmp_path / "missing")]) == 1
    assert "not a complete run" in capsys.readouterr().err
