"""``fxlib.study`` on tiny fake run folders (``fake_runs``): known answers from chosen metrics."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pytest
import torch

import fxlib.study as study_mod
from fxlib.study import (LABELS, STABLE_CV, Excerpt, Experiment, Study, experiment,
                         relative_change, seed_table, seed_verdicts, table_labels, thesis_row)
from fxlib.timing import TimingResult
from fxlib.train import RunError, TrainingData, is_complete
from fake_runs import N_TEST, fake_run, fake_study, make_study, tiny_data  # noqa: F401


# -- the fake runs themselves ----------------------------------------------------------------
def test_fake_run_is_the_run_a_study_without_training_reuses(fake_study, tmp_path):
    fake = fake_run(fake_study, "B h8", esr=0.4321, mae=0.0123)
    assert is_complete(fake.path) and fake.path.parent == tmp_path / "runs"
    cfg = json.loads((fake.path / "config.json").read_text())
    assert fake.id == f"B8-scratch-smoke-s0-{cfg['hash']}"
    reader = make_study(tmp_path / "runs", train=False)
    run = reader.run("B h8")
    assert (run.id, run.status) == (fake.id, "reused")
    assert (run.metrics["test_esr"], run.metrics["test_mae"]) == (0.4321, 0.0123)
    assert run.history == fake.history
    assert reader.run("B h8") is run                      # cached per Study


# -- module-level helpers ----------------------------------------------------------------------
def test_table_labels_experiment_thesis_row_relative_change():
    assert table_labels("4.4") == ["B h16", "B h8", "TOR B h16", "TOR B h8"]
    assert table_labels("4.6") == ["TOR B→A"]
    with pytest.raises(ValueError, match="no thesis table '4.10'"):
        table_labels("4.10")
    assert experiment("DF B h8") == Experiment("DF B h8", "B8", "df", True, "B std")
    assert experiment("TOR Av2") == Experiment("TOR Av2", "Av2", "tor", False, "A")
    assert experiment("C std h16") == Experiment("C std h16", "C16", "scratch", True, None)
    with pytest.raises(ValueError, match="unknown experiment 'B h4'"):
        experiment("B h4")
    r = thesis_row("B h8")
    assert (r.table, r.mae, r.esr, r.time_ms, r.time_std_ms, r.params) == \
        ("4.4", 0.0103, 0.4161, 277, 28, 361)
    with pytest.raises(ValueError, match="no row 'nope'"):
        thesis_row("nope")
    assert relative_change(0.3, 0.4) == pytest.approx(-0.25)
    assert relative_change(0.5, -0.25) == pytest.approx(3.0)
    assert relative_change(1.0, 0.0) == math.inf
    assert len(LABELS) == 30 and LABELS[:3] == ("A", "B", "Av2")


def test_every_teacher_is_a_seed_zero_scratch_experiment_of_the_right_input_space():
    for label in LABELS:
        e = experiment(label)
        assert (e.teacher is None) == (e.method == "scratch"), label
        if e.teacher is not None:
            t = experiment(e.teacher)
            assert t.method == "scratch", label
            assert t.std == (e.method == "df"), label       # DF teachers are std models


# -- table, row, markdown, context ---------------------------------------------------------
def test_row_and_table_hold_our_numbers_the_thesis_and_registry_params(fake_study):
    b8 = fake_run(fake_study, "B h8", esr=0.4321, mae=0.0123)
    tor = fake_run(fake_study, "TOR B h16", esr=0.25, mae=0.009, epochs=7)
    rows = fake_study.table(["B h8", "TOR B h16"], timing=False)
    assert rows[0] == {"table": "4.4", "label": "B h8", "mae": 0.0123, "esr": 0.4321,
                       "params": 361, "epochs": 2, "run": b8.id, "thesis_mae": 0.0103,
                       "thesis_esr": 0.4161, "thesis_time": "277 ± 28", "thesis_params": 361,
                       "method": "scratch", "model": "B8"}
    assert rows[1] == {"table": "4.4", "label": "TOR B h16", "mae": 0.009, "esr": 0.25,
                       "params": 1233, "epochs": 7, "run": tor.id, "thesis_mae": 0.0091,
                       "thesis_esr": 0.3128, "thesis_time": "290 ± 28", "thesis_params": 1233,
                       "method": "tor", "model": "B16"}
    assert fake_study.row("B h8", timing=False) == rows[0]


def test_markdown_shows_ours_beside_the_thesis_and_names_profile_and_data(fake_study):
    fake_run(fake_study, "B h8", esr=0.4321, mae=0.0123)
    fake_run(fake_study, "B", esr=0.2, mae=0.0067)
    md = fake_study.markdown(["B", "B h8"], timing=False)
    lines = md.splitlines()
    assert lines[0] == ("| model | MAE | ESR | params | thesis MAE | thesis ESR | "
                        "thesis time ms | thesis params |")
    assert lines[2] == "| B | 0.0067 | 0.2000 | 17,217 | 0.0066 | 0.2261 | 311 ± 42 | 17,217 |"
    assert lines[3] == "| B h8 | 0.0123 | 0.4321 | 361 | 0.0103 | 0.4161 | 277 ± 28 | 361 |"
    assert lines[-1] == fake_study.context()
    ctx = fake_study.context()
    assert "profile `smoke`" in ctx and "data arrays / muff," in ctx and "1 thread" in ctx
    assert "Thesis: real Big Muff Pi recordings" in ctx


def test_context_names_an_embedded_dataset_scale_and_seed(fake_study):
    d = tiny_data()
    fake_study._dataset = TrainingData(d.splits, {**d.desc, "kind": "embedded",
                                                  "scale": "smoke", "data_seed": 3})
    assert "data embedded / muff (scale smoke, seed 3), test set" in fake_study.context()


# -- verdicts ---------------------------------------------------------------------------------
def test_compare_says_yes_or_no_with_the_percentage_from_our_numbers(fake_study):
    fake_run(fake_study, "B h16", esr=0.3, mae=0.02)
    fake_run(fake_study, "B h8", esr=0.4, mae=0.01)
    fake_run(fake_study, "C h8", esr=0.4, mae=0.05)
    assert fake_study.compare("B h16", "B h8", "esr") == \
        "B h16 beats B h8 on ESR: yes (0.3 vs 0.4, 25.0 % lower)"
    assert fake_study.compare("B h8", "B h16") == \
        "B h8 beats B h16 on ESR: no (0.4 vs 0.3, 33.3 % higher)"
    assert fake_study.compare("B h16", "B h8", "mae") == \
        "B h16 beats B h8 on MAE: no (0.02 vs 0.01, 100.0 % higher)"
    assert fake_study.compare("B h8", "C h8", "mae") == \
        "B h8 beats C h8 on MAE: yes (0.01 vs 0.05, 80.0 % lower)"
    assert fake_study.compare("C h8", "B h8", "esr") == \
        "C h8 beats B h8 on ESR: no (0.4 vs 0.4, 0.0 % equal)"
    with pytest.raises(ValueError, match="metric must be esr, mae or time, got 'rmse'"):
        fake_study.compare("B h16", "B h8", "rmse")


def test_compare_of_two_equal_zero_metrics_says_zero_percent(fake_study):
    fake_run(fake_study, "B h16", esr=0.0, mae=0.0)
    fake_run(fake_study, "B h8", esr=0.0, mae=0.0)
    assert fake_study.compare("B h16", "B h8") == \
        "B h16 beats B h8 on ESR: no (0 vs 0, 0.0 % equal)"


def _fake_time_model(ms_by_params: dict, calls: list):
    """A ``time_model`` stand-in: profiler times ms-1 and ms+1 (mean ms, std sqrt 2)."""
    def time_model(model, runs=10, threads=1, **kw):
        n = sum(p.numel() for p in model.parameters())
        calls.append((n, runs, threads))
        ms = ms_by_params[n]
        return TimingResult(seconds=1.0, runs=runs, warmup=0, threads=threads, device="cpu",
                            profiler_ms=[ms - 1.0, ms + 1.0], wall_ms=[ms, ms])
    return time_model


def test_best_is_the_lowest_esr_among_the_real_time_models(fake_study, monkeypatch):
    fake_run(fake_study, "B h8", esr=0.2, mae=0.03)
    fake_run(fake_study, "C h8", esr=0.1, mae=0.04)        # lowest ESR, but too slow
    fake_run(fake_study, "B h16", esr=0.3, mae=0.01)
    calls = []
    monkeypatch.setattr(study_mod, "time_model",
                        _fake_time_model({361: 50.0, 273: 2000.0, 1233: 100.0}, calls))
    labels = ["B h8", "C h8", "B h16"]
    assert fake_study.best(labels) == "B h8"
    assert calls == [(361, 2, 1), (273, 2, 1), (1233, 2, 1)]   # smoke: 2 runs, 1 thread
    assert fake_study.best(labels, real_time_ms=3000.0) == "C h8"
    assert fake_study.best(labels, metric="mae") == "B h16"
    assert fake_study.best(labels, real_time_ms=100.0) == "B h8"     # bound is strict
    assert len(calls) == 3                                  # later calls read the cache
    with pytest.raises(ValueError, match="no candidate runs in real time"):
        fake_study.best(labels, real_time_ms=50.0)
    assert fake_study.compare("B h8", "B h16", "time") == \
        "B h8 beats B h16 on TIME: yes (50 vs 100, 50.0 % lower)"
    row = fake_study.row("C h8")
    assert (row["time_ms"], row["time"]) == (2000.0, "2000 ± 1")
    assert row["time_std_ms"] == pytest.approx(math.sqrt(2))


def test_timing_measures_once_and_caches_in_the_run_folder(fake_study, tmp_path, monkeypatch):
    run = fake_run(fake_study, "C h8")
    calls = []
    real = study_mod.time_model

    def counting(*a, **kw):
        calls.append(kw)
        return real(*a, **kw)

    monkeypatch.setattr(study_mod, "time_model", counting)
    doc = fake_study.timing("C h8")
    assert calls == [{"runs": 2, "threads": 1}]
    files = list(run.path.glob("timing-*.json"))
    assert len(files) == 1 and len(files[0].stem) == len("timing-") + 10
    assert json.loads(files[0].read_text()) == doc
    assert set(doc) == {"ms_mean", "ms_std", "wall_median_ms", "rtf", "runs", "hardware"}
    assert doc["runs"] == 2 and doc["ms_mean"] > 0 and "1 thread(s)" in doc["hardware"]
    assert doc["rtf"] == pytest.approx(1000.0 / doc["wall_median_ms"])
    again = make_study(tmp_path / "runs", train=False)        # a new Study, the same folder
    assert again.timing("C h8") == doc and len(calls) == 1
    doc2 = {**doc, "ms_mean": 123.0}                            # the cache is what is read
    files[0].write_text(json.dumps(doc2))
    assert again.row("C h8")["time_ms"] == 123.0 and len(calls) == 1


# -- seed repetition --------------------------------------------------------------------------
def test_seed_repetition_is_mean_and_sample_std_of_the_seeds(fake_study):
    for s, (esr, mae) in enumerate([(0.15, 0.005), (0.17, 0.0054), (0.16, 0.0049)]):
        fake_run(fake_study, "TOR C h64", s, esr=esr, mae=mae)
    info = fake_study.seed_repetition("TOR C h64", [0, 1, 2])
    assert info["label"] == "TOR C h64" and info["seeds"] == [0, 1, 2]
    assert info["esr_values"] == [0.15, 0.17, 0.16]
    assert info["mae_values"] == [0.005, 0.0054, 0.0049]
    assert info["esr"] == pytest.approx((0.16, 0.01))
    assert info["mae"] == pytest.approx((0.0051, math.sqrt(7e-8)))
    one = fake_study.seed_repetition("TOR C h64", [1])
    assert one["esr"] == (0.17, 0.0) and one["mae"] == (0.0054, 0.0)
    b = fake_study.run("B")                    # the teacher, made first with seed 0
    assert all(fake_study.run("TOR C h64", s).config["teacher"] == b.id for s in range(3))
    assert fake_study.repetition_seeds() == [0, 1]          # smoke: seed_repetitions=2
    assert fake_study.repetition_seeds([3, 5]) == [3, 5]
    assert Study(profile="quick").repetition_seeds() == [0, 1, 2, 3, 4]


def test_seed_table_has_our_row_above_the_thesis_row():
    info = {"label": "TOR C h64", "seeds": [0, 1, 2], "mae": (0.0051, 0.00026458),
            "esr": (0.16, 0.01)}
    lines = seed_table(info, "context line").splitlines()
    assert lines == ["| model | seeds | MAE | ESR |", "|---|---|---|---|",
                     "| TOR C h64 (ours) | 3 | 0.0051 ± 0.0003 | 0.1600 ± 0.0100 |",
                     "| TOR C h64 (thesis) | 5 | 0.0052 ± 0.0003 | 0.1595 ± 0.0161 |",
                     "", "context line"]         # a blank line: not a row of the table
    assert seed_table(info).endswith("0.1595 ± 0.0161 |\n")


def test_seed_verdicts_cv_stability_and_best_model():
    info = {"label": "TOR C h64", "seeds": [0, 1, 2, 3], "mae": (0.005, 0.0003),
            "esr": (0.2, 0.02)}
    assert seed_verdicts(info) == [
        "TOR C h64: ESR 0.2 ± 0.02 over 4 seeds (coefficient of variation 10.0 %); the "
        "thesis saw 10.1 % for TOR C h64.",
        "stable over seeds (CV < 15 %): yes",
        "same best model as the thesis (TOR C h64): yes"]
    unstable = seed_verdicts({**info, "label": "C h64", "esr": (0.2, 0.04)})
    assert "(coefficient of variation 20.0 %)" in unstable[0]
    assert unstable[1:] == ["stable over seeds (CV < 15 %): no",
                            "same best model as the thesis (TOR C h64): no (C h64)"]
    assert seed_verdicts({**info, "esr": (1.0, STABLE_CV)})[1].endswith(": no")   # strict
    assert seed_verdicts({**info, "esr": (1.0, STABLE_CV - 1e-3)})[1].endswith(": yes")


# -- signals ----------------------------------------------------------------------------------
def test_signals_are_the_test_excerpt_and_each_run_prediction(fake_study):
    labels = ["B h8", "C h8", "B std h8"]
    runs = {lb: fake_run(fake_study, lb) for lb in labels}
    ex = fake_study.signals(labels)
    assert isinstance(ex, Excerpt) and isinstance(ex, Mapping)
    assert list(ex) == ["input", "target", *labels] and len(ex) == 5
    assert type(ex.start) is int and ex.start == 0          # 6,000 samples < 4 s: all of it
    x, y = tiny_data().splits["test"]
    np.testing.assert_array_equal(ex["input"], x)
    np.testing.assert_array_equal(ex["target"], y)
    for lb in labels:
        assert ex[lb].shape == (N_TEST,) and ex[lb].dtype == np.float32
        np.testing.assert_allclose(ex[lb], runs[lb].predict(x), rtol=0, atol=1e-6)
    # the std run's output differs from what its model gives raw input (standardiser applied)
    raw = runs["B std h8"].family.predict(runs["B std h8"].load_model(),
                                          torch.from_numpy(x), 100_000).numpy()
    assert not np.allclose(ex["B std h8"], raw)
    with pytest.raises(TypeError):
        ex["input"] = x                                      # read-only


def test_signals_cache_outputs_in_the_run_folder_and_reuse_them(fake_study, tmp_path):
    run = fake_run(fake_study, "C h8")
    first = fake_study.signals(["C h8"])["C h8"]
    files = list(run.path.glob("excerpt-*.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(np.load(files[0]), first)
    marker = np.full(N_TEST, 0.125, np.float32)
    np.save(files[0], marker)
    np.testing.assert_array_equal(fake_study.signals(["C h8"])["C h8"], marker)
    np.testing.assert_array_equal(
        make_study(tmp_path / "runs", train=False).signals(["C h8"])["C h8"], marker)
    # another excerpt length is another cache entry, centred on the figure window
    short = fake_study.signals(["C h8"], seconds=0.1)
    start, stop = fake_study.excerpt_bounds(0.1)
    centre = fake_study.window() + 2048
    assert start == max(0, min(N_TEST - 4410, centre - 2205)) and stop == start + 4410
    assert short.start == start and len(short["C h8"]) == 4410
    np.testing.assert_array_equal(short["input"], tiny_data().splits["test"][0][start:stop])
    assert len(list(run.path.glob("excerpt-*.npy"))) == 2


# -- runs: reuse only, teachers first ------------------------------------------------------
def test_run_without_training_and_without_a_run_raises_naming_make_reproduce(tmp_path):
    reader = make_study(tmp_path / "runs", train=False)
    with pytest.raises(RunError, match=r"no finished run B8-scratch-smoke-s0-[0-9a-f]{8} .*"
                                       r"make reproduce PROFILE=smoke"):
        reader.run("B h8")
    with pytest.raises(RunError, match=r"no finished run B-scratch-smoke-s0-"):
        reader.run("TOR B h8")                                # its teacher is looked for first
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_teacher_comes_first_and_the_student_config_names_it(fake_study, tmp_path):
    teacher = fake_run(fake_study, "B std", esr=0.5, mae=0.01)
    reader = make_study(tmp_path / "runs", train=False)
    with pytest.raises(RunError, match=r"no finished run B8-df-std-smoke-s0-"):
        reader.run("DF B h8")                                  # teacher found, student not
    student = fake_run(fake_study, "DF B h8", esr=1.5, mae=0.03)
    run = make_study(tmp_path / "runs", train=False).run("DF B h8")
    assert run.id == student.id
    assert run.config["teacher"] == teacher.id
    assert run.config["teacher_info"]["id"] == teacher.id and run.config["teacher_info"]["std"]
    assert run.config["standardizer"] == teacher.config["standardizer"]


def test_study_accepts_device_as_the_old_name_of_effect():
    with pytest.warns(DeprecationWarning, match="device= is now effect="):
        old = Study(profile="smoke", device="ht1")
    assert old.effect == "ht1" and old.config("B h8").effect == "ht1"
    assert Study(profile="smoke", effect="ht1").effect == "ht1"
    assert Study(profile="smoke").effect == "muff"
    with pytest.raises(TypeError, match="give effect= only"):
        Study(profile="smoke", device="ht1", effect="muff")
