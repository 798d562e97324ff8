"""Bad inputs and damaged files, as a table: each row injects one fault and names the error
fragments the user must see (the file, the fix). Nothing may be half-trusted: a damaged run is
never reused, and nothing is written in its place. A new bad input is one more row."""
import shutil

import numpy as np
import pytest

from fxlib.train import RunError, TrainConfig, train
from fxlib.train.__main__ import main as train_cli

CFG = TrainConfig(model="B8", profile="smoke", seed=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished and an unfinished smoke run, trained once for the module."""
    root = tmp_path_factory.mktemp("runs")
    done = train(CFG, runs=root / "done", progress=False).path
    partial = train(CFG, runs=root / "partial", progress=False, max_epochs_this_call=1).path
    return {"done": done, "partial": partial}


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


# (row id, which run, file, fault, fragments the error must contain)
ROWS = [
    ("checkpoint truncated", "partial", "checkpoint.pt", _truncate,
     ["checkpoint.pt", "cannot be resumed", "--force"]),
    ("checkpoint empty", "partial", "checkpoint.pt", lambda p: p.write_bytes(b""),
     ["checkpoint.pt", "cannot be resumed", "--force"]),
    ("model.pt truncated", "done", "model.pt", _truncate,
     ["model.pt is damaged", "--force"]),
    ("model.pt with one byte changed", "done", "model.pt", _flip_a_byte,
     ["model.pt is damaged"]),
    ("metrics.json truncated", "done", "metrics.json", _truncate,
     ["metrics.json is damaged", "not valid JSON", "--force"]),
    ("config.json truncated", "done", "config.json", _truncate, ["config.json"]),
    ("history.json truncated", "done", "history.json", _truncate,
     ["history.json is damaged", "--force"]),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_damaged_run_files_are_named_and_never_reused(runs, tmp_path, row):
    _, which, name, fault, fragments = row
    root = tmp_path / "runs"
    folder = root / runs[which].name
    shutil.copytree(runs[which], folder)
    fault(folder / name)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(RunError) as err:
        train(CFG, runs=root, progress=False)
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))
    assert sorted(p.name for p in folder.iterdir()) == before        # nothing written
    assert not any(p.name.endswith(".part") for p in folder.iterdir())


def test_the_cli_says_it_in_one_line_and_force_is_the_fix(runs, tmp_path, capsys):
    root = tmp_path / "runs"
    folder = root / runs["partial"].name
    shutil.copytree(runs["partial"], folder)
    _truncate(folder / "checkpoint.pt")
    args = ["--model", "B8", "--profile", "smoke", "--runs", str(root), "--no-progress"]
    assert train_cli(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "checkpoint.pt" in err and len(err.splitlines()) == 1
    assert train_cli(args + ["--force"]) == 0                       # the fix it names works


def test_integer_pcm_blocks_are_scaled_not_played_as_counts():
    """int16 from a sound card is full-scale at 32768, not 1: the streamer scales integer PCM
    by its dtype, so an int16 block plays as the same float block would."""
    import numpy as np
    import torch
    from fxlib.models import build_model
    from fxlib.runtime import Streamer
    from fxlib.runtime.streamer import pcm_to_float
    torch.manual_seed(0)
    model = build_model("B8").eval()
    pcm = (np.sin(np.linspace(0, 60, 2048)) * 16000).astype(np.int16)
    as_float = pcm.astype(np.float32) / 32768
    assert np.array_equal(Streamer(model).process(pcm), Streamer(model).process(as_float))
    assert np.abs(Streamer(model).process(pcm)).max() < 2
    assert pcm_to_float(np.array([0, 128, 255], np.uint8)).tolist() == [-1.0, 0.0, 127 / 128]
    assert pcm_to_float(np.array([-2 ** 31], np.int32)).tolist() == [-1.0]


def test_ctrl_c_and_unwritable_export_folders_say_what_to_do(runs, tmp_path, capsys,
                                                             monkeypatch):
    import fxlib.train.__main__ as cli
    from fxlib.export import main as export_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "train", interrupted)
    assert cli.main(["--model", "B8", "--profile", "smoke", "--no-progress"]) == 130
    err = capsys.readouterr().err.strip()
    assert "rerun the same command to resume" in err and len(err.splitlines()) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert export_cli([str(runs["done"]), "--out", str(blocker), "--format", "onnx"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write") and "--out" in err and len(err.splitlines()) == 1
    assert blocker.read_text() == "not a folder"                      # nothing lost


def _teacher_json(tmp_path, change):
    """A valid Wright et al. JSON of a small LSTM, with ``change(doc)`` applied."""
    import json
    import torch
    from fxlib.io import save_wright_json
    from fxlib.models import build_model
    torch.manual_seed(0)
    path = save_wright_json(build_model("B8"), tmp_path / "teacher.json")
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def _nan_weight(doc):
    doc["state_dict"]["lin.bias"] = [float("nan")]


JSON_ROWS = [
    ("hidden_size missing", lambda d: d["model_data"].pop("hidden_size"), "hidden_size"),
    ("hidden_size not whole", lambda d: d["model_data"].update(hidden_size=8.5), "hidden_size"),
    ("model_data a list", lambda d: d.update(model_data=[1, 2]), "JSON objects"),
    ("bias a string", lambda d: d["state_dict"].update({"lin.bias": "0.1"}), "lin.bias"),
    ("ragged row", lambda d: d["state_dict"]["rec.weight_hh_l0"][3].pop(), "rec.weight_hh_l0"),
    ("NaN weight", _nan_weight, "NaN"),
]


@pytest.mark.parametrize("row", JSON_ROWS, ids=[r[0] for r in JSON_ROWS])
def test_teacher_json_fields_are_checked(tmp_path, row):
    from fxlib.io import ModelFormatError, load_wright_json
    _, change, fragment = row
    path = _teacher_json(tmp_path, change)
    with pytest.raises(ModelFormatError) as err:
        load_wright_json(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_a_nan_teacher_leaves_nothing_behind(tmp_path):
    """A TOR run with a damaged JSON teacher stops before writing a run folder or a cache."""
    path = _teacher_json(tmp_path, _nan_weight)
    cfg = TrainConfig(model="B8", method="tor", profile="smoke", teacher_json=str(path))
    with pytest.raises(ValueError, match="NaN"):
        train(cfg, runs=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


def test_leftovers_are_cleaned_and_identical_commands_do_not_both_train(runs, tmp_path, capsys):
    """Stale .part files of a killed writer go at the next call; a run that fails before its
    first checkpoint leaves no folder; a second process on a locked run waits, then reuses."""
    import subprocess
    import sys
    from fxlib.train.runs import run_lock
    root = tmp_path / "runs"
    folder = root / runs["partial"].name
    shutil.copytree(runs["partial"], folder)
    (folder / ".checkpoint.pt.abc123.pt.part").write_bytes(b"half a file")
    assert train(CFG, runs=root, progress=False).status == "resumed"
    assert not list(folder.glob(".*.part"))
    short = {split: (np.zeros(100, np.float32), np.zeros(100, np.float32))
             for split in ("train", "val", "test")}
    with pytest.raises(ValueError):
        train(CFG, runs=tmp_path / "short", data=short, progress=False)
    assert not any((tmp_path / "short").glob("*/config.json"))
    # another process holds the run's lock: this call waits for it, then reuses its run
    code = ("import sys, time; from pathlib import Path; from fxlib.train.runs import run_lock\n"
            f"with run_lock(Path({str(folder)!r})):\n"
            "    print('locked', flush=True); time.sleep(2)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    capsys.readouterr()
    assert train(CFG, runs=root, progress=False).status == "reused"
    assert "another process is training this run; waiting" in capsys.readouterr().err
    assert holder.wait(timeout=30) == 0
    with run_lock(folder):                                # released: taken at once
        pass


def test_a_teacher_of_another_effect_is_refused_unless_asked(runs, tmp_path):
    """A muff teacher for an ht1 student teaches another device: refused, with the way to
    insist; insisting trains."""
    teacher = str(runs["done"])                                      # B8 on embedded muff
    cfg = TrainConfig(model="B8", method="tor", profile="smoke", effect="ht1", teacher=teacher)
    with pytest.raises(ValueError, match="another effect or dataset.*--foreign-teacher"):
        train(cfg, runs=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").glob("*/config.json"))
    import dataclasses
    with pytest.warns(UserWarning, match="worse than passing the input through"):
        run = train(dataclasses.replace(cfg, foreign_teacher=True), runs=tmp_path / "r",
                    progress=False)                   # ... and its outputs say so
    assert run.status == "trained"


def test_a_teacher_worse_than_the_input_itself_is_flagged(tmp_path):
    def dc_offset(doc):                        # a teacher that adds 0.5: worse than identity
        doc["state_dict"]["lin.weight"] = [[0.0] * 8]
        doc["state_dict"]["lin.bias"] = [0.5]
    path = _teacher_json(tmp_path, dc_offset)
    cfg = TrainConfig(model="B8", method="tor", profile="smoke", teacher_json=str(path))
    with pytest.warns(UserWarning, match="worse than passing the input through"):
        run = train(cfg, runs=tmp_path / "runs", progress=False)
    assert run.metrics["teacher_train_esr"] > run.metrics["identity_train_esr"]


def test_swapped_input_and_target_are_flagged_and_short_splits_say_so():
    from fxlib.data import load
    from fxlib.data.validation import validate
    for effect in ("muff", "ht1"):
        for split, (x, y) in load("embedded", effect, scale="smoke", validate=False).items():
            report = validate(x, y, 44_100, name=f"{effect}/{split}")
            assert not any("swapped" in w for w in report.warnings), report
    x, y = load("embedded", "muff", scale="smoke", validate=False)["train"]
    swapped = validate(y, x, 44_100, name="muff/train swapped")
    assert any("Are the input and target files swapped?" in w for w in swapped.warnings)
    x, y = load("embedded", "muff", scale="smoke", validate=False)["test"]     # 1.1 s
    assert "latency not checked (a split under 2 s is too short" in str(validate(x, y, 44_100))


@pytest.mark.parametrize("fault,flag", [("stereo", "--downmix"), ("48 kHz", "--resample")])
def test_the_fix_an_error_names_is_an_option_of_the_command(tmp_path, capsys, fault, flag):
    """fxlib.train advises --downmix / --resample for stereo / 48 kHz recordings, and takes them."""
    import soundfile as sf
    from fxlib.data import load
    from fxlib.data.audio import resample_audio
    folder = tmp_path / "rec"
    for split, (x, y) in load("embedded", "muff", scale="smoke", validate=False).items():
        (folder / split).mkdir(parents=True)
        for kind, a in (("input", x), ("target", y)):
            if fault == "stereo":
                data, sr = np.stack([a, a], axis=1), 44_100
            else:
                data, sr = resample_audio(a, 44_100, 48_000), 48_000
            sf.write(folder / split / f"pedal-{kind}.wav", data, sr, subtype="FLOAT")
    args = ["--model", "B8", "--profile", "smoke", "--source", str(folder), "--effect", "pedal",
            "--runs", str(tmp_path / "runs"), "--no-progress"]
    assert train_cli(args) == 1
    assert flag in capsys.readouterr().err
    assert train_cli(args + [flag]) == 0
