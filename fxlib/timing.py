"""Inference-time measurement: the thesis's protocol plus a wall clock and a hardware record.

Thesis protocol (§3.5): PyTorch profiler, time to process **1 s of audio** (44,100 samples at
44.1 kHz), 10 runs, mean ± std in ms, on a CPU. fxlib's ``time_model`` does exactly that, and
beside it, in the same call, a wall-clock measurement (``time.perf_counter``), because the
profiler adds its own overhead and a median is robust to a stray slow run.

Choices, stated:

* Input: 1 s of seeded Gaussian noise at RMS 0.1 (guitar-DI level; content does not change the
  operation count). RNNs start from the zero state; CAFx models process the signal through their
  whole-signal framing (Hann overlap-add, hop 2048: 23 frames of 4096 for 1 s) -- see
  ``fxlib.models.cafx``.
* ``torch.inference_mode``, a fixed thread count (default 1, restored afterwards), flush-to-zero
  for denormals (tiny recurrent states otherwise make some CPUs many times slower; restored
  afterwards), ``warmup`` untimed runs first, plus one untimed profiled run (the profiler's first
  session pays its own start-up).
* Profiler: only one top-level range per run is recorded. A GRU on CPU dispatches several
  operators per sample, so recording every operator of 44,100 steps costs GBs of memory and
  inflates the time (docs/benchmarks.md, section 'Inference (thesis protocol)');
  fxlib disables per-operator recording inside the range (``torch._C._autograd.
  _enable_record_function``) and reports the range's CPU time. If that private switch disappears
  from a future PyTorch, the full recording is used and a warning says so.
* Statistics: profiler mean ± sample std (ddof = 1) over ``runs``; wall-clock median and
  inter-quartile range over ``runs``.
* **Real-time factor: RTF = audio seconds / compute seconds** (wall median). RTF > 1 means faster
  than real time; the thesis's real-time bound "< 1000 ms per second of audio" is RTF > 1.
"""
from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from .thesis import SAMPLE_RATE


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:             # not on Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo, else ``platform``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_info(threads: int | None = None, device: str = "cpu") -> dict:
    """What a timing was measured on: CPU, cores, device, torch version and backend, threads."""
    info = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "torch": torch.__version__,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    return info


def hardware_line(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (f"{info['cpu']} ({info['logical_cores']} logical cores){gpu}; torch {info['torch']} "
            f"(oneDNN {'on' if info['mkldnn'] else 'off'}), {info['threads']} thread(s), "
            f"Python {info['python']}, {info['platform']}")


@dataclass
class TimingResult:
    """ms to process ``seconds`` of audio; ``rtf`` = audio seconds / wall-median seconds."""

    seconds: float
    runs: int
    warmup: int
    threads: int
    device: str
    profiler_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    hardware: dict = field(default_factory=dict)

    @property
    def profiler_mean(self) -> float:
        return float(np.mean(self.profiler_ms)) if self.profiler_ms else float("nan")

    @property
    def profiler_std(self) -> float:
        return float(np.std(self.profiler_ms, ddof=1)) if len(self.profiler_ms) > 1 else 0.0

    @property
    def wall_median(self) -> float:
        return float(np.median(self.wall_ms))

    @property
    def wall_iqr(self) -> float:
        q1, q3 = np.percentile(self.wall_ms, [25, 75])
        return float(q3 - q1)

    @property
    def rtf(self) -> float:
        return self.seconds / (self.wall_median / 1000.0)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(profiler_mean=self.profiler_mean, profiler_std=self.profiler_std,
                 wall_median=self.wall_median, wall_iqr=self.wall_iqr, rtf=self.rtf)
        return d


@contextlib.contextmanager
def timing_environment(threads: int):
    """The conditions every fxlib timing runs under: ``threads`` torch threads, flush-to-zero
    for denormals and inference mode, all restored afterwards (module notes)."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    flushed = torch.set_flush_denormal(True)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(old_threads)
        if flushed:
            torch.set_flush_denormal(False)


_RECORD_SWITCH = getattr(torch._C._autograd, "_enable_record_function", None)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence file descriptor 2 for a moment: Kineto prints two "USDT ... profiler_start/stop"
    lines from C++ per profiled run whatever KINETO_LOG_LEVEL says, and Jupyter forwards them
    into the notebook. Python-level errors are unaffected (they are raised, not printed here)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):   # no real fd 2 (embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _profiled_ms(run) -> float:
    """CPU time of one top-level profiler range around ``run()``, in ms."""
    with _quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        with record_function("fxlib.inference"):
            if _RECORD_SWITCH is not None:
                _RECORD_SWITCH(False)   # keep the profiler to this one range (see module doc)
            try:
                run()
            finally:
                if _RECORD_SWITCH is not None:
                    _RECORD_SWITCH(True)
    events = [e for e in prof.events() if e.name == "fxlib.inference"]
    return events[0].cpu_time_total / 1000.0


def time_model(model: nn.Module, seconds: float = 1.0, sample_rate: int = SAMPLE_RATE,
               runs: int = 10, warmup: int = 2, threads: int = 1, profiler: bool = True,
               device: str = "cpu", seed: int = 0) -> TimingResult:
    """Time ``model`` on ``seconds`` of audio with the thesis's protocol (see module doc)."""
    if runs < 1 or warmup < 0 or threads < 1 or seconds <= 0:
        raise ValueError("need runs >= 1, warmup >= 0, threads >= 1 and seconds > 0")
    if _RECORD_SWITCH is None and profiler:
        warnings.warn("this PyTorch lacks _enable_record_function: the profiler records every "
                      "operator, which inflates recurrent-model times and memory")
    gen = torch.Generator().manual_seed(seed)
    x = (0.1 * torch.randn(1, int(round(seconds * sample_rate)), generator=gen)).to(device)
    model = model.to(device).eval()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run():
        model(x)
        sync()

    result = TimingResult(seconds=seconds, runs=runs, warmup=warmup, threads=threads,
                          device=device, hardware=hardware_info(threads, device))
    with timing_environment(threads):
        for _ in range(warmup):
            run()
        if profiler:
            _profiled_ms(run)   # the profiler's own (slow) start-up is not timed
            result.profiler_ms = [_profiled_ms(run) for _ in range(runs)]
        for _ in range(runs):
            start = time.perf_counter()
            run()
            result.wall_ms.append((time.perf_counter() - start) * 1000.0)
    return result
