"""Export trained models: AIDA-X and Wright/Proteus JSON (B/C), ONNX (every model).

    python -m fxlib.export runs/B16-tor-quick-s0-XXXXXXXX          # AIDA-X + JSON + ONNX
    python -m fxlib.export runs/C8-tor-quick-s0-XXXXXXXX --format aidax
    python -m fxlib.export runs/A-scratch-quick-s0-XXXXXXXX --format onnx --out exported/

Formats
-------
* **AIDA-X** (``fxlib.aidax``): RTNeural's Keras-style JSON, which the AIDA-X plugin loads for
  LSTMs and GRUs of hidden size 8, 12, 16, 20, 32, 40, 64 or 80 -- every B and C of the study.
  ``std`` runs are written with their standardiser folded in (exact). Metadata: the run, its
  method, teacher, effect, profile and test ESR (``run_metadata``). Checked against Keras in
  ``tests/test_export_aidax.py``.
* **Wright et al. / Proteus JSON** (``fxlib.io.save_wright_json``): the format of Wright et
  al.'s published pretrained models (``python -m fxlib.data fetch --pretrained``), for their
  code and for tools that read it. GuitarML's Proteus reads this layout only into an LSTM of
  hidden size 40 (NeuralPi: 20), so none of the study's models (64, 16, 8; GRUs) plays there:
  use the AIDA-X file. Format ``proteus`` writes the same layout as ``<run>-proteus.json`` for
  the models those plugins do play (``B40``, ``B20``: ``check_proteus``) and refuses the
  others, naming the AIDA-X file. The format has no input scaling: a ``std`` run
  (inputs standardised for data-free KD, docs/kd.md) cannot be written to it exactly, and is
  refused with a message that says so.
* **NAM** (``fxlib.nam``): ``<run>.nam`` for LSTMs without the input skip (``B<H>-noskip``),
  the only models NAM's LSTM expresses exactly; checked by the ``neural-amp-modeler`` package
  and against NAM's example file layout in ``tests/test_export_nam.py``.
* **ONNX** (``export_onnx``), for every model, through PyTorch's TorchScript-based exporter
  (``dynamo=False``: in torch 2.13 it exports ``nn.LSTM``/``nn.GRU`` as the native ONNX
  ``LSTM``/``GRU`` operators and handles a dynamic number of samples; the dynamo exporter's
  graph for the same module failed in ONNX Runtime on lengths other than the example's).

  - B/C: a *stateful* graph ``(x[1, T], h[1, 1, H] (, c[1, 1, H])) -> (y[1, T], h', (c'))``,
    T dynamic, so a host can stream blocks of any size and carry the state itself.
  - A/Av2: the *frame* graph ``frames[B, 4096] -> y[B, 4096]`` (``CAFx.forward_frames``, B
    dynamic), written with plain ONNX operators (``CAFx.forward_frames_direct``: convolutions,
    max-pool, and SAAF as its definition) because the training path's fused autograd
    functions do not trace. The whole-signal model is the periodic-Hann overlap-add
    of these frames at hop 2048 (``fxlib.models.cafx``); ``OnnxModel.forward`` does it.

  Metadata (``metadata_props``) say what the graph is: ``fxlib.family`` (rnn|cafx),
  ``fxlib.model``, ``fxlib.frame_length``/``fxlib.hop`` (CAFx), ``fxlib.input_mean`` /
  ``fxlib.input_std`` (apply ``(x - mean) / std`` to the input first; 0 / 1 for raw-audio
  models) and ``fxlib.sample_rate``.

Round trips (``tests/test_export.py``): JSON is bit-identical; B/C through ONNX Runtime match
the PyTorch model to 1e-6 max abs over 1 s for random weights; CAFx frames (convolutions summed
in another order by ONNX Runtime) to 1e-5 x max|output|; the pretrained high-gain fuzz models,
which amplify float32 rounding, are held to PyTorch's own float32 distance from a float64
evaluation. Observed errors: docs/benchmarks.md, section 'Export round trips'.
Files are written atomically (temporary file, then rename).
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from ._atomic import atomic_path
from .aidax import AidaXError, check_aidax, save_aidax
from .io import save_wright_json
from .nam import NamError, check_nam, save_nam
from .models import CAFxFamily, RecurrentFamily, build_model, family_of
from .models.cafx import CAFx
from .models.rnn import RecurrentModel
from .thesis import SAMPLE_RATE
from .train import load_run

__all__ = ["export_onnx", "OnnxModel", "OnnxStreamer", "export_run", "default_formats",
           "run_metadata", "check_proteus", "proteus_fits", "PROTEUS_PLUGINS", "FORMATS",
           "ONNX_OPSET", "ExportError", "GRAPHS"]

#: The formats ``export_run`` writes (module notes).
FORMATS = ("aidax", "json", "proteus", "nam", "onnx")

#: ONNX opset of exported graphs (ONNX Runtime >= 1.12 runs it).
ONNX_OPSET = 17


class ExportError(ValueError):
    """A model or run that cannot be exported in the format asked for (the message says why)."""


# ------------------------------------------------------------------------------ graphs
class _RNNGraph(nn.Module):
    """``RecurrentModel.forward_stateful`` through PyTorch's own nn.LSTM / nn.GRU (the CPU
    GRU kernel of ``fxlib.models.gru_kernel`` is numba, which does not trace)."""

    def __init__(self, model: RecurrentModel):
        super().__init__()
        self.rec, self.lin, self.lstm = model.rec, model.lin, model.cell == "LSTM"
        self.skip = model.skip

    def forward(self, x, h, c=None):
        o, state = self.rec(x.unsqueeze(-1), (h, c) if self.lstm else h)
        y = self.lin(o).squeeze(-1)
        y = x + y if self.skip else y
        return (y, *state) if self.lstm else (y, state)


class _CAFxFrameGraph(nn.Module):
    """``CAFx.forward_frames_direct``: the frame function in traceable operators."""

    def __init__(self, model: CAFx):
        super().__init__()
        self.m = model

    def forward(self, frames):
        return self.m.forward_frames_direct(frames)


def _rnn_graph(model: RecurrentModel):
    """(graph, example inputs, input names, output names, dynamic axes, metadata) of B/C."""
    H = model.hidden_size
    args = (torch.zeros(1, 64), torch.zeros(1, 1, H))
    names_in, names_out = ["x", "h"], ["y", "h_out"]
    if model.cell == "LSTM":
        args += (torch.zeros(1, 1, H),)
        names_in.append("c")
        names_out.append("c_out")
    meta = {"fxlib.family": "rnn", "fxlib.cell": model.cell, "fxlib.hidden_size": str(H)}
    return (_RNNGraph(model), args, names_in, names_out,
            {"x": {1: "samples"}, "y": {1: "samples"}}, meta)


def _cafx_graph(model: CAFx):
    """The same for A/Av2: the frame graph."""
    meta = {"fxlib.family": "cafx", "fxlib.frame_length": str(model.frame_length),
            "fxlib.hop": str(model.config.hop), "fxlib.window": "hann-periodic"}
    return (_CAFxFrameGraph(model), (torch.zeros(2, model.frame_length),), ["frames"], ["y"],
            {"frames": {0: "batch"}, "y": {0: "batch"}}, meta)


#: The ONNX graph of each model family.
GRAPHS = {RecurrentFamily: _rnn_graph, CAFxFamily: _cafx_graph}


def export_onnx(model: nn.Module, path, *, input_mean: float = 0.0, input_std: float = 1.0,
                name: Optional[str] = None) -> Path:
    """Write ``model`` (B/C: stateful graph; A/Av2: frame graph) to ``path`` as ONNX, with the
    input standardiser ``(x - input_mean) / input_std`` and ``name`` in its metadata."""
    import onnx          # heavy; only exports need it

    try:
        family = family_of(model)
    except TypeError as err:
        raise ExportError(f"ONNX export supports RecurrentModel (B/C) and CAFx (A/Av2): "
                          f"{err}") from None
    model = model.to("cpu", torch.float32).eval()
    graph, args, names_in, names_out, dynamic, meta = GRAPHS[type(family)](model)
    meta.update({"fxlib.model": name or type(model).__name__,
                 "fxlib.input_mean": repr(input_mean), "fxlib.input_std": repr(input_std),
                 "fxlib.sample_rate": str(SAMPLE_RATE)})
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")            # the exporter's deprecation notices
        torch.onnx.export(graph, args, str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=names_in, output_names=names_out, dynamic_axes=dynamic)
        doc = onnx.load(str(tmp))
        for key, value in meta.items():
            doc.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(doc)
        onnx.save(doc, str(tmp))
    return path


# ------------------------------------------------------------------------------ running
class OnnxModel:
    """An exported model in ONNX Runtime: ``forward(x)`` on a whole 1-D signal (zero state;
    the input standardiser in the metadata is applied), ``streamer()`` for B/C blocks."""

    def __init__(self, path, threads: int = 1):
        import onnxruntime as ort     # optional at import time: the benchmark runs without it

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX model at {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = int(threads)
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("fxlib.family") not in _RUNNERS:
            raise ExportError(f"{path} was not written by fxlib.export (no fxlib.* metadata)")
        self.meta, self.family = meta, meta["fxlib.family"]
        self.mean, self.std = float(meta["fxlib.input_mean"]), float(meta["fxlib.input_std"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self._runner = _RUNNERS[self.family](self)

    def _input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected a 1-D signal, got shape {x.shape}")
        if self.mean != 0.0 or self.std != 1.0:
            x = ((x - self.mean) / self.std).astype(np.float32)
        return x

    def forward(self, x, frames_per_batch: int = 32) -> np.ndarray:
        """Whole signal -> output of the same length (RNN from the zero state; CAFx by the
        Hann overlap-add of ``fxlib.models.cafx.CAFx.forward``)."""
        return self._runner.forward(self._input(x), frames_per_batch)

    def streamer(self) -> "OnnxStreamer":
        return self._runner.streamer()

    @property
    def hidden_size(self) -> int:
        """B/C: the recurrent state's size."""
        return self._runner.hidden_size

    @property
    def frame_length(self) -> int:
        """A/Av2: the frame the graph takes."""
        return self._runner.frame_length

    @property
    def hop(self) -> int:
        """A/Av2: the hop of the whole-signal overlap-add."""
        return self._runner.hop


