"""Figure and listening helpers: files land atomically under stable names."""
import io
import wave

import numpy as np
import pytest

from fxlib import notebook, plots


def test_busiest_window_finds_the_loud_part():
    x = np.zeros(50000)
    x[30000:34096] = np.sin(np.arange(4096))
    assert abs(plots.busiest_window(x, 4096) - 30000) <= 256
    assert plots.busiest_window(np.ones(100), 4096) == 0


def test_plot_waveforms_and_save_figure(tmp_path):
    t = np.linspace(0, 1, 10000)
    fig = plots.plot_waveforms({"target": np.sin(50 * t), "model": 0.9 * np.sin(50 * t)},
                               start=1000, title="example")
    paths = plots.save_figure(fig, "fig_test_example", root=tmp_path)
    assert [p.name for p in paths] == ["fig_test_example.png", "fig_test_example.svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError, match="plain file stem"):
        plots.save_figure(fig, "../escape", root=tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_waveforms({}, start=0)


def test_audio_player_clips_and_keeps_levels():
    audio = notebook.audio_player(np.array([0.0, 2.0, -0.25]), normalize=False)
    wav = wave.open(io.BytesIO(audio.data))
    assert (wav.getframerate(), wav.getnframes()) == (44100, 3)
    # 2.0 clipped to full scale; -0.25 kept at -0.25 (not normalised up to full scale)
    assert np.frombuffer(wav.readframes(3), "<i2").tolist() == [0, 32767, -8191]
    assert len(notebook.excerpt(np.zeros(44100 * 10), start=44100, seconds=2.0)) == 88200


def test_markdown_table_formats_numbers_and_missing_values():
    from fxlib.report import csv_text, markdown_table

    rows = [{"model": "B", "esr": 0.22612, "params": 17217, "std": True},
            {"model": "A", "esr": float("nan"), "params": None, "std": False}]
    text = markdown_table(rows, {"model": "model", "esr": "ESR", "params": "params",
                                 "std": "std"}, digits=3)
    assert text.splitlines() == ["| model | ESR | params | std |", "|---|---|---|---|",
                                 "| B | 0.226 | 17,217 | yes |", "| A | – | – | no |"]
    assert csv_text(rows, ["model", "params"]).splitlines()[1] == "B,17217"


def test_atomic_writes_leave_normal_permissions_and_no_temp_on_error(tmp_path):
    import os

    from fxlib._atomic import atomic_open, write_json

    write_json(tmp_path / "a.json", {"x": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "b.txt") as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == [tmp_path / "a.json"]


def test_model_switcher_swaps_the_player_without_an_output_widget():
    """The switcher is a toggle plus an HTML player whose value changes with the toggle (no
    ipywidgets.Output, whose captured messages hung papermill intermittently)."""
    widgets = pytest.importorskip("ipywidgets")
    sig = {"input": np.zeros(441, np.float32), "target": np.full(441, 0.5, np.float32),
           "B h8": np.ones(441, np.float32)}
    box = notebook.model_switcher(sig)
    toggle, player = box.children
    assert list(toggle.options) == ["input", "target", "B h8"]     # every signal, in order
    assert not any(isinstance(w, widgets.Output) for w in box.children)
    first = player.value
    assert "<audio" in first
    toggle.value = "target"
    assert player.value != first and "<audio" in player.value
