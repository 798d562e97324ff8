"""The smoke grid trained three ways -- the sequential path (``Study.run`` in this process, as
the notebooks train), the local process pool and Ray (a 2-CPU local instance) -- gives the same
runs bit for bit, trains none twice, and a rerun trains nothing; a killed worker loses only its
own run, which resumes from its checkpoint; a diverging run stops its dependants only.

One thread per run everywhere: the thread count of a CPU training changes its float32
rounding (docs/grid.md, section 'Same numbers'), so equality is asked for at equal threads.
Inference timing is replaced by a fixed fake here: it only chooses the seed repetition's model
(every smoke model is real time), it is tested in tests/test_timing.py and tests/test_study.py,
and measuring it three times would cost CI minutes.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import fxlib.study
from fxlib.data import build_embedded
from fxlib.grid import LocalEngine, Node, probe_in, run_nodes, run_study_grid
from fxlib.study import EXPERIMENTS, LABELS, Study
from fxlib.train import TrainConfig, load_training_data, train


def _fake_time_model(model, runs=10, threads=1, **_):
    ms = 1.0 + sum(p.numel() for p in model.parameters()) / 1e4
    return SimpleNamespace(profiler_mean=ms, profiler_std=0.0, wall_median=ms, rtf=1000 / ms)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    build_embedded("smoke", 0, root)
    return root


@pytest.fixture(scope="module")
def three_ways(tmp_path_factory, data_root):
    mp = pytest.MonkeyPatch()
    mp.setattr(fxlib.study, "time_model", _fake_time_model)
    base = tmp_path_factory.mktemp("grid")
    quiet = dict(stream=None, log=lambda *_: None)
    # 1. sequential: what the notebooks do, one run after another in one process
    study = Study("smoke", runs=base / "sequential", data_root=data_root, threads=1,
                  progress=False)
    for p in study.plan():
        study.run(p.label, p.seed)
    best = study.best(LABELS)
    for p in study.repetition_plan(best):
        study.run(p.label, p.seed)
    torch.set_num_threads(1)
    # 2. the local process pool, two at a time
    local = run_study_grid("smoke", runs=base / "local", data_root=data_root, jobs=2,
                           threads=1, **quiet)
    # 3. Ray, a local instance with 2 CPUs, no shared runs root
    ray = None
    try:
        import ray as _ray                                  # noqa: F401
    except ImportError:
        pass
    else:
        ray = run_study_grid("smoke", runs=base / "ray", data_root=data_root, jobs=2,
                             threads=1, engine="ray", **quiet)
    yield SimpleNamespace(base=base, best=best, local=local, ray=ray, quiet=quiet,
                          data_root=data_root)
    mp.undo()


def _runs(root: Path) -> dict:
    return {p.parent.name: p.parent for p in sorted(root.glob("*/metrics.json"))}


def _same_runs(a: Path, b: Path) -> None:
    ra, rb = _runs(a), _runs(b)
    assert sorted(ra) == sorted(rb)
    for name in ra:
        ma = json.loads((ra[name] / "metrics.json").read_text())
        mb = json.loads((rb[name] / "metrics.json").read_text())
        assert ma == mb, f"{name}: {ma} != {mb}"             # floats as written: bit for bit
        wa = torch.load(ra[name] / "model.pt", weights_only=True)
        wb = torch.load(rb[name] / "model.pt", weights_only=True)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name


def _starts(root: Path) -> list[str]:
    lines = (root / "_grid" / "events.jsonl").read_text().splitlines()
    return [e["key"] for e in map(json.loads, lines) if e["event"] == "start"]


def test_the_sequential_path_trained_the_whole_smoke_study(three_ways):
    runs = _runs(three_ways.base / "sequential")
    assert len(runs) == len(EXPERIMENTS) + 1     # every experiment + the repetition's seed 1
    assert any(f"-s1-" in name for name in runs)


def test_the_local_pool_gives_the_sequential_runs_bit_for_bit(three_ways):
    assert three_ways.local.ok and three_ways.local.best == three_ways.best
    _same_runs(three_ways.base / "sequential", three_ways.base / "local")


def test_ray_gives_the_sequential_runs_bit_for_bit(three_ways):
    if three_ways.ray is None:
        pytest.skip("Ray is not installed: pip install 'fxlib[cluster]'")
    assert three_ways.ray.ok and three_ways.ray.best == three_ways.best
    _same_runs(three_ways.base / "sequential", three_ways.base / "ray")


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_no_run_was_trained_twice(three_ways, engine):
    result = getattr(three_ways, engine)
    if result is None:
        pytest.skip("Ray is not installed: pip install 'fxlib[cluster]'")
    assert result.counts() == {"trained": len(EXPERIMENTS) + 1}
    ids = list(result.run_ids().values())
    assert len(ids) == len(set(ids)) == len(EXPERIMENTS) + 1
    starts = _starts(three_ways.base / engine)
    assert sorted(starts) == sorted(set(starts)) == sorted(result.nodes)


def test_a_second_grid_reuses_every_run_and_starts_nothing(three_ways):
    root = three_ways.base / "local"
    before = _starts(root)
    again = run_study_grid("smoke", runs=root, data_root=three_ways.data_root, jobs=2,
                           threads=1, **three_ways.quiet)
    assert again.ok and again.counts() == {"reused": len(EXPERIMENTS) + 1}
    assert _starts(root) == before


# -- faults -----------------------------------------------------------------------------------
def _kill_after_checkpoints(engine, root: Path, key: str, pattern: str, rewrites: int,
                            killed: list):
    """Kill ``key``'s worker once its checkpoint has been rewritten ``rewrites`` times."""
    def watch():
        seen, last, deadline = 0, None, time.monotonic() + 120
        while time.monotonic() < deadline:
            found = sorted(root.glob(f"{pattern}/checkpoint.pt"))
            stamp = found[0].stat().st_mtime_ns if found else None
            if stamp is not None and stamp != last:
                seen, last = seen + 1, stamp
                if seen > rewrites:
                    os.kill(engine.pids()[key], signal.SIGKILL)
                    killed.append(key)
                    return
            time.sleep(0.005)
    threading.Thread(target=watch, daemon=True).start()


