"""The run grid's parts, without training: the study's plan, the graph, the work estimate,
run folders over the wire, the scheduler's rules (with a scripted engine) and the CLI.
The engines themselves train in tests/test_grid_engines.py."""
from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from fxlib.grid import GraphError, Node, Outcome, nodes_from_plan, run_nodes, work
from fxlib.grid.__main__ import main as grid_main
from fxlib.grid.graph import check_graph, dependants
from fxlib.grid.scheduler import Progress
from fxlib.grid.worker import pack_run, unpack_run
from fxlib.models import build_model, count_parameters
from fxlib.study import (EXPERIMENTS, LABELS, NOTEBOOK_TABLES, Study, notebook_runs,
                         table_labels)
from fxlib.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]


# -- the plan -------------------------------------------------------------------------------
def test_plan_is_every_notebook_list_once_with_each_teacher_before_its_students():
    plan = Study("smoke").plan()
    keys = [p.key for p in plan]
    ablations = ["TOR B h16 c_D=0", "TOR B h8 c_D=0"]               # fxlib's, notebook 03
    assert len(keys) == len(set(keys)) == len(LABELS) + 2 == 32
    wanted = [lb for nb in NOTEBOOK_TABLES for lb in notebook_runs(nb)]
    assert sorted(p.label for p in plan) == sorted(wanted) == sorted([*LABELS, *ablations])
    assert [p.teacher for p in plan if p.label in ablations] == ["B s0", "B s0"]
    assert all(p.seed == 0 for p in plan)
    for i, p in enumerate(plan):
        teacher = EXPERIMENTS[p.label].teacher
        assert p.teacher == (f"{teacher} s0" if teacher else None)
        if teacher:
            assert f"{teacher} s0" in keys[:i], f"{p.key} comes before its teacher"
    by_key = {p.key: p for p in plan}
    assert by_key["DF B h8 s0"].teacher == "B std s0"          # a std teacher before DF
    assert by_key["TOR B→A s0"].notebooks == ("04_kd_B_to_A",)
    assert by_key["A s0"].notebooks == ("01_A_vs_B",)


def test_notebook_runs_are_the_rows_of_each_notebooks_tables():
    assert notebook_runs("01_A_vs_B") == ["A", "B"]
    assert notebook_runs("04_kd_B_to_A") == table_labels("4.6") + table_labels("4.7")
    with pytest.raises(ValueError, match="no experiment notebook '08_x'"):
        notebook_runs("08_x")


