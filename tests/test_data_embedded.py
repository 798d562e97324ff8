"""The embedded dataset builder: layout, format, determinism, caching, splits, hardness, noise.

Everything is built at ``smoke`` scale under ``tmp_path``; full scale is checked only through
its constants and through event lists (phrase scores), which are cheap to generate.
"""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve

from fxlib.data import bigmuff, guitar, tube_amp
from fxlib.data import embedded as E
from fxlib.data import label_noise as LN
from fxlib.data.linear_baseline import fir_esr

FILES = [f"{s}/{d}-{io}.wav" for s in E.SPLITS for d in E.DEVICES for io in ("input", "target")]


def _read(folder, rel):
    return sf.read(folder / rel, dtype="float32")[0]


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return E.build_embedded("smoke", 0, root)


# -- sizes and arguments ------------------------------------------------------------------------

def test_scale_constants():
    full = E.split_lengths("full")
    assert full == {"train": 15_082_200, "val": 3_704_400, "test": 2_822_400}
    assert {k: v / 44100 for k, v in full.items()} == {"train": 342, "val": 84, "test": 64}
    smoke = E.split_lengths("smoke")
    assert smoke == {"train": 251_370, "val": 61_740, "test": 47_040}
    assert all(smoke[k] * 60 == full[k] for k in full)


@pytest.mark.parametrize("scale", ["big", "Full", "", None, 1])
def test_unknown_scale_names_the_choices(scale, tmp_path):
    with pytest.raises(ValueError, match="full.*smoke"):
        E.build_embedded(scale, 0, tmp_path)


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                       (True, TypeError), (None, TypeError)])
def test_bad_seed(seed, exc, tmp_path):
    with pytest.raises(exc, match="seed"):
        E.build_embedded("smoke", seed, tmp_path)
    assert not (tmp_path / "embedded").exists()


@pytest.mark.parametrize("spec, exc, msg", [
    ({"crackle_rte": 1}, ValueError, "unknown label_noise"),
    ({"crackle_rate": -1}, ValueError, "crackle_rate"),
    ({"hiss_dbfs": 6}, ValueError, "hiss_dbfs"),
    ({"dropout_ms": (30, 2)}, ValueError, "dropout_ms"),
    ("loud", TypeError, "label_noise"),
])
def test_bad_label_noise(spec, exc, msg, tmp_path):
    with pytest.raises(exc, match=msg):
        E.build_embedded("smoke", 0, tmp_path, label_noise=spec)


# -- layout, format, content --------------------------------------------------------------------

def test_layout_format_and_lengths(smoke):
    assert smoke.name == "smoke" and smoke.parent.name == "embedded"
    lengths = E.split_lengths("smoke")
    for rel in FILES:
        info = sf.info(smoke / rel)
        assert (info.samplerate, info.channels, info.subtype, info.format) == \
            (44100, 1, "FLOAT", "WAV"), rel
        assert info.frames == lengths[rel.split("/")[0]], rel
        x = _read(smoke, rel)
        assert x.dtype == np.float32 and np.all(np.isfinite(x)), rel
        assert 0.05 < np.max(np.abs(x)) < 1.0, rel
    for split in E.SPLITS:   # one input per split, written twice, byte for byte
        assert (smoke / split / "muff-input.wav").read_bytes() == \
            (smoke / split / "ht1-input.wav").read_bytes()
        assert abs(np.max(np.abs(_read(smoke, f"{split}/muff-input.wav"))) - 0.5) < 1e-6


def test_manifest(smoke):
    m = json.loads((smoke / "manifest.json").read_text())
    assert m["builder_version"] == E.BUILDER_VERSION and m["seed"] == 0 and m["scale"] == "smoke"
    assert m["params"] == E.synthesis_params("smoke")
    for key in ("input", "muff", "ht1", "samples", "source_sha256"):
        assert key in m["params"]
    assert m["params"]["muff"]["sustain"] == bigmuff.PARAMS["sustain"]
    assert m["params"]["label_noise"] is None
    assert sorted(m["files"]) == sorted(FILES)
    for rel, sha in m["files"].items():
        assert _sha(smoke / rel) == sha
    for split in E.SPLITS:
        st = m["stats"]["splits"][split]
        assert st["input"]["peak"] == pytest.approx(0.5, abs=1e-6)
        for dev in E.DEVICES:
            assert all(1.0 <= it < 5.0 for it in st[dev]["newton_iters_per_sample"])


def test_same_seed_same_samples_other_seed_differs(smoke, tmp_path):
    again = E.build_embedded("smoke", 0, tmp_path)
    for rel in FILES:
        np.testing.assert_allclose(_read(again, rel), _read(smoke, rel), rtol=0, atol=1e-6)
    lengths = E.split_lengths("smoke")
    other, _, _ = guitar.synth_di(lengths["train"], E.split_entropy(1, "train"))
    mine = _read(smoke, "train/muff-input.wav")
    assert np.max(np.abs(other - mine)) > 0.1
    assert E.split_entropy(0, "train") != E.split_entropy(1, "train")


# -- caching ------------------------------------------------------------------------------------

