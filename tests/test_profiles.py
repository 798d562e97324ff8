"""Profiles: one source of truth; ``paper`` carries the thesis's values."""
from __future__ import annotations

import pytest

from fxlib.profiles import PROFILE_NAMES, Profile, get_profile
from fxlib.train import TrainConfig


def test_paper_has_the_thesis_values():
    p = get_profile("paper")
    assert p.data_scale == "full" and p.val_every == 6 and p.val_max_samples is None
    assert p.max_batches("rnn") is None and p.max_batches("cafx") is None
    assert (p.epochs("cafx"), p.batch_size("cafx"), p.lr("cafx")) == (1500, 64, 1e-4)
    assert (p.epochs("rnn"), p.batch_size("rnn"), p.lr("rnn")) == (700, 40, 5e-4)
    assert p.tbptt == 2048 and p.segment_length == 22_050


def test_profiles_exist_and_are_ordered_by_cost():
    assert set(PROFILE_NAMES) == {"smoke", "quick", "paper"}
    smoke, quick, paper = (get_profile(n) for n in ("smoke", "quick", "paper"))
    assert smoke.data_scale == "smoke" and quick.data_scale == "full"
    for fam in ("rnn", "cafx"):
        assert smoke.epochs(fam) <= quick.epochs(fam) < paper.epochs(fam)
    assert get_profile(paper) is paper


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose one of smoke, quick, paper"):
        get_profile("fast")
    with pytest.raises(ValueError, match="unknown model family"):
        get_profile("paper").epochs("transformer")
    with pytest.raises(ValueError, match="must be > 0"):
        Profile(name="bad", data_scale="full", rnn_epochs=0)


def test_train_config_resolves_hyper_parameters_from_the_profile():
    hp = TrainConfig(model="C16", profile="paper").hyper_parameters()
    assert hp["epochs"] == 700 and hp["batch"] == 40 and hp["loss"] == "esr_dc"
    assert hp["tbptt"] == 2048 and hp["init_len"] == 1000
    hp = TrainConfig(model="Av2", profile="paper").hyper_parameters()
    assert hp["epochs"] == 1500 and hp["batch"] == 64 and hp["loss"] == "mae"
    assert hp["hop"] == 2048 and hp["frame_length"] == 4096
    hp = TrainConfig(model="B8", profile="paper", overrides={"rnn_epochs": 3}).hyper_parameters()
    assert hp["epochs"] == 3


def test_df_iterations_per_student_family():
    quick, paper = get_profile("quick"), get_profile("paper")
    assert paper.df_iterations_for("rnn") == paper.df_iterations_for("cafx") == 2000
    assert (paper.df_n_s, paper.df_batch, paper.df_lr) == (10, 50, 1e-3)   # official code
    assert quick.df_iterations_for("cafx") < quick.df_iterations_for("rnn")
    hp = TrainConfig(model="Av2", method="df", profile="quick").hyper_parameters()
    assert hp["iterations"] == quick.cafx_df_iterations and hp["optimizer"] == "RMSprop"
