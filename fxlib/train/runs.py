"""Run directories: one trained model = one folder, reused, resumed or created by ``train``.

Layout, ``<runs_root>/<model>-<method>[-std]-<profile>-s<seed>-<hash8>/``::

    config.json     what was asked: model, method, profile, seed, data (source, device, scale,
                    data hash), teacher (run id or JSON file hash), KD options, std flag and
                    standardiser, every hyper-parameter resolved from the profile; ``hash`` =
                    the 8 hex digits in the folder name
    checkpoint.pt   model + optimiser(s) + RNG states (python, numpy, torch) + epoch + best-so-far
                    + history (+ the DF generator); rewritten atomically at every validation
    model.pt        the weights the run keeps (state dict), written at the end: best by
                    validation for scratch / TOR, the final student for DF (no data, no
                    validation while training; ``fxlib.train.df``)
    history.json    train loss per epoch, validation loss per validation (DF: student and
                    generator losses per block of iterations)
    metrics.json    ESR, MAE and E_B on the whole test file with the kept weights, the
                    validation loss; for TOR the ε used and the fraction of training samples
                    it rejects

``hash8`` is the SHA-256 of the canonical JSON of the run's *identity*: everything that changes
the result (model, method, std, profile hyper-parameters, seed, data kind/device/scale/seed and
a hash of the loaded audio, teacher id, KD options). The data's folder path, the compute device
and the thread count are recorded but not hashed, so a moved dataset or another machine finds
the same run.

``train`` is idempotent: a complete run (``metrics.json`` present) is returned as is unless
``force=True``; an incomplete one (checkpoint, no metrics) resumes from its checkpoint and ends
with exactly the weights an uninterrupted run would have had (per-epoch shuffling is drawn from
``(seed, epoch)``, and every RNG state is restored; tested on CPU).

Methods: ``scratch`` (the family's own loss, ``fxlib.train.fit``); ``tor`` (teacher outlier
rejection, ``fxlib.kd.tor``: the same loop with the TOR loss and the teacher's whole-signal
output on the training audio, ``fxlib.train.teacher``); ``df`` (data-free, ``fxlib.train.df``).
A ``df`` run works in its teacher's input space, so its ``std`` flag is the teacher's.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .._atomic import write_json
from ..kd import df as _kd_df
from ..kd import tor as _kd_tor
from ..losses import LOSSES, TRAINING_LOSS, esr, esr_dc, mae
from ..models import FAMILY, build_model
from ..paths import runs_root as _runs_root
from ..profiles import Profile, get_profile
from .df import fit_data_free
from .fit import evaluate, fit_supervised, save_torch, val_loss
from .seeding import seed_everything
from .teacher import Teacher, TeacherError, load_teacher, teacher_outputs

METHODS = ("scratch", "tor", "df")
AVAILABLE_METHODS = METHODS       # every method is wired (kept for callers of the old name)
KD_DEFAULTS = {"scratch": {}, "tor": _kd_tor.DEFAULTS, "df": _kd_df.DEFAULTS}
_FORMAT = 1
TEACHER_CACHE = "_teacher_outputs"   # under the runs root: cached TOR teacher outputs


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
    teacher: Optional[str] = None     # teacher run folder or id (tor, df)
    teacher_json: Optional[str] = None  # or a Wright et al. JSON model file (tor, df)
    kd: dict = field(default_factory=dict)   # KD options over fxlib.kd.{tor,df}.DEFAULTS
    overrides: dict = field(default_factory=dict)

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_overrides(**self.overrides)

    def kd_options(self) -> dict:
        """This method's KD options: its defaults updated with ``kd`` (unknown keys refused)."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        defaults = KD_DEFAULTS[self.method]
        unknown = sorted(set(self.kd) - set(defaults))
        if unknown:
            raise ValueError(f"unknown KD option(s) {unknown} for method {self.method!r}; "
                             f"known: {sorted(defaults) or 'none'}")
        return {**defaults, **self.kd}

    def hyper_parameters(self) -> dict:
        """The profile's values that apply to this model's family and method."""
        p, fam = self.resolved_profile(), FAMILY[self.model]
        if self.method == "df":
            return {"iterations": p.df_iterations_for(fam), "n_student_steps": p.df_n_s,
                    "batch": p.df_batch, "segment_length": p.df_segment_length,
                    "lr": p.df_lr, "optimizer": "RMSprop", "log_every": p.df_log_every,
                    "data_scale": p.data_scale, "loss": TRAINING_LOSS[fam],
                    "val_max_samples": p.val_max_samples, "val_chunk": p.val_chunk}
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
        """The model the run keeps (best by validation; DF: final), in eval mode."""
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

    def predict(self, x, compute: str = "cpu") -> np.ndarray:
        """The kept model's whole-signal output for raw input ``x`` (its standardiser applied)."""
        dev = resolve_compute(compute)
        hp = self.config["hyper_parameters"]
        x = torch.as_tensor(np.asarray(x, np.float32), device=dev)
        stdz = self.standardizer()
        if stdz is not None:
            x = stdz.apply(x)
        out = evaluate(self.load_model(dev), self.config["family"],
                       {"val_chunk": hp.get("val_chunk", 100_000)}, x)
        return out.cpu().numpy()


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
@dataclass
class Dataset:
    """Loaded splits plus their description (and hash), to share one load between runs.

    ``fxlib.train.train`` loads the data on every call (a reused run included) unless given a
    ``Dataset``; ``fxlib.study`` loads it once per source/device and passes it to every run.
    """
    splits: dict
    desc: dict
    data_root: Optional[str] = None
    _stdz: object = field(default=None, repr=False)

    def standardizer(self):
        """mu/sigma of the training input (the cached stats file for on-disk sources)."""
        from ..data import Standardizer, standardizer_for
        if self._stdz is None:
            d = self.desc
            if d["kind"] == "arrays":
                self._stdz = Standardizer.fit(self.splits["train"][0])
            else:
                self._stdz = standardizer_for(d["source"], d["device"], self.data_root,
                                              scale=d["scale"] or "full",
                                              seed=d["data_seed"] or 0)
        return self._stdz

    def matches(self, cfg: "TrainConfig", scale: str) -> bool:
        d = self.desc
        if d["kind"] == "arrays":
            return True
        source = cfg.source if cfg.source in ("embedded", "wright2019") else \
            str(Path(cfg.source).expanduser().resolve())
        return (d["source"], d["device"]) == (source, cfg.device) and (
            d["kind"] != "embedded" or (d["scale"], d["data_seed"]) == (scale, cfg.data_seed))