def _mtimes(folder):
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in folder.rglob("*") if p.is_file()}


def test_reuse_does_not_rewrite(smoke):
    before = _mtimes(smoke)
    assert E.build_embedded("smoke", 0, smoke.parent.parent) == smoke
    assert _mtimes(smoke) == before


def test_rebuild_on_corrupt_file_and_on_force(smoke, tmp_path):
    folder = tmp_path / "embedded" / "smoke"
    shutil.copytree(smoke, folder)
    good = (folder / "val/ht1-target.wav").read_bytes()
    bad = bytearray(good)
    bad[-100:] = b"\x00" * 100
    (folder / "val/ht1-target.wav").write_bytes(bytes(bad))
    before = _mtimes(folder)
    assert E.build_embedded("smoke", 0, tmp_path) == folder
    assert (folder / "val/ht1-target.wav").read_bytes() == good
    assert _mtimes(folder)["manifest.json"] != before["manifest.json"]
    before = _mtimes(folder)
    E.build_embedded("smoke", 0, tmp_path, force=True)
    assert _mtimes(folder)["manifest.json"] != before["manifest.json"]


def test_identity_mismatch_means_not_built(smoke, monkeypatch):
    ident = {"builder_version": E.BUILDER_VERSION, "seed": 0, "scale": "smoke",
             "params": E.synthesis_params("smoke")}
    assert E.is_built(smoke, ident)
    assert not E.is_built(smoke, {**ident, "seed": 1})
    assert not E.is_built(smoke, {**ident, "builder_version": "0"})
    monkeypatch.setitem(bigmuff.PARAMS, "sustain", 0.2)
    assert not E.is_built(smoke, {**ident, "params": E.synthesis_params("smoke")})


