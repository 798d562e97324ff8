"""Run folders: one trained model = one folder, named by what produced it.

Layout, ``<runs root>/<model>-<method>[-std]-<profile>-s<seed>-<hash8>/``::

    config.json     what was asked: model, family, method, std flag, profile, seed, the typed
                    settings (``hyper_parameters``), data (source, effect, scale, data hash),
                    teacher (run id or JSON file hash), KD options, the standardiser; ``hash``
                    = the 8 hex digits in the folder name
    checkpoint.pt   the training loop's state, rewritten atomically (``fxlib.train.loop``)
    model.pt        the weights the run keeps (state dict), written at the end
    history.json    losses per epoch / validation (DF: student and generator losses)
    metrics.json    ESR, MAE and E_B on the whole test file with the kept weights, the
                    validation loss, TOR facts, the SHA-256 of model.pt's weights
                    (``weights_sha256``: a damaged model.pt is refused, never reused);
                    written last: its presence marks completion

While a run trains, ``run_lock`` holds a file lock on it (a second identical command waits, then
reuses the run) and ``remove_stale_parts`` clears what a killed writer left.

``hash8`` is the SHA-256 of the canonical JSON of the run's identity (``run_identity``):
everything that changes the result (model, method, std flag, settings, seed, data kind /
effect / scale / seed and the data hash, teacher id, KD options). The data folder's path, the
compute device and the thread count are recorded but not hashed, so a moved dataset or another
machine finds the same run. The identity's keys ``std`` and ``data.device`` are those of run
format 1 (they mean "standardised" and "the effect"), kept so that existing folders keep their
names.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..data import Standardizer
from ..models import build_model, family_of
from ..paths import runs_root
from ..profiles import DataFreeSettings, Profile, get_profile

RUN_FORMAT = 1


class RunError(RuntimeError):
    """A run folder that cannot be used (config mismatch, unfinished, unreadable...)."""


class MissingRun(RunError):
    """No finished run of this config (``train(..., reuse_only=True)``): train it first."""


def resolve_compute(compute: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device``."""
    if compute in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(compute)


