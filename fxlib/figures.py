"""Every figure and results table of the study, by stable name, drawn from saved runs.

``FIGURES`` is the one catalogue: the experiment notebooks draw their own entries
(``draw(study, notebook="03_kd_on_B")``) and ``07_figures`` redraws all of them
(``draw(study)``) from the run cache without training. Names are stable file stems (PNG + SVG)
under each study's own folder, ``figures/<profile>/<source>-<effect>/``
(``fxlib.study.study_folder``), so the muff and ht1 studies, or smoke and quick, sit side by
side: ``fig4_<n>`` are the thesis's chapter-4 figures (a window and its zoom
are the two panels of one figure), ``figA_<n>`` its appendix loss curves.

``write_results`` writes ``results.md`` and ``results.csv`` into that folder: every thesis table
with our numbers beside the thesis's, the seed repetition, and lines saying which study
(profile, source, effect), data and hardware produced them.

``redraw`` is what ``07_figures`` runs: every figure whose runs exist, a list of the others with
the notebook that trains them (in Colab a user may open 07 after only some notebooks), and the
results files once every notebook's runs are there.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt

from . import thesis
from ._atomic import atomic_open, write_json
from .plots import plot_loss_curves, plot_seed_band, plot_waveforms, save_figure
from .report import csv_text
from .study import ABLATIONS, seed_table, teacher_labels
from .train import MissingRun


@dataclass(frozen=True)
class FigureSpec:
    name: str           # file stem under the study's figures folder
    kind: str           # "waveforms" | "loss" | "seeds"
    labels: tuple       # experiments drawn (target first for waveforms)
    thesis: str         # thesis figure number(s)
    notebook: str       # the notebook that draws it first
    title: str


_F = FigureSpec
FIGURES: tuple[FigureSpec, ...] = (
    _F("fig4_01_A_vs_B", "waveforms", ("A", "B"), "4.1-4.2", "01_A_vs_B", "Models A and B"),
    _F("figA_01_loss_A_B", "loss", ("A", "B"), "A.1", "01_A_vs_B", "Loss, models A and B"),
    _F("fig4_03_tor_on_A", "waveforms", ("A", "Av2", "TOR Av2"), "4.3-4.4", "02_kd_on_A",
       "KD TOR on model A"),
    _F("figA_02_loss_tor_on_A", "loss", ("Av2", "TOR Av2"), "A.2", "02_kd_on_A",
       "Loss, KD TOR on model A"),
    _F("fig4_05_df_on_A", "waveforms", ("A std", "Av2 std", "DF Av2"), "4.5-4.6", "02_kd_on_A",
       "KD DF on model A"),
    _F("figA_03_loss_df_on_A", "loss", ("A std", "Av2 std", "DF Av2"), "A.3", "02_kd_on_A",
       "Loss, KD DF on model A"),
    _F("fig4_07_tor_on_B", "waveforms", ("B", "B h16", "B h8", "TOR B h16", "TOR B h8"),
       "4.7-4.8", "03_kd_on_B", "KD TOR on model B"),
    _F("figA_04_loss_B", "loss", ("B", "B h16", "B h8"), "A.4", "03_kd_on_B",
       "Loss, model B variants"),
    _F("figA_05_loss_tor_on_B", "loss", ("TOR B h16", "TOR B h8"), "A.5", "03_kd_on_B",
       "Loss, KD TOR on model B"),
    _F("fig4_09_df_on_B", "waveforms",
       ("B std", "B std h16", "B std h8", "DF B h16", "DF B h8"), "4.9-4.10", "03_kd_on_B",
       "KD DF on model B"),
    _F("figA_06_loss_B_std", "loss", ("B std", "B std h16", "B std h8"), "A.6", "03_kd_on_B",
       "Loss, standardised model B variants"),
    _F("figA_07_loss_df_on_B", "loss", ("DF B h16", "DF B h8"), "A.7", "03_kd_on_B",
       "Loss, KD DF on model B"),
    _F("fig4_11_tor_B_to_A", "waveforms", ("B", "TOR B→A"), "4.11-4.12", "04_kd_B_to_A",
       "KD TOR from model B to A"),
    _F("fig4_13_df_B_to_A", "waveforms", ("B std", "DF B→A"), "4.13-4.14", "04_kd_B_to_A",
       "KD DF from model B to A"),
    _F("figA_08_loss_B_to_A", "loss", ("TOR B→A", "DF B→A"), "A.8", "04_kd_B_to_A",
       "Loss, KD from model B to A"),
    _F("fig4_15a_C", "waveforms", ("B", "C h64", "C h16", "C h8"), "4.15a-4.16a",
       "05_kd_to_C", "Model C variants (scratch)"),
    _F("fig4_15b_tor_B_to_C", "waveforms", ("B", "TOR C h64", "TOR C h16", "TOR C h8"),
       "4.15b-4.16b", "05_kd_to_C", "KD TOR from model B to C"),
    _F("figA_09_loss_C", "loss", ("C h64", "C h16", "C h8"), "A.9", "05_kd_to_C",
       "Loss, model C variants"),
    _F("figA_10_loss_tor_B_to_C", "loss", ("TOR C h64", "TOR C h16", "TOR C h8"), "A.10",
       "05_kd_to_C", "Loss, KD TOR from model B to C"),
    _F("fig4_17a_C_std", "waveforms", ("B std", "C std h64", "C std h16", "C std h8"),
       "4.17a-4.18a", "05_kd_to_C", "Standardised model C variants"),
    _F("fig4_17b_df_B_to_C", "waveforms", ("B std", "DF C h64", "DF C h16", "DF C h8"),
       "4.17b-4.18b", "05_kd_to_C", "KD DF from model B to C"),
    _F("figA_11_loss_C_std", "loss", ("C std h64", "C std h16", "C std h8"), "A.11",
       "05_kd_to_C", "Loss, standardised model C variants"),
    _F("figA_12_loss_df_B_to_C", "loss", ("DF C h64", "DF C h16", "DF C h8"), "A.12",
       "05_kd_to_C", "Loss, KD DF from model B to C"),
    _F("fig4_19_seed_band", "seeds", (), "4.19", "06_seed_repetition",
       "Best model over seeds"),
)

SEED_FILE = "seed_repetition.json"     # written by 06 in the study's folder, read by 07, results


def figure_specs(notebook: Optional[str] = None) -> list[FigureSpec]:
    return [f for f in FIGURES if notebook is None or f.notebook == notebook]


def draw_one(study, spec: FigureSpec, root=None, show: bool = False) -> list[Path]:
    """Draw one catalogue figure from the study's runs and save it in the study's folder
    under ``root`` (default ``figures/``: ``Study.figures_folder``); returns the files."""
    title = (f"{spec.title} (thesis fig. {spec.thesis}; ours: {study.profile.name} profile, "
             f"{study.effect})")
    if spec.kind == "waveforms":
        sig = study.signals(spec.labels)
        start = study.window() - sig.start
        fig = plot_waveforms({"target": sig["target"], **{k: sig[k] for k in spec.labels}},
                             start, title=title)
    elif spec.kind == "loss":
        fig = plot_loss_curves({k: study.run(k).history for k in spec.labels}, title=title)
    elif spec.kind == "seeds":
        info = read_seed_repetition(study, root)
        if info is None:
            return []
        label, seeds = info["label"], info["seeds"]
        sig = {s: study.signals([label], seed=s) for s in seeds}
        first = sig[seeds[0]]
        start = study.window() - first.start
        target = first["target"]
        peak = start + int(abs(target[start:start + 4096]).argmax()) - 50
        fig = plot_seed_band(target, [sig[s][label] for s in seeds], max(0, peak),
                             label=label, title=title)
    else:
        raise ValueError(f"unknown figure kind {spec.kind!r}")
    paths = save_figure(fig, spec.name, study.figures_folder(root))
    if show:
        plt.show()
    plt.close(fig)
    return paths


def draw(study, notebook: Optional[str] = None, root=None, show: bool = False) -> list[Path]:
    """Draw every catalogue figure (of one notebook, or all); returns the files written."""
    out = []
    for spec in figure_specs(notebook):
        out += draw_one(study, spec, root, show)
    return out


@dataclass
class Redrawn:
    """What ``redraw`` did: the files written, the figures left out for want of runs (by the
    notebook that trains them), and the results files (None until every run exists)."""
    paths: list
    missing: dict            # notebook -> [figure names]
    results: Optional[tuple] = None

    def describe(self) -> str:
        lines = [f"{len(self.paths)} files written"]
        for notebook, names in self.missing.items():
            lines.append(f"not drawn, their runs do not exist yet (run {notebook} first): "
                         + ", ".join(names))
        if self.results is None:
            lines.append("results.md / results.csv need the runs of every notebook: not "
                         "written")
        else:
            lines.append(f"results: {self.results[0]} and {self.results[1]}")
        return "\n".join(lines)


def redraw(study, root=None, timing: bool = True) -> Redrawn:
    """Every catalogue figure whose runs exist (the study must not train: ``train=False``),
    then ``write_results`` if nothing is missing (module notes)."""
    out = Redrawn([], {})
    for spec in FIGURES:
        try:
            out.paths += draw_one(study, spec, root)
        except MissingRun:
            out.missing.setdefault(spec.notebook, []).append(spec.name)
    if not out.missing:
        out.results = write_results(study, root, timing=timing)
    return out


def write_seed_repetition(study, info: dict, root=None) -> Path:
    """Save 06's seed repetition (``Study.seed_repetition``) in the study's folder."""
    path = study.figures_folder(root) / SEED_FILE
    write_json(path, info)
    return path


def read_seed_repetition(study, root=None) -> Optional[dict]:
    """The study's saved seed repetition, or None before 06 has run."""
    path = study.figures_folder(root) / SEED_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


