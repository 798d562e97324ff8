"""What a grid worker does: train one node, and move finished run folders between machines.

A *spec* is plain JSON: the ``TrainConfig`` (teacher given as a run id), the runs root to train
in, the thread count and the compute device. ``train_spec`` trains it with ``fxlib.train.train``
-- which reuses a complete run and resumes a partial one from its checkpoint -- and returns a
plain result: run id, status (trained / resumed / reused), test metrics, seconds.

The local engine's worker processes run ``serve``: job after job read from stdin, each result
written atomically to a file (``ok`` false: the training raised, and the result says why); a
process that exits with a job unfinished has died. The Ray engine calls ``train_spec`` inside a
Ray task on a node-local runs root and ships the run folder back with ``pack_run`` /
``unpack_run`` (a tar archive of the folder's plain files), so workers and driver share no file
system.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional

from .._atomic import write_json
from ..train import TrainConfig, is_complete, load_training_data, train


def make_spec(config: TrainConfig, runs: str | os.PathLike, threads: int,
              compute: str = "auto") -> dict:
    return {"config": dataclasses.asdict(config), "runs": str(runs), "threads": int(threads),
            "compute": compute}


def data_for(config: TrainConfig, data):
    """``data`` (a ``TrainingData``) when it is the data ``config`` trains on, else None (the
    training then loads its own)."""
    if data is None or not data.matches(config.source, config.effect,
                                        config.settings().data_scale, config.data_seed):
        return None
    return data


def train_spec(spec: dict, data=None) -> dict:
    """Train (or reuse, or resume) the spec's run; ``data``: a ``TrainingData`` to use when it
    is the config's."""
    t0 = time.perf_counter()
    config = TrainConfig(**spec["config"])
    run = train(config, runs=spec["runs"], threads=spec["threads"], compute=spec["compute"],
                progress=False, data=data_for(config, data))
    return {"ok": True, "run_id": run.id, "status": run.status, "metrics": run.metrics,
            "seconds": time.perf_counter() - t0, "pid": os.getpid()}


def error_result(err: BaseException) -> dict:
    return {"ok": False, "error": f"{type(err).__name__}: {err}",
            "traceback": traceback.format_exc(), "pid": os.getpid()}


# -- run folders over the wire (Ray: no shared file system) -----------------------------------
def pack_run(path: str | os.PathLike) -> bytes:
    """The plain files of a run folder as an uncompressed tar archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in sorted(Path(path).iterdir()):
            if f.is_file():
                tar.add(f, arcname=f.name, recursive=False)
    return buf.getvalue()


def unpack_run(blob: bytes, root: str | os.PathLike, run_id: str) -> Path:
    """Write a packed run into ``root/run_id`` atomically: extracted beside it, then renamed.

    A complete run already there is kept (the same identity gives the same run); an
    incomplete one is replaced. Only plain files with plain names are accepted.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / run_id
    if is_complete(final):
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".incoming-{run_id}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
            for member in tar.getmembers():
                if not member.isfile() or Path(member.name).name != member.name \
                        or member.name in ("", ".", ".."):
                    raise ValueError(f"a packed run holds {member.name!r}, not a plain file")
                src = tar.extractfile(member)
                (tmp / member.name).write_bytes(src.read())
        if not is_complete(tmp):
            raise ValueError(f"the packed run {run_id} is not complete (no metrics.json / "
                             "model.pt)")
        if final.exists():
            shutil.rmtree(final)              # a partial folder of an earlier attempt
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def serve(lines=None) -> int:
    """The local engine's worker process: each line of stdin is a JSON list
    ``[SPEC.json, RESULT.json, LOG]``; train it with this process's output going to LOG, write
    the result atomically (its appearance tells the engine the job is over), take the next.
    The dataset of the last job is kept, so a worker loads each dataset once."""
    cache: dict = {}
    for line in (sys.stdin if lines is None else lines):
        if not line.strip():
            continue
        spec_file, result_file, log_file = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        with open(log_file, "a", encoding="utf-8") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        try:
            spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
            result = train_spec(spec, _cached_data(spec, cache))
        except Exception as err:      # reported to the grid, which stops the dependants
            print(f"error: {err}", file=sys.stderr)
            result = error_result(err)
        sys.stdout.flush()
        sys.stderr.flush()
        write_json(result_file, result)
    return 0


def _cached_data(spec: dict, cache: dict):
    """The spec's ``TrainingData``, loaded once per worker (the last one kept)."""
    cfg = TrainConfig(**spec["config"])
    key = (cfg.source, cfg.effect, cfg.data_root, cfg.settings().data_scale, cfg.data_seed)
    if key not in cache:
        cache.clear()
        cache[key] = load_training_data(cfg.source, cfg.effect, cfg.data_root, scale=key[3],
                                        data_seed=cfg.data_seed)
    return cache[key]


__all__ = ["make_spec", "train_spec", "data_for", "error_result", "pack_run", "unpack_run",
           "serve"]
