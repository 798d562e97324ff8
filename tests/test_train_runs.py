"""Run directories: naming, reuse, exact resume after a crash, determinism, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from fxlib.data import write_wav
from fxlib.train import CPU_THREADS, MissingRun, RunError, TrainConfig, load_run, train
from fxlib.train.loop import TrainingDiverged
from fxlib.train.runs import is_complete

from test_train_rnn import TINY_RNN, waveshaper_data

OVER = {**TINY_RNN, "rnn_epochs": 4, "val_every": 2}


def _cfg(**kw):
    return TrainConfig(model="B8", profile="smoke", seed=kw.pop("seed", 0),
                       overrides=kw.pop("overrides", OVER), **kw)


def _state(run):
    return torch.load(run.path / "model.pt", weights_only=True)


def _equal_states(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_run_dir_contents_and_name(tmp_path):
    run = train(_cfg(), runs=tmp_path, data=waveshaper_data(), progress=False)
    assert run.path.parent == tmp_path
    assert run.path.name.startswith("B8-scratch-smoke-s0-") and len(run.path.name.split("-")[-1]) == 8
    for f in ("config.json", "model.pt", "history.json", "metrics.json", "checkpoint.pt"):
        assert (run.path / f).is_file(), f
    cfg = json.loads((run.path / "config.json").read_text())
    assert cfg["hash"] == run.path.name[-8:]
    assert cfg["hyper_parameters"]["tbptt"] == 512 and cfg["data"]["hash"]
    assert cfg["method"] == "scratch" and cfg["std"] is False and cfg["teacher"] is None
    assert not list(run.path.glob(".*.part"))       # no temporary files left behind
    loaded = load_run(run.path)
    assert loaded.metrics == run.metrics and loaded.status == "reused"
    assert loaded.settings() == _cfg().settings()   # the typed settings, back from config.json
    std = train(_cfg(standardize=True), runs=tmp_path, data=waveshaper_data(), progress=False)
    assert "-scratch-std-smoke-" in std.path.name and std.config["standardizer"]["std"] > 0


def test_reuse_does_not_retrain(tmp_path):
    data = waveshaper_data()
    first = train(_cfg(), runs=tmp_path, data=data, progress=False)
    mtimes = {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()}
    calls = []
    again = train(_cfg(), runs=tmp_path, data=data, progress=False,
                  callback=lambda e, h: calls.append(e))
    assert again.status == "reused" and not calls and again.path == first.path
    assert {p.name: p.stat().st_mtime_ns for p in again.path.iterdir()} == mtimes
    forced = train(_cfg(), runs=tmp_path, data=data, progress=False, force=True,
                   callback=lambda e, h: calls.append(e))
    assert forced.status == "trained" and calls == [1, 2, 3, 4]
    assert _equal_states(_state(forced), _state(first))     # same seed -> same weights
    other = train(_cfg(seed=1), runs=tmp_path, data=data, progress=False)
    assert other.path != first.path and not _equal_states(_state(other), _state(first))


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("crash_after", [2, 3])   # right after a checkpoint / between two
def test_resume_after_crash_is_exact(tmp_path, crash_after):
    data = waveshaper_data()
    ref = train(_cfg(), runs=tmp_path / "ref", data=data, progress=False)

    def boom(epoch, history):
        if epoch == crash_after:
            raise Crash

    with pytest.raises(Crash):
        train(_cfg(), runs=tmp_path / "cut", data=data, progress=False, callback=boom)
    (cut_dir,) = (tmp_path / "cut").iterdir()
    assert (cut_dir / "checkpoint.pt").is_file() and not is_complete(cut_dir)
    # the process state differs on the second call: global RNGs must come from the checkpoint
    torch.manual_seed(1234), np.random.seed(99)
    resumed = train(_cfg(), runs=tmp_path / "cut", data=data, progress=False)
    assert resumed.status == "resumed"
    assert _equal_states(_state(resumed), _state(ref))
    assert resumed.metrics == ref.metrics
    assert resumed.history["train_loss"] == ref.history["train_loss"]


def test_time_bound_checkpoints_resume_exactly(tmp_path, monkeypatch):
    """With the time bound at 0 every epoch is checkpointed (not only the validations, every
    2nd epoch here): a crash after epoch 3 resumes from epoch 3, to the uninterrupted weights."""
    import fxlib.train.loop as loop
    data = waveshaper_data()
    ref = train(_cfg(), runs=tmp_path / "ref", data=data, progress=False)
    monkeypatch.setattr(loop, "CHECKPOINT_EVERY_S", 0.0)

    def boom(epoch, history):
        if epoch == 3:
            raise Crash

    with pytest.raises(Crash):
        train(_cfg(), runs=tmp_path / "cut", data=data, progress=False, callback=boom)
    (cut_dir,) = (tmp_path / "cut").iterdir()
    assert torch.load(cut_dir / "checkpoint.pt", weights_only=False)["epoch"] == 3
    seen = []
    resumed = train(_cfg(), runs=tmp_path / "cut", data=data, progress=False,
                    callback=lambda e, h: seen.append(e))
    assert seen == [4] and resumed.status == "resumed"
    assert _equal_states(_state(resumed), _state(ref)) and resumed.metrics == ref.metrics
    assert resumed.history == ref.history | {"epoch_time_s": resumed.history["epoch_time_s"]}


def test_max_epochs_this_call_then_resume(tmp_path):
    data = waveshaper_data()
    ref = train(_cfg(), runs=tmp_path / "ref", data=data, progress=False)
    part = train(_cfg(), runs=tmp_path / "cut", data=data, progress=False, max_epochs_this_call=2)
    assert part.status == "partial" and not part.metrics
    done = train(_cfg(), runs=tmp_path / "cut", data=data, progress=False)
    assert _equal_states(_state(done), _state(ref)) and done.metrics == ref.metrics


def test_method_and_teacher_are_checked_before_any_work(tmp_path):
    for method in ("tor", "df"):
        with pytest.raises(ValueError, match=f"method '{method}' needs a teacher"):
            train(TrainConfig(model="B8", method=method), runs=tmp_path)
    with pytest.raises(ValueError, match="scratch run takes no teacher"):
        train(TrainConfig(model="B8", teacher="x"), runs=tmp_path)
    with pytest.raises(ValueError, match="unknown method"):
        train(TrainConfig(model="B8", method="magic"), runs=tmp_path)
    with pytest.raises(ValueError, match=r"unknown KD option\(s\) \['eps'\]"):
        train(TrainConfig(model="B8", method="tor", teacher="x", kd={"eps": 1}), runs=tmp_path)
    with pytest.raises(ValueError, match="teacher run 'nope' not found"):
        train(TrainConfig(model="B8", method="tor", teacher="nope"), runs=tmp_path)
    assert not any(tmp_path.iterdir())          # nothing was written


def _write_folder(root, data, device="pedal"):
    for split, (x, y) in data.items():
        write_wav(root / split / f"{device}-input.wav", x)
        write_wav(root / split / f"{device}-target.wav", y)


def test_cli_folder_source_prints_one_json_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CI", "1")
    data = waveshaper_data(n_train=9_000, n_val=3_000, n_test=3_000)
    _write_folder(tmp_path / "mydata", data)
    cmd = [sys.executable, "-m", "fxlib.train", "--model", "B8", "--method", "scratch",
           "--profile", "smoke", "--source", str(tmp_path / "mydata"), "--device", "pedal",
           "--seed", "0", "--runs", str(tmp_path / "runs"), "--threads", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "CI": "1"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["status"] == "trained" and np.isfinite(doc["test_esr"])
    assert doc["run"].startswith(str(tmp_path / "runs"))
    # reuse and the refusal of a KD run without teacher, in-process (a subprocess costs seconds of imports)
    from fxlib.train.__main__ import main
    capsys.readouterr()
    assert main(cmd[3:]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "reused"
    assert main(cmd[3:6] + ["tor"] + cmd[7:]) == 1
    assert "needs a teacher" in capsys.readouterr().err
    assert main(cmd[3:] + ["--kd", "c_d"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_a_shared_dataset_gives_the_same_run(tmp_path):
    from fxlib.train import load_training_data
    data = waveshaper_data()
    ds = load_training_data(arrays=data)
    a = train(_cfg(), runs=tmp_path, data=data, progress=False)
    b = train(_cfg(), runs=tmp_path, data=ds, progress=False)
    assert b.path == a.path and b.status == "reused"
    s = train(_cfg(standardize=True), runs=tmp_path, data=ds, progress=False)
    assert s.config["standardizer"]["mean"] == pytest.approx(float(np.mean(data["train"][0],
                                                                           dtype=np.float64)))


def test_a_diverging_loss_stops_the_run_before_it_is_checkpointed(tmp_path):
    from_start = train(_cfg(overrides={**OVER, "rnn_lr": 1e30}), runs=tmp_path,
                       data=waveshaper_data(), progress=False, max_epochs_this_call=0)
    ckpt = from_start.path / "checkpoint.pt"
    before = ckpt.read_bytes()
    with pytest.raises(TrainingDiverged, match=r"the training loss became nan in epoch 1"):
        train(_cfg(overrides={**OVER, "rnn_lr": 1e30}), runs=tmp_path, data=waveshaper_data(),
              progress=False)
    assert ckpt.read_bytes() == before                  # the last finite state is kept
    assert not is_complete(from_start.path)


def test_reuse_only_of_a_missing_run_raises_missing_run(tmp_path):
    with pytest.raises(MissingRun, match="no finished run B8-scratch-smoke-s0-"):
        train(_cfg(), runs=tmp_path, data=waveshaper_data(), reuse_only=True)
    assert issubclass(MissingRun, RunError)


def test_a_cpu_training_uses_one_thread_unless_told_and_restores_the_count(tmp_path):
    """One fixed default: the thread count changes float32 rounding (docs/grid.md)."""
    torch.set_num_threads(2)
    try:
        run = train(_cfg(), runs=tmp_path / "a", data=waveshaper_data(), progress=False)
        assert run.config["runtime"]["threads"] == CPU_THREADS == 1
        assert torch.get_num_threads() == 2
        two = train(_cfg(), runs=tmp_path / "b", data=waveshaper_data(), progress=False,
                    threads=2)
        assert two.config["runtime"]["threads"] == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


# -- stopping at a plateau ----------------------------------------------------------------------
def test_plateau_criterion_known_answers():
    from fxlib.train.loop import plateau_reached
    assert not plateau_reached([1.0, 0.5, 0.5], None, 0.01)          # off: fixed epochs
    assert not plateau_reached([1.0, 0.5], 2, 0.01)                  # too few validations
    assert plateau_reached([1.0, 0.5, 0.5, 0.499], 2, 0.01)          # 0.2 % better: not enough
    assert not plateau_reached([1.0, 0.5, 0.5, 0.49], 2, 0.01)       # 2 % better: improving
    assert plateau_reached([1.0, 0.5, 0.6, 0.7], 2, 0.01)            # worse
    assert not plateau_reached([1.0, 0.9, 0.5], 1, 0.01)
    assert plateau_reached([0.0, 0.0, 0.0], 2, 0.01)                 # perfect already


def test_a_run_that_stops_learning_stops_at_the_plateau_and_resumes_to_it(tmp_path):
    # a learning rate of 1e-12: the validation loss cannot move, so after `patience`
    # validations without a 1 % gain the run stops, well before its ceiling of 6 epochs
    over = {**OVER, "rnn_epochs": 6, "val_every": 1, "rnn_lr": 1e-12, "plateau_patience": 2}
    data = waveshaper_data()
    run = train(_cfg(overrides=over), runs=tmp_path / "a", data=data, progress=False)
    assert run.metrics["epochs"] == 2 and run.metrics["plateaued"] is True
    assert run.history["val_epoch"] == [0, 1, 2]

    def boom(epoch, history):
        if epoch == 1:
            raise Crash

    with pytest.raises(Crash):
        train(_cfg(overrides=over), runs=tmp_path / "b", data=data, progress=False,
              callback=boom)
    resumed = train(_cfg(overrides=over), runs=tmp_path / "b", data=data, progress=False)
    assert resumed.status == "resumed" and resumed.metrics == run.metrics
    # without the criterion (the thesis's protocol) the same run goes to its ceiling
    fixed = train(_cfg(overrides={**over, "plateau_patience": None}), runs=tmp_path / "c",
                  data=data, progress=False)
    assert fixed.metrics["epochs"] == 6 and fixed.metrics["plateaued"] is None
