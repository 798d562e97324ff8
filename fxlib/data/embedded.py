"""Builder of the embedded dataset: synthesised dry DI plus circuit-model targets, from a seed.

Layout (the same as Wright et al.'s public ``Data/`` folder)::

    <root>/embedded/<scale>/{train,val,test}/{muff,ht1}-{input,target}.wav
    <root>/embedded/<scale>/manifest.json

mono, 44.1 kHz, 32-bit float WAV. Within a split the two ``*-input.wav`` files are identical (as
in the original layout). Inputs come from :mod:`fxlib.data.guitar`, ``muff`` targets from
:mod:`fxlib.data.bigmuff`, ``ht1`` targets from :mod:`fxlib.data.tube_amp`.

Scales: ``full`` has exactly the original durations (train 342 s, val 84 s, test 64 s);
``smoke`` is exactly 1/60 of each (5.7 s, 1.4 s, 1.0667 s = 251,370 / 61,740 / 47,040 samples),
for tests and CI. Smoke splits hold only one to three phrases, so the guitar/bass and mono/poly
balance (about 50/50 by phrase time) only holds from some tens of seconds up.

Speed: each build records its time in ``manifest.json`` (measured builds: docs/benchmarks.md,
section 'The quick study'); numba compiles the kernels on first use and caches them. Two worker
threads render independent jobs; the numba kernels and scipy filters release the GIL.

Determinism: same seed, same samples. Bytes are reproducible on one machine (libsndfile's PEAK
timestamp is zeroed); across CPUs or numba/LLVM versions compare samples with a tolerance.

Seeds: each split's material comes from its own 128-bit entropy, SHA-256 of
``"fxlib.embedded/<seed>/<split>"``, so splits share no phrase and a split does not change when
another split's length does.

Caching: ``manifest.json`` records the builder version, seed, scale, every synthesis parameter
(plus SHA-256 of the synthesis source files, so a code change is a parameter change) and the
SHA-256 of every file. A later call with the same identity whose files all hash as recorded reuses
the folder; anything else rebuilds it. The manifest is deleted when a rebuild starts and written
last, so an interrupted build never looks complete. All files are written atomically.

Label noise (:mod:`fxlib.data.label_noise`): when given, the TRAIN targets are corrupted and the
set goes to a sibling folder ``<scale>-noisy-<tag>`` (``tag`` = 8 hex digits of the noise
parameters' hash), so the clean set is never overwritten and several noisy variants can coexist.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from fxlib._atomic import atomic_open, write_json
from fxlib.paths import data_root
from fxlib.thesis import SPLIT_SECONDS

from .access import check_data_access
from .audio import SAMPLE_RATE

from . import bigmuff, guitar, label_noise as noise_mod, tube_amp

BUILDER_VERSION = "1"
FS = SAMPLE_RATE
SPLITS = ("train", "val", "test")
EFFECTS = ("muff", "ht1")   # the two effects of Wright et al. 2019: Big Muff Pi, Blackstar HT-1
DEVICES = EFFECTS             # old name of EFFECTS (README, "Renamed")
#: Samples per split. ``full`` = the original 5:42 / 1:24 / 1:04; ``smoke`` = 1/60 of that.
FULL_SAMPLES = {split: seconds * FS for split, seconds in SPLIT_SECONDS.items()}  # table 3.1
SCALES = {"full": dict(FULL_SAMPLES), "smoke": {k: v // 60 for k, v in FULL_SAMPLES.items()}}
_PROCESSORS = {"muff": bigmuff.process, "ht1": tube_amp.process}
_SOURCES = ("guitar.py", "bigmuff.py", "tube_amp.py", "label_noise.py", "embedded.py")


def split_lengths(scale: str) -> dict:
    """Samples per split for ``scale``; ValueError naming the choices otherwise."""
    if not isinstance(scale, str) or scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    return dict(SCALES[scale])


def split_entropy(seed: int, split: str) -> int:
    """128-bit entropy for one split's material, derived from (seed, split name)."""
    digest = hashlib.sha256(f"fxlib.embedded/{seed}/{split}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return int(seed)


def dataset_dir(scale: str = "full", root=None, label_noise=None) -> Path:
    """Folder a build with these arguments writes to (nothing is built)."""
    split_lengths(scale)
    ln = noise_mod.parse(label_noise)
    name = scale if ln is None else f"{scale}-noisy-{ln.tag()}"
    return data_root(root) / "embedded" / name


def synthesis_params(scale: str, label_noise=None) -> dict:
    """Every parameter that determines the build's output (JSON-normalised)."""
    ln = noise_mod.parse(label_noise)
    here = Path(__file__).resolve().parent
    params = {
        "fs": FS, "samples": split_lengths(scale), "input": guitar.PARAMS,
        "muff": bigmuff.PARAMS, "ht1": tube_amp.PARAMS,
        "label_noise": None if ln is None else ln.to_dict(),
        "split_entropy": "sha256('fxlib.embedded/<seed>/<split>')[:16]",
        "source_sha256": {f: _sha256_file(here / f) for f in _SOURCES},
    }
    return json.loads(json.dumps(params))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder) -> dict | None:
    try:
        return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_built(folder, identity: dict) -> bool:
    """True when ``folder``'s manifest has this identity and every file hashes as recorded."""
    m = read_manifest(folder)
    if m is None or any(m.get(k) != v for k, v in identity.items()):
        return False
    expected = {f"{s}/{d}-{k}.wav" for s in SPLITS for d in EFFECTS for k in ("input", "target")}
    files = m.get("files", {})
    if set(files) != expected:
        return False
    return all((Path(folder) / rel).is_file() and _sha256_file(Path(folder) / rel) == sha
               for rel, sha in files.items())