def test_interrupted_build_is_never_complete(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("simulated crash")
    monkeypatch.setattr(E, "_PROCESSORS", {"muff": bigmuff.process, "ht1": boom})
    with pytest.raises(RuntimeError, match="simulated crash"):
        E.build_embedded("smoke", 0, tmp_path)
    folder = tmp_path / "embedded" / "smoke"
    assert not (folder / "manifest.json").exists()
    assert not [p for p in folder.rglob("*.part")]          # no half-written file left behind
    monkeypatch.undo()
    E.build_embedded("smoke", 0, tmp_path)
    assert (folder / "manifest.json").is_file()


# -- the material -------------------------------------------------------------------------------

def _scores(scale, seed=0):
    lengths = E.split_lengths(scale)
    return {s: guitar.make_score(lengths[s], np.random.SeedSequence(E.split_entropy(seed, s),
                                                                     spawn_key=(0,)))
            for s in E.SPLITS}


def test_score_matches_rendered_input(smoke):
    """The scores used below are exactly those the builder rendered."""
    m = json.loads((smoke / "manifest.json").read_text())
    for split, (phrases, notes) in _scores("smoke").items():
        assert len(phrases) == m["stats"]["splits"][split]["score"]["phrases"]
        assert notes.size == m["stats"]["splits"][split]["notes"]


def test_no_phrase_shared_between_splits():
    def fingerprint(phrase, notes):
        sel = notes[notes["phrase"] == phrase.index]
        return (phrase.instrument, phrase.kind,
                tuple(np.round(12 * np.log2(sel["f0"] / 440.0)).astype(int)),
                tuple((sel["onset"] - phrase.start) // 441))
    seen = {}
    for split, (phrases, notes) in _scores("full").items():
        for p in phrases:
            fp = fingerprint(p, notes)
            assert fp not in seen, f"{split} phrase {p.index} repeats {seen.get(fp)}"
            seen[fp] = (split, p.index)


def _max_ncc(signal, seg):
    """Largest normalised cross-correlation of ``seg`` against every window of ``signal``."""
    n = seg.size
    corr = fftconvolve(signal, seg[::-1], mode="valid")
    c2 = np.concatenate([[0.0], np.cumsum(signal ** 2)])
    energy = np.sqrt(np.maximum(c2[n:] - c2[:-n], 0.0))
    # Near-silent windows: the running-sum energy is rounding noise there, and no copy anyway.
    loud = energy > 1e-3 * np.linalg.norm(seg)
    return float(np.max(np.abs(corr[loud]) / (energy[loud] * np.linalg.norm(seg))))


def test_no_audio_shared_between_splits(smoke):
    train = _read(smoke, "train/muff-input.wav").astype(np.float64)
    n = 4096
    assert _max_ncc(train, train[100_000:100_000 + n]) > 0.999      # the probe does find copies
    for split in ("val", "test"):
        x = _read(smoke, f"{split}/muff-input.wav").astype(np.float64)
        for start in range(0, x.size - n, x.size // 6):
            seg = x[start:start + n]
            if np.std(seg) < 1e-3:
                continue
            ncc = _max_ncc(train, seg)
            assert ncc < 0.9, f"{split}@{start} resembles train (ncc {ncc:.3f})"


def test_proportions_and_ranges():
    for split, (phrases, notes) in _scores("full").items():
        st = guitar.score_stats(phrases, E.split_lengths("full")[split])
        assert 0.4 <= st["guitar"] <= 0.6 and 0.4 <= st["mono"] <= 0.6, (split, st)
        assert 0.02 <= st["silence"] <= 0.2, (split, st)
        kinds = {p.kind for p in phrases}
        if split == "train":
            assert kinds == {"line", "muted", "strum", "chug", "arpeggio", "double_stop"}
        for inst, lo, hi in ((0, 82.41, 1318.5), (1, 41.2, 392.0)):
            f0 = notes["f0"][notes["inst"] == inst]
            assert f0.min() >= lo * 0.997 and f0.max() <= hi * 1.003
        mutes = notes["t60"] < 0.3
        assert 0.05 < mutes.mean() < 0.6                       # palm mutes present, not dominant
    # Strums: several strings of one phrase starting 5-30 ms apart.
    phrases, notes = _scores("full")["train"]
    strum = [p for p in phrases if p.kind == "strum"][0]
    gaps = np.diff(np.sort(notes["onset"][notes["phrase"] == strum.index])) / 44100
    assert np.any((gaps > 0.004) & (gaps < 0.035))


def test_fir_hardness(smoke):
    """A 64-tap least-squares FIR leaves ESR >= 0.3 on the fuzz, ~0.1-0.2 on the amp."""
    r = {d: [(_read(smoke, f"{s}/{d}-input.wav"), _read(smoke, f"{s}/{d}-target.wav"))
             for s in ("train", "test")] for d in E.DEVICES}
    assert fir_esr(*r["muff"]) >= 0.3
    # Smoke's 1 s test split is too short for a stable amp figure: use a 20 s / 10 s excerpt.
    xs = [guitar.synth_di(int(sec * 44100), E.split_entropy(0, f"hardness-{sec}"))[0]
          for sec in (20, 10)]
    for proc, lo, hi in ((bigmuff.process, 0.3, 1.0), (tube_amp.process, 0.08, 0.25)):
        pairs = [(x, proc(x.astype(np.float64))) for x in xs]
        assert lo <= fir_esr(*pairs) <= hi, proc.__module__


# -- label noise --------------------------------------------------------------------------------

def test_label_noise_only_on_train_and_deterministic(smoke):
    spec = {"crackle_rate": 5.0, "dropout_rate": 2.0, "hiss_dbfs": -50.0, "hum_dbfs": -40.0,
            "hum_hz": 60.0}
    root = smoke.parent.parent
    clean_before = _mtimes(smoke)
    noisy = E.build_embedded("smoke", 0, root, label_noise=spec)
    tag = LN.LabelNoise(**spec).tag()
    assert noisy.name == f"smoke-noisy-{tag}" and noisy != smoke
    assert _mtimes(smoke) == clean_before                  # the clean set is untouched
    m = json.loads((noisy / "manifest.json").read_text())
    assert m["params"]["label_noise"] == LN.LabelNoise(**spec).to_dict()
    for rel in FILES:
        a, b = _read(smoke, rel), _read(noisy, rel)
        if rel.startswith("train/") and rel.endswith("target.wav"):
            assert np.sqrt(np.mean((a - b) ** 2)) > 1e-3, rel
        else:
            assert (smoke / rel).read_bytes() == (noisy / rel).read_bytes(), rel
    # Deterministic, and independent per device.
    y = _read(smoke, "train/muff-target.wav").astype(np.float64)
    ss = np.random.SeedSequence(123)
    one, counts = LN.corrupt(y, 44100, LN.LabelNoise(**spec), ss)
    two, _ = LN.corrupt(y, 44100, LN.LabelNoise(**spec), np.random.SeedSequence(123))
    np.testing.assert_array_equal(one, two)
    assert counts["crackles"] > 0 and counts["dropouts"] > 0
    events = {d: m["stats"]["splits"]["train"][d]["label_noise_events"] for d in E.DEVICES}
    assert all(v["crackles"] > 0 for v in events.values())
    # A second call with the same spec reuses the noisy build.
    before = _mtimes(noisy)
    assert E.build_embedded("smoke", 0, root, label_noise=LN.LabelNoise(**spec)) == noisy
    assert _mtimes(noisy) == before


def test_label_noise_levels():
    y = np.zeros(44100 * 4)
    out, counts = LN.corrupt(y, 44100, LN.LabelNoise(crackle_rate=0, dropout_rate=0,
                                                     hiss_dbfs=-40, hum_dbfs=None),
                             np.random.SeedSequence(0))
    assert 20 * np.log10(np.std(out)) == pytest.approx(-40, abs=0.3)
    out, _ = LN.corrupt(y, 44100, LN.LabelNoise(crackle_rate=0, dropout_rate=0, hiss_dbfs=None,
                                                hum_dbfs=-30, hum_hz=50), np.random.SeedSequence(0))
    assert 20 * np.log10(np.std(out)) == pytest.approx(-30, abs=0.3)
    spec = np.abs(np.fft.rfft(out))
    assert np.argmax(spec) == pytest.approx(50 * 4, abs=1)       # 50 Hz bin at 0.25 Hz/bin
