"""The Wright et al. JSON format: real pretrained files, an independent NumPy reference,
round trips and clear errors."""
import json

import numpy as np
import pytest
import torch

from fxlib import build_model, count_parameters
from fxlib.io import ModelFormatError, load_wright_json, save_wright_json


def numpy_reference(doc, x):
    """Independent per-sample LSTM/GRU from the JSON weights (PyTorch's gate equations)."""
    meta, w = doc["model_data"], {k: np.asarray(v, dtype=np.float64)
                                  for k, v in doc["state_dict"].items()}
    hsz = meta["hidden_size"]
    h, c = np.zeros(hsz), np.zeros(hsz)
    sig = lambda v: 1 / (1 + np.exp(-v))
    out = np.empty_like(x)
    for n, xn in enumerate(x):
        gi = w["rec.weight_ih_l0"][:, 0] * xn + w["rec.bias_ih_l0"]
        gh = w["rec.weight_hh_l0"] @ h + w["rec.bias_hh_l0"]
        if meta["unit_type"] == "LSTM":            # gates i, f, g, o
            i, f, g, o = np.split(gi + gh, 4)
            c = sig(f) * c + sig(i) * np.tanh(g)
            h = sig(o) * np.tanh(c)
        else:                                       # gates r, z, n
            ir, iz, in_ = np.split(gi, 3)
            hr, hz, hn = np.split(gh, 3)
            r, z = sig(ir + hr), sig(iz + hz)
            h = (1 - z) * np.tanh(in_ + r * hn) + z * h
        out[n] = xn + w["lin.weight"][0] @ h + w["lin.bias"][0]
    return out


@pytest.mark.parametrize("fname,name,cell", [("muff-muff2.json", "B", "LSTM"),
                                             ("muff-muff4.json", "C", "GRU")])
def test_pretrained_files_load_into_B_and_C(pretrained_dir, fname, name, cell):
    path = pretrained_dir / fname
    model = load_wright_json(path)
    assert (model.cell, model.hidden_size) == (cell, 64)
    assert count_parameters(model) == count_parameters(build_model(name))
    registry_model = build_model(name)
    registry_model.load_state_dict(model.state_dict())            # same layout as the registry
    x = 0.2 * np.sin(np.linspace(0, 60, 600)) * np.linspace(0, 1, 600)
    ref = numpy_reference(json.loads(path.read_text()), x)
    with torch.no_grad():
        ours = registry_model(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_all_eight_pretrained_files_load(pretrained_dir):
    files = sorted(pretrained_dir.glob("*.json"))
    assert len(files) == 8
    for f in files:
        assert load_wright_json(f).hidden_size in (32, 64)


@pytest.mark.parametrize("name", ["B", "B16", "B8", "C", "C16", "C8"])
def test_round_trip_gives_identical_outputs(tmp_path, name):
    model = build_model(name).eval()
    path = save_wright_json(model, tmp_path / f"{name}.json")
    back = load_wright_json(path)
    x = 0.3 * torch.randn(2, 500)
    with torch.no_grad():
        assert torch.equal(model(x), back(x))
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k])
    assert not list(tmp_path.glob("*.part"))


def test_round_trip_of_a_real_file_is_identical(pretrained_dir, tmp_path):
    model = load_wright_json(pretrained_dir / "muff-muff4.json")
    back = load_wright_json(save_wright_json(model, tmp_path / "m.json"))
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k])


def write(tmp_path, doc, text=None):
    p = tmp_path / "m.json"
    p.write_text(text if text is not None else json.dumps(doc))
    return p


def test_bad_files_give_clear_errors(tmp_path):
    good = json.loads(json.dumps({"model_data": {"model": "SimpleRNN", "input_size": 1,
                                                 "output_size": 1, "unit_type": "GRU",
                                                 "num_layers": 1, "hidden_size": 8, "skip": 1,
                                                 "bias_fl": True}, "state_dict": {}}))
    save_wright_json(build_model("C8"), tmp_path / "ok.json")
    good["state_dict"] = json.loads((tmp_path / "ok.json").read_text())["state_dict"]
    assert load_wright_json(write(tmp_path, good)).hidden_size == 8

    with pytest.raises(FileNotFoundError, match="no model file"):
        load_wright_json(tmp_path / "missing.json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        load_wright_json(write(tmp_path, None, text=json.dumps(good)[:500]))
    with pytest.raises(ModelFormatError, match="num_layers = 2"):
        load_wright_json(write(tmp_path, {**good, "model_data": {**good["model_data"],
                                                                "num_layers": 2}}))
    with pytest.raises(ModelFormatError, match="unit_type 'RNN'"):
        load_wright_json(write(tmp_path, {**good, "model_data": {**good["model_data"],
                                                                "unit_type": "RNN"}}))
    with pytest.raises(ModelFormatError, match="shape"):
        load_wright_json(write(tmp_path, {**good, "model_data": {**good["model_data"],
                                                                "hidden_size": 16}}))
    sd = dict(good["state_dict"])
    del sd["lin.bias"]
    with pytest.raises(ModelFormatError, match="lacks lin.bias"):
        load_wright_json(write(tmp_path, {**good, "state_dict": sd}))
    with pytest.raises(ModelFormatError, match="model_data"):
        load_wright_json(write(tmp_path, {"weights": []}))
    with pytest.raises(TypeError, match="only B/C"):
        save_wright_json(build_model("Av2"), tmp_path / "a.json")