def _wav_bytes(x: np.ndarray) -> bytes:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise RuntimeError("refusing to write a non-finite or multichannel signal")
    buf = io.BytesIO()
    sf.write(buf, x, FS, subtype="FLOAT", format="WAV")
    data = bytearray(buf.getvalue())
    # libsndfile adds a PEAK chunk (version, *timestamp*, per-channel peak) to float WAVs; zero
    # the timestamp so that the same samples always give the same bytes and the same SHA-256.
    pos = 12
    while pos + 8 <= len(data):
        cid, size = bytes(data[pos:pos + 4]), int.from_bytes(data[pos + 4:pos + 8], "little")
        if cid == b"PEAK" and size >= 8:
            data[pos + 12:pos + 16] = b"\0\0\0\0"
        pos += 8 + size + (size & 1)
    return bytes(data)


def _write(path: Path, data: bytes) -> str:
    with atomic_open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _signal_stats(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=np.float64)
    return {"peak": float(np.max(np.abs(x))), "rms": float(np.sqrt(np.mean(x * x)))}


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel; returns the seconds it took.

    Done once in the main thread before the worker threads start, so they never compile the
    same function concurrently.
    """
    t0 = time.perf_counter()
    x, _, _ = guitar.synth_di(FS // 4, 1)
    bigmuff.process(x[:2048])
    tube_amp.process(x[:2048])
    return time.perf_counter() - t0


def build_embedded(scale: str = "full", seed: int = 0, root: str | os.PathLike | None = None, *,
                   label_noise=None, force: bool = False) -> Path:
    """Build (or reuse) the embedded dataset; returns ``<root>/embedded/<scale>`` (see module doc).

    ``scale``: ``"full"`` or ``"smoke"``. ``seed``: non-negative int. ``root``: data folder
    (default :func:`fxlib.paths.data_root`). ``label_noise``: None (off), a dict of
    :class:`fxlib.data.label_noise.LabelNoise` fields or an instance; corrupts train targets
    only and writes to ``<scale>-noisy-<tag>``. ``force``: rebuild even if a matching build exists.
    """
    check_data_access(f"build_embedded({scale!r})")
    lengths = split_lengths(scale)
    seed = _check_seed(seed)
    ln = noise_mod.parse(label_noise)
    folder = dataset_dir(scale, root, ln)
    identity = {"builder_version": BUILDER_VERSION, "seed": seed, "scale": scale,
                "params": synthesis_params(scale, ln)}
    if not force and is_built(folder, identity):
        return folder
    t_start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").unlink(missing_ok=True)
    jit_s = warm_up()
    files, stats = {}, {"splits": {}}
    workers = max(1, min(2, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Stage 1: the three dry inputs. Stage 2: six device renders, longest first so the two
        # workers finish together; files are written by this thread as results arrive.
        di = dict(zip(SPLITS, pool.map(
            lambda s: guitar.synth_di(lengths[s], split_entropy(seed, s)), SPLITS)))
        for split, (x, phrases, notes) in di.items():
            blob = _wav_bytes(x)
            st = {"input": _signal_stats(x), "score": guitar.score_stats(phrases, x.size),
                  "notes": int(notes.size)}
            for dev in EFFECTS:
                rel = f"{split}/{dev}-input.wav"
                files[rel] = _write(folder / rel, blob)
            stats["splits"][split] = st
        order = sorted(((s, d) for s in SPLITS for d in EFFECTS),
                       key=lambda sd: -lengths[sd[0]] * (2 if sd[1] == "ht1" else 1))

        def render(split, dev):
            info = {}
            y = _PROCESSORS[dev](di[split][0].astype(np.float64), FS, info=info)
            if ln is not None and split == "train":
                ss = np.random.SeedSequence(split_entropy(seed, split),
                                            spawn_key=(100, EFFECTS.index(dev)))
                y, counts = noise_mod.corrupt(y, FS, ln, ss)
                info["label_noise_events"] = counts
            return split, dev, y, info

        for fut in [pool.submit(render, s, d) for s, d in order]:
            split, dev, y, info = fut.result()
            files[f"{split}/{dev}-target.wav"] = _write(folder / split / f"{dev}-target.wav",
                                                        _wav_bytes(y))
            stats["splits"][split][dev] = {**_signal_stats(y), **info}
    manifest = {**identity, "files": dict(sorted(files.items())), "stats": stats,
                "build": {"seconds": round(time.perf_counter() - t_start, 3),
                          "jit_seconds": round(jit_s, 3), "python": platform.python_version(),
                          "numpy": np.__version__, "machine": platform.machine()}}
    write_json(folder / "manifest.json", manifest)
    return folder
