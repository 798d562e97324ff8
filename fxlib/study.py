"""The study of thesis chapter 4 as named experiments: train or reuse, tabulate, judge.

    from fxlib.study import Study
    study = Study(profile="quick", source="embedded", device="muff")
    run = study.run("TOR B h16")                 # trains teacher B first if needed
    print(study.markdown(["B h16", "B h8", "TOR B h16", "TOR B h8"]))
    print(study.compare("TOR B h16", "B h16", "esr"))

The experiments themselves -- every row of the thesis's tables, each notebook's list, the
thesis's claims -- are data in ``fxlib.experiments`` (re-exported here). A teacher is itself an
experiment, trained (or reused) with seed 0 before its student, so every notebook shares one
teacher through the run cache.

``Study`` holds what a notebook chooses (profile, data source and device, threads, compute
device, force), loads the dataset once, and turns runs into the thesis-format tables: MAE and
ESR on the whole test file, the inference time for 1 s of audio (``fxlib.timing``, the thesis's
protocol, cached in the run folder per machine), parameters, and the thesis's numbers beside.
The 8- and 16-unit arms of the KD tables (``MULTI_SEED_TABLES``) run the profile's
``arm_seeds`` seeds (``Study.seeds``); their rows show mean ± std and n. Verdicts (``compare``,
``verdicts``, ``claims_table``) are computed from our numbers over every seed of both arms
(``fxlib.verdict``: an interval and "holds", "does not hold" or "inconclusive") and never
assume the thesis's answer.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from . import thesis
from ._atomic import atomic_path, write_json
from ._compat import renamed
from .data import build_embedded
from .models import count_parameters
from .paths import figures_root
from .plots import busiest_window
from .profiles import get_profile
from .report import markdown_table
from .timing import hardware_info, hardware_line, time_model
from .train import MissingRun, TrainConfig, load_training_data, train
from .train.dataset import BUILTIN_SOURCES, source_label
from .verdict import Arm, Verdict, compare_arms, fmt_arm, pooled_cv
# The experiments as data live in fxlib.experiments; re-exported here, where notebooks import
# them from (``from fxlib.study import Study, notebook_runs, table_labels``).
from .experiments import (ABLATION_COMPARISONS, ABLATIONS, EXPERIMENTS, LABELS,
                          MULTI_SEED_TABLES, NOTEBOOK_COMPARISONS, ablation_labels,
                          NOTEBOOK_TABLES, SEED_REPETITION_NOTEBOOK, SMALL_MODELS, Claim,
                          Experiment, PlannedRun, claims, experiment, notebook_runs,
                          table_labels, teacher_labels, thesis_row)


def relative_change(ours: float, reference: float) -> float:
    """(ours - reference) / |reference| (0 when both are 0, inf when only the reference is)."""
    if reference == 0:
        return 0.0 if ours == 0 else float("inf")
    return (ours - reference) / abs(reference)


#: A seed repetition counts as stable when the ESR's coefficient of variation (std / mean over
#: the seeds) is below this: 15 %, about 1.5x the thesis's own 10 % for TOR C h64 (table 4.10).
STABLE_CV = 0.15


class Excerpt(Mapping):
    """The listening / figure excerpt of the test split: ``{"input", "target", <label>...}``
    arrays (a read-only mapping, what ``fxlib.notebook.listen`` takes) and ``start``, its first
    sample in the test split."""

    def __init__(self, signals: dict, start: int):
        self._signals, self.start = dict(signals), int(start)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._signals[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._signals)

    def __len__(self) -> int:
        return len(self._signals)


def study_folder(profile: str, source: str, effect: str) -> Path:
    """The relative folder that keeps one study's outputs apart from every other's:
    ``<profile>/<source>-<effect>`` (``quick/embedded-muff``, ``paper/wright2019-ht1``).

    A folder source is named by its last component and 8 hex digits of its resolved path's
    SHA-1 (two folders called ``takes`` stay apart). Characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``, so an effect given as a file prefix is a safe name.
    """
    label = str(source)
    if label not in BUILTIN_SOURCES:         # a folder: named by its resolved path
        label = source_label(label)
        digest = hashlib.sha1(label.encode("utf-8")).hexdigest()[:8]
        label = f"{Path(label).name or 'folder'}-{digest}"
    safe = lambda text: re.sub(r"[^A-Za-z0-9._-]", "_", str(text)).lstrip(".") or "_"
    return Path(safe(profile)) / f"{safe(label)}-{safe(effect)}"


def figures_folder(profile: str, source: str, effect: str, root=None) -> Path:
    """Where one study's figures and results files go: ``figures_root(root)`` (``figures/``,
    ``FXLIB_FIGURES``) / ``study_folder(...)``."""
    return figures_root(root) / study_folder(profile, source, effect)


class Study:
    """Runs, tables and verdicts of the study for one profile and one dataset (module doc).
    ``device=`` is accepted as the old name of ``effect`` (README, "Renamed")."""

    @renamed(device="effect")
    def __init__(self, profile: str = "quick", source: str = "embedded", effect: str = "muff",
                 *, runs: str | os.PathLike | None = None, data_root=None, data_seed: int = 0,
                 threads: Optional[int] = None, compute: str = "auto", force: bool = False,
                 progress: Optional[bool] = None, train: bool = True,
                 arm_seeds: Optional[int] = None):
        self.profile = get_profile(profile)
        if arm_seeds is not None:       # more (or fewer) seeds per small arm than the profile's
            self.profile = self.profile.with_overrides(arm_seeds=arm_seeds)
        self.source, self.effect, self.data_root, self.data_seed = (source, effect, data_root,
                                                                     data_seed)
        self.runs, self.threads, self.compute = runs, threads, compute
        self.force, self.progress = force, progress
        self.allow_training = train     # False: reuse finished runs only (07_figures)
        self._dataset = None
        self._cache: dict = {}
        self._forced: set = set()

    # -- where its outputs go ----------------------------------------------------------------
    @property
    def name(self) -> str:
        """Which study this is, as results files and figure titles name it."""
        return f"profile {self.profile.name}, source {self.source}, effect {self.effect}"

    def figures_folder(self, root=None) -> Path:
        """This study's folder for figures and results (``figures_folder``): another
        profile, source or effect never writes here."""
        return figures_folder(self.profile.name, self.source, self.effect, root)

    # -- data and runs ---------------------------------------------------------------------
    @property
    def dataset(self):
        """The dataset, loaded (and for the embedded source built) once per Study."""
        if self._dataset is None:
            if self.source == "embedded":
                build_embedded(self.profile.data_scale, self.data_seed, self.data_root)
            self._dataset = load_training_data(self.source, self.effect, self.data_root,
                                               scale=self.profile.data_scale,
                                               data_seed=self.data_seed)
        return self._dataset

    def config(self, label: str, seed: int = 0, teacher_path: Optional[str] = None
               ) -> TrainConfig:
        e = experiment(label)
        return TrainConfig(model=e.model, method=e.method, profile=self.profile.name, seed=seed,
                           source=self.source, effect=self.effect, standardize=e.std,
                           data_seed=self.data_seed, data_root=self.data_root,
                           teacher=teacher_path, kd=dict(e.kd))

    def run(self, label: str, seed: int = 0):
        """The run of experiment ``label`` with ``seed`` (teachers first, seed 0), trained,
        resumed or reused. With ``force`` each run is retrained once per Study."""
        return self._run(label, seed, reuse_only=not self.allow_training)

    def _run(self, label: str, seed: int, reuse_only: bool):
        key = (label, seed)
        if key in self._cache:
            return self._cache[key]
        e = experiment(label)
        teacher = str(self._run(e.teacher, 0, reuse_only).path) if e.teacher else None
        force = self.force and not reuse_only and key not in self._forced
        run = train(self.config(label, seed, teacher), runs=self.runs, force=force,
                    compute=self.compute, threads=self.threads, progress=self.progress,
                    data=self.dataset, reuse_only=reuse_only)
        if not (reuse_only and self.force and self.allow_training):
            # (a look-up of a finished run must not stand in for the forced retraining)
            self._forced.add(key)
            self._cache[key] = run
        return run

    def seeds(self, label: str) -> list[int]:
        """The seeds of experiment ``label``: the profile's ``arm_seeds`` for the 8- and 16-unit
        arms of ``MULTI_SEED_TABLES``, else seed 0 alone (teachers, 64-unit models, A)."""
        e = experiment(label)
        many = e.table in MULTI_SEED_TABLES and e.model in SMALL_MODELS
        return list(range(self.profile.arm_seeds if many else 1))

    def run_all(self, labels: Iterable[str], seeds: Optional[Sequence[int]] = None) -> dict:
        """``{(label, seed): run}`` over ``seeds``, or each label's own ``seeds(label)``."""
        return {(label, s): self.run(label, s) for label in labels
                for s in (self.seeds(label) if seeds is None else seeds)}

    # -- the plan of the study's trainings (fxlib.grid runs it) ------------------------------
    def plan(self, labels: Optional[Iterable[str]] = None,
             seeds: Optional[Sequence[int]] = None) -> list[PlannedRun]:
        """The trainings of ``labels`` (default: every experiment notebook's list) with
        ``seeds`` (default: each label's ``seeds(label)``), each teacher (seed 0) listed before
        its first student: what ``run`` would train, in an order that respects every
        dependency."""
        wanted: dict[str, list[str]] = {}
        if labels is None:
            for nb in NOTEBOOK_TABLES:
                for label in notebook_runs(nb):
                    wanted.setdefault(label, []).append(nb)
        else:
            for label in labels:
                wanted.setdefault(experiment(label).label, [])
        plan: dict[str, PlannedRun] = {}

        def add(label: str, seed: int, needed_by: tuple[str, ...]) -> str:
            e = experiment(label)
            teacher = add(e.teacher, 0, ()) if e.teacher else None
            key = PlannedRun(label, seed, teacher, ()).key
            old = plan.get(key)
            notebooks = tuple(dict.fromkeys((old.notebooks if old else ()) + needed_by))
            plan[key] = PlannedRun(label, seed, teacher, notebooks)
            return key

        for label, notebooks in wanted.items():
            for seed in (self.seeds(label) if seeds is None else seeds):
                add(label, seed, tuple(notebooks))
        return list(plan.values())

    def repetition_plan(self, best: str, seeds: Optional[Sequence[int]] = None
                        ) -> list[PlannedRun]:
        """The seed repetition's trainings of ``best`` (``repetition_seeds``) beyond seed 0."""
        e = experiment(best)
        teacher = PlannedRun(e.teacher, 0, None, ()).key if e.teacher else None
        return [PlannedRun(best, s, teacher, (SEED_REPETITION_NOTEBOOK,))
                for s in self.repetition_seeds(seeds) if s != 0]

    # -- numbers ---------------------------------------------------------------------------
    def timing(self, label: str, seed: int = 0) -> dict:
        """ms for 1 s of audio (thesis protocol: profiler, ``timing_runs`` runs, 1 thread),
        measured once per machine and cached in the run folder."""
        run = self.run(label, seed)
        n = self.profile.timing_runs
        hw = hardware_line({**_hardware(), "threads": 1})
        key = hashlib.sha256(f"{hw}|{n}|{_models_source_hash()}".encode()).hexdigest()[:10]
        path = run.path / f"timing-{key}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        res = time_model(run.load_model(), runs=n, threads=1)
        doc = {"ms_mean": res.profiler_mean, "ms_std": res.profiler_std,
               "wall_median_ms": res.wall_median, "rtf": res.rtf, "runs": n, "hardware": hw}
        write_json(path, doc)
        return doc

    def row(self, label: str, seed: Optional[int] = None, timing: bool = True) -> dict:
        """Our numbers for ``label`` beside the thesis's (keys ``thesis_*``): for ``seed``, or
        (None) over every seed of the arm (``seeds``): test MAE and ESR as means with their
        std (ddof 1; None for one seed) and ``n``, the epochs run (one number, or "min–max")
        and whether the runs plateaued ("yes"/"no", "k/n", None when not assessed; "fixed" for
        DF, which cannot validate while it trains: its budget is sized by measured curves)."""
        seeds = self.seeds(label) if seed is None else [seed]
        runs = [self.run(label, s) for s in seeds]
        e = experiment(label)
        t = thesis_row(label) if e.thesis else None      # an ablation has no thesis numbers
        mae = np.array([r.metrics["test_mae"] for r in runs], dtype=float)
        esr = np.array([r.metrics["test_esr"] for r in runs], dtype=float)
        sd = (lambda v: float(v.std(ddof=1)) if len(v) > 1 else None)
        epochs = [int(r.metrics["epochs"]) for r in runs]
        row = {"table": e.table, "label": label, "n": len(runs), "mae": float(mae.mean()),
               "mae_std": sd(mae), "esr": float(esr.mean()), "esr_std": sd(esr),
               "params": count_parameters(runs[0].load_model()),
               "epochs": epochs[0] if min(epochs) == max(epochs)
               else f"{min(epochs)}–{max(epochs)}",
               "plateaued": "fixed" if e.method == "df"
               else _plateau_cell([r.metrics.get("plateaued") for r in runs]),
               "run": " ".join(r.id for r in runs),
               "thesis_mae": t and t.mae, "thesis_esr": t and t.esr,
               "thesis_time": t and _pm(t.time_ms, t.time_std_ms),
               "thesis_params": t and t.params, "method": e.method, "model": e.model}
        if timing:
            tm = self.timing(label, seeds[0])
            row.update(time_ms=tm["ms_mean"], time_std_ms=tm["ms_std"],
                       time=_pm(tm["ms_mean"], tm["ms_std"]))
        return row

    def table(self, labels: Iterable[str], seed: Optional[int] = None, timing: bool = True
              ) -> list[dict]:
        return [self.row(label, seed, timing) for label in labels]

    def markdown(self, labels: Iterable[str], seed: Optional[int] = None, timing: bool = True
                 ) -> str:
        """The thesis-format table (ours | thesis) and a line naming profile, data, hardware.
        An arm of several seeds shows mean ± std; ``n`` is its number of seeds."""
        return self.rows_markdown(self.table(labels, seed, timing), timing)

    def rows_markdown(self, table: Iterable[dict], timing: bool = True) -> str:
        """``markdown`` of rows ``table`` already computed (``timing`` False: no time column,
        whether or not the rows hold times)."""
        cols = {"label": "model", "n": "n", "mae": "MAE", "esr": "ESR", "epochs": "epochs",
                "plateaued": "plateau"}
        if timing:
            cols["time"] = "time ms (1 s audio)"
        cols.update({"params": "params", "thesis_mae": "thesis MAE", "thesis_esr": "thesis ESR",
                     "thesis_time": "thesis time ms", "thesis_params": "thesis params"})
        rows = []
        for row in table:
            row = dict(row)
            for m in ("mae", "esr"):
                if row[f"{m}_std"] is not None:
                    row[m] = f"{row[m]:.4f} ± {row[f'{m}_std']:.4f}"
            rows.append(row)
        return markdown_table(rows, cols) + "\n" + self.context() + "\n"

    def context(self) -> str:
        d = self.dataset.desc
        data = f"{d['kind']} / {self.dataset.effect}" + (
            f" (scale {d['scale']}, seed {d['data_seed']})" if d["kind"] == "embedded" else "")
        return (f"Ours: profile `{self.profile.name}`, data {data}, test set; times with 1 "
                f"thread on {hardware_line({**_hardware(), 'threads': 1})}. Thesis: real "
                "Big Muff Pi recordings, paper training, Colab Xeon CPU.")

    # -- verdicts (fxlib.verdict) ------------------------------------------------------------
    def arm(self, label: str, metric: str = "esr", seed: Optional[int] = None) -> Arm:
        """Our values of ``metric`` for ``label``: one per seed (``seeds``, or ``seed``) for
        "esr" / "mae"; for "time", the timing runs' summary (mean, std, runs) of one seed."""
        seeds = self.seeds(label) if seed is None else [seed]
        if metric == "time":
            tm = self.timing(label, seeds[0])
            return Arm.from_summary(label, tm["ms_mean"], tm["ms_std"], int(tm["runs"]))
        return Arm(label, {s: self._metric(label, metric, s) for s in seeds})

    def spread(self, labels: Iterable[str], metric: str = "esr") -> Optional[float]:
        """The seed spread (pooled coefficient of variation, ``fxlib.verdict.pooled_cv``) of
        the model families (A, B, C) of ``labels``: over every experiment of those families
        with two or more finished seeds (nothing is trained for it); None when there is none."""
        families = {experiment(lb).model[0] for lb in labels}
        arms = []
        for lb in EXPERIMENTS:
            if experiment(lb).model[0] in families and metric in ("esr", "mae"):
                runs = {s: r for s in range(max(self.profile.arm_seeds,
                                                self.profile.seed_repetitions))
                        if (r := self._finished(lb, s)) is not None}
                if len(runs) > 1:
                    arms.append(Arm(lb, {s: float(r.metrics[f"test_{metric}"])
                                         for s, r in runs.items()}))
        return pooled_cv(arms)

    def _finished(self, label: str, seed: int):
        """The finished run of ``label`` / ``seed`` (its teacher's too), or None: never trains."""
        try:
            return self._run(label, seed, reuse_only=True)
        except MissingRun:
            return None

    def compare(self, a: str, b: str, metric: str = "esr", seed: Optional[int] = None
                ) -> Verdict:
        """Does ``a`` beat ``b`` on ``metric`` (lower is better)? Over every seed of both arms
        (or ``seed`` alone), with a confidence interval and three answers
        (``fxlib.verdict.compare_arms``); ``str()`` of the result is one line."""
        if metric not in ("esr", "mae", "time"):
            raise ValueError(f"metric must be esr, mae or time, got {metric!r}")
        arm_a, arm_b = self.arm(a, metric, seed), self.arm(b, metric, seed)
        spread = None if metric == "time" else self.spread((a, b), metric)
        return compare_arms(arm_a, arm_b, metric, spread=spread)

    def verdicts(self, notebook: str) -> list[Verdict]:
        """The verdicts on one experiment notebook's thesis claims (``claims``), then on its
        ablations' comparisons (``ABLATION_COMPARISONS``)."""
        return ([self.compare(c.a, c.b, c.metric) for c in claims(notebook)]
                + [self.compare(a, b, m) for a, b, m in ABLATION_COMPARISONS.get(notebook, ())])

    def claims_table(self, timing: bool = True) -> str:
        """Every thesis claim: the thesis's numbers, ours (mean ± std, n), the difference with
        its interval, the method and the verdict -- the end of the study's ``results.md``. With
        ``timing`` False the time claims are listed as not measured."""
        rows = []
        for c in claims():
            if c.metric == "time" and not timing:
                rows.append({"claim": c.text, "thesis": f"{c.thesis_a:.4g} vs {c.thesis_b:.4g}",
                             "ours": "–", "diff": "–", "method": "–",
                             "verdict": "not measured (timing off)"})
                continue
            v = self.compare(c.a, c.b, c.metric)
            ci = "" if v.ci is None else f" [{v.ci[0]:+.3g}, {v.ci[1]:+.3g}]"
            rows.append({"claim": c.text, "thesis": f"{c.thesis_a:.4g} vs {c.thesis_b:.4g}",
                         "ours": f"{fmt_arm(v.a)} vs {fmt_arm(v.b)}",
                         "diff": f"{v.diff:+.3g}{ci}", "method": v.method,
                         "verdict": v.answer})
        cols = {"claim": "thesis claim", "thesis": "thesis", "ours": "ours",
                "diff": "difference, 95 % CI", "method": "interval", "verdict": "verdict"}
        return markdown_table(rows, cols)

    def _metric(self, label: str, metric: str, seed: int) -> float:
        if metric in ("esr", "mae"):
            return float(self.run(label, seed).metrics[f"test_{metric}"])
        if metric == "time":
            return float(self.timing(label, seed)["ms_mean"])
        raise ValueError(f"metric must be esr, mae or time, got {metric!r}")

    def best(self, labels: Iterable[str], metric: str = "esr", real_time_ms: float = 1000.0,
             seed: int = 0) -> str:
        """The label with the lowest test ``metric`` among those that run in real time here
        (< ``real_time_ms`` per second of audio, the thesis's criterion)."""
        ok = [lb for lb in labels if self.timing(lb, seed)["ms_mean"] < real_time_ms]
        if not ok:
            raise ValueError("no candidate runs in real time on this machine")
        return min(ok, key=lambda lb: self._metric(lb, metric, seed))

    def repetition_seeds(self, seeds: Optional[Sequence[int]] = None) -> list[int]:
        """The seeds of the seed repetition: ``seeds``, or the profile's ``seed_repetitions``."""
        return list(range(self.profile.seed_repetitions)) if seeds is None else list(seeds)

    def seed_repetition(self, label: str, seeds: Sequence[int]) -> dict:
        """Mean ± std (ddof 1) of test MAE and ESR over ``seeds`` (thesis table 4.10)."""
        mae = np.array([self.run(label, s).metrics["test_mae"] for s in seeds])
        esr = np.array([self.run(label, s).metrics["test_esr"] for s in seeds])
        sd = (lambda a: float(a.std(ddof=1)) if len(a) > 1 else 0.0)
        return {"label": label, "seeds": list(seeds), "mae": (float(mae.mean()), sd(mae)),
                "esr": (float(esr.mean()), sd(esr)), "mae_values": mae.tolist(),
                "esr_values": esr.tolist()}

    # -- signals for figures and listening ----------------------------------------------------
    def window(self, length: int = 4096) -> int:
        """Start of the figure window: the busiest 4096 samples of the test target."""
        return busiest_window(self.dataset.splits["test"][1], length)

    def excerpt_bounds(self, seconds: float = 4.0) -> tuple[int, int]:
        """A listening excerpt centred on the figure window (the RNN state warms up before)."""
        n = len(self.dataset.splits["test"][0])
        centre = self.window() + 2048
        start = max(0, min(n - int(seconds * thesis.SAMPLE_RATE), centre - int(seconds / 2 *
                                                                                 thesis.SAMPLE_RATE)))
        return start, min(n, start + int(seconds * thesis.SAMPLE_RATE))

    def signals(self, labels: Iterable[str], seed: int = 0, seconds: float = 4.0) -> Excerpt:
        """The test excerpt and each model's output on it (``Excerpt``; the outputs are cached
        in each run folder as ``excerpt-*.npy``)."""
        start, stop = self.excerpt_bounds(seconds)
        x, y = (a[start:stop] for a in self.dataset.splits["test"])
        out = {"input": x, "target": y}
        for label in labels:
            run = self.run(label, seed)
            key = hashlib.sha256(f"{self.dataset.desc['hash']}|{start}|{stop}".encode()
                                 ).hexdigest()[:10]
            path = run.path / f"excerpt-{key}.npy"
            if path.is_file():
                out[label] = np.load(path)
            else:
                out[label] = run.predict(x).astype(np.float32)
                with atomic_path(path) as tmp, open(tmp, "wb") as f:
                    np.save(f, out[label], allow_pickle=False)
        return Excerpt(out, start)


