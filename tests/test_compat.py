"""The renamed names keep working (README, "Renamed"): ``device`` -> ``effect``, ``std`` ->
``standardize``, and the flags, Makefile variable and notebook parameter that carry them."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from fxlib import data, notebook
from fxlib.bench import main as bench_main
from fxlib.reproduce import parameters
from fxlib.runtime.benchmark import main as stream_bench_main
from fxlib.train import TrainConfig, load_dataset, load_training_data, run_name
from fxlib.train.__main__ import build_parser

REPO = Path(__file__).resolve().parents[1]


def test_train_config_takes_the_old_keywords_with_a_warning():
    with pytest.warns(DeprecationWarning, match="device= is now effect="):
        old = TrainConfig(model="B8", device="ht1")
    with pytest.warns(DeprecationWarning, match="std= is now standardize="):
        old_std = TrainConfig(model="B8", std=True)
    assert old == TrainConfig(model="B8", effect="ht1")
    assert old_std == TrainConfig(model="B8", standardize=True)
    assert (old.device, old_std.std) == ("ht1", True)              # readable too
    assert run_name(old_std, "0" * 8) == "B8-scratch-std-smoke-s0-00000000"
    with pytest.raises(TypeError, match="give effect= only"):
        TrainConfig(model="B8", effect="muff", device="ht1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # None = not given: silent
        assert TrainConfig(model="B8", device=None).effect == "muff"


def test_hyper_parameters_is_the_settings_record():
    cfg = TrainConfig(model="C8", profile="quick")
    assert cfg.hyper_parameters() == cfg.settings().to_dict()


def test_cli_flags_keep_their_old_names():
    old = build_parser().parse_args(["--model", "B8", "--device", "pedal", "--std"])
    new = build_parser().parse_args(["--model", "B8", "--effect", "pedal", "--standardize"])
    assert (old.effect, old.standardize) == (new.effect, new.standardize) == ("pedal", True)


def test_bench_device_flag_is_compute(monkeypatch):
    seen = {}
    monkeypatch.setattr("fxlib.bench.run", lambda *a: seen.setdefault("args", a) and ([], {}))
    monkeypatch.setattr("fxlib.bench.format_table", lambda *a: "")
    assert bench_main(["--models", "B8", "--device", "cpu"]) == 0
    assert seen["args"][-1] == "cpu"


def test_benchmark_and_reproduce_take_effect_and_device(monkeypatch, tmp_path):
    assert parameters("01_A_vs_B", "smoke", "embedded", "ht1", None, "cpu")["effect"] == "ht1"
    assert parameters("00_dataset", "smoke", "embedded", "ht1", None, "cpu") == {
        "source": "embedded", "profile": "smoke", "effect": "ht1"}
    seen = {}
    monkeypatch.setattr("fxlib.runtime.benchmark.run", lambda *a, **k: [])
    monkeypatch.setattr("fxlib.runtime.benchmark.format_table", lambda *a: "x\n")
    monkeypatch.setattr("fxlib.runtime.benchmark._plots",
                        lambda rows, out, p, s, effect, r: seen.setdefault("effect", effect) and [])
    assert stream_bench_main(["--models", "B8", "--device", "ht1", "--out", str(tmp_path)]) == 0
    assert seen["effect"] == "ht1"


def test_data_functions_take_device_as_effect(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 9000), ("val", 3000), ("test", 3000)):
        x = (0.1 * rng.standard_normal(n)).astype(np.float32)
        data.write_wav(tmp_path / split / "amp-input.wav", x)
        data.write_wav(tmp_path / split / "amp-target.wav", np.tanh(3 * x))
    with pytest.warns(DeprecationWarning):
        old = data.load(tmp_path, device="amp", validate=False)
    new = data.load(tmp_path, effect="amp", validate=False)
    assert all(np.array_equal(old[s][i], new[s][i]) for s in old for i in (0, 1))
    with pytest.warns(DeprecationWarning):
        assert data.standardizer_for(tmp_path, device="amp") == \
            data.standardizer_for(tmp_path, "amp")
    with pytest.warns(DeprecationWarning):
        d = load_dataset(str(tmp_path), device="amp")
    assert d.effect == "amp" and d.desc == load_training_data(str(tmp_path), "amp").desc
    assert data.DEVICES is data.EFFECTS


def test_notebook_parameter_old_name(capsys):
    assert notebook.renamed_parameter("effect", "muff", device=None) == "muff"
    assert capsys.readouterr().out == ""
    assert notebook.renamed_parameter("effect", "muff", device="ht1") == "ht1"
    assert "'device' is now called 'effect'" in capsys.readouterr().out


def test_every_study_notebook_takes_effect_and_the_old_device():
    for path in sorted((REPO / "notebooks").glob("0*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert 'effect = \\"muff\\"' in text and "device = None" in text, path.name
        assert "renamed_parameter(\\\"effect\\\", effect, device=device)" in text, path.name


def test_makefile_device_is_the_old_effect():
    text = (REPO / "Makefile").read_text()
    assert re.search(r"^EFFECT\s*\?=\s*\$\(DEVICE\)", text, re.M)
    assert "--effect $(EFFECT)" in text and "--device" not in text
