"""fxlib.runtime.benchmark: the streaming benchmark runs end to end on a tiny input and writes
its table, CSV and plots. Correctness only: no time is asserted."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from fxlib.runtime import benchmark as bench

pytest.importorskip("onnxruntime")


def test_bare_chain_is_deterministic_and_finite():
    rng = np.random.default_rng(0)
    H = 8
    x = rng.standard_normal(500).astype(np.float32)
    args = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in (4 * H, (H, 4 * H), 4 * H)]
    outs = []
    for _ in range(2):
        h, out = np.zeros(H, np.float32), np.empty_like(x)
        bench.bare_chain(x, h, *args, out)
        outs.append(out)
    assert np.isfinite(outs[0]).all() and np.array_equal(*outs)


def test_benchmark_table_csv_goals_and_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FXLIB_RUNS", str(tmp_path / "no-runs"))
    monkeypatch.setenv("FXLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert bench.main(["--models", "B8", "C8", "Av2", "--runs", "1", "--warmup", "0",
                       "--seconds", "0.05", "--blocks", "64", "--out", str(tmp_path),
                       "--profile", "smoke"]) == 0
    out = capsys.readouterr()
    assert "Goals at 64-sample blocks" in out.out and "Hardware:" in out.out
    assert "accuracy-vs-speed chart skipped" in out.err           # no runs: nothing invented
    lines = [l for l in (tmp_path / "bench_stream.csv").read_text().splitlines()
             if not l.startswith("#")]
    rows = list(csv.DictReader(lines))
    got = {(r["model"], r["engine"], r["block"]) for r in rows}
    for m in ("B8", "C8"):
        assert {(m, "fxlib", "64"), (m, "fxlib", "whole"), (m, "torch", "whole"),
                (m, "onnxruntime", "64")} <= got
    assert {("Av2", "fxlib", "64"), ("Av2", "torch", "whole"), ("Av2", "onnxruntime", "whole")} <= got
    assert all(float(r["ms_per_s"]) > 0 and np.isfinite(float(r["rtf"])) for r in rows)
    assert (tmp_path / "bench_stream.png").is_file() and (tmp_path / "bench_stream.svg").is_file()
