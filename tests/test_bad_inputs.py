"""Bad inputs and damaged files, as a table: each row injects one fault and names the error
fragments the user must see (the file, the fix). Nothing may be half-trusted: a damaged run is
never reused, and nothing is written in its place. A new bad input is one more row."""
import shutil

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
