"""The study's experiments as data: every row of the thesis's tables, which notebook trains and
shows which, the seeds of each arm, and the thesis's claims to test.

Every experiment is a row of the thesis's tables, named as the thesis names it
(``fxlib.thesis.RESULTS``): the model, the method (scratch / TOR / DF), whether it is a "std"
model, and its teacher (itself an experiment, trained with seed 0 before its student). The
notebooks read their lists from here (``notebook_runs``, ``table_labels``), and so does the run
grid (``fxlib.study.Study.plan``): one source for what the study trains. ``claims`` lists what
the thesis concludes from its tables, as comparisons that ``fxlib.study.Study.compare`` tests
on our numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import thesis

#: The thesis's models in the order its tables list them.
LABELS: tuple[str, ...] = tuple(r.label for r in thesis.RESULTS)


@dataclass(frozen=True)
class Experiment:
    label: str
    model: str
    method: str
    std: bool
    teacher: Optional[str]        # the teacher's experiment label
    table: str                    # the thesis table it is a row of (an ablation: extends)
    kd: tuple = ()                # KD options beyond the method's defaults, (key, value) pairs
    thesis: bool = True           # a row of the thesis (False: one of fxlib's ablations)


def _teacher_label(name: Optional[str]) -> Optional[str]:
    return None if name is None else name.replace("-std", " std")


EXPERIMENTS: dict[str, Experiment] = {
    r.label: Experiment(r.label, r.model, r.method, r.std, _teacher_label(r.teacher), r.table)
    for r in thesis.RESULTS}

#: fxlib's own experiments beside the thesis's rows, per notebook: the TOR students with the
#: distillation term switched off (c_D = 0: outlier rejection alone), which separates what the
#: teacher's L1 term does from what the rejection mask does (docs/kd.md, section 'TOR').
ABLATIONS: dict[str, tuple[Experiment, ...]] = {
    "03_kd_on_B": tuple(Experiment(f"TOR B h{h} c_D=0", f"B{h}", "tor", False, "B", "4.4",
                                   kd=(("c_d", 0.0),), thesis=False) for h in (16, 8)),
}
EXPERIMENTS.update({e.label: e for group in ABLATIONS.values() for e in group})

#: The ablations' comparisons per notebook (a, b, metric), tested like the claims.
ABLATION_COMPARISONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "03_kd_on_B": (("TOR B h16", "TOR B h16 c_D=0", "esr"), ("TOR B h8", "TOR B h8 c_D=0", "esr"),
                   ("TOR B h16 c_D=0", "B h16", "esr"), ("TOR B h8 c_D=0", "B h8", "esr")),
}


def teacher_labels() -> list[str]:
    """The experiments that teach others (TOR and DF teachers), in table order."""
    taught = {e.teacher for e in EXPERIMENTS.values() if e.teacher}
    return [label for label in EXPERIMENTS if label in taught]


def ablation_labels(notebook: str) -> list[str]:
    """fxlib's ablations shown by ``notebook`` (none for most)."""
    return [e.label for e in ABLATIONS.get(notebook, ())]

#: Thesis tables per notebook (what each experiment notebook trains and shows).
NOTEBOOK_TABLES: dict[str, tuple[str, ...]] = {
    "01_A_vs_B": ("4.1",), "02_kd_on_A": ("4.2", "4.3"), "03_kd_on_B": ("4.4", "4.5"),
    "04_kd_B_to_A": ("4.6", "4.7"), "05_kd_to_C": ("4.8", "4.9")}


def table_labels(table: str) -> list[str]:
    """The experiment labels of one thesis table, e.g. ``"4.4"``."""
    labels = [r.label for r in thesis.RESULTS if r.table == table]
    if not labels:
        raise ValueError(f"no thesis table {table!r}; tables: "
                         f"{sorted({r.table for r in thesis.RESULTS})}")
    return labels


def notebook_runs(notebook: str) -> list[str]:
    """The experiments an experiment notebook trains: the rows of its thesis tables, then its
    ablations. The notebooks read their lists from here, and so does the run grid
    (``Study.plan``)."""
    try:
        tables = NOTEBOOK_TABLES[notebook]
    except KeyError:
        raise ValueError(f"no experiment notebook {notebook!r}; notebooks: "
                         f"{', '.join(NOTEBOOK_TABLES)}") from None
    return [label for t in tables for label in table_labels(t)] + ablation_labels(notebook)


#: The notebook of the seed repetition: it trains more seeds of the best model, chosen from
#: every experiment's seed-0 run and its inference time (``Study.best``).
SEED_REPETITION_NOTEBOOK = "06_seed_repetition"


