"""``fxlib.figures`` on tiny fake run folders (``fake_runs``): what each figure and the results
files are drawn / written from."""
from __future__ import annotations

import csv
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fxlib.figures as F  # noqa: E402
from fxlib import thesis  # noqa: E402
import fxlib.study as study_mod  # noqa: E402
from fxlib.study import LABELS, NOTEBOOK_TABLES, experiment, teacher_labels  # noqa: E402
from fake_runs import (default_metrics, fake_all, fake_run, fake_study,  # noqa: E402,F401
                       make_study)


def spec(name: str) -> F.FigureSpec:
    (found,) = [f for f in F.FIGURES if f.name == name]
    return found


def _recorder(monkeypatch, name: str) -> list:
    """Replace ``fxlib.figures.<name>`` by a wrapper that records (args, kwargs, figure)."""
    real, seen = getattr(F, name), []

    def record(*args, **kwargs):
        fig = real(*args, **kwargs)
        seen.append((args, kwargs, fig))
        return fig

    monkeypatch.setattr(F, name, record)
    return seen


def _files_ok(paths, folder, name):
    """Both formats written, in the study's own folder (``Study.figures_folder``)."""
    assert paths == [folder / f"{name}.png", folder / f"{name}.svg"]
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)


# -- the catalogue ----------------------------------------------------------------------------
def test_figure_specs_are_the_notebooks_catalogue_entries():
    assert [f.name for f in F.figure_specs("03_kd_on_B")] == [
        "fig4_07_tor_on_B", "figA_04_loss_B", "figA_05_loss_tor_on_B", "fig4_09_df_on_B",
        "figA_06_loss_B_std", "figA_07_loss_df_on_B"]
    assert [f.name for f in F.figure_specs("06_seed_repetition")] == ["fig4_19_seed_band"]
    assert F.figure_specs() == list(F.FIGURES) and F.figure_specs("99_nope") == []
    by_notebook = sum((F.figure_specs(nb) for nb in [*NOTEBOOK_TABLES, "06_seed_repetition"]),
                      [])
    assert sorted(f.name for f in by_notebook) == sorted(f.name for f in F.FIGURES)
    assert len({f.name for f in F.FIGURES}) == len(F.FIGURES) == 24


def test_every_catalogue_label_is_a_known_experiment():
    for f in F.FIGURES:
        assert f.kind in ("waveforms", "loss", "seeds"), f.name
        assert (f.kind == "seeds") == (f.labels == ()), f.name
        for label in f.labels:
            assert experiment(label).label == label, (f.name, label)
    drawn = {lb for f in F.FIGURES for lb in f.labels}
    assert drawn <= set(LABELS)


# -- draw_one ---------------------------------------------------------------------------------
def test_loss_figure_plots_the_runs_histories(fake_study, tmp_path, monkeypatch):
    hist = {"B": {"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.3], "epoch_time_s": [1] * 3,
                  "val_epoch": [0, 3], "val_loss": [1.0, 0.4]},
            "B h16": {"epoch": [1, 2], "train_loss": [0.8, 0.7], "epoch_time_s": [1, 1],
                      "val_epoch": [0, 2], "val_loss": [1.1, 0.6]},
            "B h8": {"epoch": [1], "train_loss": [0.95], "epoch_time_s": [1],
                     "val_epoch": [0, 1], "val_loss": [1.2, 0.9]}}
    for label, h in hist.items():
        fake_run(fake_study, label, history=h)
    seen = _recorder(monkeypatch, "plot_loss_curves")
    root = tmp_path / "figures"
    paths = F.draw_one(fake_study, spec("figA_04_loss_B"), root)
    _files_ok(paths, root / "smoke" / "embedded-muff", "figA_04_loss_B")
    ((args, kwargs, fig),) = seen
    assert args[0] == hist and list(args[0]) == ["B", "B h16", "B h8"]
    assert kwargs["title"] == ("Loss, model B variants (thesis fig. A.4; ours: smoke profile, muff)")
    for ax, (label, h) in zip(fig.axes, hist.items()):
        assert ax.get_title() == label
        train, val = ax.lines[:2]
        assert list(train.get_xdata()) == h["epoch"] and list(train.get_ydata()) == \
            h["train_loss"]
        assert list(val.get_xdata()) == h["val_epoch"] and list(val.get_ydata()) == \
            h["val_loss"]