class _OnnxRNN:
    """B/C graphs: the state is an input and an output; a whole signal is one block."""

    def __init__(self, model: OnnxModel):
        self.model, self.hidden_size = model, int(model.meta["fxlib.hidden_size"])

    @property
    def frame_length(self):
        raise ExportError("a B/C graph takes samples, not frames")

    hop = frame_length

    def forward(self, x, frames_per_batch):
        return self.streamer()._run(x)

    def streamer(self):
        return OnnxStreamer(self.model)


class _OnnxCAFx:
    """A/Av2 frame graphs: whole signals by the periodic-Hann overlap-add of the frames."""

    def __init__(self, model: OnnxModel):
        self.session = model.session
        self.frame_length, self.hop = int(model.meta["fxlib.frame_length"]), int(
            model.meta["fxlib.hop"])
        n = np.arange(self.frame_length)   # periodic Hann, as torch.hann_window(N, periodic=True)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / self.frame_length)).astype(np.float32)

    @property
    def hidden_size(self):
        raise ExportError("a CAFx model has no recurrent state")

    def forward(self, x, frames_per_batch):
        N, M, n = self.frame_length, self.hop, x.shape[0]
        if n == 0:
            return x.copy()
        n_frames = (n - 1) // M + 2
        padded = np.zeros((n_frames + 1) * M, np.float32)
        padded[N - M:N - M + n] = x
        frames = np.lib.stride_tricks.sliding_window_view(padded, N)[::M][:n_frames]
        y = np.zeros_like(padded)
        for j0 in range(0, n_frames, frames_per_batch):
            chunk = np.ascontiguousarray(frames[j0:j0 + frames_per_batch])
            out = self.session.run(None, {"frames": chunk})[0] * self.window
            for j, frame in enumerate(out, start=j0):
                y[j * M:j * M + N] += frame
        return y[N - M:N - M + n]

    def streamer(self):
        raise ExportError("block streaming through ONNX Runtime is for B/C models; CAFx "
                          "streams with fxlib.runtime.Streamer")


