"""Run directories: one trained model = one folder, reused, resumed or created by ``train``.

Layout, ``<runs_root>/<model>-<method>[-std]-<profile>-s<seed>-<hash8>/``::

    config.json     what was asked: model, method, profile, seed, data (source, device, scale,
                    data hash), teacher run id, std flag and standardiser, every hyper-parameter
                    resolved from the profile; ``hash`` = the 8 hex digits in the folder name
    checkpoint.pt   model + optimiser + RNG states (python, numpy, torch) + epoch + best-so-far +
                    history; rewritten atomically at every validation
    model.pt        the best-by-validation weights (state dict), written at the end
    history.json    train loss per epoch, validation loss per validation
    metrics.json    ESR, MAE and E_B on the whole test file, with the best weights

``hash8`` is the SHA-256 of the canonical JSON of the run's *identity*: everything that changes
the result (model, method, std, profile hyper-parameters, seed, data kind/device/scale/seed and
a hash of the loaded audio, teacher). The data's folder path, the compute device and the thread
count are recorded but not hashed, so a moved dataset or another machine finds the same run.

``train`` is idempotent: a complete run (``metrics.json`` present) is returned as is unless
``force=True``; an incomplete one (checkpoint, no metrics) resumes from its checkpoint and ends
with exactly the weights an uninterrupted run would have had (per-epoch shuffling is drawn from
``(seed, epoch)``, and every RNG state is restored; tested on CPU).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .._atomic import atomic_path, write_json
from ..losses import LOSSES, TRAINING_LOSS, esr, esr_dc, mae
from ..models import FAMILY, build_model
from ..paths import runs_root as _runs_root
from ..profiles import Profile, get_profile
from . import cafx as _cafx
from . import rnn as _rnn

METHODS = ("scratch", "tor", "df")
AVAILABLE_METHODS = ("scratch",)
_FORMAT = 1


class RunError(RuntimeError):
    """A run folder that cannot be used (config mismatch, unreadable checkpoint...)."""


@dataclass
class TrainConfig:
    """What to train. Hyper-parameters come from ``profile``; ``overrides`` changes some."""
    model: str
    method: str = "scratch"
    profile: str = "smoke"
    seed: int = 0
    source: str = "embedded"          # "embedded" | "wright2019" | a folder path
    device: str = "muff"              # effect device: "muff" | "ht1" | file prefix in a folder
    std: bool = False                 # standardise the input (DF "std" models)
    data_seed: int = 0                # seed of the embedded dataset build
    data_root: Optional[str] = None
    teacher: Optional[str] = None     # teacher run id (KD methods)
    overrides: dict = field(default_factory=dict)

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_overrides(**self.overrides)

    def hyper_parameters(self) -> dict:
        """The profile's values that apply to this model's family, plus shared ones."""
        p, fam = self.resolved_profile(), FAMILY[self.model]
        hp = {"epochs": p.epochs(fam), "batch": p.batch_size(fam), "lr": p.lr(fam),
              "optimizer": "Adam", "val_every": p.val_every,
              "max_train_batches": p.max_batches(fam), "val_max_samples": p.val_max_samples,
              "data_scale": p.data_scale, "loss": TRAINING_LOSS[fam]}
        if fam == "rnn":
            hp.update(segment_length=p.segment_length, init_len=p.init_len,
                      tbptt=p.tbptt, val_chunk=p.val_chunk)
        else:
            hp.update(frame_length=4096, hop=p.cafx_hop)
        return hp


@dataclass
class Run:
    """A run folder and what it holds. ``status``: "trained", "resumed", "reused"."""
    path: Path
    config: dict
    history: dict
    metrics: dict
    status: str = "reused"

    @property
    def id(self) -> str:
        return self.path.name

    def load_model(self, map_location="cpu") -> torch.nn.Module:
        """The best-by-validation model (eval mode)."""
        model = build_model(self.config["model"])
        state = torch.load(self.path / "model.pt", map_location=map_location, weights_only=True)
        model.load_state_dict(state)
        return model.eval()

    def standardizer(self):
        """The input ``Standardizer`` of a ``std`` run (apply it to inputs first), else None."""
        from ..data import Standardizer
        d = self.config.get("standardizer")
        return Standardizer.from_dict(d) if d else None

    def summary(self) -> dict:
        return {"run": str(self.path), "id": self.id, "status": self.status, **self.metrics}


# -- helpers ---------------------------------------------------------------------------------
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _data_hash(data: dict) -> str:
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        for a in data[split]:
            a = np.ascontiguousarray(a, dtype=np.float32)
            h.update(split.encode() + str(a.shape).encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def resolve_compute(compute: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device``."""
    if compute in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(compute)


