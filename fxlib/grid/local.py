"""Engines that run a grid's trainings: the interface, and the local process pool.

An engine starts a training (``start(job)``) and reports finished ones (``poll(timeout)`` ->
``Outcome`` list). It never decides what runs next: the scheduler (``fxlib.grid.scheduler``)
does, the same way for every engine. Outcomes are of three kinds:

* ``done``: the run is complete in the driver's runs root; ``result`` as
  ``fxlib.grid.worker.train_spec`` returns it;
* ``failed``: the training raised (bad data, a NaN, a config error): retrying would fail the
  same way, so its dependants are stopped;
* ``died``: the worker vanished (killed, out of memory, a lost node): its checkpoint is kept,
  and the scheduler starts it again, which resumes where the checkpoint left it.

``LocalEngine`` keeps up to N worker processes on this machine (``fxlib.grid.worker.serve``),
each training one job after another with its own thread budget (``OMP_NUM_THREADS`` and
``torch.set_num_threads``) and, on a machine with GPUs, the least loaded GPU
(``CUDA_VISIBLE_DEVICES``; more jobs than GPUs share them). Processes, not threads: a worker
that dies takes only its own run with it (the next job gets a fresh process), and importing
torch once per worker rather than once per run saves seconds per run. A job is finished when its result file appears (written
atomically); the output of each training goes to ``<runs root>/_grid/logs/<run key>.log``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .._atomic import write_json
from .worker import make_spec

#: Under the runs root: the grid's event log, worker logs and specs.
GRID_DIR = "_grid"

_WORKER = "import sys; from fxlib.grid.worker import serve; sys.exit(serve())"


@dataclass
class Job:
    """One attempt at one node: its key, the config to train, threads, attempt number."""
    key: str
    config: object                   # TrainConfig, its teacher given as a run id
    threads: int
    attempt: int = 1
    gpus: float = 0.0


@dataclass
class Outcome:
    key: str
    kind: str                        # "done" | "failed" | "died"
    result: dict = field(default_factory=dict)
    message: str = ""


def safe_name(key: str) -> str:
    """A run key as a file name (``"TOR B→A s0"`` -> ``"TOR_B-A_s0"``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key.replace("→", "-")).strip("_")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _Worker:
    """One worker process: it trains the jobs it is sent, one after another."""

    def __init__(self, proc: subprocess.Popen, gpu: Optional[int]):
        self.proc, self.gpu = proc, gpu
        self.key: Optional[str] = None
        self.result_file: Optional[Path] = None
        self.log_file: Optional[Path] = None


class LocalEngine:
    """Trainings in worker processes on this machine (module notes)."""
    name = "local"

    def __init__(self, runs: str | os.PathLike, jobs: int, compute: str = "auto",
                 gpus: int = 0):
        self.runs, self.jobs, self.compute = Path(runs), int(jobs), compute
        self.dir = self.runs / GRID_DIR
        self.gpus = int(gpus)
        self._workers: list[_Worker] = []

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU(s) shared evenly" if self.gpus else ""
        return f"local worker processes, {self.jobs} at a time{gpus}"

    def _spawn(self, threads: int, want_gpu: bool) -> _Worker:
        gpu = None
        if self.gpus and want_gpu:        # the GPU with the fewest live workers (a dead one's)
            load = [sum(w.gpu == g and w.proc.poll() is None for w in self._workers)
                    for g in range(self.gpus)]
            gpu = load.index(min(load))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "PYTHONUNBUFFERED": "1"}
        if gpu is not None:             # more jobs than GPUs share them
            env["CUDA_VISIBLE_DEVICES"] = str(gpu)
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "workers.log", "a", encoding="utf-8") as out:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                    stdout=out, stderr=subprocess.STDOUT, env=env, text=True,
                                    start_new_session=True)
        worker = _Worker(proc, gpu)
        self._workers.append(worker)
        return worker

    def start(self, job: Job) -> None:
        idle = [w for w in self._workers if w.key is None and w.proc.poll() is None]
        worker = idle[0] if idle else self._spawn(job.threads, bool(job.gpus))
        name = safe_name(job.key)
        spec_file = self.dir / "specs" / f"{name}.json"
        worker.result_file = self.dir / "results" / f"{name}.json"
        worker.log_file = self.dir / "logs" / f"{name}.log"
        for f in (spec_file, worker.result_file, worker.log_file):
            f.parent.mkdir(parents=True, exist_ok=True)
        worker.result_file.unlink(missing_ok=True)
        compute = "cuda" if worker.gpu is not None else self.compute
        write_json(spec_file, make_spec(job.config, self.runs, job.threads, compute))
        with open(worker.log_file, "a", encoding="utf-8") as log:
            log.write(f"--- attempt {job.attempt} at {time.strftime('%Y-%m-%d %H:%M:%S')} in "
                      f"process {worker.proc.pid}\n")
        worker.key = job.key
        try:
            worker.proc.stdin.write(json.dumps([str(spec_file), str(worker.result_file),
                                                str(worker.log_file)]) + "\n")
            worker.proc.stdin.flush()
        except OSError:                 # it died while idle: poll() reports the job as died
            pass

    def pids(self) -> dict[str, int]:
        """The worker process of every running training (what a test kills)."""
        return {w.key: w.proc.pid for w in self._workers if w.key is not None}

    def poll(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            out = []
            for w in [w for w in self._workers if w.key is not None]:
                if w.result_file.is_file():          # written atomically: complete
                    out.append(self._result(w))
                elif w.proc.poll() is not None:
                    out.append(self._died(w))
            if out or not any(w.key for w in self._workers) or time.monotonic() >= deadline:
                return out
            time.sleep(0.05)

    def _result(self, w: _Worker) -> Outcome:
        key, w.key = w.key, None
        result = json.loads(w.result_file.read_text(encoding="utf-8"))
        if result.get("ok"):
            return Outcome(key, "done", result)
        return Outcome(key, "failed", result, result.get("error", "failed"))

    def _died(self, w: _Worker) -> Outcome:
        self._workers.remove(w)
        code = w.proc.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return Outcome(w.key, "died", {}, f"the worker process {w.proc.pid} died ({how}); "
                                          f"its log ends:\n{tail(w.log_file)}")

    def close(self) -> None:
        """Stop every worker (an interrupted grid stops its trainings: their checkpoints
        stay, and the next grid resumes them)."""
        for w in self._workers:
            try:
                w.proc.stdin.close()              # an idle worker ends its loop
            except OSError:
                pass
            if w.key is not None and w.proc.poll() is None:
                w.proc.terminate()
        for w in self._workers:
            try:
                w.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        self._workers.clear()


__all__ = ["LocalEngine", "Job", "Outcome", "GRID_DIR", "safe_name"]
