"""The thesis's published numbers, in one place, for side-by-side tables.

Source: the 2023 U. de Chile master's thesis this project reproduces (chapter 4, Big Muff Pi test
set), listed with every table in docs/README.md. Times are ms to process 1 s of audio on a Colab
CPU (Intel Xeon 2.0 GHz, PyTorch profiler, 10 runs, mean ± std). These are **their** numbers,
never ours: tables print them in columns labelled "thesis".

Each row names the registry model, the training method ("scratch", "tor", "df"), whether the model
was trained on standardised inputs ("std"), and the teacher (a registry name, "-std" when the
teacher is itself a std model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ThesisResult:
    table: str
    label: str                 # as the thesis names the model
    model: str                 # fxlib registry name
    method: str                # scratch | tor | df
    std: bool                  # trained on standardised inputs
    teacher: Optional[str]
    mae: float
    esr: float
    time_ms: Optional[float]
    time_std_ms: Optional[float]
    params: Optional[int]


_R = ThesisResult
RESULTS: tuple[ThesisResult, ...] = (
    _R("4.1", "A", "A", "scratch", False, None, 0.0099, 0.5818, 1202, 76, 72065),
    _R("4.1", "B", "B", "scratch", False, None, 0.0066, 0.2261, 311, 42, 17217),
    _R("4.2", "Av2", "Av2", "scratch", False, None, 0.0129, 0.6017, 831, 28, 34113),
    _R("4.2", "TOR Av2", "Av2", "tor", False, "A", 0.0143, 0.7019, 833, 41, 34113),
    _R("4.3", "A std", "A", "scratch", True, None, 0.0094, 0.5399, 722, 21, 72065),
    _R("4.3", "Av2 std", "Av2", "scratch", True, None, 0.0491, 4.3987, 686, 28, 34113),
    _R("4.3", "DF Av2", "Av2", "df", True, "A-std", 0.0168, 0.8491, 685, 4, 34113),
    _R("4.4", "B h16", "B16", "scratch", False, None, 0.0113, 0.3936, 292, 51, 1233),
    _R("4.4", "B h8", "B8", "scratch", False, None, 0.0103, 0.4161, 277, 28, 361),
    _R("4.4", "TOR B h16", "B16", "tor", False, "B", 0.0091, 0.3128, 290, 28, 1233),
    _R("4.4", "TOR B h8", "B8", "tor", False, "B", 0.0102, 0.3595, 272, 29, 361),
    _R("4.5", "B std", "B", "scratch", True, None, 0.0131, 0.5665, 294, 35, 17217),
    _R("4.5", "B std h16", "B16", "scratch", True, None, 0.0139, 0.5799, 277, 37, 1233),
    _R("4.5", "B std h8", "B8", "scratch", True, None, 0.0147, 0.6558, 267, 30, 361),
    _R("4.5", "DF B h16", "B16", "df", True, "B-std", 0.0199, 0.8709, 272, 36, 1233),
    _R("4.5", "DF B h8", "B8", "df", True, "B-std", 0.0425, 2.3818, 258, 32, 361),
    _R("4.6", "TOR B→A", "A", "tor", False, "B", 0.6187, 639.1638, 1126, 65, 72065),
    _R("4.7", "DF B→A", "A", "df", True, "B-std", 0.1010, 129.8341, 726, 14, 72065),
    _R("4.8", "C h64", "C", "scratch", False, None, 0.0045, 0.1850, 152, 16, 12929),
    _R("4.8", "C h16", "C16", "scratch", False, None, 0.0081, 0.2625, 136, 13, 929),
    _R("4.8", "C h8", "C8", "scratch", False, None, 0.0111, 0.3335, 136, 12, 273),
    _R("4.8", "TOR C h64", "C", "tor", False, "B", 0.0051, 0.1568, 149, 15, 12929),
    _R("4.8", "TOR C h16", "C16", "tor", False, "B", 0.0071, 0.2058, 137, 18, 929),
    _R("4.8", "TOR C h8", "C8", "tor", False, "B", 0.0112, 0.3373, 135, 14, 273),
    _R("4.9", "C std h64", "C", "scratch", True, None, 0.0123, 0.5077, 159, 28, 12929),
    _R("4.9", "C std h16", "C16", "scratch", True, None, 0.0130, 0.5272, 147, 16, 929),
    _R("4.9", "C std h8", "C8", "scratch", True, None, 0.0147, 0.6778, 144, 20, 273),
    _R("4.9", "DF C h64", "C", "df", True, "B-std", 0.0133, 0.5731, 157, 28, 12929),
    _R("4.9", "DF C h16", "C16", "df", True, "B-std", 0.0156, 0.6117, 147, 15, 929),
    _R("4.9", "DF C h8", "C8", "df", True, "B-std", 0.0163, 0.9592, 145, 11, 273),
)

#: Table 4.10: TOR C h64 over 5 seeds, mean ± std of (MAE, ESR).
SEED_REPETITION = {"label": "TOR C h64", "runs": 5, "mae": (0.0052, 0.0003),
                   "esr": (0.1595, 0.0161)}

#: Trainable parameter counts of every registry model (thesis tables 4.1-4.9).
PARAMS: dict[str, int] = {"A": 72065, "Av2": 34113, "B": 17217, "B16": 1233, "B8": 361,
                          "C": 12929, "C16": 929, "C8": 273}


def find(model: str, method: str = "scratch", std: bool = False) -> Optional[ThesisResult]:
    """The thesis row for a model trained a given way, or None if the thesis has none."""
    for row in RESULTS:
        if (row.model, row.method, row.std) == (model, method, std):
            return row
    return None


def scratch_time_ms(model: str) -> tuple[float, float]:
    """(mean, std) ms per second of audio of the scratch-trained, raw-input model."""
    row = find(model)
    if row is None or row.time_ms is None:
        raise KeyError(f"the thesis reports no scratch time for {model!r}")
    return row.time_ms, row.time_std_ms

#: The dataset's sample rate (Wright et al. 2019; thesis §3.2), used throughout fxlib.
SAMPLE_RATE = 44100

#: Table 3.1: durations of the real dataset's splits, in seconds (5:42, 1:24, 1:04).
SPLIT_SECONDS: dict[str, int] = {"train": 342, "val": 84, "test": 64}
