"""``python -m fxlib.train.benchmark`` runs and reports what it measured (no time is asserted)."""
import pytest

import fxlib.models.rnn as R
from fxlib.models import build_model
from fxlib.train import benchmark


def test_benchmark_prints_a_row_per_model_and_profile(capsys):
    assert benchmark.main(["--models", "B8", "C8", "--profiles", "quick", "--runs", "1",
                           "--updates", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| B8 ") or
            line.startswith("| C8 ")]
    assert len(rows) == 2 and all("quick (8 x 2048)" in r for r in rows), out
    assert "1 thread(s)" in out                      # the hardware line, one thread


def test_engine_switch_is_restored_and_default_engine_follows_routing(monkeypatch):
    monkeypatch.setattr(R, "LSTM_KERNEL_HIDDEN", frozenset({8}))
    saved = R.USE_GRU_KERNEL, R.USE_LSTM_KERNEL, R.LSTM_KERNEL_HIDDEN
    with benchmark.engine("torch"):
        assert not R.USE_LSTM_KERNEL and not R.USE_GRU_KERNEL
    assert (R.USE_GRU_KERNEL, R.USE_LSTM_KERNEL, R.LSTM_KERNEL_HIDDEN) == saved

    assert benchmark.default_engine(build_model("B8")) == "fxlib"
    assert benchmark.default_engine(build_model("B16")) == "torch"


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["--runs", "0"])
