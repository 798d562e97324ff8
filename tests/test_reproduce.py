"""The whole study batch (notebooks 00 -> 07) runs in the smoke profile under papermill:
no error output, every catalogue figure written, the results summary complete, and 07
regenerates everything from saved runs without training."""
from __future__ import annotations

import json
import re

import pytest

from fxlib import figures
from fxlib.reproduce import NOTEBOOKS, error_outputs, reproduce
from fxlib.train import RunError


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    pytest.importorskip("papermill")
    root = tmp_path_factory.mktemp("study")
    mp = pytest.MonkeyPatch()
    for var, sub in (("FXLIB_RUNS", "runs"), ("FXLIB_FIGURES", "figures"),
                     ("FXLIB_DATA", "data")):
        mp.setenv(var, str(root / sub))
    mp.setenv("MPLBACKEND", "Agg")
    mp.setenv("CI", "1")                      # no progress bars in the executed copies
    timings = reproduce("smoke", out_dir=root / "executed", threads=1,
                        cell_timeout=600, log=lambda *_: None)
    yield root, timings
    mp.undo()


def test_every_notebook_ran_without_error(batch):
    root, timings = batch
    assert set(NOTEBOOKS) <= set(timings)
    for name in NOTEBOOKS:
        assert not error_outputs(root / "executed" / f"{name}.ipynb"), name
    saved = json.loads((root / "executed" / "timings.json").read_text())
    assert saved["profile"] == "smoke" and saved["seconds"]["total"] > 0


def test_every_figure_and_the_results_summary_exist(batch):
    root, _ = batch
    for spec in figures.FIGURES:
        for fmt in ("png", "svg"):
            assert (root / "figures" / f"{spec.name}.{fmt}").is_file(), spec.name
    md = (root / "figures" / "results.md").read_text()
    for table in ("4.1", "4.5", "4.9", "4.10"):
        assert f"## Table {table}" in md
    assert "profile `smoke`" in md and "thesis ESR" in md
    assert md.index("## Claims") > md.index("## Table 4.10")      # the claims table, last
    csv = (root / "figures" / "results.csv").read_text().splitlines()
    assert csv[0].startswith("table,label,n,mae,mae_std,esr,esr_std") and len(csv) == 1 + 32


def test_verdicts_are_computed(batch):
    root, _ = batch
    nb = json.loads((root / "executed" / "03_kd_on_B.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "TOR B h16 beats B h16 on ESR: " in text
    assert "TOR B h16 beats TOR B h16 c_D=0 on ESR: " in text       # the ablation's verdicts
    # one seed per arm in smoke: every ESR verdict is one of the three answers, with its numbers
    answers = re.findall(r"on ESR: (holds|does not hold|inconclusive \([a-z ]+\)) \(", text)
    assert len(answers) == 4 + 4


def test_figures_notebook_trains_nothing(batch, monkeypatch):
    from fxlib.study import Study
    root, _ = batch
    monkeypatch.setenv("FXLIB_RUNS", str(root / "empty-runs"))
    monkeypatch.setenv("FXLIB_DATA", str(root / "data"))
    with pytest.raises(RunError, match="train it first"):
        Study("smoke", train=False).run("B h8")
    assert not (root / "empty-runs").exists() or not any((root / "empty-runs").iterdir())