def load_dataset(source: str = "embedded", device: str = "muff", data_root=None, *,
                 scale: str = "full", data_seed: int = 0, arrays: Optional[dict] = None
                 ) -> Dataset:
    """Load (and validate, and hash) a dataset once; ``arrays``: in-memory splits instead."""
    from ..data import load
    if arrays is not None:
        splits = {k: (np.asarray(v[0], np.float32), np.asarray(v[1], np.float32))
                  for k, v in arrays.items()}
        kind = source_label = "arrays"
    else:
        kind = source if source in ("embedded", "wright2019") else "folder"
        source_label = source if kind != "folder" else str(Path(source).expanduser().resolve())
        splits = load(source, device, data_root, scale=scale, seed=data_seed)
    missing = {"train", "val", "test"} - set(splits)
    if missing:
        raise ValueError(f"data lacks split(s) {sorted(missing)}")
    desc = {"kind": kind, "source": source_label, "device": device,
            "scale": scale if kind == "embedded" else None,
            "data_seed": data_seed if kind == "embedded" else None,
            "hash": _data_hash(splits)}
    return Dataset(splits, desc, data_root)


def _load_data(cfg: TrainConfig, scale: str, data, stdz_given=None):
    """(splits dict of numpy arrays, data description, standardiser or None).

    ``data``: None (load ``cfg.source``), a ``Dataset``, or a dict of arrays.
    ``stdz_given``: use this standardiser (a DF run's teacher's) instead of the data's own.
    """
    if isinstance(data, Dataset):
        if not data.matches(cfg, scale):
            raise ValueError(f"the Dataset given ({data.desc['source']}/{data.desc['device']}) "
                             f"is not the config's ({cfg.source}/{cfg.device}, scale {scale})")
        ds = data
    else:
        ds = load_dataset(cfg.source, cfg.device, cfg.data_root, scale=scale,
                          data_seed=cfg.data_seed, arrays=data)
    stdz = stdz_given or (ds.standardizer() if cfg.std else None)
    return ds.splits, ds.desc, stdz