#: Tables whose 8- and 16-unit arms (``SMALL_MODELS``) run ``Profile.arm_seeds`` seeds: the KD
#: comparisons at the students' sizes, where one seed's spread is as large as the effects.
MULTI_SEED_TABLES: tuple[str, ...] = ("4.4", "4.5", "4.8", "4.9")
SMALL_MODELS: tuple[str, ...] = ("B16", "B8", "C16", "C8")

#: The comparisons each experiment notebook reports, as (a, b, metric): the thesis's claims
#: (docs/evaluation.md, section 'Verdicts'). ``claims`` orients each by the thesis's numbers.
NOTEBOOK_COMPARISONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "01_A_vs_B": (("B", "A", "esr"), ("B", "A", "mae"), ("B", "A", "time")),
    "02_kd_on_A": (("TOR Av2", "Av2", "esr"), ("TOR Av2", "Av2", "mae"),
                   ("DF Av2", "Av2 std", "esr"), ("DF Av2", "A std", "esr"),
                   ("Av2", "A", "time")),
    "03_kd_on_B": (("TOR B h16", "B h16", "esr"), ("TOR B h8", "B h8", "esr"),
                   ("DF B h16", "B std h16", "esr"), ("DF B h8", "B std h8", "esr"),
                   ("B h8", "B", "time")),
    "04_kd_B_to_A": (("TOR B→A", "A", "esr"), ("DF B→A", "A std", "esr"),
                     ("TOR B→A", "B", "esr")),
    "05_kd_to_C": (("TOR C h64", "C h64", "esr"), ("TOR C h16", "C h16", "esr"),
                   ("TOR C h8", "C h8", "esr"), ("TOR C h64", "B", "esr"),
                   ("TOR C h64", "B", "time"), ("DF C h64", "C std h64", "esr")),
}


@dataclass(frozen=True)
class Claim:
    """A thesis claim: ``a`` beats ``b`` on ``metric`` (lower is better), ``a`` being the one
    the thesis's own numbers put ahead; ``thesis_a`` / ``thesis_b`` are those numbers."""
    notebook: str
    a: str
    b: str
    metric: str
    thesis_a: float
    thesis_b: float

    @property
    def text(self) -> str:
        return f"{self.a} beats {self.b} on {self.metric.upper()}"


def _thesis_value(label: str, metric: str) -> float:
    r = thesis_row(label)
    return {"esr": r.esr, "mae": r.mae, "time": r.time_ms}[metric]


def claims(notebook: Optional[str] = None) -> list[Claim]:
    """The thesis's claims (``NOTEBOOK_COMPARISONS``), each oriented so that the thesis's
    numbers say it holds; one notebook's, or all of them."""
    books = NOTEBOOK_COMPARISONS if notebook is None else {notebook: _comparisons(notebook)}
    out = []
    for nb, comparisons in books.items():
        for a, b, metric in comparisons:
            va, vb = _thesis_value(a, metric), _thesis_value(b, metric)
            if vb < va:
                a, b, va, vb = b, a, vb, va
            out.append(Claim(nb, a, b, metric, va, vb))
    return out


def _comparisons(notebook: str):
    try:
        return NOTEBOOK_COMPARISONS[notebook]
    except KeyError:
        raise ValueError(f"no experiment notebook {notebook!r}; notebooks: "
                         f"{', '.join(NOTEBOOK_COMPARISONS)}") from None


@dataclass(frozen=True)
class PlannedRun:
    """One training the study needs: ``label`` with ``seed``, after its teacher (the key of
    another planned run, or None), for the ``notebooks`` that show it."""
    label: str
    seed: int
    teacher: Optional[str]
    notebooks: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.label} s{self.seed}"


def experiment(label: str) -> Experiment:
    try:
        return EXPERIMENTS[label]
    except KeyError:
        raise ValueError(f"unknown experiment {label!r}; known: {', '.join(LABELS)}") from None


def thesis_row(label: str) -> thesis.ThesisResult:
    for r in thesis.RESULTS:
        if r.label == label:
            return r
    raise ValueError(f"the thesis has no row {label!r}")


__all__ = ["Experiment", "EXPERIMENTS", "LABELS", "ABLATIONS", "ABLATION_COMPARISONS",
           "ablation_labels", "teacher_labels", "NOTEBOOK_TABLES", "NOTEBOOK_COMPARISONS",
           "MULTI_SEED_TABLES", "SMALL_MODELS", "SEED_REPETITION_NOTEBOOK", "Claim", "PlannedRun",
           "table_labels", "notebook_runs", "claims", "experiment", "thesis_row"]
