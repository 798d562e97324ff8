"""Profiles: one source of truth; ``paper`` carries the thesis's values; the typed settings a
training receives are derived from them by the model's family, and are frozen."""
from __future__ import annotations

import dataclasses

import pytest

from fxlib.models import family_of
from fxlib.profiles import (PROFILE_NAMES, CAFxSettings, DataFreeSettings, Profile, RNNSettings,
                            get_profile)
from fxlib.train import TrainConfig


def test_paper_has_the_thesis_values():
    p = get_profile("paper")
    assert p.data_scale == "full" and p.val_every == 6 and p.val_max_samples is None
    assert p.rnn_max_batches is None and p.cafx_max_batches is None
    assert (p.cafx_epochs, p.cafx_batch, p.cafx_lr) == (1500, 64, 1e-4)
    assert (p.rnn_epochs, p.rnn_batch, p.rnn_lr) == (700, 40, 5e-4)
    assert p.tbptt == 2048 and p.segment_length == 22_050


def test_profiles_exist_and_are_ordered_by_cost():
    assert set(PROFILE_NAMES) == {"smoke", "quick", "paper"}
    smoke, quick, paper = (get_profile(n) for n in ("smoke", "quick", "paper"))
    assert smoke.data_scale == "smoke" and quick.data_scale == "full"
    for model in ("B", "A"):
        s, q, p = (family_of(model).settings(x) for x in (smoke, quick, paper))
        assert s.epochs <= q.epochs < p.epochs
    assert get_profile(paper) is paper


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose one of smoke, quick, paper"):
        get_profile("fast")
    with pytest.raises(ValueError, match="must be > 0"):
        Profile(name="bad", data_scale="full", rnn_epochs=0)


def test_settings_are_typed_frozen_and_per_family():
    s = TrainConfig(model="C16", profile="paper").settings()
    assert isinstance(s, RNNSettings)
    assert (s.epochs, s.batch, s.lr, s.loss, s.optimizer) == (700, 40, 5e-4, "esr_dc", "Adam")
    assert (s.tbptt, s.init_len, s.segment_length, s.val_chunk) == (2048, 1000, 22_050, 100_000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 1
    a = TrainConfig(model="Av2", profile="paper").settings()
    assert isinstance(a, CAFxSettings) and not hasattr(a, "tbptt")
    assert (a.epochs, a.batch, a.lr, a.loss) == (1500, 64, 1e-4, "mae")
    assert (a.hop, a.frame_length) == (2048, 4096)
    assert TrainConfig(model="B8", profile="paper",
                       overrides={"rnn_epochs": 3}).settings().epochs == 3


def test_settings_round_trip_through_the_run_record():
    """``config.json`` records ``to_dict()``; ``from_dict`` gives the same frozen object back,
    and an unknown key (a record from another version) is refused by name."""
    for cfg in (TrainConfig(model="B", profile="quick"), TrainConfig(model="A", profile="quick"),
                TrainConfig(model="C8", method="df", profile="quick", teacher="t")):
        s = cfg.settings()
        assert type(s).from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown setting.*'epochz'"):
        RNNSettings.from_dict({**TrainConfig(model="B").settings().to_dict(), "epochz": 1})


def test_the_record_keeps_its_keys():
    """The keys a run's identity hashes (run folder names depend on them): unchanged."""
    assert set(TrainConfig(model="B").settings().to_dict()) == {
        "epochs", "batch", "lr", "optimizer", "val_every", "max_train_batches",
        "val_max_samples", "data_scale", "loss", "segment_length", "init_len", "tbptt",
        "val_chunk"}
    assert set(TrainConfig(model="A").settings().to_dict()) == {
        "epochs", "batch", "lr", "optimizer", "val_every", "max_train_batches",
        "val_max_samples", "data_scale", "loss", "frame_length", "hop"}
    # the plateau criterion adds its two keys only when it is on
    on = TrainConfig(model="B", overrides={"plateau_patience": 3}).settings()
    assert set(on.to_dict()) - set(TrainConfig(model="B").settings().to_dict()) == {
        "plateau_patience", "plateau_min_rel"}
    assert type(on).from_dict(on.to_dict()) == on
    assert set(TrainConfig(model="B8", method="df").settings().to_dict()) == {
        "iterations", "n_student_steps", "batch", "segment_length", "lr", "optimizer",
        "log_every", "data_scale", "loss", "val_max_samples", "val_chunk"}


def test_df_iterations_per_student_family():
    quick, paper = get_profile("quick"), get_profile("paper")
    rnn, cafx = family_of("rnn"), family_of("cafx")
    assert rnn.df_iterations(paper) == cafx.df_iterations(paper) == 2000
    assert (paper.df_n_s, paper.df_batch, paper.df_lr) == (10, 50, 1e-3)   # official code
    assert cafx.df_iterations(quick) < rnn.df_iterations(quick)
    s = TrainConfig(model="Av2", method="df", profile="quick").settings()
    assert isinstance(s, DataFreeSettings)
    assert s.iterations == quick.cafx_df_iterations and s.optimizer == "RMSprop"
    assert s.n_epochs == -(-quick.cafx_df_iterations // quick.df_log_every)
