"""``python -m fxlib.gpucheck``: does the GPU train the same models as the CPU, and how long
would the ``paper`` profile take on it?

On a CUDA device the recurrences run through cuDNN (``nn.LSTM`` / ``nn.GRU``), on the CPU
through fxlib's numba kernels (``fxlib.models.rnn``), and nothing else checks that both paths
train the same models. For each checked family (``CHECKED``: A, B, C and one TOR and one DF
student) this script, from the same seed and data:

1. **forward**: the family's inference (``ModelFamily.predict``) of a seeded model on the first
   ``FORWARD_SECONDS`` of the validation input, on the CPU and on the device;
2. **first steps**: the gradients each optimizer of the real training (``fxlib.train.train``)
   applies at its first step -- Adam's for scratch and TOR, the generator's and the student's
   RMSprop for DF -- captured by an optimizer hook, on both;
3. **short training**: ``--epochs`` epochs on the device, ``--cpu-epochs`` on the CPU
   (per-epoch times; the training losses after the same epoch, which drift apart as rounding
   compounds: reported, not judged).

1 and 2 pass when the largest difference, relative to the CPU tensor's largest entry, is within
``FORWARD_TOL`` / ``GRAD_TOL``, computed in plain float32 (TF32 off). On a GPU with TF32
(Ampere and newer, where PyTorch lets cuDNN use it by default, so training does) the same
numbers "as trained" are shown beside them, unjudged. Then, unless ``--no-estimate``, it times
``--epochs`` epochs of every kind of training the profile's study plans (model, method, teacher)
and one validation of every model on the device, and estimates each notebook's training time
(``notebook_estimates``).

The students' teachers are trained here in the ``smoke`` profile (seconds): what is checked is
the students' arithmetic and speed, which do not depend on how good their teacher is. DF noise
is drawn on the CPU on every device (``fxlib.kd.df``), so both sides see the same noise.

``--device cpu`` runs the same check on a machine without a GPU, with PyTorch's ``nn.LSTM`` /
``nn.GRU`` on the CPU in place of cuDNN (the kernels switched off): the maths of the GPU path,
not its hardware (the tests run it so). A script, not a test: its times assert nothing
(docs/colab.md, section 'The GPU path').
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from ._atomic import write_json
from .experiments import experiment
from .models import build_model, family_of
from .report import markdown_table
from .study import Study
from .thesis import SAMPLE_RATE
from .timing import cores, hardware_info, hardware_line
from .train import TrainConfig, train
from .train.benchmark import engine

#: The families checked on both devices: A, B, C, one TOR and one DF student (by label).
CHECKED = ("A", "B", "C h64", "TOR B h16", "DF B h16")
#: Forward outputs: max |y_device - y_cpu| / max |y_cpu|, float32 (TF32 off).
FORWARD_TOL = 1e-4
#: First-step gradients, per tensor: max |g_device - g_cpu| / max |g_cpu|, float32.
GRAD_TOL = 1e-3
#: Seconds of the validation input the forward check runs.
FORWARD_SECONDS = 2.0
#: The model whose seed repetition notebook 06 is estimated for: the thesis's choice (the
#: notebook picks from the study's own results, ``Study.best``).
REPETITION_ASSUMED = "TOR C h64"


class _Enough(Exception):
    """Raised by the optimizer hook once every optimizer's first step is captured."""


def relative_difference(got: torch.Tensor, ref: torch.Tensor) -> float:
    """max |got - ref| / max |ref| (0 when both are all zero)."""
    got, ref = got.detach().cpu().double(), ref.detach().cpu().double()
    scale = ref.abs().max().item() if ref.numel() else 0.0
    diff = (got - ref).abs().max().item() if ref.numel() else 0.0
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


