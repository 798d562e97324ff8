"""The Ray engine: the grid's trainings as Ray tasks, on one machine or a cluster.

    python -m fxlib.grid --engine ray                          # a local Ray instance
    python -m fxlib.grid --engine ray --address auto           # the cluster this node is in
    python -m fxlib.grid --engine ray --address ray://head:10001

Each training is one task that declares what it uses: ``num_cpus`` = its thread budget and
``num_gpus`` = 1 when it trains on a GPU, so Ray packs as many on a node as fit. Workers share
no file system with the driver: a task receives the dataset (``ray.put`` once, the standardiser
already computed) and, for a student, its teacher's run folder packed as bytes; it trains in a
runs root of its own node (``<tmp>/fxlib-ray/<grid id>/``) and returns the finished run folder
packed, which the driver writes into its runs root atomically (``fxlib.grid.worker``).

A task whose worker dies is reported as ``died`` and started again by the scheduler; when Ray
places it on the same node it resumes from the checkpoint kept in that node's runs root, on
another node it starts over (its checkpoint never left the dead node). A training that raises is
``failed``. Ray is an optional dependency: ``pip install "fxlib[cluster]"``. Every node of a
cluster needs fxlib (the same version) and torch installed; nothing else.
"""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from pathlib import Path
from typing import Optional

from .local import Job, Outcome
from .worker import error_result, make_spec, pack_run, train_spec, unpack_run

SCRATCH = "fxlib-ray"


def _ray():
    try:
        import ray          # optional: pip install "fxlib[cluster]"
    except ImportError:
        raise RuntimeError('the Ray engine needs Ray: pip install "fxlib[cluster]" (or use '
                           "--engine local)") from None
    return ray


def grid_id(runs: str | os.PathLike) -> str:
    """Names a grid's node-local runs roots: the driver's host and runs root."""
    return hashlib.sha256(f"{socket.gethostname()}|{Path(runs).resolve()}".encode()
                          ).hexdigest()[:12]


def train_task(spec: dict, teacher: Optional[tuple[str, bytes]], data) -> dict:
    """A Ray task: train ``spec`` in this node's runs root; return the run folder packed."""
    root = Path(tempfile.gettempdir()) / SCRATCH / spec.pop("grid_id")
    spec["runs"] = str(root)
    try:
        if teacher is not None:
            unpack_run(teacher[1], root, teacher[0])
        result = train_spec(spec, data)
        result["blob"] = pack_run(root / result["run_id"])
        return result
    except Exception as err:          # reported as "failed": retrying would fail the same way
        return error_result(err)


class RayEngine:
    """Trainings as Ray tasks (module notes)."""
    name = "ray"

    def __init__(self, runs: str | os.PathLike, data, compute: str = "auto",
                 address: Optional[str] = None, num_cpus: Optional[int] = None):
        ray = self.ray = _ray()
        self.runs, self.compute = Path(runs), compute
        self.owns = not ray.is_initialized()
        if self.owns:
            kw = {} if address else {"num_cpus": num_cpus}
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **kw)
        self.data = ray.put(data)
        self.id = grid_id(runs)
        self.task = ray.remote(train_task)
        self.refs: dict = {}

    @property
    def gpus(self) -> int:
        return int(self.ray.cluster_resources().get("GPU", 0))

    @property
    def cpus(self) -> int:
        return int(self.ray.cluster_resources().get("CPU", 1))

    def describe(self) -> str:
        r = self.ray.cluster_resources()
        return (f"Ray, {len(self.ray.nodes())} node(s), {int(r.get('CPU', 0))} CPUs, "
                f"{int(r.get('GPU', 0))} GPUs")

    def start(self, job: Job) -> None:
        cfg = job.config
        teacher = None
        if cfg.method != "scratch" and cfg.teacher:
            teacher = (cfg.teacher, pack_run(self.runs / cfg.teacher))
        compute = "cuda" if job.gpus else ("cpu" if self.compute == "auto" else self.compute)
        spec = {**make_spec(cfg, "", job.threads, compute), "grid_id": self.id}
        ref = self.task.options(num_cpus=job.threads, num_gpus=job.gpus, max_retries=0,
                                name=f"fxlib {job.key}").remote(spec, teacher, self.data)
        self.refs[ref] = job.key

    def poll(self, timeout: float) -> list[Outcome]:
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:
            more, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
            ready = list(dict.fromkeys(ready + more))
        return [self._collect(ref) for ref in ready]

    def _collect(self, ref) -> Outcome:
        key = self.refs.pop(ref)
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as err:     # the worker or its node died
            return Outcome(key, "died", {}, f"the Ray task died: {type(err).__name__}: {err}")
        if not result.get("ok"):
            return Outcome(key, "failed", result, result.get("error", "failed"))
        unpack_run(result.pop("blob"), self.runs, result["run_id"])
        return Outcome(key, "done", result)

    def close(self) -> None:
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.refs.clear()
        if self.owns:
            self.ray.shutdown()


__all__ = ["RayEngine", "train_task", "grid_id"]
