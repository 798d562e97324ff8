"""WAV reading and writing with checks that fail loudly and say how to fix things.

Everything fxlib trains on is mono float32 at 44.1 kHz. Users bring their own recordings too, so
``read_wav`` turns each way a file can be unusable (missing, not a WAV, cut short, other rate,
stereo, NaN/inf) into a ``DataError`` that names the file and the fix, instead of a libsndfile
message or, worse, silently wrong data: libsndfile reads a WAV whose data chunk was cut short
(an interrupted copy or download) without complaint, so we check the RIFF header ourselves.
"""
from __future__ import annotations

import os
import struct
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .._atomic import atomic_path
from ..thesis import SAMPLE_RATE  # the one sample rate of the study (44.1 kHz)
from .access import check_data_access
from .errors import DataError


def _check_riff(path: Path) -> None:
    """Raise if a RIFF/WAVE file's data chunk claims more bytes than the file holds.

    libsndfile silently shortens such a file to what is there, so a half-copied recording would
    train (and score) on a truncated, possibly misaligned pair. Non-RIFF files (RF64, FLAC, ...)
    and streaming placeholders (size 0 or 0xFFFFFFFF) are left to libsndfile.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, csize = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):
                    return
                if pos + 8 + csize > size:
                    raise DataError(
                        f"{path}: WAV file is truncated: its header announces {csize} bytes of "
                        f"audio but only {size - pos - 8} are present. The file was probably cut "
                        "short by an interrupted copy or download; copy or fetch it again.")
                return
            pos += 8 + csize + (csize & 1)  # chunks are padded to even sizes


def read_wav(path: str | os.PathLike, *, expected_sr: int | None = SAMPLE_RATE,
             resample: bool = False, downmix: bool = False) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32 in [-1, 1) and return ``(samples, sample_rate)``.

    Any format libsndfile reads is accepted (16/24-bit PCM and float WAV in practice).

    * ``expected_sr``: a different rate is an error unless ``resample=True``, which converts it
      with a polyphase filter (``scipy.signal.resample_poly``) and returns ``expected_sr``.
      ``None`` accepts any rate unchanged.
    * More than one channel is an error unless ``downmix=True`` (average of the channels):
      silently picking or mixing channels of a stereo re-amp recording can hide a mistake.
    * NaN or infinite samples (possible in float WAV) are an error.
    """
    check_data_access(f"read_wav({path})")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file. Check the path (and the dataset layout "
                        "{train,val,test}/<effect>-{input,target}.wav).")
    _check_riff(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(f"{path}: not a readable audio file ({err}). Is it a complete WAV "
                        "file? Re-export or copy it again.") from err
    if data.shape[0] == 0:
        raise DataError(f"{path}: the file holds no audio samples.")
    if data.shape[1] > 1:
        if not downmix:
            raise DataError(
                f"{path}: {data.shape[1]} channels, but the models are mono. Pass "
                "downmix=True (averages the channels; --downmix in fxlib.train and fxlib.data "
                "check) or "
                "export the single channel you mean to use.")
        data = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    else:
        data = data[:, 0]
    if not np.isfinite(data).all():
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise DataError(f"{path}: {bad} NaN/infinite samples (first at index "
                        f"{int(np.argmax(~np.isfinite(data)))}). Re-export the file from its "
                        "source; fxlib cannot guess the missing values.")
    if expected_sr is not None and sr != expected_sr:
        if not resample:
            raise DataError(
                f"{path}: sample rate {sr} Hz, expected {expected_sr} Hz. Pass resample=True "
                f"(--resample in fxlib.train and fxlib.data check) to convert it on load, or "
                f"convert the file (e.g. `sox in.wav -r "
                f"{expected_sr} out.wav`).")
        data, sr = resample_audio(data, sr, expected_sr), expected_sr
    return np.ascontiguousarray(data, dtype=np.float32), int(sr)


def resample_audio(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (Kaiser-windowed FIR), exact for rational rate ratios."""
    g = gcd(int(sr_in), int(sr_out))
    y = resample_poly(np.asarray(x, dtype=np.float64), sr_out // g, sr_in // g)
    return y.astype(np.float32)


def write_wav(path: str | os.PathLike, x, sr: int = SAMPLE_RATE) -> Path:
    """Write ``x`` (1-D mono, or ``(frames, channels)``) as a float32 WAV, atomically.

    Float32 keeps targets above 0 dBFS and avoids re-quantising; the temporary file is renamed
    onto ``path`` only after a complete write, so a crash never leaves a half-written WAV.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2) or x.size == 0:
        raise DataError(f"{path}: expected a non-empty 1-D (or frames x channels) array, "
                        f"got shape {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: refusing to write NaN/infinite samples")
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), x, int(sr), subtype="FLOAT", format="WAV")
    return path
