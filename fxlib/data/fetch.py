"""Download the real dataset (and pretrained models) of Wright et al. 2019, verified.

Source: the public repository Alec-Wright/Automated-GuitarAmpModelling, pinned at one commit, one
raw file per path. Each file is checked against its **git blob id** (SHA-1 of
``b"blob <size>\\0" + bytes``) from the study protocol, which identifies the exact bytes of that
commit: a fork, a later re-upload or a proxy error page cannot pass.

Robustness, because these downloads run on Colab and flaky networks:

* each file streams to ``<dest>.part`` beside its destination and is renamed into place only
  after its blob id matched, so a final name never holds bad bytes;
* a ``.part`` left by an interrupted run is resumed with an HTTP ``Range`` request; a server that
  ignores ranges (200 instead of 206) gets a fresh download; if a resumed file fails the hash
  (its prefix may be stale) it is downloaded once more from scratch before giving up;
* every socket operation has a timeout, transient failures (timeouts, resets, 5xx, short bodies)
  are retried ``retries`` times, and being offline ends in a clear error, never a hang;
* files already present with the right blob id are skipped without any request.

urllib (stdlib) is enough for this and adds no dependency.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Mapping

from tqdm.auto import tqdm

from ..paths import data_root
from .errors import DataError

WRIGHT2019_COMMIT = "e3146386b0fd0b562bc393231be3a5938cf9feac"
DEFAULT_BASE_URL = ("https://raw.githubusercontent.com/Alec-Wright/Automated-GuitarAmpModelling/"
                    f"{WRIGHT2019_COMMIT}/")

#: Repository path -> git blob id (docs/data.md, section 'The real dataset').
WRIGHT2019_FILES: dict[str, str] = {
    "Data/train/muff-input.wav": "272c05ad1ec6badf8d990c07cc354b76da564c23",
    "Data/train/muff-target.wav": "422a76119ac0f93d65e187eacdcb83d6d43cc461",
    "Data/val/muff-input.wav": "16edb82d5c709b2428cc8de816279db0cf1a7e31",
    "Data/val/muff-target.wav": "759017ecc6794a8ce566e067987afe7e1fdffe66",
    "Data/test/muff-input.wav": "eb6ccafe243c70e75c43fc5b5b68f751b7792ad4",
    "Data/test/muff-target.wav": "b0ff09d26aa118a2f6896b75df9d6f4eb75761fe",
    "Data/train/ht1-input.wav": "565629dc09093ed9b09fad19084f928b55c0ca17",
    "Data/train/ht1-target.wav": "f058f3ce7e2f82ed4c14a0d29f560ed74e3eb291",
    "Data/val/ht1-input.wav": "fe6df19bb3d1eb38c8892354f9cf0badac87a40d",
    "Data/val/ht1-target.wav": "5abfc00cbfeb2469f689de7d29750edeeecb8fab",
    "Data/test/ht1-input.wav": "729a675a78409f303ff10b36db58c766094a9d66",
    "Data/test/ht1-target.wav": "d5d67e502c43176851ccfb09b241f027c96b8132",
}

#: Pretrained model name -> git blob id of ``Results/<name>/model_best.json`` (same commit).
WRIGHT2019_PRETRAINED: dict[str, str] = {
    "muff-muff1": "4cce391b60b7ce15a6116558df7c0a2f7a812eb9",
    "muff-muff2": "d6d2b2b986c95040ffa8198604be366513b3f81b",
    "muff-muff3": "0b21bfa6cd0b4f7831fb97168b920bfe8e0713fb",
    "muff-muff4": "62b875bc72de51edc9c0cf3f950e7bc8aae2d718",
    "ht1-ht11": "45d20c7f754e181ff5b9599f81d433d03bb1d7bb",
    "ht1-ht12": "3fae0b4b215d6f0b1b41478e12261eb0c82a4a0e",
    "ht1-ht13": "115bd18265485b8d5a052b68940f30e0f9fb9bbf",
    "ht1-ht14": "53155f3841669c0d33ae67ddf7984db0f0c3905b",
}

_CHUNK = 1 << 20
_BACKOFF_S = 1.0  # seconds times the attempt number between retries
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
_OFFLINE_HINT = ("The machine seems to be offline (or the host is blocked). The real dataset "
                 "needs internet access (Colab has it). Offline, use the embedded dataset "
                 "instead: `python -m fxlib.data build`, or fxlib.data.load('embedded', 'muff').")


class DownloadError(DataError):
    """A download failed for good (HTTP error, offline, retries exhausted)."""


class ChecksumError(DataError):
    """A downloaded file is not the expected one (git blob id mismatch); it was deleted."""


class _Transient(Exception):
    """A failure worth retrying; ``offline`` when no connection could be made at all."""

    def __init__(self, message: str, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def git_blob_sha1(path: str | os.PathLike) -> str:
    """Git's blob id of a file (SHA-1 of ``b"blob <size>\\0"`` + contents), read in chunks."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_bar(total: int | None, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                file=sys.stderr, leave=False)


