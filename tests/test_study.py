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
    assert experiment("DF B h8") == Experiment("DF B h8", "B8", "df", True, "B std", "4.5")
    assert experiment("TOR Av2") == Experiment("TOR Av2", "Av2", "tor", False, "A", "4.2")
    assert experiment("C std h16") == Experiment("C std h16", "C16", "scratch", True, None,
                                                 "4.9")
    abl = experiment("TOR B h8 c_D=0")                    # fxlib's ablation: c_D = 0
    assert (abl.model, abl.teacher, abl.kd, abl.thesis) == ("B8", "B", (("c_d", 0.0),), False)
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
    assert rows[0] == {"table": "4.4", "label": "B h8", "n": 1, "mae": 0.0123, "mae_std": None,
                       "esr": 0.4321, "esr_std": None, "params": 361, "epochs": 2,
                       "plateaued": None, "run": b8.id, "thesis_mae": 0.0103,
                       "thesis_esr": 0.4161, "thesis_time": "277 ± 28", "thesis_params": 361,
                       "method": "scratch", "model": "B8"}
    assert rows[1] == {"table": "4.4", "label": "TOR B h16", "n": 1, "mae": 0.009,
                       "mae_std": None, "esr": 0.25, "esr_std": None, "params": 1233,
                       "epochs": 7, "plateaued": None, "run": tor.id, "thesis_mae": 0.0091,
                       "thesis_esr": 0.3128, "thesis_time": "290 ± 28", "thesis_params": 1233,
                       "method": "tor", "model": "B16"}
    assert fake_study.row("B h8", timing=False) == rows[0]


def test_markdown_shows_ours_beside_the_thesis_and_names_profile_and_data(fake_study):
    fake_run(fake_study, "B h8", esr=0.4321, mae=0.0123)
    fake_run(fake_study, "B", esr=0.2, mae=0.0067)
    md = fake_study.markdown(["B", "B h8"], timing=False)
    lines = md.splitlines()
    assert lines[0] == ("| model | n | MAE | ESR | epochs | plateau | params | thesis MAE | "
                        "thesis ESR | thesis time ms | thesis params |")
    assert lines[2] == ("| B | 1 | 0.0067 | 0.2000 | 2 | – | 17,217 | 0.0066 | 0.2261 | "
                        "311 ± 42 | 17,217 |")
    assert lines[3] == ("| B h8 | 1 | 0.0123 | 0.4321 | 2 | – | 361 | 0.0103 | 0.4161 | "
                        "277 ± 28 | 361 |")
    assert lines[-1] == fake_study.context()
    ctx = fake_study.context()
    assert "profile `smoke`" in ctx and "data arrays / muff," in ctx and "1 thread" in ctx
    assert "Thesis: real Big Muff Pi recordings" in ctx


def test_small_arms_of_the_kd_tables_run_the_profiles_arm_seeds(tmp_path):
    study = make_study(tmp_path / "runs", arm_seeds=3)
    assert study.profile.arm_seeds == 3 and make_study(tmp_path).profile.arm_seeds == 1
    assert study.seeds("TOR B h16") == study.seeds("DF C h8") == [0, 1, 2]
    assert study.seeds("B std h8") == [0, 1, 2]                   # table 4.5, 8 units
    for label in ("B", "B std", "C h64", "TOR C h64", "A", "TOR Av2", "TOR B→A"):
        assert study.seeds(label) == [0], label                   # teachers, 64 units, CAFx
    plan = study.plan()
    keys = [p.key for p in plan]
    # 30 thesis rows + 2 ablations; 16 small thesis arms + the 2 ablations get 2 more seeds
    assert len(keys) == len(set(keys)) == 32 + 18 * 2
    assert study.seeds("TOR B h16 c_D=0") == [0, 1, 2]
    assert {"TOR B h16 s1", "TOR B h16 s2", "C std h8 s2"} <= set(keys)
    assert keys.index("B s0") < keys.index("TOR B h16 s2")         # the teacher first, seed 0
    assert [p.teacher for p in plan if p.label == "TOR B h16"] == ["B s0"] * 3


def test_rows_of_a_multi_seed_arm_are_mean_std_n_with_epochs_and_plateaus(tmp_path):
    study = make_study(tmp_path / "runs", arm_seeds=3)
    for s, (esr, ep) in enumerate([(0.30, 20), (0.40, 18), (0.35, 20)]):
        run = fake_run(study, "B h8", s, esr=esr, mae=0.01 * (s + 1), epochs=ep)
        m = json.loads((run.path / "metrics.json").read_text())
        m["plateaued"] = s != 1
        (run.path / "metrics.json").write_text(json.dumps(m))
    study._cache.clear()
    row = study.row("B h8", timing=False)
    assert row["n"] == 3 and row["esr"] == pytest.approx(0.35)
    assert row["esr_std"] == pytest.approx(0.05) and row["mae_std"] == pytest.approx(0.01)
    assert row["epochs"] == "18–20" and row["plateaued"] == "2/3"
    assert len(row["run"].split()) == 3
    line = study.markdown(["B h8"], timing=False).splitlines()[2]
    assert line.startswith("| B h8 | 3 | 0.0200 ± 0.0100 | 0.3500 ± 0.0500 | 18–20 | 2/3 |")
    one = study.row("B h8", seed=1, timing=False)                  # one seed on request
    assert (one["n"], one["esr"], one["esr_std"], one["plateaued"]) == (1, 0.4, None, "no")


def test_context_names_an_embedded_dataset_scale_and_seed(fake_study):
    d = tiny_data()
    fake_study._dataset = TrainingData(d.splits, {**d.desc, "kind": "embedded",
                                                  "scale": "smoke", "data_seed": 3})
    assert "data embedded / muff (scale smoke, seed 3), test set" in fake_study.context()