#: How each family's graph runs, by the ``fxlib.family`` metadata of the file.
_RUNNERS = {"rnn": _OnnxRNN, "cafx": _OnnxCAFx}


class OnnxStreamer:
    """B/C blocks through ONNX Runtime, the recurrent state carried between ``process`` calls
    (inputs are the model's own: standardise them first for a ``std`` model)."""

    def __init__(self, model: OnnxModel):
        self.model, self.latency = model, 0
        self.reset()

    def reset(self) -> None:
        shape = (1, 1, self.model.hidden_size)
        self.state = [np.zeros(shape, np.float32) for _ in self.model.inputs[1:]]

    def _run(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return x.copy()
        feed = dict(zip(self.model.inputs, [x[None], *self.state]))
        y, *self.state = self.model.session.run(None, feed)
        return y[0]

    def process(self, block) -> np.ndarray:
        return self._run(np.ascontiguousarray(block, dtype=np.float32))


# ------------------------------------------------------------------------------ runs
#: The plugins that read the Wright et al. JSON layout, and the one model each is compiled for:
#: GuitarML's Proteus (``src/RTNeuralLSTM.cpp``) and NeuralPi; both add the input (the skip).
PROTEUS_PLUGINS = {40: "Proteus", 20: "NeuralPi"}


def proteus_fits(model) -> bool:
    return (isinstance(model, RecurrentModel) and model.cell == "LSTM" and model.skip
            and model.hidden_size in PROTEUS_PLUGINS)


def check_proteus(model, name: str = "this model") -> None:
    """Refuse a model Proteus / NeuralPi would not play (they read the Wright JSON layout into
    a compiled LSTM of hidden size 40 / 20 with the skip)."""
    if not proteus_fits(model):
        what = (f"an {model.cell} of hidden size {model.hidden_size}"
                + ("" if model.skip else " without the skip")
                if isinstance(model, RecurrentModel) else f"a {type(model).__name__}")
        raise ExportError(f"{name}: Proteus plays an LSTM of hidden size 40 and NeuralPi one of "
                          f"20, both with the skip; {what} would not load there. Export it as "
                          "aidax (AIDA-X loads LSTMs and GRUs of hidden size 8-80), or train a "
                          "B40 / B20 (python -m fxlib.train --model B40 --method tor --teacher "
                          "RUN)")


def run_metadata(run) -> dict:
    """What an exported file says about the model: which run, how trained, how good."""
    c, data = run.config, run.config.get("data") or {}
    return {"name": run.id, "model": c.get("model"), "method": c.get("method"),
            "std": c.get("std"), "teacher": c.get("teacher"), "effect": data.get("device"),
            "data": data.get("source"), "profile": c.get("profile"), "seed": c.get("seed"),
            "test_esr": run.metrics.get("test_esr"), "samplerate": SAMPLE_RATE,
            "exported_by": "fxlib"}


#: Plugin formats whose writers take the run's metadata and fold a standardiser in.
_PLUGIN_WRITERS = {"aidax": (save_aidax, "-aidax.json"), "nam": (save_nam, ".nam")}


def export_run(run_dir, out_dir=None, formats=("json", "onnx")) -> dict:
    """Export the model a run folder keeps; returns {format: path}. Default folder:
    ``<run_dir>/export/``; file names are the run id plus the format's suffix (AIDA-X:
    ``-aidax.json``)."""
    run = load_run(run_dir)
    model, stdz = run.load_model(), run.standardizer()
    out = Path(out_dir) if out_dir else run.path / "export"
    written = {}
    for fmt in formats:
        if fmt in _PLUGIN_WRITERS:            # AIDA-X, NAM: the standardiser folded in
            save, suffix = _PLUGIN_WRITERS[fmt]
            kw = {"input_mean": stdz.mean, "input_std": stdz.std} if stdz else {}
            try:
                written[fmt] = save(model, out / f"{run.id}{suffix}",
                                    metadata=run_metadata(run), **kw)
            except (AidaXError, NamError) as err:
                raise ExportError(f"{run.id}: {err}") from None
        elif fmt in ("json", "proteus"):
            if not isinstance(model, RecurrentModel):
                raise ExportError(f"{run.id}: the Wright/Proteus JSON format holds B/C "
                                  f"(LSTM/GRU) models only; export {run.config['model']} as "
                                  "onnx")
            if stdz is not None:
                raise ExportError(f"{run.id} is a 'std' run (inputs standardised with mean "
                                  f"{stdz.mean:.3g}, std {stdz.std:.3g}); the JSON format has no "
                                  "input scaling, so the plugin would play it wrong: export it "
                                  "as aidax (the standardiser folded in) or onnx (which records "
                                  "it)")
            if fmt == "proteus":
                check_proteus(model, run.id)
                written[fmt] = save_wright_json(model, out / f"{run.id}-proteus.json")
            else:
                written[fmt] = save_wright_json(model, out / f"{run.id}.json")
        elif fmt == "onnx":
            kw = {"input_mean": stdz.mean, "input_std": stdz.std} if stdz else {}
            written["onnx"] = export_onnx(model, out / f"{run.id}.onnx",
                                          name=run.config["model"], **kw)
        else:
            raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return written


def default_formats(run) -> tuple[str, ...]:
    """AIDA-X (B/C runs of a size it loads), Wright et al. JSON (B/C runs on raw audio), the
    same as ``-proteus.json`` where Proteus / NeuralPi play it (B40 / B20), ``.nam`` for
    LSTMs without the skip, and ONNX."""
    model = build_model(run.config["model"])
    json_ok = isinstance(model, RecurrentModel) and run.standardizer() is None
    fits = {"aidax": _passes(check_aidax, model), "json": json_ok,
            "proteus": json_ok and proteus_fits(model), "nam": _passes(check_nam, model),
            "onnx": True}
    return tuple(f for f in FORMATS if fits[f])


def _passes(check, model) -> bool:
    """Whether an exporter's own check (``check_aidax``, ``check_nam``) accepts ``model``."""
    try:
        check(model)
    except (AidaXError, NamError):
        return False
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fxlib.export",
                                description="Export a trained run's model (AIDA-X and "
                                            "Wright/Proteus JSON for B/C, ONNX for any "
                                            "model).")
    p.add_argument("run", help="a run folder (runs/<id>)")
    p.add_argument("--format", nargs="+", default=None, choices=FORMATS,
                   help="aidax (AIDA-X plugin), json (Wright et al.), proteus (the same for "
                        "Proteus / NeuralPi: B40 / B20 only), nam (B<H>-noskip only), onnx; "
                        "default: every format the run fits")
    p.add_argument("--out", default=None, help="folder (default: <run>/export)")
    args = p.parse_args(argv)
    try:
        formats = args.format
        if formats is None:
            formats = default_formats(load_run(args.run))
        written = export_run(args.run, args.out, formats)
    except (ExportError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:           # --out is a file, or a folder we may not write to
        where = args.out or f"{args.run}/export"
        print(f"error: cannot write the exported files to {where}: "
              f"{err.strerror or err} ({err.filename or where}); pass --out with a folder "
              "you can write to", file=sys.stderr)
        return 1
    print(json.dumps({k: str(v) for k, v in written.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