def run_name(cfg: TrainConfig, hash8: str) -> str:
    std = "-std" if cfg.std else ""
    return f"{cfg.model}-{cfg.method}{std}-{cfg.profile}-s{cfg.seed}-{hash8}"



# -- the entry point -------------------------------------------------------------------------
def _check_method(config: TrainConfig) -> None:
    if config.model not in FAMILY:
        build_model(config.model)  # raises the registry's error naming the choices
    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose one of {METHODS}")
    has_teacher = config.teacher is not None or config.teacher_json is not None
    if config.method == "scratch" and has_teacher:
        raise ValueError("a scratch run takes no teacher; use method 'tor' or 'df'")
    if config.method != "scratch" and not has_teacher:
        raise ValueError(f"method {config.method!r} needs a teacher: teacher=<run folder or id> "
                         "(--teacher) or teacher_json=<Wright JSON file> (--teacher-json)")
    if config.teacher is not None and config.teacher_json is not None:
        raise ValueError("give one teacher: a run (teacher) or a JSON file (teacher_json)")


def _resolve_df_space(config: TrainConfig, teacher: Teacher, kd: dict) -> TrainConfig:
    """A DF run lives in its teacher's input space: std flag and input scale follow it."""
    if config.std and not teacher.std:
        raise ValueError(f"std=True but teacher {teacher.id} was trained on raw audio: a DF "
                         "student works in its teacher's input space; drop --std, or use a "
                         "teacher trained with --std")
    if kd["input_scale"] is None:
        kd["input_scale"] = 1.0 if teacher.std else _kd_df.RAW_INPUT_SCALE
    return dataclasses.replace(config, std=teacher.std)


