"""AIDA-X files (fxlib.aidax) checked by an independent implementation: Keras 3.

The exported file is read the way RTNeural reads it -- a Keras ``LSTM`` / ``GRU(reset_after=True)``
and a ``Dense`` layer get the file's weights as they are, the input is multiplied by the file's
``in_gain`` and, with ``in_skip`` 1, added to the output, as AIDA-X's plugin does -- and the
result is compared with fxlib's model on the same audio. Nothing of fxlib reads the file.

Keras runs its recurrences as a Python loop over time steps (about 4 s per second of audio
here), so the 10 s of audio are ten 1-second excerpts processed as one batch, each from the zero
state on both sides.
"""
import json
import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from fxlib.aidax import AIDAX_HIDDEN, AidaXError, aidax_document, save_aidax  # noqa: E402
from fxlib.models import build_model  # noqa: E402
from fxlib.models.rnn import RecurrentModel  # noqa: E402

SR = 44_100
# Keras's torch backend converts tensors with np.array(x), which NumPy 2 flags as deprecated
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _audio(seconds=10, seed=0) -> np.ndarray:
    """Ten 1-second excerpts of a plucked-string-like test signal (decaying partials and noise),
    peak 0.5, as a (10, 44100) batch."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * SR) / SR
    x = np.zeros_like(t)
    for onset in np.arange(0, seconds, 0.5):
        f0 = rng.uniform(80, 400)
        env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(2, 8)), 0.0)
        for k in range(1, 6):
            x += env * np.sin(2 * np.pi * k * f0 * (t - onset)) / k
    x += 0.01 * rng.standard_normal(len(t))
    x = 0.5 * x / np.abs(x).max()
    return x.reshape(seconds, SR).astype(np.float32)


def _model(cell: str, hidden: int, seed: int = 0, skip: bool = True) -> RecurrentModel:
    torch.manual_seed(seed)
    model = RecurrentModel(cell, hidden, skip=skip)
    with torch.no_grad():                       # larger than the default init: saturating gates
        for p in model.rec.parameters():
            p.mul_(2.0)
    return model.eval()


def keras_from_file(path):
    """A Keras model built from an AIDA-X file as RTNeural reads it, and the plugin's input
    gain and skip."""
    doc = json.loads(open(path, encoding="utf-8").read())
    rnn, dense = doc["layers"]
    hidden = rnn["shape"][-1]
    layer = (keras.layers.LSTM(hidden, return_sequences=True) if rnn["type"] == "lstm" else
             keras.layers.GRU(hidden, return_sequences=True, reset_after=True))
    model = keras.Sequential([keras.Input(shape=(None, doc["in_shape"][-1])), layer,
                              keras.layers.Dense(dense["shape"][-1])])
    layer.set_weights([np.asarray(w, np.float32) for w in rnn["weights"]])
    model.layers[-1].set_weights([np.asarray(w, np.float32) for w in dense["weights"]])
    gain = np.float32(10.0 ** (doc.get("in_gain", 0.0) / 20.0))

    def play(x: np.ndarray) -> np.ndarray:
        u = gain * x
        y = model.predict(u[..., None], verbose=0, batch_size=len(u))[..., 0]
        return y + u if doc.get("in_skip", 0) == 1 else y
    return play


@pytest.mark.parametrize("cell,hidden", [("LSTM", 64), ("LSTM", 16), ("LSTM", 8), ("LSTM", 40),
                                         ("GRU", 64), ("GRU", 16), ("GRU", 8)])
def test_keras_plays_the_file_as_fxlib_plays_the_model(tmp_path, cell, hidden):
    model, x = _model(cell, hidden), _audio()
    path = save_aidax(model, tmp_path / "m.json", metadata={"model": f"{cell}{hidden}"})
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    got = keras_from_file(path)(x)
    assert np.abs(got - ref).max() <= 1e-5


def test_noskip_models_have_in_skip_0(tmp_path):
    model, x = _model("LSTM", 16, skip=False), _audio(seconds=2)
    path = save_aidax(model, tmp_path / "noskip.json")
    assert json.loads(path.read_text())["in_skip"] == 0
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(keras_from_file(path)(x) - ref).max() <= 1e-5


@pytest.mark.parametrize("cell,skip", [("LSTM", True), ("GRU", True), ("GRU", False)])
def test_std_runs_fold_their_standardiser_exactly(tmp_path, cell, skip):
    """A std model plays (x - mean) / std: the file's in_gain and folded biases do the same."""
    model, x = _model(cell, 8, seed=1, skip=skip), _audio(seconds=2, seed=1)
    mean, std = 0.013, 0.21
    path = save_aidax(model, tmp_path / "std.json", input_mean=mean, input_std=std)
    with torch.no_grad():
        ref = model(torch.from_numpy((x - mean) / std)).numpy()
    got = keras_from_file(path)(x)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
    doc = json.loads(path.read_text())
    assert doc["in_gain"] == pytest.approx(-20 * math.log10(std))