@dataclass
class Run:
    """A run folder and what it holds. ``status``: "trained", "resumed", "reused", "partial"."""
    path: Path
    config: dict
    history: dict
    metrics: dict
    status: str = "reused"

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def family(self):
        return family_of(self.config["model"])

    def settings(self):
        """The typed settings the run was trained with (from ``config.json``)."""
        cls = (DataFreeSettings if self.config["method"] == "df"
               else self.family.settings_type)
        return cls.from_dict(self.config["hyper_parameters"])

    def profile(self) -> Profile:
        """The run's profile with its overrides (for values outside its settings)."""
        return get_profile(self.config["profile"]).with_overrides(
            **self.config.get("overrides", {}))

    def load_model(self, map_location="cpu") -> torch.nn.Module:
        """The model the run keeps (best by validation; DF: final), in eval mode."""
        model = build_model(self.config["model"])
        state = torch.load(self.path / "model.pt", map_location=map_location, weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def standardizer(self) -> Optional[Standardizer]:
        """The input ``Standardizer`` of a std run (apply it to inputs first), else None."""
        d = self.config.get("standardizer")
        return Standardizer.from_dict(d) if d else None

    def summary(self) -> dict:
        return {"run": str(self.path), "id": self.id, "status": self.status, **self.metrics}

    def predict(self, x, compute: str = "cpu") -> np.ndarray:
        """The kept model's whole-signal output for raw input ``x`` (its standardiser applied)."""
        dev = resolve_compute(compute)
        x = torch.as_tensor(np.asarray(x, np.float32), device=dev)
        stdz = self.standardizer()
        if stdz is not None:
            x = stdz.apply(x)
        out = self.family.predict(self.load_model(dev), x, self.profile().val_chunk)
        return out.cpu().numpy()


@contextlib.contextmanager
def run_lock(path: Path):
    """Hold an exclusive lock on run folder ``path``: a second process training the same run
    waits here, then finds it finished (or resumes it). The lock file lives in the temporary
    folder, named by a hash of the run folder's absolute path, so neither the runs root gets
    litter nor can deleting the run folder drop the lock. POSIX ``flock`` (processes of one
    machine); elsewhere no lock."""
    try:
        import fcntl
    except ImportError:                    # Windows: no flock; runs are still atomic
        yield
        return
    lock_dir = Path(tempfile.gettempdir()) / "fxlib-locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:16]
    with open(lock_dir / f"{Path(path).name}-{key}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{Path(path).name}: another process is training this run; waiting for it",
                  file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_parts(path: Path) -> list[Path]:
    """Delete the temporary ``.*.part`` files a killed writer left in run folder ``path``
    (call with the run's lock held: then no writer is alive); returns them."""
    stale = sorted(Path(path).glob(".*.part")) if Path(path).is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_identity(config, settings, teacher_id: Optional[str], kd: dict,
                 data_desc: dict) -> dict:
    """Everything that changes a run's result (module notes); its hash names the folder."""
    return {"format": RUN_FORMAT, "model": config.model, "family": config.family.name,
            "method": config.method, "std": bool(config.standardize),
            "profile": config.profile, "seed": int(config.seed),
            "hyper_parameters": settings.to_dict(), "teacher": teacher_id, "kd": kd,
            "data": {k: v for k, v in data_desc.items() if k != "source"}}


def identity_hash(identity: dict) -> str:
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:8]


def run_name(config, hash8: str) -> str:
    std = "-std" if config.standardize else ""
    return f"{config.model}-{config.method}{std}-{config.profile}-s{config.seed}-{hash8}"


def is_complete(path: str | os.PathLike) -> bool:
    return (Path(path) / "metrics.json").is_file() and (Path(path) / "model.pt").is_file()


def damaged(path: Path, what: str) -> RunError:
    """The error for a damaged file of a run folder: which file, what is wrong, the fix."""
    return RunError(f"{path} is damaged ({what}), so its run {path.parent.name} cannot be "
                    f"trusted: retrain it (fxlib.train --force, or train(..., force=True)) or "
                    f"delete {path.parent}")


def read_json(path: Path) -> dict:
    """A JSON file of a run folder; a damaged or missing one is a ``RunError`` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} is missing: the run folder {path.parent} is incomplete; "
                       "retrain it (--force) or delete it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise damaged(path, f"not valid JSON: {err}") from None


def weights_sha256(state: dict) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and values: equal weights, equal hash
    (unlike the bytes of ``torch.save``'s file, which differ between equal saves)."""
    h = hashlib.sha256()
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def check_model_file(path: Path, metrics: dict) -> None:
    """``model.pt`` loads and holds the weights ``metrics.json`` recorded (``weights_sha256``;
    runs from before that record are only checked to load)."""
    model_file = Path(path) / "model.pt"
    try:
        state = torch.load(model_file, map_location="cpu", weights_only=True)
    except Exception as err:              # any unreadable file: truncated, not a state dict...
        raise damaged(model_file, f"unreadable: {type(err).__name__}: {err}") from None
    want = metrics.get("weights_sha256")
    if want is not None and weights_sha256(state) != want:
        raise damaged(model_file, "its weights' SHA-256 differs from the one metrics.json "
                                  "recorded")


def load_run(path: str | os.PathLike) -> Run:
    """Open a complete run folder; its files are checked (``read_json``, ``check_model_file``),
    so a damaged run is never reused."""
    path = Path(path)
    if not is_complete(path):
        raise RunError(f"{path} is not a complete run (no metrics.json / model.pt)")
    metrics = read_json(path / "metrics.json")
    check_model_file(path, metrics)
    return Run(path, read_json(path / "config.json"), read_json(path / "history.json"),
               metrics, "reused")


def find_runs(runs: str | os.PathLike | None = None, **where) -> list[Run]:
    """The complete runs under the runs root whose config matches every ``key=value`` given.

    Keys: the config's own (``model``, ``method``, ``profile``, ``seed``, ``std``) and the
    data's: ``source`` ("embedded", "wright2019" or a folder), ``effect``. Sorted by run id.
    """
    data_keys = {"source": "source", "effect": "device"}
    found = []
    root = runs_root(runs)
    for path in sorted(root.glob("*/config.json")) if root.is_dir() else []:
        if not is_complete(path.parent):
            continue
        cfg = read_json(path)
        if all((cfg.get("data", {}).get(data_keys[k]) if k in data_keys else cfg.get(k)) == v
               for k, v in where.items()):
            found.append(load_run(path.parent))
    return found


__all__ = ["Run", "RunError", "MissingRun", "RUN_FORMAT", "load_run", "is_complete",
           "find_runs", "run_name", "run_identity", "identity_hash", "canonical_json",
           "resolve_compute", "read_json", "weights_sha256", "check_model_file", "damaged",
           "run_lock", "remove_stale_parts"]
