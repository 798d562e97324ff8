"""fxlib.runtime.benchmark: the streaming benchmark runs end to end on a tiny input and writes
its table, CSV and plots. Correctness only: no time is asserted."""
from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
import torch

from fxlib.models import build_model
from fxlib.runtime import benchmark as bench
from fake_runs import fake_run, make_study


def _rows(path):
    lines = [l for l in path.read_text().splitlines() if not l.startswith("#")]
    return list(csv.DictReader(lines))


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_bare_chain_is_the_matvec_chain(cell):
    """h <- (W_hh h + w0 x + b0)[:H] / 64, out = sum(h): against float64 NumPy, deterministic."""
    from fxlib.models.rnn import RecurrentModel
    from fxlib.runtime.kernels import prepare_gru, prepare_lstm
    torch.manual_seed(0)
    H = 16
    model = RecurrentModel(cell=cell, hidden_size=H)
    p = (prepare_lstm if cell == "LSTM" else prepare_gru)(model)
    x = np.random.default_rng(0).standard_normal(500).astype(np.float32)
    outs = []
    for _ in range(2):
        h, out = np.zeros(H, np.float32), np.empty_like(x)
        bench.bare_chain(x, h, p["w0"], p["b0"], p["w_hh"], out)
        outs.append(out)
    assert np.isfinite(outs[0]).all() and np.array_equal(*outs)
    w = model.rec.weight_hh_l0.detach().double().numpy()[:H]
    h, ref = np.zeros(H), np.empty(len(x))
    for t, xt in enumerate(x.astype(np.float64)):
        h = (w @ h + p["w0"][:H] * xt + p["b0"][:H]) / 64.0
        ref[t] = h.sum()
    np.testing.assert_allclose(outs[0], ref, rtol=0, atol=1e-6)


