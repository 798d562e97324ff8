"""What to train: ``TrainConfig`` names a run, its typed settings come from the profile.

    cfg = TrainConfig(model="B16", method="tor", profile="quick", teacher="runs/B-scratch-...")
    cfg.settings()       # RNNSettings(epochs=20, batch=8, lr=0.0005, ..., tbptt=2048, ...)
    cfg.kd_options()     # {"epsilon": None, "epsilon_quantile": 0.99, "c_tor": 1.0, ...}

A config says *which* run (model, method, profile, seed, data, teacher, KD options); it holds no
hyper-parameter itself. ``settings()`` derives the one frozen settings object the training
loops receive from the profile (``fxlib.profiles``) through the model's family
(``fxlib.models.family``): nothing else chooses an epoch count, a batch size or a chunk.

Methods: ``scratch`` (the family's own loss), ``tor`` (teacher outlier rejection,
``fxlib.kd.tor``), ``df`` (data-free, ``fxlib.kd.df``). KD options default to the methods' own
documented values (``KD_DEFAULTS``; docs/kd.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .._compat import renamed
from ..kd import df as kd_df
from ..kd import tor as kd_tor
from ..models import check_model_name, family_of
from ..profiles import Profile, get_profile

METHODS = ("scratch", "tor", "df")
KD_DEFAULTS = {"scratch": {}, "tor": kd_tor.DEFAULTS, "df": kd_df.DEFAULTS}


@dataclass(frozen=True)
class TrainConfig:
    """Which run to train. Hyper-parameters come from ``profile`` (``overrides`` changes some
    of its fields). ``device=`` and ``std=`` are accepted as the old names of ``effect`` and
    ``standardize`` (README, "Renamed")."""
    model: str
    method: str = "scratch"
    profile: str = "smoke"
    seed: int = 0
    source: str = "embedded"          # "embedded" | "wright2019" | a folder path
    effect: str = "muff"              # "muff" | "ht1" | the file prefix in a folder
    standardize: bool = False         # standardise the input (the DF "std" models)
    data_seed: int = 0                # seed of the embedded dataset build
    data_root: Optional[str] = None
    teacher: Optional[str] = None     # teacher run folder or id (tor, df)
    teacher_json: Optional[str] = None  # or a Wright et al. JSON model file (tor, df)
    kd: dict = field(default_factory=dict)   # KD options over KD_DEFAULTS[method]
    overrides: dict = field(default_factory=dict)   # Profile fields to change
    # a teacher run trained on another effect or dataset is refused unless this is True; not
    # part of the run's identity (it changes nothing the run computes, only what is allowed)
    foreign_teacher: bool = False
    # convert recordings at another rate / with several channels on load (fxlib.data.load);
    # the converted audio's hash names the run, so these need no place in its identity
    resample: bool = False
    downmix: bool = False

    def __post_init__(self):
        if self.data_root is not None and not isinstance(self.data_root, str):
            object.__setattr__(self, "data_root", str(self.data_root))   # a Path: JSON-able
        check_model_name(self.model)
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")

    @property
    def family(self):
        """The model's family (``fxlib.models.family``)."""
        return family_of(self.model)

    def resolved_profile(self) -> Profile:
        return get_profile(self.profile).with_overrides(**self.overrides)

    def kd_options(self) -> dict:
        """This method's KD options: its defaults updated with ``kd`` (unknown keys refused)."""
        defaults = KD_DEFAULTS[self.method]
        unknown = sorted(set(self.kd) - set(defaults))
        if unknown:
            raise ValueError(f"unknown KD option(s) {unknown} for method {self.method!r}; "
                             f"known: {sorted(defaults) or 'none'}")
        return {**defaults, **self.kd}

    def settings(self):
        """The typed, frozen settings of this run (``RNNSettings``, ``CAFxSettings`` or, for
        ``df``, ``DataFreeSettings``), derived from the profile by the model's family."""
        profile, family = self.resolved_profile(), self.family
        if self.method == "df":
            return family.data_free_settings(profile)
        return family.settings(profile)

    def check(self) -> None:
        """Refuse a teacher that does not fit the method (before anything is loaded)."""
        has_teacher = self.teacher is not None or self.teacher_json is not None
        if self.method == "scratch" and has_teacher:
            raise ValueError("a scratch run takes no teacher; use method 'tor' or 'df'")
        if self.method != "scratch" and not has_teacher:
            raise ValueError(f"method {self.method!r} needs a teacher: teacher=<run folder or "
                             "id> (--teacher) or teacher_json=<Wright JSON file> "
                             "(--teacher-json)")
        if self.teacher is not None and self.teacher_json is not None:
            raise ValueError("give one teacher: a run (teacher) or a JSON file (teacher_json)")

    # the old names, readable too (README, "Renamed")
    def hyper_parameters(self) -> dict:
        """Old name: ``settings().to_dict()``."""
        return self.settings().to_dict()

    @property
    def device(self) -> str:
        return self.effect

    @property
    def std(self) -> bool:
        return self.standardize


TrainConfig.__init__ = renamed(device="effect", std="standardize")(TrainConfig.__init__)


__all__ = ["TrainConfig", "METHODS", "KD_DEFAULTS"]
