"""``python -m fxlib.data``: last stdout line is the folder; expected errors exit 1 cleanly."""
from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from fxlib.data import fetch, write_wav
from fxlib.data.__main__ import main

REPO = Path(__file__).resolve().parents[1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def static_server(tmp_path):
    """Serves ``tmp_path / 'www'`` over HTTP on 127.0.0.1."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(QuietHandler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    httpd.www = www
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def publish(www: Path, repo_path: str, data: bytes) -> str:
    (www / repo_path).parent.mkdir(parents=True, exist_ok=True)
    (www / repo_path).write_bytes(data)
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def run_cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "fxlib.data", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_fetch_prints_folder(static_server, tmp_path, monkeypatch, capsys):
    table = {p: publish(static_server.www, p, b"RIFF fake wav %d" % i)
             for i, p in enumerate(fetch.WRIGHT2019_FILES)}
    monkeypatch.setattr(fetch, "WRIGHT2019_FILES", table)
    root = tmp_path / "data"
    assert main(["fetch", "--root", str(root), "--base-url", static_server.base]) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == str(root / "wright2019")
    assert "12 files verified" in err  # progress and summary go to stderr
    assert (root / "wright2019" / "test" / "ht1-target.wav").read_bytes().startswith(b"RIFF")


def test_fetch_pretrained_prints_folder(static_server, tmp_path, monkeypatch, capsys):
    table = {n: publish(static_server.www, f"Results/{n}/model_best.json", b'{"n": "%s"}' % n.encode())
             for n in fetch.WRIGHT2019_PRETRAINED}
    monkeypatch.setattr(fetch, "WRIGHT2019_PRETRAINED", table)
    assert main(["fetch", "--pretrained", "--quiet", "--root", str(tmp_path),
                 "--base-url", static_server.base]) == 0
    out, err = capsys.readouterr()
    folder = tmp_path / "wright2019-pretrained"
    assert out.strip().splitlines()[-1] == str(folder) and err == ""
    assert len(list(folder.glob("*.json"))) == 8


def test_fetch_offline_is_a_clean_error(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = run_cli("fetch", "--root", str(tmp_path), "--retries", "0", "--timeout", "3",
                   "--base-url", f"http://127.0.0.1:{port}/")
    assert time.monotonic() - t0 < 30
    assert proc.returncode == 1 and proc.stdout == ""
    assert "\nerror: could not reach 127.0.0.1" in proc.stderr
    assert "offline" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "wright2019" / "train" / "muff-input.wav").exists()


def test_fetch_checksum_error_is_clean(static_server, tmp_path, monkeypatch, capsys):
    publish(static_server.www, "Data/train/muff-input.wav", b"not the real file")
    monkeypatch.setattr(fetch, "WRIGHT2019_FILES", {"Data/train/muff-input.wav": "0" * 40})
    assert main(["fetch", "--quiet", "--root", str(tmp_path),
                 "--base-url", static_server.base]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "muff-input.wav" in err and "0" * 40 in err


def test_build_passes_options(tmp_path, monkeypatch, capsys):
    import fxlib.data.__main__ as cli
    calls = []

    def fake_build(scale, seed, root, *, force=False):
        calls.append((scale, seed, root, force))
        return Path(root) / "embedded" / scale
    monkeypatch.setattr(cli, "build_embedded", fake_build)
    assert main(["build", "--scale", "smoke", "--seed", "7", "--root", str(tmp_path),
                 "--force"]) == 0
    assert calls == [("smoke", 7, str(tmp_path), True)]
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(tmp_path / "embedded" /
                                                                   "smoke")
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "--scale", "huge"])
    assert exit_info.value.code == 2


def test_build_smoke_for_real(tmp_path):
    try:
        import fxlib.data.embedded  # noqa: F401
    except ImportError:
        pytest.skip("fxlib.data.embedded is not there yet")
    proc = run_cli("build", "--scale", "smoke", "--root", str(tmp_path), timeout=300)
    if proc.returncode and "NotImplementedError" in proc.stderr:
        pytest.skip("build_embedded is still a placeholder")
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder == tmp_path / "embedded" / "smoke"
    assert (folder / "manifest.json").is_file() and (folder / "train" / "muff-input.wav").is_file()


def test_check_prints_reports(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        x = (0.3 * rng.standard_normal(3 * 44100)).astype(np.float32)
        write_wav(tmp_path / split / "amp-input.wav", x)
        write_wav(tmp_path / split / "amp-target.wav", np.roll(np.tanh(3 * x), 20))
    assert main(["check", str(tmp_path), "amp"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(tmp_path)
    assert sum("warning:" in line and "+20 samples" in line for line in lines) == 3


def test_check_missing_real_data_is_clean(tmp_path, capsys):
    assert main(["check", "wright2019", "muff", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "python -m fxlib.data fetch" in err and "Traceback" not in err
