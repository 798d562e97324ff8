"""Timing protocol and bench: structure and bookkeeping only -- no wall-clock assertions."""
import csv

import pytest
import torch

from fxlib import build_model
from fxlib import bench
from fxlib.timing import hardware_info, hardware_line, time_model


def test_time_model_records_protocol_and_restores_settings():
    threads_before = torch.get_num_threads()
    result = time_model(build_model("C8"), seconds=0.02, runs=3, warmup=1, threads=1)
    assert len(result.profiler_ms) == 3 and len(result.wall_ms) == 3
    assert all(v > 0 for v in result.profiler_ms + result.wall_ms)
    assert result.rtf == pytest.approx(0.02 / (result.wall_median / 1000))
    assert result.hardware["threads"] == 1 and result.hardware["torch"] == torch.__version__
    assert torch.get_num_threads() == threads_before
    assert torch.is_inference_mode_enabled() is False
    d = result.as_dict()
    assert {"profiler_mean", "profiler_std", "wall_median", "wall_iqr", "rtf"} <= set(d)


def test_time_model_without_profiler_and_bad_arguments():
    result = time_model(build_model("B8"), seconds=0.01, runs=2, warmup=0, profiler=False)
    assert result.profiler_ms == [] and len(result.wall_ms) == 2
    with pytest.raises(ValueError):
        time_model(build_model("B8"), runs=0)


def test_hardware_line_names_cpu_torch_and_threads():
    line = hardware_line(hardware_info(threads=1))
    assert "torch" in line and "1 thread" in line and "cores" in line


def test_bench_prints_table_and_writes_csv(tmp_path, capsys):
    out_csv = tmp_path / "bench.csv"
    assert bench.main(["--models", "B8", "Av2", "--runs", "2", "--warmup", "0",
                       "--seconds", "0.05", "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    assert "B8" in text and "Av2" in text and "Hardware:" in text and "RTF" in text
    assert "34,113" in text and "361" in text                   # ours next to the thesis's
    rows = [r for r in csv.DictReader(l for l in out_csv.open() if not l.startswith("#"))]
    assert [r["model"] for r in rows] == ["B8", "Av2"]
    assert rows[0]["thesis_ms_mean"] == "277"
