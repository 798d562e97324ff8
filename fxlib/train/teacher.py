"""Teachers for knowledge distillation: a trained run of ours, or a Wright et al. JSON model.

    teacher = load_teacher(run="runs/B-scratch-quick-s0-1a2b3c4d")        # any family
    teacher = load_teacher(json_file="muff-muff2.json")                   # LSTM/GRU, raw audio

A ``Teacher`` is frozen (``requires_grad = False``, eval mode) and knows its input space: a
``std`` run's teacher standardises its input with the standardiser it was trained with; a JSON
teacher (trained by its authors on raw audio we do not have) and a plain run take raw audio.

**Teacher outputs for TOR** (``teacher_outputs``). R_t is the teacher's prediction in its own
inference mode on the *whole* training signal: an RNN teacher runs the file as one stateful
sequence (as in validation), a CAFx teacher uses its Hann overlap-add framing. The student's
segments / frames are then cut from that output at the same positions as from the target, so a
B teacher can teach an A student (and vice versa) sample by sample. The alternative, running the
teacher on each training item, would give an RNN teacher a cold start at every segment and a
CAFx teacher a frame edge at every item, both artefacts of the cut rather than the teacher's
view of the audio. The whole-signal pass is computed once per (teacher, data) and cached as a
float32 ``.npy`` under ``<runs>/_teacher_outputs/`` (atomically), so the ~10 students of one
teacher in the study pay for it once.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_path
from ..io import ModelFormatError, load_wright_json
from ..kd.df import freeze
from ..models import ModelFamily, family_of
from ..paths import runs_root
from .runs import RunError, load_run


class TeacherError(ValueError):
    """A teacher that cannot be used: missing, incomplete, or of an unreadable format."""


@dataclass
class Teacher:
    """A frozen model plus what is needed to feed it. ``id`` enters the student run's hash."""
    model: nn.Module
    family: ModelFamily
    id: str                        # run id, or "json:<name>:<sha256[:16]>"
    kind: str                      # "run" | "json"
    name: str                      # registry model name, or e.g. "LSTM-32" for JSON files
    standardizer: Optional[object] = None   # fxlib.data.Standardizer of a std run
    path: Optional[str] = None
    data: Optional[dict] = None    # a run teacher's data (source, device = the effect...)

    @property
    def standardized(self) -> bool:
        """True when the teacher was trained on standardised inputs."""
        return self.standardizer is not None

    def to(self, device) -> "Teacher":
        self.model.to(device)
        return self

    @torch.no_grad()
    def predict(self, x_raw: torch.Tensor, chunk: int) -> torch.Tensor:
        """Whole-signal output for raw input ``x_raw`` (its standardiser applied first)."""
        x = self.standardizer.apply(x_raw) if self.standardizer is not None else x_raw
        return self.family.predict(self.model, x, chunk)

    def segment_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """(batch, L) -> (batch, L) in the teacher's own input space, for DF: an RNN from the
        zero state (``RecurrentModel.forward``), a CAFx model frame by frame (L = 4096)."""
        return self.family.segment_fn(self.model)

    def describe(self) -> dict:
        """What the student run records under ``teacher_info`` (``std``: format-1 key)."""
        return {"id": self.id, "kind": self.kind, "model": self.name,
                "family": self.family.name, "std": self.standardized, "path": self.path}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_run_path(ref: str | os.PathLike, runs: str | os.PathLike | None = None) -> Path:
    """A run folder from a path, or from a run id under the runs root."""
    p = Path(ref).expanduser()
    if p.is_dir():
        return p
    q = runs_root(runs) / str(ref)
    if q.is_dir():
        return q
    raise TeacherError(f"teacher run {str(ref)!r} not found (neither a folder nor a run id under "
                       f"{runs_root(runs)}); train the teacher first, e.g. "
                       "`python -m fxlib.train --model B --profile quick`")


def load_teacher(run: str | os.PathLike | None = None, json_file: str | os.PathLike | None = None,
                 *, runs: str | os.PathLike | None = None) -> Teacher:
    """Exactly one of ``run`` (a complete run folder or id) and ``json_file`` (Wright JSON)."""
    if (run is None) == (json_file is None):
        raise TeacherError("give exactly one teacher: a run folder/id or a Wright JSON file")
    if json_file is not None:
        path = Path(json_file).expanduser()
        try:
            model = load_wright_json(path)
        except (FileNotFoundError, ModelFormatError) as err:
            raise TeacherError(f"cannot use {path} as teacher: {err}") from err
        name = f"{model.cell}-{model.hidden_size}"
        return Teacher(freeze(model), family_of(model), f"json:{path.name}:{_sha256(path)[:16]}",
                       "json", name, None, str(path.resolve()))
    path = resolve_run_path(run, runs)
    try:
        r = load_run(path)
    except RunError as err:
        raise TeacherError(f"teacher {path} is not a finished run ({err}); finish training it "
                           "first (calling train() with its config resumes it)") from err
    return Teacher(freeze(r.load_model()), r.family, r.id, "run", r.config["model"],
                   r.standardizer(), str(path.resolve()), r.config.get("data"))


def teacher_outputs(teacher: Teacher, x_raw: torch.Tensor, data_hash: str,
                    cache_dir: Optional[Path], chunk: int) -> torch.Tensor:
    """The teacher's whole-signal output on ``x_raw`` (see module notes), cached on disk."""
    key = hashlib.sha256(json.dumps([teacher.id, data_hash, int(x_raw.shape[-1])])
                         .encode()).hexdigest()[:20]
    cache = Path(cache_dir) / f"{key}.npy" if cache_dir is not None else None
    if cache is not None and cache.is_file():
        arr = np.load(cache)
        if arr.shape == tuple(x_raw.shape):
            return torch.from_numpy(arr).to(x_raw.device)
    out = teacher.predict(x_raw, chunk).detach()
    if cache is not None:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:  # a handle: np.save adds no suffix
            np.save(f, out.cpu().numpy().astype(np.float32), allow_pickle=False)
    return out


__all__ = ["Teacher", "TeacherError", "load_teacher", "teacher_outputs", "resolve_run_path"]