def _plateau_cell(flags: list) -> Optional[str]:
    """"yes"/"no" for one run, "k/n" plateaued for several; None when none was assessed."""
    known = [f for f in flags if f is not None]
    if not known:
        return None
    if len(flags) == 1:
        return "yes" if known[0] else "no"
    return f"{sum(bool(f) for f in known)}/{len(flags)}"


def _pm(mean, std) -> Optional[str]:
    return None if mean is None else f"{mean:.0f} ± {std:.0f}"


def _models_source_hash() -> str:
    """Hash of fxlib/models/*.py: a faster implementation invalidates cached timings."""
    h = hashlib.sha256()
    for f in sorted((Path(__file__).parent / "models").glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _hardware() -> dict:
    return hardware_info(1)


# -- seed repetition (thesis table 4.10) ------------------------------------------------------
def seed_table(info: dict, context: str = "") -> str:
    """Table 4.10 as Markdown: ours (``Study.seed_repetition``) above the thesis's."""
    ref = thesis.SEED_REPETITION
    rows = [{"label": f"{info['label']} (ours)", "seeds": len(info["seeds"]),
             "mae": f"{info['mae'][0]:.4f} ± {info['mae'][1]:.4f}",
             "esr": f"{info['esr'][0]:.4f} ± {info['esr'][1]:.4f}"},
            {"label": f"{ref['label']} (thesis)", "seeds": ref["runs"],
             "mae": f"{ref['mae'][0]} ± {ref['mae'][1]}",
             "esr": f"{ref['esr'][0]} ± {ref['esr'][1]}"}]
    table = markdown_table(rows, {"label": "model", "seeds": "seeds", "mae": "MAE",
                                  "esr": "ESR"})
    return table + ("\n" + context if context else "")


def seed_verdicts(info: dict) -> list[str]:
    """The seed-repetition verdicts, from our numbers: the ESR's coefficient of variation
    beside the thesis's, stability (``STABLE_CV``), and whether the best model is the thesis's."""
    ref = thesis.SEED_REPETITION
    mean, sd = info["esr"]
    cv, ref_cv = sd / mean, ref["esr"][1] / ref["esr"][0]
    label = info["label"]
    return [f"{label}: ESR {mean:.4g} ± {sd:.2g} over {len(info['seeds'])} seeds (coefficient "
            f"of variation {100 * cv:.1f} %); the thesis saw {100 * ref_cv:.1f} % for "
            f"{ref['label']}.",
            f"stable over seeds (CV < {100 * STABLE_CV:.0f} %): "
            + ("yes" if cv < STABLE_CV else "no"),
            f"same best model as the thesis ({ref['label']}): "
            + ("yes" if label == ref["label"] else f"no ({label})")]


__all__ = ["Study", "study_folder", "figures_folder", "Experiment", "Excerpt", "PlannedRun",
           "Claim", "EXPERIMENTS", "LABELS",
           "ABLATIONS", "ABLATION_COMPARISONS", "ablation_labels", "teacher_labels",
           "NOTEBOOK_TABLES", "NOTEBOOK_COMPARISONS", "MULTI_SEED_TABLES", "SMALL_MODELS",
           "SEED_REPETITION_NOTEBOOK", "table_labels", "notebook_runs", "claims", "experiment",
           "thesis_row", "relative_change", "seed_table", "seed_verdicts", "STABLE_CV"]