@pytest.mark.parametrize("nb", list(NOTEBOOK_TABLES))
def test_each_experiment_notebook_reads_its_list_from_fxlib(nb):
    """One source: the grid trains what the notebooks show because both read notebook_runs."""
    doc = json.loads((REPO / "notebooks" / f"{nb}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code")
    assert f"labels = notebook_runs('{nb}')" in code
    assert not re.search(r"^labels = \[", code, flags=re.M)


def test_plan_of_some_labels_and_seeds_adds_their_teachers_at_seed_zero():
    plan = Study("smoke").plan(["TOR C h8"], seeds=(0, 3))
    assert [p.key for p in plan] == ["B s0", "TOR C h8 s0", "TOR C h8 s3"]
    assert plan[2].teacher == "B s0" and plan[0].notebooks == ()


def test_repetition_plan_is_the_profiles_seeds_beyond_zero():
    s = Study("smoke")                                     # seed_repetitions = 2
    rep = s.repetition_plan("DF C h64")
    assert [(p.key, p.teacher, p.notebooks) for p in rep] == [
        ("DF C h64 s1", "B std s0", ("06_seed_repetition",))]
    assert [p.seed for p in Study("quick").repetition_plan("A")] == [1, 2]   # quick: 3 seeds
    assert [p.seed for p in Study("paper").repetition_plan("A")] == [1, 2, 3, 4]
    assert [p.seed for p in s.repetition_plan("A", seeds=[0, 7])] == [7]


# -- the graph --------------------------------------------------------------------------------
def _node(key, teacher=None, model="B8", work_=1.0):
    method = "tor" if teacher else "scratch"
    return Node(key, TrainConfig(model=model, method=method, profile="smoke"), teacher, key, 0,
                work_)


def test_check_graph_puts_teachers_first_and_refuses_bad_graphs():
    order = check_graph([_node("s", "t"), _node("t"), _node("u", "s")])
    assert [n.key for n in order] == ["t", "s", "u"]
    with pytest.raises(GraphError, match="two nodes have the key 't'"):
        check_graph([_node("t"), _node("t")])
    with pytest.raises(GraphError, match="'s' needs 'x', which is not in the grid"):
        check_graph([_node("s", "x")])
    assert [n.key for n in check_graph([_node("s", "x")], done=["x"])] == ["s"]
    with pytest.raises(GraphError, match="circular dependency"):
        check_graph([_node("a", "b"), _node("b", "a")])


def test_dependants_are_transitive():
    nodes = [_node("t"), _node("s", "t"), _node("u", "s"), _node("v")]
    assert dependants(nodes, "t") == ["s", "u"]
    assert dependants(nodes, "v") == []


def test_work_of_a_smoke_rnn_run_is_the_known_answer():
    """3 x epochs x items x segment x params (items capped at max_batches x batch), plus the
    validation forwards: val samples x (epochs // val_every + 2) x params."""
    cfg = TrainConfig(model="B8", profile="smoke")     # 2 epochs, batch 8 x 2, segment 4410
    p = count_parameters(build_model("B8"))
    assert work(cfg, 100_000, 50_000) == 3 * 2 * 16 * 4410 * p + 50_000 * (2 // 1 + 2) * p
    few = work(cfg, 3 * 4410, 50_000)                   # 3 segments: fewer than the cap
    assert few == 3 * 2 * 3 * 4410 * p + 50_000 * 4 * p
    longer = TrainConfig(model="B8", profile="smoke", overrides={"rnn_epochs": 4})
    assert work(longer, 100_000, 0) == 2 * work(cfg, 100_000, 0)


def test_work_of_a_df_run_counts_the_teacher():
    cfg = TrainConfig(model="C8", method="df", profile="smoke", teacher="x")
    s = cfg.settings()
    ps, pt = count_parameters(build_model("C8")), count_parameters(build_model("B"))
    steps = s.iterations * (s.n_student_steps + 1) * s.batch * s.segment_length
    assert work(cfg, 10**6, 1000, teacher_model="B") == 3 * steps * (ps + pt) + 1000 * ps


def test_nodes_from_plan_keep_keys_teachers_and_estimate_work(tmp_path):
    s = Study("smoke", runs=tmp_path / "runs", data_root=tmp_path / "data")
    nodes = nodes_from_plan(s, s.plan(["TOR B h8"]))
    assert [(n.key, n.teacher, n.config.model, n.config.method) for n in nodes] == [
        ("B s0", None, "B", "scratch"), ("TOR B h8 s0", "B s0", "B8", "tor")]
    assert nodes[0].work > nodes[1].work > 0                # B (h64) costs more than B h8
    assert nodes[1].with_teacher_run("B-scratch-x").teacher == "B-scratch-x"


# -- run folders over the wire -----------------------------------------------------------------
def _fake_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in (("config.json", "{}"), ("metrics.json", '{"test_esr": 0.5}'),
                       ("model.pt", "weights"), ("history.json", "{}")):
        (folder / name).write_text(text)
    return folder


def test_a_packed_run_unpacks_into_the_same_files(tmp_path):
    src = _fake_run(tmp_path / "a" / "B8-scratch-smoke-s0-12345678")
    blob = pack_run(src)
    out = unpack_run(blob, tmp_path / "b", src.name)
    assert out == tmp_path / "b" / src.name
    assert {f.name: f.read_bytes() for f in out.iterdir()} == \
        {f.name: f.read_bytes() for f in src.iterdir()}
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.startswith(".incoming")]


def test_unpack_keeps_a_complete_run_and_replaces_a_partial_one(tmp_path):
    src = _fake_run(tmp_path / "a" / "r")
    root = tmp_path / "b"
    _fake_run(root / "r")
    (root / "r" / "metrics.json").write_text('{"test_esr": 0.1}')     # complete already
    unpack_run(pack_run(src), root, "r")
    assert (root / "r" / "metrics.json").read_text() == '{"test_esr": 0.1}'
    (root / "r" / "metrics.json").unlink()                            # now partial
    unpack_run(pack_run(src), root, "r")
    assert (root / "r" / "metrics.json").read_text() == '{"test_esr": 0.5}'


def test_unpack_refuses_paths_and_incomplete_runs_and_leaves_nothing(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"x"
        info = tarfile.TarInfo("../escape.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match="not a plain file"):
        unpack_run(buf.getvalue(), tmp_path / "root", "r")
    src = _fake_run(tmp_path / "src" / "r")
    (src / "model.pt").unlink()
    with pytest.raises(ValueError, match="not complete"):
        unpack_run(pack_run(src), tmp_path / "root", "r")
    assert list((tmp_path / "root").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


# -- the scheduler, with a scripted engine ------------------------------------------------------
class ScriptedEngine:
    """Outcomes by key and attempt: "done", "resumed" (done, as a resumed run), "died",
    "failed". Records what it was asked to start and how many ran at once."""

    def __init__(self, script: dict):
        self.script, self.started, self.running, self.most = script, [], [], 0

    def start(self, job):
        self.started.append((job.key, job.attempt, job.config.teacher, job.threads))
        self.running.append(job)
        self.most = max(self.most, len(self.running))

    def poll(self, timeout):
        job = self.running.pop(0)
        kind = self.script.get(job.key, ["done"])[job.attempt - 1]
        if kind in ("done", "resumed"):
            status = "resumed" if kind == "resumed" else "trained"
            return [Outcome(job.key, "done", {"run_id": f"run-{job.key}", "status": status,
                                              "metrics": {"test_esr": 1.0}, "seconds": 0.1})]
        return [Outcome(job.key, kind, {}, f"{kind} on purpose")]

    def close(self):
        pass


def _run(nodes, engine, tmp_path, probe=lambda cfg: None, **kw):
    logs = []
    kw.setdefault("jobs", 2)
    result = run_nodes(nodes, engine, threads=1, probe=probe, runs=tmp_path,
                       stream=None, log=logs.append, **kw)
    events = [json.loads(line) for line in
              (tmp_path / "_grid" / "events.jsonl").read_text().splitlines()]
    return result, logs, events


def test_students_start_after_their_teacher_with_its_run_id(tmp_path):
    eng = ScriptedEngine({})
    result, _, events = _run([_node("s", "t"), _node("t"), _node("v")], eng, tmp_path)
    assert result.ok and result.counts() == {"trained": 3}
    started = [s[0] for s in eng.started]
    assert started.index("t") < started.index("s")
    assert ("s", 1, "run-t", 1) in eng.started and eng.most <= 2
    assert [e["event"] for e in events].count("start") == 3


def test_a_failed_run_blocks_its_dependants_and_the_rest_finish(tmp_path):
    eng = ScriptedEngine({"t": ["failed"]})
    result, logs, events = _run([_node("t"), _node("s", "t"), _node("u", "s"), _node("v")],
                                eng, tmp_path)
    r = result.nodes
    assert not result.ok
    assert r["t"].status == "failed" and r["t"].message == "failed on purpose"
    assert r["s"].status == r["u"].status == "blocked"
    assert "it needs 't', which failed" in r["s"].message
    assert r["v"].status == "trained"
    assert {s[0] for s in eng.started} == {"t", "v"}
    assert any("s: not trained: it needs 't'" in line for line in logs)
    assert len(result.problems()) == 3
    assert {e["event"] for e in events} >= {"failed", "blocked", "trained"}


def test_a_died_worker_is_started_again_once_then_fails(tmp_path):
    eng = ScriptedEngine({"a": ["died", "resumed"], "b": ["died", "died"]})
    result, logs, events = _run([_node("a"), _node("b"), _node("c", "b")], eng, tmp_path,
                                retries=1)
    r = result.nodes
    assert (r["a"].status, r["a"].attempts) == ("resumed", 2)
    assert (r["b"].status, r["b"].attempts) == ("failed", 2) and r["c"].status == "blocked"
    assert [s[:2] for s in eng.started if s[0] == "a"] == [("a", 1), ("a", 2)]
    assert [e["event"] for e in events if e["key"] == "a"] == ["start", "died", "start",
                                                               "resumed"]
    assert any("starting it again (it resumes from its checkpoint)" in m for m in logs)


def test_complete_runs_are_reused_without_starting_anything(tmp_path):
    eng = ScriptedEngine({})
    done = {"t": SimpleNamespace(id="old-t", metrics={"test_esr": 2.0})}
    probe = lambda cfg: done.get("t") if cfg.method == "scratch" else None    # noqa: E731
    result, _, _ = _run([_node("t"), _node("s", "t")], eng, tmp_path, probe=probe)
    assert result.nodes["t"].status == "reused" and result.nodes["t"].run_id == "old-t"
    assert [s[:3] for s in eng.started] == [("s", 1, "old-t")]


def test_a_config_that_cannot_be_probed_fails_in_the_driver(tmp_path):
    def probe(cfg):
        raise ValueError("no data at /nowhere")
    result, _, _ = _run([_node("t"), _node("s", "t")], ScriptedEngine({}), tmp_path,
                        probe=probe)
    assert result.nodes["t"].message == "ValueError: no data at /nowhere"
    assert result.nodes["s"].status == "blocked"


def test_jobs_bound_the_runs_at_once_and_the_longest_chain_starts_first(tmp_path):
    eng = ScriptedEngine({})
    nodes = [_node("small", work_=1.0), _node("big", work_=5.0), _node("t", work_=1.0),
             _node("s1", "t", work_=3.0), _node("s2", "t", work_=3.0)]
    _run(nodes, eng, tmp_path, jobs=1)
    assert eng.most == 1
    assert [s[0] for s in eng.started][:2] == ["big", "t"]     # 5 > 1 + 3 > 1


def test_progress_prints_a_line_per_change_with_done_running_waiting_eta():
    out = io.StringIO()
    p = Progress(out, every_s=3600)
    p.show(1, {"B s0": 0.0}, 3, 0, 125.0)
    p.show(1, {"B s0": 0.0}, 3, 0, 120.0)          # same state: nothing new
    p.show(2, {}, 3, 1, None)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.match(r"\[grid\] 1 done · 1 running: B s0 \(\S+\) · 3 waiting · 0 failed · "
                    r"ETA 2m05s$", lines[0])
    assert lines[1] == "[grid] 2 done · 0 running · 3 waiting · 1 failed · ETA ?"


# -- the command line ----------------------------------------------------------------------------
def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    code = grid_main(["--profile", "smoke", "--runs", str(tmp_path / "runs"), "--data-root",
                      str(tmp_path / "data"), "--dry-run", "--only", "TOR B h8"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| B s0 | B | scratch |  | 2 |" in out and "| TOR B h8 s0 | B8 | tor | B s0 | 2 |" in out
    assert "then: the seed repetition of the best real-time model" in out
    assert not list((tmp_path / "runs").glob("*/config.json"))


def test_arm_seeds_adds_seeds_of_the_small_arms_to_the_plan(tmp_path, capsys):
    code = grid_main(["--profile", "smoke", "--runs", str(tmp_path / "runs"), "--data-root",
                      str(tmp_path / "data"), "--dry-run", "--only", "TOR B h8", "B",
                      "--arm-seeds", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| TOR B h8 s1 | B8 | tor | B s0 |" in out and "| B s1 |" not in out


def test_reproduce_hands_arm_seeds_to_every_notebook_that_builds_a_study():
    from fxlib.reproduce import NOTEBOOKS, parameters
    assert parameters("03_kd_on_B", "quick", "embedded", "muff", None, "cpu", 5)[
        "arm_seeds"] == 5
    assert "arm_seeds" not in parameters("00_dataset", "quick", "embedded", "muff", None, "cpu")
    for nb in NOTEBOOKS[1:]:
        doc = json.loads((REPO / "notebooks" / f"{nb}.ipynb").read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code")
        assert "\narm_seeds = None " in code and "arm_seeds=arm_seeds)" in code, nb


def test_bad_arguments_exit_2(capsys):
    assert grid_main(["--jobs", "0"]) == 2
    assert "--jobs and --threads must be >= 1" in capsys.readouterr().err