@contextlib.contextmanager
def exact_float32():
    """TF32 off for matmuls and cuDNN (convolutions and RNNs) inside the block."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@dataclass(frozen=True)
class Sides:
    """The reference (the CPU as training uses it) and the checked device."""
    device: str                        # "cuda" | "cpu" (the CPU stand-in: module notes)

    @property
    def compute(self) -> str:
        return "cuda" if self.device == "cuda" else "cpu"

    def checked(self):
        """The context the checked side runs in: on the CPU, PyTorch's modules, not kernels."""
        return engine("torch") if self.device == "cpu" else contextlib.nullcontext()

    @property
    def name(self) -> str:
        return torch.cuda.get_device_name(0) if self.device == "cuda" else \
            "CPU with nn.LSTM / nn.GRU (the GPU path's maths)"


def first_steps(config: TrainConfig, compute: str, runs: Path, data,
                threads: Optional[int] = None) -> list[list[Optional[torch.Tensor]]]:
    """The gradients each optimizer of ``config``'s training holds at its first step, in the
    order the optimizers first step (module notes). Trains in ``runs`` until an optimizer is
    about to step a second time."""
    seen: dict[int, list] = {}

    def hook(optimizer, args, kwargs):
        if id(optimizer) in seen:
            raise _Enough
        seen[id(optimizer)] = [None if p.grad is None else p.grad.detach().cpu().clone()
                               for group in optimizer.param_groups for p in group["params"]]

    handle = register_optimizer_step_pre_hook(hook)
    try:
        train(config, runs=runs, compute=compute, data=data, progress=False, force=True,
              threads=threads)
    except _Enough:
        pass
    finally:
        handle.remove()
    return list(seen.values())


def grads_difference(got: list, ref: list) -> float:
    """The worst ``relative_difference`` over every tensor of every optimizer."""
    if [len(g) for g in got] != [len(r) for r in ref]:
        raise RuntimeError("the two sides stepped different optimizers: "
                           f"{[len(g) for g in got]} vs {[len(r) for r in ref]} tensors")
    worst = 0.0
    for g_opt, r_opt in zip(got, ref):
        for g, r in zip(g_opt, r_opt):
            if (g is None) != (r is None):
                return float("inf")
            if g is not None:
                worst = max(worst, relative_difference(g, r))
    return worst


def forward_outputs(model_name: str, seed: int, x: np.ndarray, chunk: int,
                    compute: str) -> torch.Tensor:
    """The family's inference of a model seeded with ``seed`` on ``x``, on ``compute``."""
    torch.manual_seed(seed)
    model = build_model(model_name).eval().to(compute)
    with torch.no_grad():
        out = family_of(model_name).predict(model, torch.from_numpy(x).to(compute), chunk)
    return out.cpu()


def short_training(config: TrainConfig, compute: str, runs: Path, data, epochs: int,
                   threads: Optional[int] = None) -> dict:
    """Seconds per epoch (median of the epochs after the first, which may compile / autotune)
    and the last training loss of ``epochs`` epochs of ``config``."""
    run = train(config, runs=runs, compute=compute, data=data, progress=False, force=True,
                max_epochs_this_call=epochs, threads=threads)
    times = run.history["epoch_time_s"]
    timed = times[1:] or times
    return {"epoch_s": statistics.median(timed), "epoch_s_min": min(timed),
            "epoch_s_max": max(timed), "epochs": len(times),
            "train_loss": [float(v) for v in run.history["train_loss"]]}


def validation_seconds(study: Study, model_name: str, compute: str, seed: int = 0) -> float:
    """Seconds of one validation of ``model_name`` (the profile's validation signal) on
    ``compute``: the faster of two, the first warming up."""
    settings = family_of(model_name).settings(study.profile)
    x, y = (torch.from_numpy(np.ascontiguousarray(a)).to(compute)
            for a in study.dataset.splits["val"])
    torch.manual_seed(seed)
    model = build_model(model_name).eval().to(compute)
    best = float("inf")
    for _ in range(2):
        _sync(compute)
        t0 = time.perf_counter()
        family_of(model_name).validation_loss(model, x, y, settings, study.profile.val_chunk)
        _sync(compute)
        best = min(best, time.perf_counter() - t0)
    return best