def test_accuracy_chart_takes_each_models_scratch_run(tmp_path, monkeypatch):
    """The accuracy-vs-speed chart reads the test ESR of each model's scratch run of the profile
    (seed 0, raw inputs) through ``fxlib.train.find_runs``; a std run, another seed or a KD run
    of the same model is not it; no run, no point."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    study = make_study(tmp_path)
    fake_run(study, "B", esr=0.2)
    fake_run(study, "B h8", esr=0.25)
    fake_run(study, "B h8", 1, esr=0.5)                       # another seed
    fake_run(study, "B std h8", esr=0.75)                     # a std run (its teacher first)
    fake_run(study, "TOR B h8", esr=0.125)                    # a KD run, teacher B first
    fake_run(study, "C h8", esr=0.375)
    esr = lambda m: bench.scratch_test_esr(m, "smoke", "arrays", "muff", tmp_path)  # noqa: E731
    assert (esr("B8"), esr("C8"), esr("B"), esr("C16")) == (0.25, 0.375, 0.2, None)
    assert esr("B8") is not None and bench.scratch_test_esr("B8", "quick", "arrays", "muff",
                                                            tmp_path) is None
    assert bench.scratch_test_esr("B8", "smoke", "arrays", "ht1", tmp_path) is None
    rows = [{"model": m, "engine": "fxlib", "block": b, "ms_per_s": ms}
            for m, ms in (("B8", 5.0), ("C8", 4.0), ("C16", 6.0)) for b in (64, "whole")]
    files = bench._plots(rows, tmp_path / "out", "smoke", "arrays", "muff", tmp_path)
    assert {p.name for p in files} >= {"bench_accuracy_speed.png", "bench_accuracy_speed.svg"}


@pytest.mark.parametrize("name", ["B8", "C8"])
def test_torch_baseline_is_the_model_in_any_blocks(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = (0.1 * np.random.default_rng(1).standard_normal(300)).astype(np.float32)
    tr = bench._TorchRNN(model)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
        y = np.concatenate([tr.process(x[i:i + 64]) for i in range(0, 300, 64)])
        tr.reset()
        whole = tr.process(x)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    np.testing.assert_allclose(whole, y, atol=1e-6)


def test_benchmark_table_csv_goals_and_plots(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("FXLIB_RUNS", str(tmp_path / "no-runs"))
    monkeypatch.setenv("FXLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert bench.main(["--models", "B8", "C8", "Av2", "--runs", "1", "--warmup", "0",
                       "--seconds", "0.05", "--blocks", "64", "--out", str(tmp_path),
                       "--profile", "smoke"]) == 0
    out = capsys.readouterr()
    assert "Goals at 64-sample blocks" in out.out and "Hardware:" in out.out
    assert "accuracy-vs-speed chart skipped" in out.err           # no runs: nothing invented
    rows = _rows(tmp_path / "bench_stream.csv")
    assert set(rows[0]) == set(bench.COLUMNS)
    got = {(r["model"], r["engine"], r["block"]) for r in rows}
    for m in ("B8", "C8"):
        assert {(m, "fxlib", "64"), (m, "fxlib", "whole"), (m, "torch", "whole"),
                (m, "onnxruntime", "64")} <= got
    assert {("Av2", "fxlib", "64"), ("Av2", "torch", "whole"),
            ("Av2", "onnxruntime", "whole")} <= got
    assert all(float(r["ms_per_s"]) > 0 and np.isfinite(float(r["rtf"])) for r in rows)
    assert (tmp_path / "bench_stream.png").is_file() and (tmp_path / "bench_stream.svg").is_file()


def test_benchmark_without_onnxruntime_skips_its_rows(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)          # import fails
    assert bench.main(["--models", "C8", "--runs", "1", "--warmup", "0", "--seconds", "0.02",
                       "--blocks", "64", "--torch-blocks", "--out", str(tmp_path),
                       "--no-plots"]) == 0
    out = capsys.readouterr()
    assert "ONNX Runtime rows skipped" in out.err
    assert "vs onnxruntime@64: not measured" in out.out
    rows = _rows(tmp_path / "bench_stream.csv")
    assert {(r["engine"], r["block"]) for r in rows} == {
        ("fxlib", "64"), ("fxlib", "whole"), ("fxlib-f64", "64"), ("fxlib-f64", "whole"),
        ("overhead", "64"), ("torch", "64"), ("torch", "whole")}
    assert all(float(r["ms_per_s"]) > 0 for r in rows)
    assert not (tmp_path / "bench_stream.png").exists()


def test_engines_are_timed_round_robin():
    calls = []
    fns = [lambda: calls.append("a"), lambda: calls.append("b"), lambda: calls.append("c")]
    stats = bench._measure(fns, runs=3, warmup=1, seconds=1.0)
    assert calls == ["a", "b", "c"] + ["a", "b", "c"] * 3
    assert len(stats) == 3 and all(med >= 0.0 and iqr >= 0.0 for med, iqr in stats)


def test_overhead_row_times_empty_calls_through_the_entry_point():
    """The overhead row makes as many ``process_into`` calls as a second of audio takes at
    that block size, on empty blocks; ``us_call`` divides by that count."""
    calls = []
    run = bench._empty_calls(lambda x, out: calls.append((x.shape, out.shape)), 5)
    run()
    assert calls == [((0,), (0,))] * 5
    assert bench._calls(44100, 64) == 690 and bench._calls(44100, "whole") == 1
    x = np.arange(10, dtype=np.float32)
    seen = []
    bench._blocked_into(lambda b, o: seen.append((b.tolist(), o.shape[0])), lambda: None, x,
                        np.empty_like(x), 4)()
    assert seen == [([0, 1, 2, 3], 4), ([4, 5, 6, 7], 4), ([8, 9], 2)]


def test_rtneural_rows_from_the_harness_csv(tmp_path, capsys):
    """``--rtneural LABEL=CSV`` adds RTNeural's rows (the harness's wall-time medians, fxlib
    model names) and a goal against its compile-time xsimd model; a wrong file is an error."""
    path = tmp_path / "rtneural.csv"
    path.write_text(
        "engine,model,hidden,cpu_ms_median,cpu_ms_min,cpu_ms_max,wall_ms_median,wall_ms_min,"
        "wall_ms_max,checksum,max_abs_diff,max_abs_diff_first64,finite,rtneural,xsimd\n"
        '"xsimd, compile-time (ModelT)",GRU8,8,2.0,2,2,2.5,2,3,1,0,0,1,1fb1f07,a00c81f7\n'
        '"Eigen, run-time (Model)",GRU8,8,6.0,6,6,6.5,6,7,1,0,0,1,1fb1f07,a00c81f7\n'
        '"xsimd, compile-time (ModelT)",GRU64,64,30,30,30,31,30,32,1,0,0,1,1fb1f07,a00c81f7\n'
        '"xsimd, compile-time (ModelT)",LSTM32,32,9,9,9,9.5,9,10,1,0,0,1,1fb1f07,a00c81f7\n')
    rows = bench.rtneural_rows("native", path, ["C8", "C"])
    assert [(r["model"], r["engine"], r["block"], r["ms_per_s"]) for r in rows] == [
        ("C8", "rtneural-native-xsimd", 64, 2.5), ("C8", "rtneural-native-eigen-rt", 64, 6.5),
        ("C", "rtneural-native-xsimd", 64, 31.0)]
    assert bench._fxlib_name("LSTM32") == "B32" and bench._fxlib_name("Dense8") is None
    assert bench.main(["--models", "C8", "--runs", "1", "--warmup", "0", "--seconds", "0.02",
                       "--blocks", "64", "--no-onnx", "--no-plots", "--out", str(tmp_path),
                       "--rtneural", f"native={path}"]) == 0
    out = capsys.readouterr().out
    assert "rtneural-native-xsimd" in out and "vs rtneural-native-xsimd" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    for arg in (f"native={bad}", str(path), f"x={tmp_path / 'missing.csv'}"):
        with pytest.raises(SystemExit):
            bench.main(["--models", "C8", "--no-onnx", "--no-plots", "--rtneural", arg])
