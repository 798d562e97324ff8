"""CAFx (A-family) training layer: frames, smoke training, whole-signal validation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fxlib.models import build_model
from fxlib.train import TrainConfig, train
from fxlib.models import family as CF

from test_train_rnn import waveshaper_data


def test_make_frames_hop_and_drop():
    x = torch.arange(10_000.0)
    xf, yf = CF.make_frames(x, x, 4096, 2048)
    assert xf.shape == (3, 4096)          # starts 0, 2048, 4096; 6144 + 4096 > 10000
    assert xf[1, 0] == 2048 and torch.equal(xf, yf)


def test_predict_is_whole_signal_forward():
    model = build_model("Av2")
    x = torch.randn(5_000) * 0.2
    with torch.no_grad():
        want = model(x)
    got = CF.overlap_add(model, x)
    assert got.shape == x.shape and torch.equal(got, want)


@pytest.mark.parametrize("name", ["Av2", "A"])
def test_smoke_training_lowers_validation_loss(tmp_path, name):
    data = waveshaper_data(n_train=4096 * 3, n_val=4096, n_test=3000)
    over = dict(cafx_epochs=3, cafx_batch=2, cafx_lr=1e-3, val_every=1, cafx_max_batches=None)
    run = train(TrainConfig(model=name, profile="smoke", seed=0, overrides=over),
                runs=tmp_path, data=data, progress=False, compute="cpu")
    h = run.history
    assert len(h["train_loss"]) == 3 and len(h["val_loss"]) == 4
    assert min(h["val_loss"][1:]) < h["val_loss"][0]
    assert run.config["hyper_parameters"]["loss"] == "mae"
    assert np.isfinite(run.metrics["test_mae"])
