"""The fetcher over real HTTP: a local ThreadingHTTPServer serving files the tests make.

The handler supports ``Range`` (206/416) like raw.githubusercontent.com, counts requests, and can
misbehave per file (cut the body short, ignore ranges) to exercise resume and verification.
Every test is bounded: short socket timeouts, no real network.
"""
from __future__ import annotations

import io
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from fxlib.data import fetch
from fxlib.data.fetch import (ChecksumError, DownloadError, download_verified,
                              fetch_wright2019, fetch_wright2019_pretrained, git_blob_sha1)

COMMIT = "c0ffee"


def wav_bytes(seed: int, n: int = 4410) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    sf.write(buf, (0.3 * rng.standard_normal(n)).astype(np.float32), 44100, format="WAV",
             subtype="PCM_16")
    return buf.getvalue()


def blob_of(data: bytes) -> str:
    import hashlib
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        state = self.server.state
        key = self.path.lstrip("/")
        state["requests"].append((key, self.headers.get("Range")))
        if key not in state["files"]:
            self.send_error(404, "Not Found")
            return
        data = state["files"][key]
        quirks = state["quirks"].get(key, {})
        start, status = 0, 200
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not quirks.get("ignore_range"):
            start = 0 if quirks.get("wrong_range") else int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if quirks.get("truncate", 0) > 0:  # announce everything, send half, hang up
            quirks["truncate"] -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def _no_proxy_fast_retry(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(fetch, "_BACKOFF_S", 0.01)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = {"files": {}, "quirks": {}, "requests": []}
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/{COMMIT}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def serve(server, repo_path: str, data: bytes, **quirks) -> str:
    server.state["files"][f"{COMMIT}/{repo_path}"] = data
    if quirks:
        server.state["quirks"][f"{COMMIT}/{repo_path}"] = quirks
    return server.base + repo_path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- git blob ids
def test_git_blob_sha1_matches_git(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "hello").write_bytes(b"hello\n")
    # the ids `git hash-object` prints for these contents
    assert git_blob_sha1(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert git_blob_sha1(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_tables_are_complete():
    assert len(fetch.WRIGHT2019_FILES) == 12 and len(fetch.WRIGHT2019_PRETRAINED) == 8
    assert all(re.fullmatch(r"[0-9a-f]{40}", b) for b in
               [*fetch.WRIGHT2019_FILES.values(), *fetch.WRIGHT2019_PRETRAINED.values()])
    assert fetch.WRIGHT2019_COMMIT in fetch.DEFAULT_BASE_URL


# --------------------------------------------------------------------------- single files
def test_good_file_is_downloaded_verified_and_renamed(server, tmp_path):
    data = wav_bytes(0)
    url = serve(server, "Data/train/muff-input.wav", data)
    dest = tmp_path / "muff-input.wav"
    assert download_verified(url, dest, blob_of(data), timeout=5, progress=False) is True
    assert dest.read_bytes() == data
    assert list(tmp_path.iterdir()) == [dest]  # no .part left behind


def test_corrupted_file_is_deleted_with_clear_error(server, tmp_path):
    data = wav_bytes(0)
    url = serve(server, "Data/x.wav", data[:-10] + b"\x00" * 10)
    dest = tmp_path / "x.wav"
    with pytest.raises(ChecksumError) as err:
        download_verified(url, dest, blob_of(data), timeout=5, progress=False)
    message = str(err.value)
    assert "x.wav" in message and blob_of(data) in message
    assert blob_of(data[:-10] + b"\x00" * 10) in message and "base URL" in message
    assert list(tmp_path.iterdir()) == []


def test_truncated_transfer_is_resumed_with_range(server, tmp_path):
    data = wav_bytes(1)
    url = serve(server, "Data/t.wav", data, truncate=1)
    dest = tmp_path / "t.wav"
    download_verified(url, dest, blob_of(data), timeout=5, retries=1, progress=False)
    assert dest.read_bytes() == data
    ranges = [r for _, r in server.state["requests"]]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 2}-"


def test_truncated_transfer_without_retries_leaves_no_final_file(server, tmp_path):
    data = wav_bytes(1)
    url = serve(server, "Data/t.wav", data, truncate=5)
    dest = tmp_path / "t.wav"
    with pytest.raises(DownloadError, match="closed early.*resume"):
        download_verified(url, dest, blob_of(data), timeout=5, retries=0, progress=False)
    assert not dest.exists()
    part = tmp_path / "t.wav.part"  # kept for the next run to resume, never under the final name
    assert part.read_bytes() == data[: len(data) // 2]


def test_404_names_url_and_status(server, tmp_path):
    url = server.base + "Data/missing.wav"
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_verified(url, tmp_path / "m.wav", "0" * 40, timeout=5, retries=3,
                          progress=False)
    assert url in str(err.value) and "404" in str(err.value)
    assert len(server.state["requests"]) == 1  # a 404 is not retried
    assert time.monotonic() - t0 < 5
    assert list(tmp_path.iterdir()) == []


def test_present_file_is_skipped_without_request(server, tmp_path):
    data = wav_bytes(2)
    url = serve(server, "Data/p.wav", data)
    dest = tmp_path / "p.wav"
    dest.write_bytes(data)
    assert download_verified(url, dest, blob_of(data), timeout=5, progress=False) is False
    assert server.state["requests"] == []


def test_present_file_with_wrong_content_is_replaced(server, tmp_path):
    data = wav_bytes(2)
    url = serve(server, "Data/p.wav", data)
    dest = tmp_path / "p.wav"
    dest.write_bytes(b"old version")
    assert download_verified(url, dest, blob_of(data), timeout=5, progress=False) is True
    assert dest.read_bytes() == data


def test_partial_file_is_resumed_with_range(server, tmp_path):
    data = wav_bytes(3)
    url = serve(server, "Data/r.wav", data)
    dest = tmp_path / "r.wav"
    cut = len(data) * 2 // 5
    (tmp_path / "r.wav.part").write_bytes(data[:cut])
    download_verified(url, dest, blob_of(data), timeout=5, progress=False)
    assert dest.read_bytes() == data and not (tmp_path / "r.wav.part").exists()
    assert server.state["requests"] == [(f"{COMMIT}/Data/r.wav", f"bytes={cut}-")]


def test_partial_file_restarts_when_server_ignores_range(server, tmp_path):
    data = wav_bytes(3)
    url = serve(server, "Data/r.wav", data, ignore_range=True)
    (tmp_path / "r.wav.part").write_bytes(data[:100])
    download_verified(url, tmp_path / "r.wav", blob_of(data), timeout=5, progress=False)
    assert (tmp_path / "r.wav").read_bytes() == data
    assert len(server.state["requests"]) == 1


def test_unexpected_range_answer_restarts(server, tmp_path):
    data = wav_bytes(3)
    url = serve(server, "Data/w.wav", data, wrong_range=True)
    (tmp_path / "w.wav.part").write_bytes(data[:100])
    download_verified(url, tmp_path / "w.wav", blob_of(data), timeout=5, retries=1,
                      progress=False)
    assert (tmp_path / "w.wav").read_bytes() == data
    assert [r for _, r in server.state["requests"]] == ["bytes=100-", None]


def test_complete_or_stale_partial_file(server, tmp_path):
    data = wav_bytes(4)
    url = serve(server, "Data/c.wav", data)
    (tmp_path / "c.wav.part").write_bytes(data)  # complete: the server answers 416
    download_verified(url, tmp_path / "c.wav", blob_of(data), timeout=5, progress=False)
    assert (tmp_path / "c.wav").read_bytes() == data
    # a stale prefix (another version of the file) fails the hash, then one fresh download
    (tmp_path / "d.wav.part").write_bytes(b"\xff" * 500)
    url = serve(server, "Data/d.wav", data)
    server.state["requests"].clear()
    download_verified(url, tmp_path / "d.wav", blob_of(data), timeout=5, progress=False)
    assert (tmp_path / "d.wav").read_bytes() == data
    assert [r for _, r in server.state["requests"]] == ["bytes=500-", None]


def test_unreachable_server_fails_fast_with_offline_hint(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/{COMMIT}/Data/train/muff-input.wav"
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_verified(url, tmp_path / "u.wav", "0" * 40, timeout=2, retries=1,
                          progress=False)
    assert time.monotonic() - t0 < 5
    message = str(err.value)
    assert "offline" in message and "embedded" in message and "127.0.0.1" in message
    assert list(tmp_path.iterdir()) == []


def test_hanging_name_lookup_is_bounded(tmp_path, monkeypatch):
    def slow_lookup(*args, **kwargs):
        time.sleep(5)
        raise OSError("gave up")
    monkeypatch.setattr(fetch.socket, "getaddrinfo", slow_lookup)
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="name server within 0.3 s.*offline"):
        download_verified("http://fxlib-test.invalid/x.wav", tmp_path / "x.wav", "0" * 40,
                          timeout=0.3, retries=0, progress=False)
    assert time.monotonic() - t0 < 2


def test_silent_server_times_out(tmp_path):
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.wav"
        t0 = time.monotonic()
        with pytest.raises(DownloadError, match="after 1 attempts"):
            download_verified(url, tmp_path / "x.wav", "0" * 40, timeout=0.5, retries=0,
                              progress=False)
        assert time.monotonic() - t0 < 5


# --------------------------------------------------------------------------- whole datasets
def test_fetch_wright2019_layout_and_idempotence(server, tmp_path, monkeypatch):
    table = {}
    for i, repo_path in enumerate(fetch.WRIGHT2019_FILES):
        data = wav_bytes(10 + i)
        serve(server, repo_path, data)
        table[repo_path] = blob_of(data)
    # the module-level table is what the CLI uses; patching it is the documented test hook
    monkeypatch.setattr(fetch, "WRIGHT2019_FILES", table)
    folder = fetch_wright2019(tmp_path, server.base, timeout=5, progress=False)
    assert folder == tmp_path / "wright2019"
    for split in ("train", "val", "test"):
        for dev in ("muff", "ht1"):
            for io_ in ("input", "target"):
                path = folder / split / f"{dev}-{io_}.wav"
                assert git_blob_sha1(path) == table[f"Data/{split}/{dev}-{io_}.wav"]
    assert not list(folder.rglob("*.part"))
    n = len(server.state["requests"])
    assert n == 12
    assert fetch_wright2019(tmp_path, server.base, timeout=5, progress=True) == folder
    assert len(server.state["requests"]) == n  # everything verified locally, nothing fetched


def test_fetch_pretrained(server, tmp_path):
    expected = {}
    for name in ("muff-muff2", "ht1-ht14"):
        data = b'{"model_data": {"model": "SimpleRNN"}, "name": "%s"}' % name.encode()
        serve(server, f"Results/{name}/model_best.json", data)
        expected[name] = blob_of(data)
    folder = fetch_wright2019_pretrained(tmp_path, server.base, timeout=5, progress=False,
                                         expected=expected)
    assert folder == tmp_path / "wright2019-pretrained"
    assert sorted(p.name for p in folder.iterdir()) == ["ht1-ht14.json", "muff-muff2.json"]
    only = fetch_wright2019_pretrained(tmp_path / "b", server.base, names=["ht1-ht14"],
                                       timeout=5, progress=False, expected=expected)
    assert [p.name for p in only.iterdir()] == ["ht1-ht14.json"]
    with pytest.raises(ValueError, match="unknown pretrained"):
        fetch_wright2019_pretrained(tmp_path, server.base, names=["nope"], progress=False)


def test_pretrained_table_matches_shared_copies():
    from pathlib import Path
    shared = Path("/work/shared/external/wright2019-pretrained")
    if not shared.is_dir():
        pytest.skip("shared copies of the pretrained models are not on this machine")
    for name, blob in fetch.WRIGHT2019_PRETRAINED.items():
        assert git_blob_sha1(shared / f"{name}.json") == blob
