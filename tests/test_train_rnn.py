"""RNN (B/C) training layer: TBPTT smoke training, stateful chunked validation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fxlib.models import build_model
from fxlib.train import TrainConfig, train
from fxlib.models import family as R
from fxlib.losses import esr_dc

FS = 44_100


def waveshaper_data(n_train=20_000, n_val=6_000, n_test=5_000, seed=1):
    """A tanh waveshaper with a little memory: dry sines+noise in, target out."""
    rng = np.random.default_rng(seed)

    def pair(n):
        t = np.arange(n) / FS
        x = 0.5 * np.sin(2 * np.pi * 110 * t * (1 + rng.random())) + 0.05 * rng.standard_normal(n)
        x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
        y = np.tanh(4 * x)
        y[1:] = 0.7 * y[1:] + 0.3 * y[:-1]
        return x.astype(np.float32), (0.6 * y).astype(np.float32)

    return {"train": pair(n_train), "val": pair(n_val), "test": pair(n_test)}


TINY_RNN = dict(segment_length=2_000, init_len=100, tbptt=512, rnn_batch=4, rnn_epochs=3,
                val_every=1, rnn_max_batches=None, rnn_lr=1e-2)


def test_make_segments_drops_remainder():
    x = torch.arange(10.0)
    xs, ys = R.make_segments(x, x, 3)
    assert xs.shape == (3, 3) and torch.equal(xs[-1], torch.tensor([6.0, 7.0, 8.0]))
    with pytest.raises(ValueError, match="fewer than one segment"):
        R.make_segments(x, x, 11)


@pytest.mark.parametrize("name", ["B8", "C8"])
@pytest.mark.parametrize("n", [1_234, 3_001, 37])
def test_chunked_validation_covers_every_sample(name, n):
    model = build_model(name)
    x = torch.randn(n) * 0.3
    full = model(x).detach()
    chunked = R.process_stateful(model, x, chunk=1_000)
    assert chunked.shape == full.shape
    torch.testing.assert_close(chunked, full, rtol=1e-5, atol=1e-6)
    # the last sample really is written (the CoreAudioML [k:-1] bug leaves it empty)
    assert torch.isclose(chunked[-1], full[-1], atol=1e-6)


def test_tbptt_updates_count_and_warmup_without_grad():
    model = build_model("B8")
    calls = []

    class Spy(torch.optim.Adam):
        def step(self, *a, **k):
            calls.append(1)
            return super().step(*a, **k)

    opt = Spy(model.parameters(), lr=1e-3)
    x = torch.randn(10 * 1_000) * 0.3
    xs, ys = R.make_segments(x, torch.tanh(x), 1_000)
    R.tbptt_epoch(model, opt, xs, ys, batch=4, init_len=100, tbptt=256,
                  rng=np.random.default_rng(0), max_batches=None, loss_fn=esr_dc)
    # 3 batches (4, 4, 2) x ceil(900 / 256) = 4 updates each
    assert len(calls) == 3 * 4


@pytest.mark.parametrize("name", ["B8", "C8", "B", "C"])
def test_smoke_training_lowers_validation_loss(tmp_path, name):
    cfg = TrainConfig(model=name, profile="smoke", seed=0, overrides=TINY_RNN)
    run = train(cfg, runs=tmp_path, data=waveshaper_data(), progress=False, compute="cpu")
    h = run.history
    assert h["val_epoch"][0] == 0 and len(h["val_loss"]) == 1 + TINY_RNN["rnn_epochs"]
    assert min(h["val_loss"][1:]) < h["val_loss"][0]
    assert run.metrics["best_val_loss"] < h["val_loss"][0]
    for k in ("test_esr", "test_mae", "test_esr_dc"):
        assert np.isfinite(run.metrics[k])
    assert run.status == "trained"
    model = run.load_model()
    assert sum(p.numel() for p in model.parameters()) in (361, 273, 17_217, 12_929)


def test_keep_freed_memory_on_glibc():
    """The malloc setting a CPU training makes (fxlib.train.trainer.keep_freed_memory): taken
    on Linux/glibc, refused without an exception elsewhere."""
    import platform
    from fxlib.train.trainer import keep_freed_memory
    ok = keep_freed_memory()
    assert isinstance(ok, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert ok