def test_df_loss_figure_plots_iterations_and_generator_loss(fake_study, tmp_path, monkeypatch):
    runs = {lb: fake_run(fake_study, lb) for lb in ("DF B h16", "DF B h8")}
    seen = _recorder(monkeypatch, "plot_loss_curves")
    paths = F.draw_one(fake_study, spec("figA_07_loss_df_on_B"), tmp_path)
    _files_ok(paths, fake_study.figures_folder(tmp_path), "figA_07_loss_df_on_B")
    ((args, _, fig),) = seen
    assert args[0] == {lb: r.history for lb, r in runs.items()}
    student = fig.axes[0].lines[0]
    h = runs["DF B h16"].history
    assert list(student.get_xdata()) == h["iteration"] == [2, 4]
    assert list(student.get_ydata()) == h["train_loss"]
    generator = [ax for ax in fig.axes if ax.get_ylabel() == "generator loss"][0].lines[0]
    assert list(generator.get_ydata()) == h["generator_loss"]


def test_waveform_figure_plots_target_and_model_outputs_at_the_window(fake_study, tmp_path,
                                                                      monkeypatch):
    for label in ("A", "B"):
        fake_run(fake_study, label)
    seen = _recorder(monkeypatch, "plot_waveforms")
    paths = F.draw_one(fake_study, spec("fig4_01_A_vs_B"), tmp_path)
    _files_ok(paths, fake_study.figures_folder(tmp_path), "fig4_01_A_vs_B")
    ((args, kwargs, _),) = seen
    signals, start = args
    sig = fake_study.signals(["A", "B"])
    assert list(signals) == ["target", "A", "B"]
    for k in signals:
        np.testing.assert_array_equal(signals[k], sig[k])
    assert start == fake_study.window() - sig.start
    assert kwargs["title"].startswith("Models A and B (thesis fig. 4.1-4.2;")


def test_draw_a_notebook_draws_its_entries(fake_study, tmp_path):
    for label in ("A", "B"):
        fake_run(fake_study, label)
    paths = F.draw(fake_study, notebook="01_A_vs_B", root=tmp_path)
    assert [p.name for p in paths] == ["fig4_01_A_vs_B.png", "fig4_01_A_vs_B.svg",
                                       "figA_01_loss_A_B.png", "figA_01_loss_A_B.svg"]
    with pytest.raises(ValueError, match="unknown figure kind 'bars'"):
        F.draw_one(fake_study, F.FigureSpec("x", "bars", (), "0", "nb", "t"), tmp_path)


def test_redraw_draws_what_exists_and_names_the_notebooks_to_run(tmp_path):
    """07_figures after only 01: its two figures, every other one listed under the notebook
    that trains its runs, and no results files (they need every run)."""
    trained = make_study(tmp_path / "runs")
    for label in ("A", "B"):
        fake_run(trained, label)
    reuse = make_study(tmp_path / "runs", train=False)
    done = F.redraw(reuse, tmp_path / "figures", timing=False)
    assert [p.name for p in done.paths] == ["fig4_01_A_vs_B.png", "fig4_01_A_vs_B.svg",
                                            "figA_01_loss_A_B.png", "figA_01_loss_A_B.svg"]
    assert sorted(done.missing) == ["02_kd_on_A", "03_kd_on_B", "04_kd_B_to_A", "05_kd_to_C"]
    assert done.missing["03_kd_on_B"] == [f.name for f in F.figure_specs("03_kd_on_B")]
    assert done.results is None and not list((tmp_path / "figures").rglob("results.md"))
    text = done.describe()
    assert "4 files written" in text and "(run 03_kd_on_B first)" in text
    assert "results.md / results.csv need the runs of every notebook" in text


def test_redraw_writes_the_results_once_every_run_exists(everything, tmp_path):
    study, _ = everything
    done = F.redraw(study, tmp_path, timing=False)
    assert not done.missing and len(done.paths) == 2 * (len(F.FIGURES) - 1)   # no seed file
    folder = study.figures_folder(tmp_path)
    assert done.results == (folder / "results.md", folder / "results.csv")
    assert done.results[0].is_file() and "results:" in done.describe()