_RESOLVED: set[str] = set()


def _resolve(url: str, timeout: float) -> None:
    """Look the host up within ``timeout``: getaddrinfo ignores socket timeouts and, offline,
    can block for the resolver's own timeouts (20 s or more per try on some systems).

    Skipped behind a proxy, which resolves names itself.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if not host or host in _RESOLVED or urllib.request.getproxies().get(parts.scheme):
        return
    outcome: dict = {}

    def lookup():
        try:
            socket.getaddrinfo(host, parts.port or 443)
            outcome["ok"] = True
        except OSError as err:
            outcome["err"] = err
    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if "ok" in outcome:
        _RESOLVED.add(host)
        return
    reason = outcome.get("err", f"no answer from the name server within {timeout:g} s")
    raise _Transient(f"cannot resolve {host} ({reason})", offline=True)


def _download_once(url: str, part: Path, timeout: float, progress: bool) -> bool:
    """Fetch ``url`` into ``part``, resuming it when possible. Returns True if it resumed."""
    _resolve(url, timeout)
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "fxlib-data-fetch"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            return True  # nothing left to send: the .part may already be complete; hash decides
        if err.code in _TRANSIENT_HTTP:
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        hint = (" The file is not at this address: check the base URL (the default is the "
                "pinned commit of Alec-Wright/Automated-GuitarAmpModelling)."
                if err.code == 404 else "")
        raise DownloadError(f"download of {url} failed: HTTP {err.code} {err.reason}.{hint}") \
            from err
    except urllib.error.URLError as err:
        raise _Transient(f"cannot connect ({err.reason})", offline=True) from err
    except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
        raise _Transient(f"no answer from the server ({err!r})") from err

    with response:
        resumed = False
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        if offset and response.status == 206:
            match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
            if not (match and int(match.group(1)) == offset):
                part.unlink()  # a range we did not ask for: drop the partial file, start over
                raise _Transient("the server answered with an unexpected byte range")
            resumed = True
            total = int(match.group(2)) if match.group(2) != "*" else None
        if not resumed:
            offset = 0  # server ignored the range (or answered oddly): start over
        bar = _progress_bar(total, offset, part.name.removesuffix(".part"), progress)
        try:
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    f.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
            raise _Transient(f"connection lost during download ({err!r})") from err
        finally:
            if bar is not None:
                bar.close()
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Transient(f"connection closed early: got {size} of {total} bytes")
    return resumed


def download_verified(url: str, dest: str | os.PathLike, blob_id: str, *, timeout: float = 30.0,
                      retries: int = 2, progress: bool = True) -> bool:
    """Make ``dest`` hold the file with git blob id ``blob_id``, downloading it from ``url``.

    Returns False when ``dest`` already had the right content (no request made), True after a
    verified download. Raises ``DownloadError`` or ``ChecksumError`` otherwise.
    """
    dest = Path(dest)
    if dest.is_file() and git_blob_sha1(dest) == blob_id:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures, fresh_retry = 0, False
    while True:
        try:
            resumed = _download_once(url, part, timeout, progress)
        except _Transient as err:
            if failures < retries:
                failures += 1
                time.sleep(_BACKOFF_S * failures)
                continue
            kept = (f" The partial file {part} is kept; run the fetch again to resume."
                    if part.exists() and part.stat().st_size else "")
            if err.offline:
                host = urllib.parse.urlsplit(url).netloc
                raise DownloadError(f"could not reach {host} to download {url}: {err} "
                                    f"(after {failures + 1} attempts, {timeout:g} s timeout)."
                                    f" {_OFFLINE_HINT}") from None
            raise DownloadError(f"download of {url} failed after {failures + 1} attempts: "
                                f"{err}.{kept}") from None
        actual = git_blob_sha1(part)
        if actual == blob_id:
            os.replace(part, dest)
            return True
        part.unlink()
        if resumed and not fresh_retry:
            fresh_retry = True  # the kept prefix may come from another version: start over once
            continue
        raise ChecksumError(
            f"{dest.name} downloaded from {url} is not the expected file: git blob id {actual}, "
            f"expected {blob_id}. It was deleted. The server returned other content (a "
            "different commit, a fork, or a proxy/error page): check the base URL, then run the "
            "fetch again; if it keeps failing, use the embedded dataset (`python -m fxlib.data "
            "build`).")


def _fetch_all(items: list[tuple[str, Path, str]], timeout: float, retries: int,
               progress: bool, what: str) -> None:
    downloaded = 0
    for i, (url, dest, blob) in enumerate(items, 1):
        if progress:
            print(f"[{i}/{len(items)}] {dest.parent.name}/{dest.name}", file=sys.stderr,
                  flush=True)
        downloaded += download_verified(url, dest, blob, timeout=timeout, retries=retries,
                                        progress=progress)
    if progress:
        print(f"{what}: {len(items)} files verified ({downloaded} downloaded, "
              f"{len(items) - downloaded} already present)", file=sys.stderr, flush=True)


def _url(base_url: str, repo_path: str) -> str:
    return base_url.rstrip("/") + "/" + repo_path


def fetch_wright2019(root: str | os.PathLike | None = None, base_url: str = DEFAULT_BASE_URL, *,
                     timeout: float = 30.0, retries: int = 2, progress: bool = True,
                     expected: Mapping[str, str] | None = None) -> Path:
    """Download and verify the 12 WAV files; returns ``<root>/wright2019``.

    Layout ``<root>/wright2019/{train,val,test}/{muff,ht1}-{input,target}.wav``, as the embedded
    set, so ``fxlib.data.load`` treats both alike. ``expected`` (repository path -> blob id)
    overrides ``WRIGHT2019_FILES``, e.g. for a mirror or in tests.
    """
    table = WRIGHT2019_FILES if expected is None else expected
    folder = data_root(root) / "wright2019"
    items = [(_url(base_url, p), folder / p.removeprefix("Data/"), b) for p, b in table.items()]
    _fetch_all(items, timeout, retries, progress, "wright2019")
    return folder


def fetch_wright2019_pretrained(root: str | os.PathLike | None = None,
                                base_url: str = DEFAULT_BASE_URL, names=None, *,
                                timeout: float = 30.0, retries: int = 2, progress: bool = True,
                                expected: Mapping[str, str] | None = None) -> Path:
    """Download and verify pretrained model JSONs; returns ``<root>/wright2019-pretrained``.

    ``Results/<name>/model_best.json`` becomes ``<root>/wright2019-pretrained/<name>.json``.
    ``names`` selects models (default: all eight of ``WRIGHT2019_PRETRAINED``).
    """
    table = WRIGHT2019_PRETRAINED if expected is None else expected
    names = list(table) if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise DataError(f"unknown pretrained model(s) {unknown}; known: {sorted(table)}")
    folder = data_root(root) / "wright2019-pretrained"
    items = [(_url(base_url, f"Results/{n}/model_best.json"), folder / f"{n}.json", table[n])
             for n in names]
    _fetch_all(items, timeout, retries, progress, "wright2019-pretrained")
    return folder