def train(config: TrainConfig, *, runs: str | os.PathLike | None = None, force: bool = False,
          compute: str = "auto", threads: Optional[int] = None,
          progress: Optional[bool] = None, data: Optional[dict] = None,
          callback: Optional[Callable[[int, dict], None]] = None,
          max_epochs_this_call: Optional[int] = None, reuse_only: bool = False) -> Run:
    """Train (or reuse, or resume) the run described by ``config``; return it.

    ``runs``: the runs root (default ``fxlib.paths.runs_root()``). ``force``: retrain from
    scratch even if a complete or partial run exists. ``compute``: "auto" | "cpu" | "cuda"...
    ``threads``: ``torch.set_num_threads``. ``progress``: tqdm bar (None = automatic: off when
    ``CI`` is set or output is neither a terminal nor a notebook). ``data``: splits as
    ``{"train"|"val"|"test": (input, target)}`` arrays, or a ``Dataset`` (``load_dataset``,
    loaded once and shared between runs), instead of loading ``config.source``.
    ``callback(epoch, history)`` is called after every epoch (an exception stops training;
    the last checkpoint stays, and the next call resumes). ``max_epochs_this_call``: stop after
    that many epochs in this call, leaving the run incomplete (the returned ``Run`` has
    ``status="partial"`` and empty metrics). ``reuse_only``: never train; a run that is not
    complete raises ``RunError`` (figure regeneration from saved runs).
    """
    _check_method(config)
    kd = config.kd_options()
    if threads is not None:
        torch.set_num_threads(int(threads))
    dev = resolve_compute(compute)
    teacher = None
    if config.method != "scratch":
        try:
            teacher = load_teacher(config.teacher, config.teacher_json, runs=runs).to(dev)
        except TeacherError as err:
            raise ValueError(str(err)) from err
        if config.method == "df":
            config = _resolve_df_space(config, teacher, kd)
    family = FAMILY[config.model]
    hp = config.hyper_parameters()
    splits, data_desc, stdz = _load_data(
        config, hp["data_scale"], data,
        stdz_given=teacher.standardizer if config.method == "df" and teacher else None)

    identity = {"format": _FORMAT, "model": config.model, "family": family,
                "method": config.method, "std": bool(config.std), "profile": config.profile,
                "seed": int(config.seed), "hyper_parameters": hp,
                "teacher": teacher.id if teacher else None, "kd": kd,
                "data": {k: v for k, v in data_desc.items() if k != "source"}}
    hash8 = hashlib.sha256(_canonical(identity).encode()).hexdigest()[:8]
    root = _runs_root(runs)
    path = root / run_name(config, hash8)
    doc = {**identity, "hash": hash8, "run_id": path.name, "data": data_desc,
           "teacher_info": teacher.describe() if teacher else None,
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
    if reuse_only:
        raise RunError(f"no finished run {path.name} under {root}: train it first (run the "
                       f"notebook that trains {config.model} {config.method}, or `make "
                       f"reproduce PROFILE={config.profile}`)")
    path.mkdir(parents=True, exist_ok=True)
    write_json(path / "config.json",
               {**doc, "runtime": {"compute": str(dev), "threads": torch.get_num_threads(),
                                   "torch": torch.__version__}})

    raw_train_x = torch.from_numpy(np.ascontiguousarray(splits["train"][0])).to(dev)
    tensors = {}
    for split, (x, y) in splits.items():
        if stdz is not None:
            x = stdz.apply(x).astype(np.float32)
        tensors[split] = (torch.from_numpy(np.ascontiguousarray(x)).to(dev),
                          torch.from_numpy(np.ascontiguousarray(y)).to(dev))
    show = _progress_enabled(progress)
    common = dict(model_name=config.model, family=family, hp=hp, seed=config.seed, path=path,
                  device=dev, show=show, callback=callback,
                  max_epochs_this_call=max_epochs_this_call)
    extra = {}
    if config.method == "df":
        result = fit_data_free(kd=kd, teacher=teacher, **common)
    else:
        loss_fn, teacher_train = LOSSES[hp["loss"]], None
        if config.method == "tor":
            loss_fn, teacher_train, extra = _tor_setup(teacher, kd, hp, raw_train_x,
                                                       tensors["train"][1], data_desc, root)
        result = fit_supervised(tensors=tensors, loss_fn=loss_fn, teacher_train=teacher_train,
                                **common)
    if result.status == "partial":
        return Run(path, json.loads((path / "config.json").read_text(encoding="utf-8")),
                   result.history, {}, "partial")
    return _finish(path, family, hp, result, tensors, extra)


def _tor_setup(teacher: Teacher, kd: dict, hp: dict, raw_train_x: torch.Tensor,
               train_y: torch.Tensor, data_desc: dict, root: Path):
    """(TOR loss closure, teacher output on the training audio, facts for metrics.json)."""
    t_out = teacher_outputs(teacher, raw_train_x, data_desc["hash"], root / TEACHER_CACHE,
                            hp.get("val_chunk", 100_000))
    eps = kd["epsilon"]
    if eps is None:
        eps = _kd_tor.epsilon_from_residuals(train_y - t_out, kd["epsilon_quantile"])
    loss = _kd_tor.TORLoss(eps, loss=hp["loss"], c_tor=kd["c_tor"], c_d=kd["c_d"],
                           variant=kd["variant"], f=kd["f"])
    facts = {"tor_epsilon": float(eps),
             "tor_rejected_fraction": _kd_tor.rejected_fraction(train_y, t_out, eps),
             "teacher_train_esr": float(esr(t_out, train_y))}
    return loss, t_out, facts


def _finish(path: Path, family: str, hp: dict, result, tensors: dict, extra: dict) -> Run:
    """Test metrics with the kept weights; model.pt, history.json, metrics.json (last)."""
    model = result.model
    x_te, y_te = tensors["test"]
    out = evaluate(model, family, hp, x_te)
    best_val = result.best_val
    if math.isnan(best_val):        # DF: validated once, after training (see fxlib.train.df)
        best_val = val_loss(model, family, hp, tensors["val"])
    metrics = {"test_esr": float(esr(out, y_te)), "test_mae": float(mae(out, y_te)),
               "test_esr_dc": float(esr_dc(out, y_te)), "best_val_loss": float(best_val),
               "best_epoch": int(result.best_epoch), "epochs": int(result.epochs), **extra}
    save_torch({k: v.detach().cpu() for k, v in model.state_dict().items()}, path / "model.pt")
    write_json(path / "history.json", result.history)
    write_json(path / "metrics.json", metrics)       # last: its presence marks completion
    config_doc = json.loads((path / "config.json").read_text(encoding="utf-8"))
    return Run(path, config_doc, result.history, metrics, result.status)


__all__ = ["Dataset", "load_dataset", "TrainConfig", "Run", "RunError", "train", "load_run", "is_complete", "run_name",
           "resolve_compute", "seed_everything", "METHODS", "AVAILABLE_METHODS", "KD_DEFAULTS"]
