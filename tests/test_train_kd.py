"""KD runs end to end: TOR and DF through ``fxlib.train.train`` and the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import fxlib.data
from fxlib.kd.tor import epsilon_from_residuals
from fxlib.train import TrainConfig, load_run, train
from fxlib.train.teacher import load_teacher

from test_train_rnn import TINY_RNN, waveshaper_data

PRETRAINED = Path(__file__).resolve().parents[2] / "shared" / "external" / "wright2019-pretrained"
TINY_CAFX = dict(cafx_epochs=2, cafx_batch=2, cafx_lr=1e-3, val_every=1, cafx_max_batches=1)
TINY_DF = dict(df_iterations=4, df_n_s=2, df_batch=3, df_log_every=2)


@pytest.fixture(scope="module")
def data():
    return waveshaper_data(n_train=4096 * 3, n_val=4096, n_test=3000)


@pytest.fixture(scope="module")
def teachers(tmp_path_factory, data):
    """A raw and a std B8 teacher (tiny trainings), in one runs folder shared by the tests."""
    runs = tmp_path_factory.mktemp("runs")
    raw = train(TrainConfig(model="B8", seed=0, overrides=TINY_RNN), runs=runs, data=data,
                progress=False)
    std = train(TrainConfig(model="B8", seed=0, standardize=True, overrides=TINY_RNN), runs=runs,
                data=data, progress=False)
    return runs, raw, std


def _weights(run):
    return torch.load(run.path / "model.pt", weights_only=True)


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- TOR -------------------------------------------------------------------------------------
def test_tor_run_records_teacher_and_epsilon(teachers, data):
    runs, raw, _ = teachers
    cfg = TrainConfig(model="B8", method="tor", teacher=str(raw.path), seed=1,
                      overrides=TINY_RNN)
    run = train(cfg, runs=runs, data=data, progress=False)
    assert run.path.name.startswith("B8-tor-smoke-s1-")
    assert run.config["teacher"] == raw.id and run.config["kd"]["epsilon_quantile"] == 0.99
    assert run.config["teacher_info"]["model"] == "B8"
    # ε is the 0.99 quantile of the teacher's residuals on the training audio
    t_out = raw.predict(data["train"][0])
    want = epsilon_from_residuals(data["train"][1] - t_out, 0.99)
    assert run.metrics["tor_epsilon"] == pytest.approx(want, rel=1e-5)
    assert run.metrics["tor_rejected_fraction"] == pytest.approx(0.01, abs=2e-3)
    assert np.isfinite(run.metrics["test_esr"]) and run.metrics["best_val_loss"] <= \
        run.history["val_loss"][0]
    # the teacher's output is cached under the runs root and reused, the run reused by id
    assert len(list((runs / "_teacher_outputs").glob("*.npy"))) == 1
    again = train(TrainConfig(model="B8", method="tor", teacher=raw.id, seed=1,
                              overrides=TINY_RNN), runs=runs, data=data, progress=False)
    assert again.status == "reused" and again.path == run.path


def test_tor_options_change_the_run_and_reach_the_loss(teachers, data):
    runs, raw, _ = teachers
    base = dict(model="B8", method="tor", teacher=raw.id, seed=1, overrides=TINY_RNN)
    keep_all = train(TrainConfig(**base, kd={"epsilon_quantile": 1.0, "c_d": 0.0}),
                     runs=runs, data=data, progress=False)
    assert keep_all.metrics["tor_rejected_fraction"] == 0.0
    # with nothing rejected and no L1 term, TOR is the scratch loss: same weights as scratch
    scratch = train(TrainConfig(model="B8", seed=1, overrides=TINY_RNN), runs=runs, data=data,
                    progress=False)
    assert _same(_weights(keep_all), _weights(scratch))
    fixed = train(TrainConfig(**base, kd={"epsilon": 0.0}), runs=runs, data=data,
                  progress=False)
    assert fixed.metrics["tor_epsilon"] == 0.0 and fixed.metrics["tor_rejected_fraction"] > 0.9
    assert len({keep_all.path, fixed.path, scratch.path}) == 3


def test_tor_across_families_b_teaches_a(teachers, data):
    runs, raw, _ = teachers
    run = train(TrainConfig(model="Av2", method="tor", teacher=raw.id, seed=0,
                            overrides=TINY_CAFX), runs=runs, data=data, progress=False)
    assert run.config["family"] == "cafx" and run.config["teacher_info"]["family"] == "rnn"
    assert run.config["hyper_parameters"]["loss"] == "mae"
    assert len(run.history["train_loss"]) == 2 and np.isfinite(run.metrics["test_mae"])


def test_tor_is_deterministic(teachers, data, tmp_path):
    runs, raw, _ = teachers
    cfg = TrainConfig(model="B8", method="tor", teacher=str(raw.path), seed=3,
                      overrides=TINY_RNN)
    a = train(cfg, runs=tmp_path / "a", data=data, progress=False)
    b = train(cfg, runs=tmp_path / "b", data=data, progress=False)
    assert _same(_weights(a), _weights(b)) and a.metrics == b.metrics


# -- DF --------------------------------------------------------------------------------------
def test_df_run_follows_its_std_teacher(teachers, data):
    runs, raw, std = teachers
    run = train(TrainConfig(model="B8", method="df", teacher=std.id, seed=0, overrides=TINY_DF),
                runs=runs, data=data, progress=False)
    assert "-df-std-smoke-" in run.path.name and run.config["std"] is True
    assert run.config["standardizer"] == std.config["standardizer"]
    assert run.config["kd"]["input_scale"] == 1.0
    hp = run.config["hyper_parameters"]
    assert hp["optimizer"] == "RMSprop" and hp["iterations"] == 4 and hp["n_student_steps"] == 2
    assert run.settings().to_dict() == hp and run.settings().n_epochs == 2   # typed, DF
    h = run.history
    assert h["iteration"] == [2, 4] and len(h["generator_loss"]) == 2 and h["val_loss"] == []
    assert h["alpha"] == [0.75, 0.25]           # α at the last iteration of each block
    assert np.isfinite(run.metrics["best_val_loss"]) and np.isfinite(run.metrics["test_esr"])
    assert run.metrics["epochs"] == 2
    with pytest.raises(ValueError, match="trained on raw audio"):
        train(TrainConfig(model="B8", method="df", teacher=raw.id, standardize=True, overrides=TINY_DF),
              runs=runs, data=data, progress=False)


def test_df_raw_teacher_uses_the_raw_input_scale(teachers, data):
    runs, raw, _ = teachers
    run = train(TrainConfig(model="Av2", method="df", teacher=raw.id, seed=0,
                            overrides=TINY_DF), runs=runs, data=data, progress=False)
    assert run.config["std"] is False and run.config["kd"]["input_scale"] == 0.1
    assert run.config["hyper_parameters"]["segment_length"] == 4096
    assert np.isfinite(run.metrics["test_mae"])


def test_df_trainer_cannot_read_the_dataset(teachers, data, tmp_path):
    runs, _, std = teachers
    fxlib.data.build_embedded("smoke", root=tmp_path / "data")       # real files to read
    attempts = []

    def peek(epoch, history):
        for read in (lambda: fxlib.data.load("embedded", "muff", tmp_path / "data",
                                             scale="smoke"),
                     lambda: fxlib.data.read_wav(next((tmp_path / "data").rglob("*.wav")))):
            with pytest.raises(fxlib.data.DataAccessError, match="data-free distillation"):
                read()
            attempts.append(epoch)
        raise KeyboardInterrupt            # and a crash mid-run leaves a resumable run

    # the teacher is given by folder: these runs live under another runs root
    cfg = TrainConfig(model="B8", method="df", teacher=str(std.path), seed=5, overrides=TINY_DF)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, runs=tmp_path / "r", data=data, progress=False, callback=peek)
    assert attempts == [1, 1]
    # outside the DF section, reading works again
    assert "train" in fxlib.data.load("embedded", "muff", tmp_path / "data", scale="smoke")
    resumed = train(cfg, runs=tmp_path / "r", data=data, progress=False)
    full = train(cfg, runs=tmp_path / "u", data=data, progress=False)
    assert resumed.status == "resumed"
    assert _same(_weights(resumed), _weights(full)) and resumed.metrics == full.metrics


@pytest.mark.skipif(not (PRETRAINED / "muff-muff4.json").is_file(),
                    reason="needs ../shared/external/wright2019-pretrained")
def test_df_from_a_wright_json_teacher(data, tmp_path):
    teacher = load_teacher(json_file=PRETRAINED / "muff-muff4.json")
    assert teacher.kind == "json" and teacher.family.name == "rnn" and not teacher.standardized
    cfg = TrainConfig(model="C8", method="df", teacher_json=str(PRETRAINED / "muff-muff4.json"),
                      overrides=TINY_DF)
    run = train(cfg, runs=tmp_path, data=data, progress=False)
    assert run.config["teacher"].startswith("json:muff-muff4.json:")
    assert run.config["kd"]["input_scale"] == 0.1 and run.config["std"] is False
    assert np.isfinite(run.metrics["test_esr"])


def test_cli_tor_and_df(teachers, data, tmp_path, capsys):
    from fxlib.train.__main__ import main
    runs, raw, std = teachers
    folder = tmp_path / "mydata"
    for split, (x, y) in data.items():
        fxlib.data.write_wav(folder / split / "pedal-input.wav", x)
        fxlib.data.write_wav(folder / split / "pedal-target.wav", y)
    common = ["--profile", "smoke", "--source", str(folder), "--device", "pedal",
              "--runs", str(tmp_path / "runs"), "--no-progress"]
    assert main(["--model", "B8", "--method", "tor", "--teacher", str(raw.path),
                 "--kd", "epsilon_quantile=0.95", "--kd", "variant=original"] + common) == 0
    doc = json.loads(capsys.readouterr().out)
    cfg = load_run(doc["run"]).config
    assert cfg["kd"]["variant"] == "original" and cfg["kd"]["epsilon_quantile"] == 0.95
    assert "tor_epsilon" in doc
    assert main(["--model", "B8", "--method", "df", "--teacher", str(std.path)] + common) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "-df-std-smoke-" in doc["run"] and doc["status"] == "trained"
    assert main(["--model", "B8", "--method", "df", "--teacher-json",
                 str(tmp_path / "missing.json")] + common) == 1
    assert "cannot use" in capsys.readouterr().err