def _sync(compute: str) -> None:
    if compute == "cuda":
        torch.cuda.synchronize()


def timing_key(label: str) -> tuple:
    """What a training's per-epoch cost depends on: model, method, the teacher's model."""
    e = experiment(label)
    return (e.model, e.method, experiment(e.teacher).model if e.teacher else None)


def validations(settings) -> int:
    """Validations a training runs: DF once (after training); supervised at epoch 0, every
    ``val_every`` epochs and at the last."""
    if not hasattr(settings, "val_every"):
        return 1
    n = settings.n_epochs
    return 1 + sum(1 for e in range(1, n + 1) if e % settings.val_every == 0 or e == n)


def planned(study: Study) -> list:
    """The study's trainings (notebooks 01-05) and notebook 06's extra seeds of
    ``REPETITION_ASSUMED``."""
    return study.plan() + study.repetition_plan(REPETITION_ASSUMED)


def notebook_estimates(study: Study, epoch_s: dict, val_s: dict) -> list[dict]:
    """Per notebook: its trainings (each counted in the first notebook that needs it; later
    ones reuse the run), their epochs, and the estimated seconds: epochs x the measured seconds
    per epoch of their kind + validations x the measured seconds of one validation. Teacher
    outputs for TOR, test metrics and inference timing are left out (seconds to minutes)."""
    rows: dict[str, dict] = {}
    for p in planned(study):
        settings = study.config(p.label, p.seed).settings()
        row = rows.setdefault(p.notebooks[0], {"notebook": p.notebooks[0], "trainings": 0,
                                               "epochs": 0, "seconds": 0.0})
        row["trainings"] += 1
        row["epochs"] += settings.n_epochs
        row["seconds"] += (settings.n_epochs * epoch_s[timing_key(p.label)]
                           + validations(settings) * val_s[experiment(p.label).model])
    out = sorted(rows.values(), key=lambda r: r["notebook"])
    for r in out:
        r["hours"] = r["seconds"] / 3600.0
    return out