def test_layout_known_answers():
    """Gate order and bias layout on a tiny GRU / LSTM with numbered weights."""
    gru = RecurrentModel("GRU", 8)
    H = 8
    with torch.no_grad():
        gru.rec.weight_ih_l0.copy_(torch.arange(3 * H, dtype=torch.float32)[:, None])
        gru.rec.bias_ih_l0.copy_(torch.arange(3 * H, dtype=torch.float32))
        gru.rec.bias_hh_l0.copy_(100 + torch.arange(3 * H, dtype=torch.float32))
    doc = aidax_document(gru)
    W, U, b = doc["layers"][0]["weights"]
    # PyTorch rows r = 0..7, z = 8..15, n = 16..23 -> Keras columns z, r, h
    assert W == [list(map(float, list(range(8, 16)) + list(range(0, 8)) + list(range(16, 24))))]
    assert len(U) == H and len(U[0]) == 3 * H
    assert b[0][:2] == [8.0, 9.0] and b[1][:2] == [108.0, 109.0] and b[1][16] == 116.0
    lstm = RecurrentModel("LSTM", 8)
    with torch.no_grad():
        lstm.rec.bias_ih_l0.fill_(1.0)
        lstm.rec.bias_hh_l0.fill_(0.5)
    doc = aidax_document(lstm)
    assert doc["layers"][0]["weights"][2] == [1.5] * (4 * H)
    assert doc["in_shape"] == [None, None, 1] and doc["in_skip"] == 1 and "in_gain" not in doc
    assert doc["layers"][1]["shape"] == [None, None, 1]


def test_refuses_what_the_plugin_would_not_load():
    with pytest.raises(AidaXError, match="8, 12, 16, 20, 32, 40, 64, 80"):
        aidax_document(RecurrentModel("LSTM", 24))
    with pytest.raises(AidaXError, match="onnx"):
        aidax_document(build_model("A"))
    assert AIDAX_HIDDEN == (8, 12, 16, 20, 32, 40, 64, 80)


@pytest.mark.parametrize("file", ["muff-muff1.json", "muff-muff2.json", "muff-muff3.json",
                                  "muff-muff4.json", "ht1-ht11.json", "ht1-ht12.json",
                                  "ht1-ht13.json", "ht1-ht14.json"])
def test_the_real_pretrained_models_play_in_keras(pretrained_dir, tmp_path, file):
    """The eight real Wright et al. models (LSTM / GRU, 32 and 64 units: all AIDA-X sizes) of
    the actual fuzz and amp. They amplify float32 rounding, so Keras is held to the model's own
    float32 floor: within 4x PyTorch float32's distance from a float64 evaluation."""
    from fxlib.io import load_wright_json
    model = load_wright_json(pretrained_dir / file)
    x = 0.2 * _audio(seconds=5, seed=4)[:, :SR // 2]            # ten 0.5-s excerpts
    path = save_aidax(model, tmp_path / "m.json", metadata={"name": file})
    with torch.no_grad():
        truth = load_wright_json(pretrained_dir / file).double()(
            torch.from_numpy(x).double()).numpy()
        floor = np.abs(model(torch.from_numpy(x)).numpy() - truth).max()
    got = keras_from_file(path)(x)
    assert np.abs(got - truth).max() <= 4 * max(floor, 1e-6)