def test_a_killed_worker_loses_only_its_run_which_resumes_and_a_nan_stops_its_dependants(
        tmp_path, data_root):
    root = tmp_path / "runs"
    smoke = dict(profile="smoke", data_root=str(data_root))
    victim = TrainConfig(model="B8", seed=5, overrides={"rnn_epochs": 60}, **smoke)
    nodes = [Node("victim", victim),
             Node("diverges", TrainConfig(model="B8", seed=6, overrides={"rnn_lr": 1e30},
                                          **smoke)),
             Node("its student", TrainConfig(model="C8", method="tor", **smoke),
                  teacher="diverges"),
             Node("independent", TrainConfig(model="C8", seed=7, **smoke))]
    data = load_training_data("embedded", "muff", data_root, scale="smoke")
    engine = LocalEngine(root, jobs=2)
    killed: list = []

    def on_start(job):
        if job.key == "victim" and job.attempt == 1:
            _kill_after_checkpoints(engine, root, "victim", "B8-scratch-smoke-s5-*", 2, killed)

    logs: list = []
    try:
        result = run_nodes(nodes, engine, jobs=2, threads=1, probe=probe_in(root, data),
                           runs=root, retries=1, stream=None, log=logs.append,
                           on_start=on_start)
    finally:
        engine.close()
    r = result.nodes
    assert killed == ["victim"]
    assert (r["victim"].status, r["victim"].attempts) == ("resumed", 2)
    assert any("victim: the worker process" in m and "killed by signal 9" in m for m in logs)
    assert r["diverges"].status == "failed"
    assert "TrainingDiverged" in r["diverges"].message and "became nan" in r["diverges"].message
    assert r["its student"].status == "blocked"
    assert "it needs 'diverges', which failed" in r["its student"].message
    assert (r["independent"].status, r["independent"].attempts) == ("trained", 1)
    assert not result.ok and len(result.problems()) == 2
    # the resumed run ends exactly where an uninterrupted one does
    torch.set_num_threads(1)
    ref = train(victim, runs=tmp_path / "reference", data=data, threads=1, progress=False)
    got = root / r["victim"].run_id
    assert json.loads((got / "metrics.json").read_text()) == ref.metrics
    w_got = torch.load(got / "model.pt", weights_only=True)
    w_ref = torch.load(ref.path / "model.pt", weights_only=True)
    assert all(torch.equal(w_got[k], w_ref[k]) for k in w_ref)
