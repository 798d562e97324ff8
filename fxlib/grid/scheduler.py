"""The scheduler: dependencies first, N at a time, whatever the engine.

``run_nodes(nodes, engine, ...)`` walks the graph: a node is *ready* when its teacher has
finished; a ready node whose run is already complete in the runs root is taken as it is
(``probe``: the run's identity is computed in the driver, nothing is started), any other is
started on the engine, ``jobs`` at once, the longest chain of remaining work first. Then it
waits for outcomes:

* done: the run id is recorded (a student's config names its teacher by it);
* died: started again (``retries`` times), and the new attempt resumes from the checkpoint;
* failed: the node and every node that needs it stop with a message that names the cause; every
  independent node goes on.

Every event is appended to ``<runs root>/_grid/events.jsonl``, one JSON object per line:
start, then trained / resumed / reused, died (and start again), failed or blocked. A one-line
progress display shows runs done / running / waiting / failed and an ETA from the estimated
work (``fxlib.grid.graph``). An interrupted grid (Ctrl-C, a closed laptop) stops its workers;
run it again and finished runs are reused, partial ones resume.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TextIO

from .graph import Node, Rates, check_graph, dependants
from .local import GRID_DIR, Job, Outcome


@dataclass
class NodeResult:
    key: str
    status: str                    # trained | resumed | reused | failed | blocked
    run_id: Optional[str] = None
    seconds: float = 0.0           # start to finish, as the driver saw it
    train_seconds: float = 0.0     # of which the worker's train() (data loading included)
    attempts: int = 0
    message: str = ""
    metrics: dict = field(default_factory=dict)


@dataclass
class GridResult:
    nodes: dict                    # key -> NodeResult, in the order they ended
    seconds: float = 0.0           # wall time of the whole grid
    overhead_s: float = 0.0        # of which the driver's own work (probing, scheduling)

    @property
    def ok(self) -> bool:
        return all(r.status not in ("failed", "blocked") for r in self.nodes.values())

    def run_ids(self) -> dict[str, str]:
        return {k: r.run_id for k, r in self.nodes.items() if r.run_id}

    def problems(self) -> list[str]:
        return [f"{k}: {r.status}: {r.message}" for k, r in self.nodes.items()
                if r.status in ("failed", "blocked")]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.nodes.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out


def _fmt_s(s: Optional[float]) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


class Progress:
    """The one-line display: done / running / waiting / failed, ETA (module notes)."""

    def __init__(self, stream: Optional[TextIO], every_s: float = 30.0):
        self.stream, self.every_s = stream, every_s
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last, self._state = 0.0, None

    def show(self, done: int, running: dict, waiting: int, failed: int, eta: Optional[float],
             force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        state = (done, tuple(running), waiting, failed)
        if not (force or state != self._state or now - self._last >= self.every_s):
            return
        names = ", ".join(f"{k} ({_fmt_s(now - t0)})" for k, t0 in running.items())
        line = (f"[grid] {done} done · {len(running)} running{': ' + names if names else ''}"
                f" · {waiting} waiting · {failed} failed · ETA {_fmt_s(eta)}")
        self._last, self._state = now, state
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.stream is not None:
            self.stream.write("\n")


def run_nodes(nodes: list[Node], engine, *, jobs: int, threads: int,
              probe: Callable[[object], Optional[object]], runs: str | Path,
              known: Optional[dict[str, str]] = None, retries: int = 1, gpus_per_run: float = 0,
              stream: Optional[TextIO] = sys.stdout, log: Callable[[str], None] = print,
              on_start: Optional[Callable[[Job], None]] = None,
              rates: Optional[Rates] = None) -> GridResult:
    """Run ``nodes`` on ``engine`` (module notes). ``probe(config)``: the complete ``Run`` of a
    config in the runs root, or None. ``known``: run ids of finished nodes outside ``nodes``
    (teachers of an earlier stage). ``on_start(job)``: called after each start (tests).
    ``rates``: the measured seconds per unit of work, shared between stages (for the ETA).
    The caller closes the engine (``engine.close()`` stops what still runs)."""
    t_start = time.perf_counter()
    order = check_graph(nodes, done=known or {})
    by_key = {n.key: n for n in order}
    run_ids = dict(known or {})
    results: dict[str, NodeResult] = {}
    # Longest chain of work first (a teacher before runs that do not teach): the critical path
    # decides the grid's wall time, and the big runs must not be left for last.
    chain: dict[str, float] = {}
    for n in reversed(order):
        below = [chain[m.key] for m in order if n.key in m.deps]
        chain[n.key] = n.work + max(below, default=0.0)
    waiting = sorted((n.key for n in order), key=lambda k: -chain[k])
    running: dict[str, float] = {}            # key -> start time (monotonic)
    attempts: dict[str, int] = {}
    rates = rates if rates is not None else Rates()
    events = Path(runs) / GRID_DIR / "events.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    progress = Progress(stream)
    busy = 0.0                                # seconds the driver spent waiting on the engine

    def event(kind: str, key: str, **extra) -> None:
        with open(events, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "event": kind,
                                "key": key, **extra}) + "\n")

    def finish(key: str, res: NodeResult) -> None:
        results[key] = res
        event(res.status, key, run=res.run_id, seconds=round(res.seconds, 2),
              train_seconds=round(res.train_seconds, 2), attempts=res.attempts,
              message=res.message[:2000])

    def block(key: str, cause: str) -> None:
        for dep in dependants(order, key):
            if dep in waiting:
                waiting.remove(dep)
                finish(dep, NodeResult(dep, "blocked", message=f"not trained: it needs "
                                       f"{key!r}, which {cause}"))
                log(f"[grid] {dep}: not trained: it needs {key!r}, which {cause}")

    def eta() -> Optional[float]:
        todo = [by_key[k] for k in waiting] + [by_key[k] for k in running]
        est = [rates.seconds(n) for n in todo]
        if not todo:
            return 0.0
        if any(e is None for e in est):
            return None
        left = sum(est) - sum(min(time.monotonic() - t0, rates.seconds(by_key[k]) or 0)
                              for k, t0 in running.items())
        return max(0.0, left) / max(1, jobs)

    def show(force: bool = False) -> None:
        failed = sum(r.status in ("failed", "blocked") for r in results.values())
        progress.show(len(results) - failed, running, len(waiting), failed, eta(), force)

    try:
        while waiting or running:
            for key in [k for k in waiting if all(d in run_ids for d in by_key[k].deps)]:
                if len(running) >= jobs:
                    break
                node = by_key[key]
                config = node.with_teacher_run(run_ids[node.teacher]) if node.teacher \
                    else node.config
                try:
                    run = probe(config)
                except Exception as err:       # the config cannot even be named: bad data...
                    waiting.remove(key)
                    finish(key, NodeResult(key, "failed", message=f"{type(err).__name__}: "
                                           f"{err}"))
                    log(f"[grid] {key}: failed: {err}")
                    block(key, "failed")
                    continue
                waiting.remove(key)
                if run is not None:
                    run_ids[key] = run.id
                    finish(key, NodeResult(key, "reused", run.id, metrics=run.metrics))
                    continue
                attempts[key] = attempts.get(key, 0) + 1
                job = Job(key, config, threads, attempts[key], gpus_per_run)
                engine.start(job)
                running[key] = time.monotonic()
                event("start", key, attempt=attempts[key], threads=threads)
                if on_start is not None:
                    on_start(job)
            show()
            t0 = time.perf_counter()
            outcomes: list[Outcome] = engine.poll(timeout=1.0) if running else []
            busy += time.perf_counter() - t0
            for out in outcomes:
                started = running.pop(out.key)
                node, seconds = by_key[out.key], time.monotonic() - started
                if out.kind == "done":
                    run_ids[out.key] = out.result["run_id"]
                    rates.add(node, seconds)
                    finish(out.key, NodeResult(out.key, out.result["status"],
                                               out.result["run_id"], seconds,
                                               out.result.get("seconds", 0.0),
                                               attempts[out.key],
                                               metrics=out.result.get("metrics", {})))
                elif out.kind == "died" and attempts[out.key] <= retries:
                    event("died", out.key, attempt=attempts[out.key], message=out.message)
                    log(f"[grid] {out.key}: {out.message.splitlines()[0]}; starting it again "
                        "(it resumes from its checkpoint)")
                    waiting.insert(0, out.key)         # first in line again
                else:
                    why = out.message or out.kind
                    finish(out.key, NodeResult(out.key, "failed", seconds=seconds,
                                               attempts=attempts[out.key], message=why))
                    log(f"[grid] {out.key}: failed: {why}")
                    block(out.key, "failed")
            show()
    finally:
        progress.end()
    wall = time.perf_counter() - t_start
    return GridResult(results, wall, max(0.0, wall - busy))


__all__ = ["run_nodes", "NodeResult", "GridResult", "Progress"]