def _teachers(args, labels, root: Path) -> dict:
    """``{teacher label: run path}``: each teacher that ``labels`` need, trained on the CPU in
    the smoke profile (module notes)."""
    needed = sorted({experiment(label).teacher for label in labels} - {None})
    smoke = Study("smoke", args.source, args.effect, runs=root, data_root=args.data_root,
                  compute="cpu", progress=False)
    return {t: str(smoke.run(t, 0).path) for t in needed}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def check(args, sides: Sides, root: Path) -> dict:
    """Every measurement of the module notes, as one JSON-able dict."""
    study = Study(args.profile, args.source, args.effect, data_root=args.data_root,
                  compute="cpu", progress=False)
    data = study.dataset
    labels = list(CHECKED)
    if args.estimate:
        labels += [p.label for p in planned(study)]
    teachers = _teachers(args, labels, root / "teachers")
    cfg = {label: study.config(label, args.seed, teachers.get(experiment(label).teacher))
           for label in labels}
    x_val = data.splits["val"][0][:int(FORWARD_SECONDS * SAMPLE_RATE)].astype(np.float32)
    modes = [("float32", exact_float32)]
    if sides.device == "cuda" and torch.backends.cudnn.allow_tf32:
        modes.append(("as trained", contextlib.nullcontext))
    dev_threads = args.cpu_threads if sides.compute == "cpu" else None   # the stand-in: same
    rows, dev_timed = [], {}
    for label in CHECKED:
        t0 = time.perf_counter()
        model = cfg[label].model
        row = {"label": label, "model": model, "method": cfg[label].method}
        ref_y = forward_outputs(model, args.seed, x_val, study.profile.val_chunk, "cpu")
        ref_g = first_steps(cfg[label], "cpu", root / "first-cpu", data, args.cpu_threads)
        for mode, flags in modes:
            with sides.checked(), flags():
                y = forward_outputs(model, args.seed, x_val, study.profile.val_chunk,
                                    sides.compute)
                g = first_steps(cfg[label], sides.compute, root / "first-dev", data,
                                dev_threads)
            row[f"forward {mode}"] = relative_difference(y, ref_y)
            row[f"grads {mode}"] = grads_difference(g, ref_g)
        row["ok"] = row["forward float32"] <= FORWARD_TOL and row["grads float32"] <= GRAD_TOL
        cpu = short_training(cfg[label], "cpu", root / "train-cpu", data, args.cpu_epochs,
                             args.cpu_threads)
        with sides.checked():
            dev = short_training(cfg[label], sides.compute, root / "train-dev", data,
                                 args.epochs, dev_threads)
        dev_timed[timing_key(label)] = dev           # the estimate reuses it
        n = min(cpu["epochs"], dev["epochs"])        # compare the losses after the same epoch
        a, b = cpu["train_loss"][n - 1], dev["train_loss"][n - 1]
        row.update({"cpu_epoch_s": cpu["epoch_s"], "dev_epoch_s": dev["epoch_s"],
                    "speedup": cpu["epoch_s"] / dev["epoch_s"], "loss_epoch": n,
                    "cpu_train_loss": a, "dev_train_loss": b,
                    "loss_rel": abs(b - a) / max(abs(a), 1e-30)})
        rows.append(row)
        _log(f"  {label}: {'ok' if row['ok'] else 'DIFFERS'} ({time.perf_counter() - t0:.0f} s)")
    out = {"device": sides.name, "profile": study.profile.name, "epochs": args.epochs,
           "cpu_epochs": args.cpu_epochs,
           "seed": args.seed, "modes": [m for m, _ in modes], "checked": rows,
           "ok": all(r["ok"] for r in rows), "forward_tol": FORWARD_TOL, "grad_tol": GRAD_TOL,
           "hardware": hardware_line(hardware_info(args.cpu_threads, device=sides.compute))}
    if args.estimate:
        out.update(_estimate(args, sides, study, cfg, root, data, dev_timed, dev_threads))
    return out


def _estimate(args, sides: Sides, study: Study, cfg: dict, root: Path, data, timed: dict,
              threads: Optional[int]) -> dict:
    """Per-epoch seconds of every kind of planned training (``timed``: the kinds the check
    already trained on the device) and per-model validation seconds on the device, then
    ``notebook_estimates``."""
    epoch_s, kinds = {}, []
    with sides.checked():
        for p in planned(study):
            key = timing_key(p.label)
            if key in epoch_s:
                continue
            t = timed.get(key) or short_training(cfg[p.label], sides.compute,
                                                 root / "time-dev", data, args.epochs, threads)
            epoch_s[key] = t["epoch_s"]
            kinds.append({"kind": " ".join(k for k in (key[0], key[1]) if k)
                          + (f" (teacher {key[2]})" if key[2] else ""),
                          "epoch_s": t["epoch_s"], "min": t["epoch_s_min"],
                          "max": t["epoch_s_max"]})
            _log(f"  timed {kinds[-1]['kind']}: {t['epoch_s']:.3g} s/epoch")
        val_s = {m: validation_seconds(study, m, sides.compute)
                 for m in sorted({experiment(p.label).model for p in planned(study)})}
    return {"kinds": kinds, "validation_s": val_s,
            "notebooks": notebook_estimates(study, epoch_s, val_s)}


def _shown(rows: list, formats: dict) -> list:
    """``rows`` with the values of ``formats``' keys formatted (``"{:.2e}"``...) for a table."""
    return [{**r, **{k: f.format(r[k]) for k, f in formats.items() if k in r}} for r in rows]


