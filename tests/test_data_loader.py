"""``fxlib.data.load`` over every kind of source, and the standardisation helpers."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from scipy.signal import butter, lfilter

from fxlib.data import (DataError, DataWarning, Standardizer, load, standardizer_for,
                        write_wav)
from fxlib.data import loader, standardize

SR = 44100
LENGTHS = {"train": 3.0, "val": 2.5, "test": 2.0}


def make_pair(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Band-limited noise bursts through a tanh drive: broadband, nonlinear, aligned."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    b, a = butter(2, [80 / (SR / 2), 5000 / (SR / 2)], "band")
    x = lfilter(b, a, rng.standard_normal(n)) * np.repeat(rng.uniform(0.2, 1, n // 2205 + 1),
                                                          2205)[:n]
    x = (0.5 * x / np.abs(x).max()).astype(np.float32)
    return x, (0.7 * np.tanh(4 * x)).astype(np.float32)


def make_dataset(folder, device="muff", lengths=LENGTHS, seed=0, shift=0, sr=SR):
    for i, (split, seconds) in enumerate(lengths.items()):
        x, y = make_pair(seconds, seed + i)
        if shift:
            y = np.concatenate([np.zeros(shift, np.float32), y[:-shift]])
        write_wav(folder / split / f"{device}-input.wav", x, sr)
        write_wav(folder / split / f"{device}-target.wav", y, sr)
    return folder


@pytest.fixture
def no_data_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        yield


# --------------------------------------------------------------------------- folders
def test_load_user_folder(tmp_path, no_data_warnings):
    make_dataset(tmp_path / "mine", device="myamp")
    data = load(tmp_path / "mine", "myamp")
    assert list(data) == ["train", "val", "test"]
    for split, (x, y) in data.items():
        assert x.dtype == y.dtype == np.float32 and x.ndim == 1
        assert len(x) == len(y) == int(LENGTHS[split] * SR)
    # the same folder given as a string, or as a clone of the original repository (Data/)
    assert np.array_equal(load(str(tmp_path / "mine"), "myamp")["val"][1], data["val"][1])
    make_dataset(tmp_path / "clone" / "Data", device="myamp")
    assert len(load(tmp_path / "clone", "myamp")["test"][0]) == 2 * SR


def test_missing_files_and_bad_names(tmp_path):
    make_dataset(tmp_path / "d")
    os.remove(tmp_path / "d" / "val" / "muff-target.wav")
    with pytest.raises(DataError, match=r"missing val/muff-target\.wav"):
        load(tmp_path / "d", "muff")
    with pytest.raises(DataError, match="neither one of"):
        load(tmp_path / "does-not-exist", "muff")
    with pytest.raises(DataError, match="plain name"):
        load(tmp_path / "d", "../muff")
    with pytest.raises(DataError, match="choose one of"):
        load("wright2019", "bassman", root=tmp_path)


def test_validation_warnings_and_errors(tmp_path):
    make_dataset(tmp_path / "late", shift=25)
    with pytest.warns(DataWarning, match=r"misaligned .* \+25 samples"):
        load(tmp_path / "late", "muff")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load(tmp_path / "late", "muff", validate=False)  # no checks, no warnings

    make_dataset(tmp_path / "uneven")
    x, y = make_pair(2.0, 99)
    write_wav(tmp_path / "uneven" / "test" / "muff-target.wav", y[:-100])
    with pytest.raises(DataError, match="test/muff: input has 88200 samples"):
        load(tmp_path / "uneven", "muff")
    assert len(load(tmp_path / "uneven", "muff", validate=False)["test"][1]) == 88100


def test_resample_and_downmix_options(tmp_path, no_data_warnings):
    make_dataset(tmp_path / "48k", sr=48000)
    with pytest.raises(DataError, match="resample=True"):
        load(tmp_path / "48k", "muff")
    data = load(tmp_path / "48k", "muff", resample=True)  # 132,300 samples read as 48 kHz
    assert len(data["train"][0]) == -(-132300 * 441 // 480)  # resample_poly rounds up

    folder = make_dataset(tmp_path / "st")
    x, y = make_pair(3.0, 0)
    write_wav(folder / "train" / "muff-input.wav", np.stack([x, x], axis=1))
    with pytest.raises(DataError, match="downmix=True"):
        load(folder, "muff")
    assert np.allclose(load(folder, "muff", downmix=True)["train"][0], x)


# --------------------------------------------------------------------------- built-in sources
def test_wright2019_requires_fetch(tmp_path):
    with pytest.raises(DataError, match="python -m fxlib.data fetch"):
        load("wright2019", "muff", root=tmp_path)


def test_wright2019_layout_is_read(tmp_path):
    make_dataset(tmp_path / "wright2019", device="ht1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load("wright2019", "ht1", root=tmp_path)
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert len(messages) == 3 and "published split is about 342 s" in messages[0]
    assert len(data["train"][0]) == 3 * SR


def test_embedded_calls_the_builder(tmp_path, monkeypatch, no_data_warnings):
    calls = []
    built = make_dataset(tmp_path / "embedded" / "smoke", device="ht1")

    def fake_build(scale, seed, root):
        calls.append((scale, seed, root))
        return built
    monkeypatch.setattr(loader, "build_embedded", fake_build)
    data = load("embedded", "ht1", root=tmp_path, scale="smoke", seed=3)
    assert calls == [("smoke", 3, tmp_path)] and set(data) == {"train", "val", "test"}


def test_embedded_smoke_build_loads_cleanly(tmp_path, no_data_warnings):
    """Integration with the real builder: its smoke set loads and validates without warnings."""
    from fxlib.data import embedded
    try:
        data = load("embedded", "muff", root=tmp_path, scale="smoke")
    except NotImplementedError:
        pytest.skip("build_embedded is still a placeholder")
    assert {s: (x.dtype, len(x) == len(y)) for s, (x, y) in data.items()} == \
        {s: (np.dtype(np.float32), True) for s in ("train", "val", "test")}
    assert embedded.build_embedded  # imported, used through fxlib.data.loader


# --------------------------------------------------------------------------- standardisation
def test_standardizer_basics():
    s = Standardizer.fit(np.array([1.0, 2.0, 3.0, 4.0]))
    assert s.mean == 2.5 and s.std == pytest.approx(np.sqrt(1.25))
    x = np.linspace(-1, 1, 11, dtype=np.float32)
    assert np.allclose(s.invert(s.apply(x)), x, atol=1e-6)
    t = torch.linspace(-1, 1, 11)
    assert torch.allclose(s.invert(s.apply(t)), t, atol=1e-6)
    assert Standardizer.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(DataError, match="std"):
        Standardizer(0.0, 0.0)


def test_standardizer_for_stores_and_reuses(tmp_path, monkeypatch):
    folder = make_dataset(tmp_path / "d")
    s = standardizer_for(folder, "muff")
    x = load(folder, "muff", validate=False)["train"][0].astype(np.float64)
    assert s.mean == pytest.approx(x.mean()) and s.std == pytest.approx(x.std())
    stats = folder / "stats-muff.json"
    doc = json.loads(stats.read_text())
    assert doc["mean"] == s.mean and doc["n_samples"] == len(x)

    def no_read(*args, **kwargs):
        raise AssertionError("the stored stats should have been reused")
    with monkeypatch.context() as m:
        m.setattr(standardize, "read_wav", no_read)
        assert standardizer_for(folder, "muff") == s
        # val/test never enter the stats
        write_wav(folder / "val" / "muff-input.wav", np.full(SR * 3, 0.5))
        assert standardizer_for(folder, "muff") == s

    # a changed training input is noticed, and the file is rewritten
    write_wav(folder / "train" / "muff-input.wav", 0.25 + 0.1 * x[: SR * 2])
    s2 = standardizer_for(folder, "muff")
    assert s2.mean == pytest.approx(0.25 + 0.1 * x[: SR * 2].mean(), abs=1e-6)
    assert json.loads(stats.read_text())["mean"] == s2.mean
    # a damaged stats file is recomputed, not trusted
    stats.write_text("{not json")
    assert standardizer_for(folder, "muff") == s2
    assert [p.name for p in folder.iterdir() if p.is_file()] == ["stats-muff.json"]


def test_standardizer_for_embedded_uses_builder(tmp_path, monkeypatch):
    built = make_dataset(tmp_path / "embedded" / "full")
    monkeypatch.setattr(loader, "build_embedded", lambda scale, seed, root: built)
    s = standardizer_for("embedded", "muff", root=tmp_path)
    assert (built / "stats-muff.json").is_file() and s.std > 0