# -- verdicts ---------------------------------------------------------------------------------
def test_a_single_seed_compare_is_inconclusive_unless_a_family_spread_is_measured(fake_study):
    fake_run(fake_study, "B h16", esr=0.3, mae=0.02)
    fake_run(fake_study, "B h8", esr=0.4, mae=0.01)
    v = fake_study.compare("B h16", "B h8", "esr")
    assert v.answer == "inconclusive (one seed)" and v.ci is None
    assert v.diff == pytest.approx(-0.1)
    assert str(v) == ("B h16 beats B h8 on ESR: inconclusive (one seed) (0.3 vs 0.4; "
                      "difference -0.1; no seed spread measured for this family)")
    with pytest.raises(ValueError, match="metric must be esr, mae or time, got 'rmse'"):
        fake_study.compare("B h16", "B h8", "rmse")


def _three_seeds(study, label, esrs):
    for s, esr in enumerate(esrs):
        fake_run(study, label, s, esr=esr, mae=0.01)


def test_compare_over_seeds_pairs_them_and_answers_holds_fails_or_inconclusive(tmp_path):
    study = make_study(tmp_path / "runs", arm_seeds=3)
    _three_seeds(study, "B h16", [0.40, 0.45, 0.42])
    _three_seeds(study, "TOR B h16", [0.30, 0.36, 0.31])        # ~0.1 lower on every seed
    _three_seeds(study, "B h8", [0.30, 0.60, 0.40])             # as far, but noisy
    v = study.compare("TOR B h16", "B h16")
    assert v.answer == "holds" and v.method == "paired t-interval over 3 seeds"
    d = np.array([-0.10, -0.09, -0.11])                          # the paired differences
    half = 4.302652729911275 * d.std(ddof=1) / math.sqrt(3)     # t(0.975, 2)
    assert v.ci == pytest.approx((d.mean() - half, d.mean() + half))
    assert study.compare("B h16", "TOR B h16").answer == "does not hold"
    noisy = study.compare("B h8", "TOR B h16")
    assert noisy.answer == "inconclusive (difference within the seed spread)"
    assert noisy.ci[0] < 0 < noisy.ci[1]


def test_a_single_seed_arm_uses_the_familys_spread_from_the_multi_seed_arms(tmp_path):
    study = make_study(tmp_path / "runs", arm_seeds=3)
    _three_seeds(study, "B h16", [0.40, 0.44, 0.42])
    fake_run(study, "B", esr=0.20, mae=0.01)                     # one seed (64 units)
    cv = np.array([0.40, 0.44, 0.42]).std(ddof=1) / 0.42
    assert study.spread(["B"]) == pytest.approx(cv)
    v = study.compare("B", "B h16")
    assert v.answer == "holds" and "family's seed spread" in v.method


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
    v = fake_study.compare("B h8", "B h16", "time")         # the timing runs are the samples
    assert v.answer == "holds" and v.method == "Welch t-interval (n = 2, 2)"
    assert (v.a.mean, v.a.std, v.a.n) == (50.0, pytest.approx(math.sqrt(2)), 2)
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
    assert Study(profile="quick").repetition_seeds() == [0, 1, 2]
    assert Study(profile="paper").repetition_seeds() == [0, 1, 2, 3, 4]


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


def test_claims_are_oriented_by_the_thesis_numbers_and_tabulated_with_verdicts(fake_study,
                                                                           monkeypatch):
    from fake_runs import fake_all
    claims = study_mod.claims()
    assert len(claims) == sum(len(c) for c in study_mod.NOTEBOOK_COMPARISONS.values()) == 22
    for c in claims:                                   # the thesis's winner first
        assert c.thesis_a <= c.thesis_b, c
    tor_av2 = [c for c in claims if "TOR Av2" in (c.a, c.b) and c.metric == "esr"][0]
    assert (tor_av2.a, tor_av2.b) == ("Av2", "TOR Av2")    # the thesis: TOR did not help Av2
    assert (tor_av2.thesis_a, tor_av2.thesis_b) == (0.6017, 0.7019)
    with pytest.raises(ValueError, match="no experiment notebook 'nope'"):
        study_mod.claims("nope")
    fake_all(fake_study)
    monkeypatch.setattr(study_mod, "time_model", lambda model, runs=10, threads=1, **kw:
                        TimingResult(seconds=1.0, runs=runs, warmup=0, threads=threads,
                                     device="cpu", profiler_ms=[10.0, 12.0], wall_ms=[1, 1]))
    for label in study_mod.ablation_labels("03_kd_on_B"):
        fake_run(fake_study, label, esr=0.5, mae=0.01)
    vs = fake_study.verdicts("03_kd_on_B")                 # the claims, then the ablations
    assert [(v.a.label, v.b.label, v.metric) for v in vs] == [
        (c.a, c.b, c.metric) for c in study_mod.claims("03_kd_on_B")] + list(
        study_mod.ABLATION_COMPARISONS["03_kd_on_B"])
    row = fake_study.row("TOR B h8 c_D=0", timing=False)   # no thesis numbers for it
    assert row["table"] == "4.4" and row["thesis_esr"] is None and row["thesis_time"] is None
    table = fake_study.claims_table().splitlines()
    assert table[0].startswith("| thesis claim | thesis | ours | difference, 95 % CI |")
    assert len(table) == 2 + 22
    assert table[2 + 8].startswith("| TOR B h16 beats B h16 on ESR | 0.3128 vs 0.3936 | ")
    assert all(line.rstrip(" |").endswith(("holds", "inconclusive (one seed)",
                                           "inconclusive (difference within the seed spread)"))
               for line in table[2:])