def report(out: dict) -> str:
    """The check's tables as Markdown."""
    modes = out["modes"]
    cols = {"label": "family", "forward float32": "forward (float32)",
            "grads float32": "first-step grads (float32)"}
    for m in modes[1:]:
        cols.update({f"forward {m}": f"forward ({m})", f"grads {m}": f"grads ({m})"})
    cols["ok"] = "within tolerance"
    diffs = {k: "{:.1e}" for k in cols if k.startswith(("forward", "grads"))}
    short = {"cpu_epoch_s": "{:.3g}", "dev_epoch_s": "{:.3g}", "speedup": "{:.3g}",
             "cpu_train_loss": "{:.6g}", "dev_train_loss": "{:.6g}", "loss_rel": "{:.1e}"}
    parts = [f"## Agreement: {out['device']} against the CPU (profile {out['profile']}, "
             f"seed {out['seed']})\n",
             markdown_table(_shown(out["checked"], diffs), cols),
             f"max |device - CPU| / max |CPU|; tolerances: forward {out['forward_tol']:g}, "
             f"gradients {out['grad_tol']:g} (float32 only).\n",
             f"## Short training from the same seed: {out['cpu_epochs']} epoch(s) on the CPU, "
             f"{out['epochs']} on the device\n",
             markdown_table(_shown(out["checked"], short), {
                 "label": "family", "cpu_epoch_s": "CPU s/epoch", "dev_epoch_s":
                 "device s/epoch", "speedup": "CPU / device", "loss_epoch": "after epoch",
                 "cpu_train_loss": "CPU train loss", "dev_train_loss": "device train loss",
                 "loss_rel": "relative difference"}),
             "Seconds per epoch: median of the epochs after the first (of the only one when "
             "there is one). Training losses after the same epoch; they drift apart as rounding "
             "compounds: reported, not judged.\n"]
    if "notebooks" in out:
        parts += [f"## Per-epoch seconds on the device, profile {out['profile']}\n",
                  markdown_table(out["kinds"], {"kind": "training", "epoch_s": "s/epoch",
                                                "min": "min", "max": "max"}, digits=3),
                  f"## Estimated training time per notebook, profile {out['profile']}\n",
                  markdown_table(out["notebooks"], {"notebook": "notebook", "trainings":
                                                    "trainings", "epochs": "epochs",
                                                    "hours": "est. hours"}, digits=2),
                  f"Total: {sum(r['hours'] for r in out['notebooks']):.2f} h, one training "
                  f"at a time. 06 assumed to repeat {REPETITION_ASSUMED}; teacher outputs, "
                  "test metrics and timing left out.\n"]
    parts.append(f"Hardware: {out['hardware']}")
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.gpucheck",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                    help="cuda (default), or cpu: the GPU path's maths on the CPU")
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--source", default="embedded")
    ap.add_argument("--effect", default="muff")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=3,
                    help="epochs of each short training on the device")
    ap.add_argument("--cpu-epochs", type=int, default=1,
                    help="epochs of each short training on the CPU (a paper epoch of A takes "
                    "minutes there)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu-threads", type=int, default=cores(),
                    help="torch threads of the CPU side (default: this machine's cores; the "
                    "study's CPU trainings use one each, side by side)")
    ap.add_argument("--no-estimate", dest="estimate", action="store_false",
                    help="skip timing every planned kind of training")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.cpu_epochs < 1:
        ap.error("--epochs and --cpu-epochs must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("fxlib.gpucheck: no CUDA device here (torch.cuda.is_available() is False). Run "
              "it on a GPU machine (in Colab: Runtime > Change runtime type > GPU), or pass "
              "--device cpu to check the GPU path's maths on the CPU.", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fxlib-gpucheck-") as tmp:
        out = check(args, Sides(args.device), Path(tmp))
    print(report(out))
    if args.out is not None:
        write_json(args.out, out)
    return 0 if out["ok"] else 1


__all__ = ["CHECKED", "FORWARD_TOL", "GRAD_TOL", "relative_difference", "grads_difference",
           "first_steps", "forward_outputs", "short_training", "validation_seconds",
           "timing_key", "validations", "notebook_estimates", "report", "main"]


if __name__ == "__main__":
    sys.exit(main())
