"""Export trained models for use outside Python: Wright/Proteus JSON (B/C) and ONNX (all).

    python -m fxlib.export runs/B-scratch-quick-s0-XXXXXXXX            # JSON (B/C) + ONNX
    python -m fxlib.export runs/A-scratch-quick-s0-XXXXXXXX --format onnx --out exported/

Formats
-------
* **Wright et al. / Proteus JSON** (``fxlib.io.save_wright_json``): the format of the
  pretrained models in ``shared/external/wright2019-pretrained`` and of GuitarML's Proteus and
  NeuralPi plugins -- so a distilled B/C student plays in those plugins as it is. The format
  has no input scaling: a ``std`` run (inputs standardised, PROTOCOL §KD DF) cannot be written
  to it exactly, and is refused with a message that says so.
* **ONNX** (``export_onnx``), for every model, through PyTorch's TorchScript-based exporter
  (``dynamo=False``: in torch 2.13 it exports ``nn.LSTM``/``nn.GRU`` as the native ONNX
  ``LSTM``/``GRU`` operators and handles a dynamic number of samples; the dynamo exporter's
  graph for the same module failed in ONNX Runtime on lengths other than the example's).

  - B/C: a *stateful* graph ``(x[1, T], h[1, 1, H] (, c[1, 1, H])) -> (y[1, T], h', (c'))``,
    T dynamic, so a host can stream blocks of any size and carry the state itself.
  - A/Av2: the *frame* graph ``frames[B, 4096] -> y[B, 4096]`` (``CAFx.forward_frames``, B
    dynamic), written with plain ONNX operators (convolutions, max-pool, and SAAF as its
    definition: clamp / relu / sum over the breakpoints) because the training path's fused
    autograd functions do not trace. The whole-signal model is the periodic-Hann overlap-add
    of these frames at hop 2048 (``fxlib.models.cafx``); ``OnnxModel.forward`` does it.

  Metadata (``metadata_props``) say what the graph is: ``fxlib.family`` (rnn|cafx),
  ``fxlib.model``, ``fxlib.frame_length``/``fxlib.hop`` (CAFx), ``fxlib.input_mean`` /
  ``fxlib.input_std`` (apply ``(x - mean) / std`` to the input first; 0 / 1 for raw-audio
  models) and ``fxlib.sample_rate``.

Round trips (``tests/test_export.py``): JSON is bit-identical; B/C through ONNX Runtime match
the PyTorch model to 1e-6 max abs over 1 s (observed 6e-8) for random weights. Two honest
exceptions, both float32 rounding and not the export: CAFx frames (64-128-tap convolutions over
128 channels, summed in another order by ONNX Runtime) agree to 1e-5 x max|output| (observed
3-6e-6 on outputs of 1-5); the real pretrained high-gain fuzz models amplify rounding so much
that PyTorch float32 itself sits 8e-6 (LSTM) / 8e-5 (GRU) from a float64 evaluation over 0.5 s,
and ONNX Runtime 2e-5 / 4e-5: it is held to that floor.
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
import torch.nn.functional as F
from torch import nn

from ._atomic import atomic_path
from .io import save_wright_json
from .models.cafx import CAFx, _same
from .models.rnn import RecurrentModel
from .thesis import SAMPLE_RATE

__all__ = ["export_onnx", "OnnxModel", "OnnxStreamer", "export_run", "ONNX_OPSET",
           "ExportError"]

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

    def forward(self, x, h, c=None):
        o, state = self.rec(x.unsqueeze(-1), (h, c) if self.lstm else h)
        y = x + self.lin(o).squeeze(-1)
        return (y, *state) if self.lstm else (y, state)


class _CAFxFrameGraph(nn.Module):
    """``CAFx.forward_frames`` in its direct form (plain convolutions, SAAF by definition);
    equal to the fast training path to float rounding (tests/test_cafx_fast.py)."""

    def __init__(self, model: CAFx):
        super().__init__()
        self.m = model

    def forward(self, frames):
        m, k = self.m, self.m.config.kernel_size
        p = F.conv1d(_same(frames.unsqueeze(1), k), m.conv.weight, m.conv.bias)   # (B, C, T)
        h = F.softplus(F.conv1d(_same(p.abs(), 2 * k), m.local_conv.weight,
                                m.local_conv.bias, groups=m.config.filters))
        z = F.softplus(m.latent(F.max_pool1d(h, m.config.pool)))                 # (B, C, T/p)
        h = (p.unflatten(-1, (-1, m.config.pool)) * z.unsqueeze(-1)).flatten(-2)
        h = h.transpose(1, 2)                                                    # (B, T, C)
        for i, layer in enumerate(m.dense):
            h = layer(h)
            if i < len(m.dense) - 1:
                h = torch.relu(h)
        h = m.saaf.reference(h).transpose(1, 2)                                  # (B, C, T)
        tied = m.conv.weight.transpose(0, 1)                                     # (1, C, k)
        return F.conv1d(_same(h, k), tied, m.deconv_bias).squeeze(1)


def export_onnx(model: nn.Module, path, *, input_mean: float = 0.0, input_std: float = 1.0,
                name: Optional[str] = None) -> Path:
    """Write ``model`` (B/C: stateful graph; A/Av2: frame graph) to ``path`` as ONNX."""
    import onnx

    model = model.to("cpu", torch.float32).eval()
    meta = {"fxlib.model": name or type(model).__name__, "fxlib.input_mean": repr(input_mean),
            "fxlib.input_std": repr(input_std), "fxlib.sample_rate": str(SAMPLE_RATE)}
    if isinstance(model, RecurrentModel):
        graph, H = _RNNGraph(model), model.hidden_size
        args = (torch.zeros(1, 64), torch.zeros(1, 1, H))
        names_in, names_out = ["x", "h"], ["y", "h_out"]
        if model.cell == "LSTM":
            args += (torch.zeros(1, 1, H),)
            names_in.append("c"); names_out.append("c_out")
        dynamic = {"x": {1: "samples"}, "y": {1: "samples"}}
        meta.update({"fxlib.family": "rnn", "fxlib.cell": model.cell,
                     "fxlib.hidden_size": str(H)})
    elif isinstance(model, CAFx):
        graph = _CAFxFrameGraph(model)
        args = (torch.zeros(2, model.frame_length),)
        names_in, names_out = ["frames"], ["y"]
        dynamic = {"frames": {0: "batch"}, "y": {0: "batch"}}
        meta.update({"fxlib.family": "cafx", "fxlib.frame_length": str(model.frame_length),
                     "fxlib.hop": str(model.config.hop), "fxlib.window": "hann-periodic"})
    else:
        raise ExportError(f"ONNX export supports RecurrentModel (B/C) and CAFx (A/Av2), got "
                          f"{type(model).__name__}")
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
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX model at {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = int(threads)
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "fxlib.family" not in meta:
            raise ExportError(f"{path} was not written by fxlib.export (no fxlib.* metadata)")
        self.meta, self.family = meta, meta["fxlib.family"]
        self.mean, self.std = float(meta["fxlib.input_mean"]), float(meta["fxlib.input_std"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        if self.family == "rnn":
            self.hidden_size = int(meta["fxlib.hidden_size"])
        else:
            self.frame_length, self.hop = int(meta["fxlib.frame_length"]), int(meta["fxlib.hop"])
            # periodic Hann, as torch.hann_window(N, periodic=True)
            n = np.arange(self.frame_length)
            self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / self.frame_length)).astype(
                np.float32)

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
        x = self._input(x)
        if self.family == "rnn":
            return self.streamer()._run(x)
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

    def streamer(self) -> "OnnxStreamer":
        if self.family != "rnn":
            raise ExportError("block streaming through ONNX Runtime is for B/C models; CAFx "
                              "streams with fxlib.runtime.Streamer")
        return OnnxStreamer(self)


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
def export_run(run_dir, out_dir=None, formats=("json", "onnx")) -> dict:
    """Export the model a run folder keeps; returns {format: path}. Default folder:
    ``<run_dir>/export/``; file names are the run id plus the format's suffix."""
    from .train import load_run

    run = load_run(run_dir)
    model, stdz = run.load_model(), run.standardizer()
    out = Path(out_dir) if out_dir else run.path / "export"
    written = {}
    for fmt in formats:
        if fmt == "json":
            if not isinstance(model, RecurrentModel):
                raise ExportError(f"{run.id}: the Wright/Proteus JSON format holds B/C "
                                  f"(LSTM/GRU) models only; export {run.config['model']} as "
                                  "onnx")
            if stdz is not None:
                raise ExportError(f"{run.id} is a 'std' run (inputs standardised with mean "
                                  f"{stdz.mean:.3g}, std {stdz.std:.3g}); the JSON format has no "
                                  "input scaling, so the plugin would play it wrong: export it "
                                  "as onnx (which records the standardiser)")
            written["json"] = save_wright_json(model, out / f"{run.id}.json")
        elif fmt == "onnx":
            kw = {"input_mean": stdz.mean, "input_std": stdz.std} if stdz else {}
            written["onnx"] = export_onnx(model, out / f"{run.id}.onnx",
                                          name=run.config["model"], **kw)
        else:
            raise ExportError(f"unknown format {fmt!r}; choose json or onnx")
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fxlib.export",
                                description="Export a trained run's model (JSON for B/C "
                                            "plugins, ONNX for any model).")
    p.add_argument("run", help="a run folder (runs/<id>)")
    p.add_argument("--format", nargs="+", default=None, choices=("json", "onnx"),
                   help="default: json and onnx for B/C (json skipped for std runs), onnx "
                        "for A/Av2")
    p.add_argument("--out", default=None, help="folder (default: <run>/export)")
    args = p.parse_args(argv)
    try:
        formats = args.format
        if formats is None:
            from .train import load_run
            run = load_run(args.run)
            rnn = run.config.get("family") == "rnn"
            formats = ("json", "onnx") if rnn and not run.config.get("standardizer") else \
                ("onnx",)
        written = export_run(args.run, args.out, formats)
    except (ExportError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({k: str(v) for k, v in written.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
