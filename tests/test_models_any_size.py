"""B<H> / C<H> models of any size and -noskip models: registry, training, formats, streaming."""
import json

import numpy as np
import pytest
import torch

import fxlib.models.rnn as R
from fxlib.export import OnnxModel, export_onnx
from fxlib.io import ModelFormatError, load_wright_json, save_wright_json
from fxlib.models import build_model, count_parameters, family_of, is_model_name, rnn_spec
from fxlib.runtime import Streamer
from fxlib.train import TrainConfig, train
from fxlib.train.__main__ import build_parser


def lstm_params(h):      # 4H inputs, 4H x H recurrent, two 4H biases, read-out H + 1
    return 4 * h + 4 * h * h + 8 * h + h + 1


def gru_params(h):
    return 3 * h + 3 * h * h + 6 * h + h + 1


@pytest.mark.parametrize("name,count", [("B40", lstm_params(40)), ("B20", lstm_params(20)),
                                        ("C32", gru_params(32)), ("B12", lstm_params(12)),
                                        ("B16-noskip", 1233), ("C-noskip", 12929)])
def test_any_size_known_parameter_counts(name, count):
    assert count_parameters(build_model(name)) == count
    assert family_of(name).name == "rnn" and is_model_name(name)
    assert lstm_params(40) == 6921 and gru_params(32) == 3393


def test_names_that_are_refused():
    assert rnn_spec("B") == ("LSTM", 64, True) and rnn_spec("C8-noskip") == ("GRU", 8, False)
    for bad in ("B64", "C64", "B0", "B08", "D8", "B16-skip", "B2000", "b16", ""):
        assert not is_model_name(bad)
        with pytest.raises(ValueError, match="unknown model"):
            build_model(bad)
    with pytest.raises(ValueError, match="called B or C"):
        build_model("B64")
    for bad in ("B64", "rnn", "cafx"):        # family names are not model names
        with pytest.raises(ValueError, match="unknown model"):
            TrainConfig(model=bad)
    assert build_parser().parse_args(["--model", "B40"]).model == "B40"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--model", "B64"])


@pytest.mark.parametrize("name", ["B16-noskip", "C8-noskip"])
@pytest.mark.parametrize("kernel", [True, False])
def test_noskip_output_is_the_read_out_alone(monkeypatch, name, kernel):
    """y = Linear(h): the skip model with the same weights, minus its input."""
    monkeypatch.setattr(R, "USE_GRU_KERNEL", kernel)
    monkeypatch.setattr(R, "USE_LSTM_KERNEL", kernel)
    torch.manual_seed(0)
    noskip = build_model(name)
    skip = build_model(name.replace("-noskip", ""))
    skip.load_state_dict(noskip.state_dict())
    x = 0.3 * torch.randn(2, 500)
    with torch.no_grad():
        torch.testing.assert_close(noskip(x), skip(x) - x, rtol=0, atol=1e-6)
    assert "skip=False" in repr(noskip)


def test_noskip_in_wright_json_onnx_and_streamer(tmp_path):
    torch.manual_seed(1)
    model = build_model("B16-noskip").eval()
    x = (0.3 * np.random.default_rng(0).standard_normal(3000)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    path = save_wright_json(model, tmp_path / "m.json")
    assert json.loads(path.read_text())["model_data"]["skip"] == 0
    back = load_wright_json(path)
    assert back.skip is False
    with torch.no_grad():
        assert np.array_equal(back(torch.from_numpy(x)).numpy(), ref)
    onnx = OnnxModel(export_onnx(model, tmp_path / "m.onnx"))
    assert np.abs(onnx.forward(x) - ref).max() <= 1e-6
    s = Streamer(model)                          # auto: PyTorch (the numba kernels add x)
    assert s.backend == "torch"
    got = np.concatenate([s.process(x[i:i + 256]) for i in range(0, len(x), 256)])
    assert np.abs(got - ref).max() <= 1e-6
    with pytest.raises(ValueError, match="noskip"):
        Streamer(model, backend="numba")
    doc = json.loads(path.read_text())
    doc["model_data"]["skip"] = 2
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ModelFormatError, match="skip"):
        load_wright_json(tmp_path / "bad.json")


def test_any_size_and_noskip_train(tmp_path):
    for name in ("B40", "C12-noskip"):
        run = train(TrainConfig(model=name, profile="smoke", seed=0), runs=tmp_path,
                    progress=False)
        assert run.path.name.startswith(f"{name}-scratch-smoke-s0-")
        assert np.isfinite(run.metrics["test_esr"])
        model = run.load_model()
        assert model.hidden_size == int(name[1:3]) and model.skip == ("noskip" not in name)


def test_proteus_format_only_for_what_proteus_and_neuralpi_play(tmp_path, capsys):
    from test_export import _fake_run                     # a run folder as fxlib.train writes
    from fxlib.export import ExportError, check_proteus, default_formats, export_run
    from fxlib.train import load_run
    b40, b16 = _fake_run(tmp_path / "a", "B40"), _fake_run(tmp_path / "b", "B16")
    assert default_formats(load_run(b40)) == ("aidax", "json", "proteus", "onnx")
    assert default_formats(load_run(b16)) == ("aidax", "json", "onnx")
    written = export_run(b40, formats=("proteus",))
    assert written["proteus"].name.endswith("-proteus.json")
    assert load_wright_json(written["proteus"]).hidden_size == 40
    with pytest.raises(ExportError, match="aidax"):
        export_run(b16, formats=("proteus",))
    check_proteus(build_model("B20"))                     # NeuralPi
    for name in ("C", "B40-noskip", "B32", "Av2"):
        with pytest.raises(ExportError, match="Proteus plays an LSTM of hidden size 40"):
            check_proteus(build_model(name))