def test_seed_band_needs_the_seed_file_then_draws_every_seed(fake_study, tmp_path, monkeypatch):
    seeds_spec = spec("fig4_19_seed_band")
    root = tmp_path / "figures"
    assert F.read_seed_repetition(fake_study, root) is None
    assert F.draw_one(fake_study, seeds_spec, root) == []
    assert not root.exists() or not list(root.iterdir())
    for s in (0, 1):
        fake_run(fake_study, "TOR C h64", s, esr=0.15 + 0.01 * s, mae=0.005)
    info = fake_study.seed_repetition("TOR C h64", [0, 1])
    path = F.write_seed_repetition(fake_study, info, root)
    assert path == root / "smoke" / "embedded-muff" / F.SEED_FILE
    assert F.read_seed_repetition(fake_study, root) == json.loads(json.dumps(info))
    seen = _recorder(monkeypatch, "plot_seed_band")
    paths = F.draw_one(fake_study, seeds_spec, root)
    _files_ok(paths, fake_study.figures_folder(root), "fig4_19_seed_band")
    ((args, kwargs, _),) = seen
    target, outputs, _start = args
    np.testing.assert_array_equal(target, fake_study.signals(["TOR C h64"])["target"])
    assert len(outputs) == 2
    for s, out in zip((0, 1), outputs):
        np.testing.assert_array_equal(out, fake_study.signals(["TOR C h64"], seed=s)["TOR C h64"])
    assert kwargs["label"] == "TOR C h64"


# -- results.md / results.csv -------------------------------------------------------------
@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    """Default fakes of all 30 thesis labels (teachers included) plus seed 1 of TOR C h64."""
    study = make_study(tmp_path_factory.mktemp("all") / "runs")
    runs = fake_all(study)
    fake_run(study, "TOR C h64", 1, esr=0.33, mae=0.0236)     # seed 0: 0.31, 0.022
    return study, runs


def _expected_line(label: str) -> str:
    t = thesis.RESULTS[LABELS.index(label)]
    esr, mae = default_metrics(label)
    plateau = "fixed" if experiment(label).method == "df" else "–"   # DF cannot validate
    return (f"| {label} | 1 | {mae:.4f} | {esr:.4f} | 2 | {plateau} | {t.params:,} | {t.mae:.4f} | "
            f"{t.esr:.4f} | {t.time_ms:.0f} ± {t.time_std_ms:.0f} | {t.params:,} |")