def _progress_enabled(progress: Optional[bool]) -> bool:
    """Explicit choice wins; else off under ``CI``; else on in a TTY or a notebook kernel."""
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI"):
        return False
    try:
        from IPython import get_ipython  # noqa: WPS433
        shell = get_ipython()
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            return True
    except Exception:  # IPython absent or broken: not a notebook
        pass
    return sys.stderr.isatty()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_states() -> dict:
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _save_torch(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def is_complete(path: Path) -> bool:
    return (Path(path) / "metrics.json").is_file() and (Path(path) / "model.pt").is_file()


def load_run(path: str | os.PathLike) -> Run:
    """Open a complete run folder."""
    path = Path(path)
    if not is_complete(path):
        raise RunError(f"{path} is not a complete run (no metrics.json / model.pt)")
    read = lambda name: json.loads((path / name).read_text(encoding="utf-8"))  # noqa: E731
    return Run(path, read("config.json"), read("history.json"), read("metrics.json"), "reused")


# -- data ------------------------------------------------------------------------------------
def _load_data(cfg: TrainConfig, scale: str, data: Optional[dict]):
    """(splits dict of numpy arrays, data description, standardiser or None)."""
    from ..data import load, standardizer_for, Standardizer
    if data is not None:
        kind, source_label = "arrays", "arrays"
        splits = {k: (np.asarray(v[0], np.float32), np.asarray(v[1], np.float32))
                  for k, v in data.items()}
        stdz = Standardizer.fit(splits["train"][0]) if cfg.std else None
    else:
        source = cfg.source
        kind = source if source in ("embedded", "wright2019") else "folder"
        source_label = source if kind != "folder" else str(Path(source).expanduser().resolve())
        splits = load(source, cfg.device, cfg.data_root, scale=scale, seed=cfg.data_seed)
        stdz = (standardizer_for(source, cfg.device, cfg.data_root, scale=scale,
                                 seed=cfg.data_seed) if cfg.std else None)
    missing = {"train", "val", "test"} - set(splits)
    if missing:
        raise ValueError(f"data lacks split(s) {sorted(missing)}")
    desc = {"kind": kind, "source": source_label, "device": cfg.device,
            "scale": scale if kind == "embedded" else None,
            "data_seed": cfg.data_seed if kind == "embedded" else None,
            "hash": _data_hash(splits)}
    return splits, desc, stdz


def run_name(cfg: TrainConfig, hash8: str) -> str:
    std = "-std" if cfg.std else ""
    return f"{cfg.model}-{cfg.method}{std}-{cfg.profile}-s{cfg.seed}-{hash8}"


# -- the entry point -------------------------------------------------------------------------
def train(config: TrainConfig, *, runs: str | os.PathLike | None = None, force: bool = False,
          compute: str = "auto", threads: Optional[int] = None,
          progress: Optional[bool] = None, data: Optional[dict] = None,
          callback: Optional[Callable[[int, dict], None]] = None,
          max_epochs_this_call: Optional[int] = None) -> Run:
    """Train (or reuse, or resume) the run described by ``config``; return it.

    ``runs``: the runs root (default ``fxlib.paths.runs_root()``). ``force``: retrain from
    scratch even if a complete or partial run exists. ``compute``: "auto" | "cpu" | "cuda"...
    ``threads``: ``torch.set_num_threads``. ``progress``: tqdm bar (None = automatic: off when
    ``CI`` is set or output is neither a terminal nor a notebook). ``data``: splits as
    ``{"train"|"val"|"test": (input, target)}`` arrays instead of loading ``config.source``.
    ``callback(epoch, history)`` is called after every epoch (an exception stops training;
    the last checkpoint stays, and the next call resumes). ``max_epochs_this_call``: stop after
    that many epochs in this call, leaving the run incomplete (the returned ``Run`` has
    ``status="partial"`` and empty metrics).
    """
    if config.model not in FAMILY:
        build_model(config.model)  # raises the registry's error naming the choices
    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose one of {METHODS}")
    if config.method not in AVAILABLE_METHODS:
        raise NotImplementedError(
            f"method {config.method!r} is not available yet in fxlib.train (only "
            f"{', '.join(AVAILABLE_METHODS)}); KD training is being added separately")
    if threads is not None:
        torch.set_num_threads(int(threads))
    family = FAMILY[config.model]
    hp = config.hyper_parameters()
    splits, data_desc, stdz = _load_data(config, hp["data_scale"], data)

    identity = {"format": _FORMAT, "model": config.model, "family": family,
                "method": config.method, "std": bool(config.std), "profile": config.profile,
                "seed": int(config.seed), "hyper_parameters": hp, "teacher": config.teacher,
                "data": {k: v for k, v in data_desc.items() if k != "source"}}
    hash8 = hashlib.sha256(_canonical(identity).encode()).hexdigest()[:8]
    root = _runs_root(runs)
    path = root / run_name(config, hash8)
    doc = {**identity, "hash": hash8, "run_id": path.name, "data": data_desc,
           "standardizer": stdz.to_dict() if stdz is not None else None,
           "data_root": config.data_root, "overrides": dict(config.overrides)}

    if force and path.exists():
        shutil.rmtree(path)
    if path.exists():
        cfg_file = path / "config.json"
        if cfg_file.is_file():
            old = json.loads(cfg_file.read_text(encoding="utf-8"))
            if old.get("hash") != hash8:
                raise RunError(f"{path} holds a different config (hash {old.get('hash')}); "
                               "use force=True to replace it")
        if is_complete(path):
            return load_run(path)
    path.mkdir(parents=True, exist_ok=True)
    dev = resolve_compute(compute)
    write_json(path / "config.json",
               {**doc, "runtime": {"compute": str(dev), "threads": torch.get_num_threads(),
                                   "torch": torch.__version__}})

    tensors = {}
    for split, (x, y) in splits.items():
        if stdz is not None:
            x = stdz.apply(x).astype(np.float32)
        tensors[split] = (torch.from_numpy(np.ascontiguousarray(x)).to(dev),
                          torch.from_numpy(np.ascontiguousarray(y)).to(dev))
    return _fit(config, hp, family, path, tensors, dev, _progress_enabled(progress),
                callback, max_epochs_this_call)


def _evaluate(model, family: str, hp: dict, x: torch.Tensor) -> torch.Tensor:
    if family == "rnn":
        return _rnn.predict(model, x, hp["val_chunk"])
    return _cafx.predict(model, x)


def _val_loss(model, family, hp, pair) -> float:
    x, y = pair
    if hp.get("val_max_samples"):
        x, y = x[:hp["val_max_samples"]], y[:hp["val_max_samples"]]
    return float(LOSSES[hp["loss"]](_evaluate(model, family, hp, x), y))


def _fit(cfg: TrainConfig, hp: dict, family: str, path: Path, tensors: dict,
         dev: torch.device, show: bool, callback, max_epochs_this_call) -> Run:
    from tqdm.auto import tqdm

    seed_everything(cfg.seed)
    model = build_model(cfg.model).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    x_tr, y_tr = tensors["train"]
    if family == "rnn":
        items = _rnn.make_segments(x_tr, y_tr, hp["segment_length"])
    else:
        items = _cafx.make_frames(x_tr, y_tr, hp["frame_length"], hp["hop"])

    ckpt_path = path / "checkpoint.pt"
    status = "trained"
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        _set_rng_states(ck["rng"])
        epoch, history = ck["epoch"], ck["history"]
        best_val, best_epoch, best_state = ck["best_val"], ck["best_epoch"], ck["best_state"]
        status = "resumed"
    else:
        epoch = 0
        history = {"epoch": [], "train_loss": [], "epoch_time_s": [],
                   "val_epoch": [], "val_loss": []}
        best_val = _val_loss(model, family, hp, tensors["val"])   # the untrained model
        best_epoch, best_state = 0, copy.deepcopy(model.state_dict())
        history["val_epoch"].append(0)
        history["val_loss"].append(best_val)

    def checkpoint():
        _save_torch({"format": _FORMAT, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "rng": _rng_states(), "epoch": epoch,
                     "history": history, "best_val": best_val, "best_epoch": best_epoch,
                     "best_state": best_state}, ckpt_path)

    if status == "trained":
        checkpoint()

    n_epochs = hp["epochs"]
    bar = tqdm(total=n_epochs, initial=epoch, disable=not show, unit="epoch",
               desc=path.name, dynamic_ncols=True)
    done_this_call = 0
    try:
        while epoch < n_epochs:
            if max_epochs_this_call is not None and done_this_call >= max_epochs_this_call:
                return Run(path, json.loads((path / "config.json").read_text()), history, {},
                           "partial")
            epoch += 1
            t0 = time.perf_counter()
            rng = np.random.default_rng([cfg.seed, epoch])
            if family == "rnn":
                train_loss = _rnn.train_epoch(
                    model, optimizer, *items, batch=hp["batch"], init_len=hp["init_len"],
                    tbptt=hp["tbptt"], rng=rng, max_batches=hp["max_train_batches"],
                    loss_fn=LOSSES[hp["loss"]])
            else:
                train_loss = _cafx.train_epoch(
                    model, optimizer, *items, batch=hp["batch"], rng=rng,
                    max_batches=hp["max_train_batches"], loss_fn=LOSSES[hp["loss"]])
            history["epoch"].append(epoch)
            history["train_loss"].append(train_loss)
            history["epoch_time_s"].append(time.perf_counter() - t0)
            postfix = {"train": f"{train_loss:.4g}"}
            if epoch % hp["val_every"] == 0 or epoch == n_epochs:
                val = _val_loss(model, family, hp, tensors["val"])
                history["val_epoch"].append(epoch)
                history["val_loss"].append(val)
                if val < best_val:
                    best_val, best_epoch = val, epoch
                    best_state = copy.deepcopy(model.state_dict())
                checkpoint()
            postfix.update(val=f"{history['val_loss'][-1]:.4g}", best=f"{best_val:.4g}")
            bar.set_postfix(postfix)
            bar.update(1)
            done_this_call += 1
            if callback is not None:
                callback(epoch, history)
    finally:
        bar.close()

    # -- finish: best weights, test metrics ------------------------------------------------
    model.load_state_dict(best_state)
    x_te, y_te = tensors["test"]
    out = _evaluate(model, family, hp, x_te)
    metrics = {"test_esr": float(esr(out, y_te)), "test_mae": float(mae(out, y_te)),
               "test_esr_dc": float(esr_dc(out, y_te)), "best_val_loss": float(best_val),
               "best_epoch": int(best_epoch), "epochs": int(epoch)}
    _save_torch({k: v.detach().cpu() for k, v in best_state.items()}, path / "model.pt")
    write_json(path / "history.json", history)
    write_json(path / "metrics.json", metrics)       # last: its presence marks completion
    config_doc = json.loads((path / "config.json").read_text(encoding="utf-8"))
    return Run(path, config_doc, history, metrics, status)


__all__ = ["TrainConfig", "Run", "RunError", "train", "load_run", "is_complete", "run_name",
           "resolve_compute", "seed_everything", "METHODS", "AVAILABLE_METHODS"]