RESULT_COLUMNS = ("table", "label", "n", "mae", "mae_std", "esr", "esr_std", "time_ms",
                  "time_std_ms", "params", "epochs", "plateaued", "thesis_mae", "thesis_esr",
                  "thesis_time", "thesis_params", "run")


def write_results(study, root=None, timing: bool = True) -> tuple[Path, Path]:
    """``results.md`` (every table, ours beside the thesis's, then the claims table: each
    thesis claim with its verdict on our numbers) and ``results.csv``, in the study's folder
    (``Study.figures_folder(root)``); the first lines say which study they are."""
    rows, parts = [], [f"# Results: ours beside the thesis's ({study.name})\n",
                       f"Study: {study.name}.\n", study.context() + "\n"]
    for table in sorted({r.table for r in thesis.RESULTS}, key=lambda t: float(t)):
        labels = [r.label for r in thesis.RESULTS if r.table == table]
        parts.append(f"## Table {table}\n")
        ours = study.table(labels, timing=timing)        # each row computed once
        parts.append(study.rows_markdown(ours, timing))
        rows += ours
    parts.append("## The teachers\n")
    parts.append("Every run that teaches another (TOR, DF), as trained here: a student can only "
                 "learn what its teacher gets right (epochs run, and whether the run stopped at "
                 "its validation plateau or at the profile's ceiling).\n")
    by_label = {row["label"]: row for row in rows}       # every teacher is a thesis row
    parts.append(study.rows_markdown([by_label[lb] for lb in teacher_labels()], timing=False))
    info = read_seed_repetition(study, root)
    if info is not None:
        parts.append(f"## Table 4.10: {info['label']} over {len(info['seeds'])} seeds\n")
        parts.append(seed_table(info))
    for notebook, group in ABLATIONS.items():
        labels = [e.label for e in group]
        parts.append(f"## fxlib's ablations (notebook {notebook})\n")
        ours = study.table(labels, timing=timing)
        parts.append(study.rows_markdown(ours, timing))
        rows += ours
    parts.append("## Claims\n")
    parts.append("Each conclusion the thesis draws from its tables, oriented as its numbers put "
                 "it, tested on ours over every seed of both arms (docs/evaluation.md, section "
                 "'Verdicts'): the mean difference of the metric (lower is better) with its 95 % "
                 "interval, and the verdict.\n")
    parts.append(study.claims_table(timing=timing))
    folder = study.figures_folder(root)
    md, csv = folder / "results.md", folder / "results.csv"
    with atomic_open(md, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    with atomic_open(csv, "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(rows, RESULT_COLUMNS))
    return md, csv


__all__ = ["FigureSpec", "FIGURES", "figure_specs", "draw", "draw_one", "redraw", "Redrawn",
           "write_results", "write_seed_repetition", "read_seed_repetition", "SEED_FILE"]