def test_write_results_has_every_table_with_ours_beside_the_thesis(everything, tmp_path):
    study, runs = everything
    md, csv_path = F.write_results(study, tmp_path, timing=False)
    folder = tmp_path / "smoke" / "embedded-muff"
    assert (md, csv_path) == (folder / "results.md", folder / "results.csv")
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# Results: ours beside the thesis's (profile smoke, source "
                           "embedded, effect muff)\n")
    assert study.context() in text and "4.10" not in text
    tables = [f"4.{i}" for i in range(1, 10)]
    heads = [text.index(f"## Table {t}\n") for t in tables]
    assert heads == sorted(heads)
    teachers = text.index("## The teachers\n")
    assert teachers > heads[-1]
    sections = dict(zip(tables, [text[a:b] for a, b in zip(heads, heads[1:] + [teachers])]))
    for r in thesis.RESULTS:
        line = _expected_line(r.label)
        assert line in sections[r.table].splitlines(), (r.table, line)
        assert all(line not in sections[t] for t in tables if t != r.table)

    # the teachers, each as trained (epochs, plateau), between the tables and the ablations
    taught = text[teachers:text.index("## fxlib's ablations")]
    assert [line.split(" | ")[0][2:] for line in taught.splitlines()
            if line.startswith("| ") and "---" not in line][1:] == teacher_labels()
    assert teacher_labels() == ["A", "B", "A std", "B std"]

    claims = text[text.index("## Claims\n"):].splitlines()     # last: the claims table
    assert text.index("## Claims\n") > heads[-1]
    rows = [line for line in claims if line.startswith("| ") and " beats " in line]
    assert len(rows) == 22
    assert "| B beats A on TIME | 311 vs 1202 | – | – | – | not measured (timing off) |" in rows
    # one seed per arm, but TOR C h64 has two: the C family's spread, so C claims get intervals
    tor_c = [r for r in rows if r.startswith("| TOR C h16 beats C h16 on ESR |")][0]
    assert "family's seed spread" in tor_c
    assert [r for r in rows if r.startswith("| TOR B h16 beats B h16 on ESR |")][0].endswith(
        "| inconclusive (one seed) |")

    with open(csv_path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == F.RESULT_COLUMNS
    ablations = [lb for lb in study_mod.EXPERIMENTS if lb not in LABELS]
    assert [row["label"] for row in rows] == list(LABELS) + ablations
    assert "## fxlib's ablations (notebook 03_kd_on_B)" in text
    for row, r in zip(rows, thesis.RESULTS):
        esr, mae = default_metrics(r.label)
        assert (float(row["esr"]), float(row["mae"])) == (esr, mae)
        assert row["table"] == r.table and row["run"] == runs[r.label].id
        assert int(row["params"]) == r.params == thesis.PARAMS[r.model]
        assert int(row["epochs"]) == 2 and row["time_ms"] == row["time_std_ms"] == ""
        assert row["n"] == "1" and row["esr_std"] == ""
        assert row["plateaued"] == ("fixed" if r.method == "df" else "")
        assert (float(row["thesis_mae"]), float(row["thesis_esr"]), int(row["thesis_params"])) \
            == (r.mae, r.esr, r.params)
        assert row["thesis_time"] == f"{r.time_ms} ± {r.time_std_ms}"


def test_write_results_adds_table_4_10_when_the_seed_file_exists(everything, tmp_path):
    study, _ = everything
    info = study.seed_repetition("TOR C h64", [0, 1])
    F.write_seed_repetition(study, info, tmp_path)
    md, _ = F.write_results(study, tmp_path, timing=False)
    text = md.read_text(encoding="utf-8")
    head = "## Table 4.10: TOR C h64 over 2 seeds\n"
    assert head in text and text.index(head) > text.index("## Table 4.9\n")
    section = text[text.index(head):]
    # mean ± std (ddof 1) of (0.022, 0.0236) and (0.31, 0.33): 0.0228 ± 0.00113, 0.32 ± 0.01414
    assert "| TOR C h64 (ours) | 2 | 0.0228 ± 0.0011 | 0.3200 ± 0.0141 |" in section
    assert "| TOR C h64 (thesis) | 5 | 0.0052 ± 0.0003 | 0.1595 ± 0.0161 |" in section


def test_write_results_computes_each_row_once(everything, tmp_path, monkeypatch):
    """Tables, the teachers' section and the CSV share one computation per row (a row loads
    the run's model and, with timing, times it)."""
    study, _ = everything
    calls = []
    row = type(study).row
    monkeypatch.setattr(study, "row", lambda label, *a, **k: calls.append(label) or
                        row(study, label, *a, **k))
    F.write_results(study, tmp_path, timing=False)
    assert sorted(calls) == sorted(study_mod.EXPERIMENTS)


def test_two_studies_keep_their_figures_and_results_apart(tmp_path):
    """The ht1 study after the muff study (``make reproduce EFFECT=ht1``), or quick after smoke,
    writes into its own folder: the first study's figures, seed file and results stay as they
    were, and each results.md says which study it is."""
    root, runs = tmp_path / "figures", tmp_path / "runs"
    muff, ht1 = make_study(runs), make_study(runs, effect="ht1")
    written = {}
    for study in (muff, ht1):
        fake_all(study)
        F.write_seed_repetition(study, study.seed_repetition("TOR C h64", [0]), root)
        done = F.redraw(study, root, timing=False)
        assert not done.missing
        written[study.effect] = {p: p.read_bytes() for p in done.paths + list(done.results)}
    assert muff.figures_folder(root) == root / "smoke" / "embedded-muff"
    assert ht1.figures_folder(root) == root / "smoke" / "embedded-ht1"
    for effect, files in written.items():          # ht1 did not touch a byte of muff's
        assert len(files) == 2 * len(F.FIGURES) + 2
        for path, content in files.items():
            assert path.parent == root / "smoke" / f"embedded-{effect}"
            assert path.read_bytes() == content, path
        md = (root / "smoke" / f"embedded-{effect}" / "results.md").read_text(encoding="utf-8")
        assert md.splitlines()[0] == ("# Results: ours beside the thesis's (profile smoke, "
                                      f"source embedded, effect {effect})")
        assert "## Table 4.10: TOR C h64 over 1 seeds" in md
    assert not [p for p in root.iterdir() if p.is_file()]     # nothing at the top of figures/


def test_study_folder_names_profile_source_and_effect(tmp_path):
    from fxlib.study import study_folder
    assert study_folder("quick", "embedded", "muff").as_posix() == "quick/embedded-muff"
    assert study_folder("paper", "wright2019", "ht1").as_posix() == "paper/wright2019-ht1"
    a, b = tmp_path / "one" / "takes", tmp_path / "two" / "takes"     # same name, apart
    fa, fb = study_folder("quick", str(a), "muff"), study_folder("quick", str(b), "muff")
    assert fa != fb and fa.name.startswith("takes-") and fa.name.endswith("-muff")
    assert study_folder("quick", str(a), "muff") == study_folder("quick", str(a / "."), "muff")
    odd = study_folder("smoke", "embedded", "../my amp")       # an effect given as a prefix
    assert odd.as_posix() == "smoke/embedded-_my_amp"
