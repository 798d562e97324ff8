"""The grid's graph: one node per training, its dependencies, and what it will cost.

A ``Node`` is a ``TrainConfig`` with a key (``"TOR B h16 s0"``) and the key of the node whose
run is its teacher; the teacher's run id is filled in when that node has finished (a run is
named by its teacher's id, so it cannot be named before). ``nodes_from_plan`` turns the study's
plan (``fxlib.study.Study.plan``) into nodes; any other list of nodes (a test's, a sweep's)
runs the same way.

``work`` estimates what a training costs from its typed settings alone: the samples it pushes
through the model (forward and backward count 3, a validation forward 1) times the model's
parameter count (a stand-in for its multiply-adds per sample). It ranks runs and, once a few
runs of a family have finished, becomes seconds through that family's measured rate
(``Rates``); the grid's ETA is built on it. It is an estimate for scheduling and display, never
a result.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Iterable, Optional

from ..models import build_model, count_parameters
from ..profiles import CAFxSettings, DataFreeSettings, RNNSettings
from ..study import PlannedRun, Study
from ..train import TrainConfig


class GraphError(ValueError):
    """A graph that cannot run: unknown or circular dependencies, duplicate keys."""


@dataclass(frozen=True)
class Node:
    key: str
    config: TrainConfig
    teacher: Optional[str] = None       # key of the node whose run teaches this one
    label: str = ""
    seed: int = 0
    work: float = 0.0                   # estimated cost (module notes), arbitrary units

    @property
    def deps(self) -> tuple[str, ...]:
        return (self.teacher,) if self.teacher else ()

    def with_teacher_run(self, run_id: str) -> TrainConfig:
        """The config to train once the teacher's run ``run_id`` exists."""
        return dataclasses.replace(self.config, teacher=run_id) if self.teacher else self.config


@functools.lru_cache(maxsize=None)
def _params(model: str) -> int:
    return count_parameters(build_model(model))


def work(config: TrainConfig, n_train: int, n_val: int, teacher_model: Optional[str] = None
         ) -> float:
    """Estimated cost of training ``config`` on ``n_train`` / ``n_val`` samples (module notes)."""
    s, params = config.settings(), _params(config.model)
    if isinstance(s, DataFreeSettings):
        teacher = _params(teacher_model) if teacher_model else params
        steps = s.iterations * (s.n_student_steps + 1) * s.batch * s.segment_length
        val = min(n_val, s.val_max_samples or n_val)
        return 3.0 * steps * (params + teacher) + val * params
    if isinstance(s, RNNSettings):
        length = s.segment_length
        items = n_train // length
    elif isinstance(s, CAFxSettings):
        length = s.frame_length
        items = max(0, (n_train - s.frame_length) // s.hop + 1)
    else:
        raise TypeError(f"no cost model for settings {type(s).__name__}")
    if s.max_train_batches is not None:
        items = min(items, s.max_train_batches * s.batch)
    val = min(n_val, s.val_max_samples or n_val) * (s.epochs // s.val_every + 2)
    return 3.0 * s.epochs * items * length * params + val * params


def nodes_from_plan(study: Study, plan: Iterable[PlannedRun]) -> list[Node]:
    """The study's planned runs as nodes (teachers by key; their run ids come later)."""
    n_train = len(study.dataset.splits["train"][0])
    n_val = len(study.dataset.splits["val"][0])
    plan = list(plan)
    by_key = {p.key: p for p in plan}
    nodes = []
    for p in plan:
        cfg = study.config(p.label, p.seed)
        teacher_model = (study.config(by_key[p.teacher].label).model
                         if p.teacher in by_key else None)
        nodes.append(Node(p.key, cfg, p.teacher, p.label, p.seed,
                          work(cfg, n_train, n_val, teacher_model)))
    return nodes


def check_graph(nodes: list[Node], done: Iterable[str] = ()) -> list[Node]:
    """``nodes`` in an order where every teacher comes first; refuses duplicates, unknown
    teachers (unless among ``done``, the keys already finished) and cycles."""
    by_key: dict[str, Node] = {}
    for n in nodes:
        if n.key in by_key:
            raise GraphError(f"two nodes have the key {n.key!r}")
        by_key[n.key] = n
    done = set(done)
    for n in nodes:
        for d in n.deps:
            if d not in by_key and d not in done:
                raise GraphError(f"{n.key!r} needs {d!r}, which is not in the grid")
    order, state = [], {}

    def visit(key: str, path: tuple[str, ...]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            raise GraphError(f"circular dependency: {' -> '.join(path + (key,))}")
        state[key] = "visiting"
        for d in by_key[key].deps:
            if d in by_key:
                visit(d, path + (key,))
        state[key] = "done"
        order.append(by_key[key])

    for n in nodes:
        visit(n.key, ())
    return order


def dependants(nodes: Iterable[Node], key: str) -> list[str]:
    """Every node that needs ``key``, directly or through another node."""
    nodes = list(nodes)
    out, frontier = [], {key}
    while frontier:
        nxt = {n.key for n in nodes if set(n.deps) & frontier and n.key not in out}
        out.extend(sorted(nxt))
        frontier = nxt
    return out


class Rates:
    """Seconds per unit of ``work``, per model family, learned from finished trainings."""

    def __init__(self):
        self._sum: dict[str, list[float]] = {}

    def add(self, node: Node, seconds: float) -> None:
        if node.work > 0 and seconds > 0:
            s = self._sum.setdefault(node.config.family.name, [0.0, 0.0])
            s[0] += seconds
            s[1] += node.work

    def seconds(self, node: Node) -> Optional[float]:
        """Estimated seconds of ``node``: its family's rate, else the mean rate, else None."""
        s = self._sum.get(node.config.family.name)
        if s is None and self._sum:
            s = [sum(v[0] for v in self._sum.values()), sum(v[1] for v in self._sum.values())]
        return None if s is None else node.work * s[0] / s[1]


__all__ = ["Node", "GraphError", "work", "nodes_from_plan", "check_graph", "dependants",
           "Rates"]
