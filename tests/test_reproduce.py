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

STUDY = "smoke/embedded-muff"          # the batch's own folder under executed/ and figures/


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
        assert not error_outputs(root / "executed" / STUDY / f"{name}.ipynb"), name
    saved = json.loads((root / "executed" / STUDY / "timings.json").read_text())
    assert saved["profile"] == "smoke" and saved["seconds"]["total"] > 0


def test_every_figure_and_the_results_summary_exist(batch):
    root, _ = batch
    for spec in figures.FIGURES:
        for fmt in ("png", "svg"):
            assert (root / "figures" / STUDY / f"{spec.name}.{fmt}").is_file(), spec.name
    md = (root / "figures" / STUDY / "results.md").read_text()
    for table in ("4.1", "4.5", "4.9", "4.10"):
        assert f"## Table {table}" in md
    assert md.startswith("# Results: ours beside the thesis's (profile smoke, source embedded, "
                         "effect muff)\n")
    assert "profile `smoke`" in md and "thesis ESR" in md
    assert md.index("## Claims") > md.index("## Table 4.10")      # the claims table, last
    csv = (root / "figures" / STUDY / "results.csv").read_text().splitlines()
    assert csv[0].startswith("table,label,n,mae,mae_std,esr,esr_std") and len(csv) == 1 + 32


def test_verdicts_are_computed(batch):
    root, _ = batch
    nb = json.loads((root / "executed" / STUDY / "03_kd_on_B.ipynb").read_text())
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


def test_another_effect_leaves_the_first_studys_results_in_place(batch):
    """``make reproduce EFFECT=ht1`` after the muff study: ht1's executed notebooks and
    figures go to its own folders; not one file of the muff study changes."""
    root, _ = batch
    muff = {p: p.stat().st_mtime_ns for sub in ("executed", "figures")
            for p in (root / sub / STUDY).rglob("*") if p.is_file()}
    assert len(muff) > 2 * len(figures.FIGURES)
    reproduce("smoke", effect="ht1", only=["00_dataset", "07_figures"],
              out_dir=root / "executed", threads=1, cell_timeout=600, log=lambda *_: None)
    for name in ("00_dataset", "07_figures"):
        assert not error_outputs(root / "executed" / "smoke" / "embedded-ht1" / f"{name}.ipynb")
    assert (root / "figures" / "smoke" / "embedded-ht1" / "fig3-3_dataset_example.png").is_file()
    assert {p: p.stat().st_mtime_ns for p in muff} == muff
    saved = json.loads((root / "executed" / "smoke" / "embedded-ht1" / "timings.json").read_text())
    assert saved["effect"] == "ht1"
