"""Google Colab: where a notebook's data, runs and figures live, and how fxlib gets installed.

Each notebook opened from its badge runs on a Colab machine of its own; nothing on that machine's
disk outlives a disconnect or reaches the next notebook. So in Colab the study keeps its data,
runs and figures in **one folder on Google Drive** (``storage``), which every notebook and
every later session sees: ``01`` trains teacher B there, ``03`` opened tomorrow reuses it, and a
training interrupted by a disconnect resumes from its last checkpoint there (docs/colab.md).

* ``storage_roots(storage)``: the three folders for a ``storage`` choice -- ``"auto"`` (Drive in
  Colab, the usual folders elsewhere), ``"local"`` (the usual folders: ``fxlib.paths``),
  ``"drive"`` (mount Drive, ``MyDrive/fxlib``) or any folder path;
* ``use_storage(storage)``: make them this process's roots (``FXLIB_DATA``, ``FXLIB_RUNS``,
  ``FXLIB_FIGURES``), mounting Drive first when needed (``fxlib.notebook.setup`` calls it);
* ``REPOSITORY`` / ``REF``: the one place naming the repository that the badges and the
  notebooks' install cell point at; ``install_cell()`` is that cell's text, and
  ``python -m fxlib.colab retarget --repository you/fxlib [--ref main]`` rewrites every notebook's
  badge and install cell for a fork (``check`` says whether they match the constants).

Outside Colab nothing here runs unless asked: ``"auto"`` is ``"local"`` there, and the install
cell does nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ._atomic import atomic_open
from .paths import REPO_ROOT, data_root, figures_root, runs_root

#: The GitHub repository (owner/name) of the badges and the install cell. A fork changes it
#: with ``python -m fxlib.colab retarget --repository owner/name`` (module notes).
REPOSITORY = "fxlib/fxlib"
#: The git ref the notebooks' install cell installs (a branch, tag or commit).
REF = "main"

#: Where Colab mounts Google Drive (``google.colab.drive.mount``). ``FXLIB_DRIVE_MOUNT`` moves it
#: (the emulated-Colab test mounts a temporary folder).
DRIVE_MOUNT = "/content/drive"
#: The study's folder inside "My Drive" for ``storage="drive"`` / ``"auto"`` in Colab.
DRIVE_FOLDER = "fxlib"

STORAGE_CHOICES = ("auto", "local", "drive")
_ENV = {"data": "FXLIB_DATA", "runs": "FXLIB_RUNS", "figures": "FXLIB_FIGURES"}


def in_colab() -> bool:
    """True inside a Colab runtime (its ``google.colab`` package is imported there)."""
    return "google.colab" in sys.modules


def drive_mount_point() -> Path:
    return Path(os.environ.get("FXLIB_DRIVE_MOUNT") or DRIVE_MOUNT)


@dataclass(frozen=True)
class Storage:
    """The folders a notebook reads and writes, and where they came from."""
    kind: str               # "local" | "drive" | "folder"
    data: Path
    runs: Path
    figures: Path

    def describe(self) -> str:
        where = {"local": "this machine's folders", "drive": "Google Drive",
                 "folder": "the folder given"}[self.kind]
        return (f"storage: {where}\n  data    {self.data}\n  runs    {self.runs}\n"
                f"  figures {self.figures}")


def storage_roots(storage: str = "auto", drive_folder: str = DRIVE_FOLDER) -> Storage:
    """The folders for ``storage`` (module notes); mounts nothing, creates nothing."""
    if not isinstance(storage, str) or not storage.strip():
        raise ValueError(f"storage must be one of {', '.join(STORAGE_CHOICES)} or a folder "
                         f"path, got {storage!r}")
    kind = storage.strip()
    if kind == "auto":
        kind = "drive" if in_colab() else "local"
    if kind == "local":
        return Storage("local", data_root(), runs_root(), figures_root())
    if kind == "drive":
        base = drive_mount_point() / "MyDrive" / drive_folder
        return Storage("drive", base / "data", base / "runs", base / "figures")
    base = Path(kind).expanduser()
    return Storage("folder", base / "data", base / "runs", base / "figures")


def mount_drive() -> Path:
    """Mount Google Drive at ``drive_mount_point()`` (Colab asks for permission once per
    session); returns "My Drive". Outside Colab this is an error that says what to pass."""
    if not in_colab():
        raise RuntimeError("storage='drive' needs Google Colab (its google.colab.drive); "
                           "outside Colab use storage='local' or a folder path")
    from google.colab import drive        # only exists in Colab (or the test's stand-in)
    point = drive_mount_point()
    if not (point / "MyDrive").is_dir():
        drive.mount(str(point))
    mine = point / "MyDrive"
    if not mine.is_dir():
        raise RuntimeError(f"Google Drive did not mount at {point} (no {mine}); run this cell "
                           "again and accept the permission request")
    return mine


def use_storage(storage: str = "auto", drive_folder: str = DRIVE_FOLDER) -> Storage:
    """Make ``storage``'s folders this process's data / runs / figures roots (mounting Drive
    when it is Drive) and create them; returns them."""
    roots = storage_roots(storage, drive_folder)
    if roots.kind == "drive":
        mount_drive()
    for name in _ENV:
        folder = getattr(roots, name)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[_ENV[name]] = str(folder)
    return roots


# -- the install cell and the badges ----------------------------------------------------------
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_INSTALL_MARK = "# fxlib install cell"


def colab_url(notebook: str, repository: str = REPOSITORY, ref: str = REF) -> str:
    """The "Open in Colab" address of ``notebooks/<notebook>.ipynb`` on GitHub."""
    return (f"https://colab.research.google.com/github/{repository}/blob/{ref}/notebooks/"
            f"{notebook}.ipynb")


def badge(notebook: str, repository: str = REPOSITORY, ref: str = REF) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, repository, ref)})"


def install_cell(repository: str = REPOSITORY, ref: str = REF) -> str:
    """The first code cell of every notebook: in Colab, install fxlib from ``repository`` at
    ``ref`` without touching Colab's own torch (pip is held to the installed version by a
    constraint), then print what it installed; elsewhere nothing."""
    return f'''{_INSTALL_MARK} (Colab only; elsewhere it does nothing). A fork: change REPOSITORY
# here, or run `python -m fxlib.colab retarget --repository you/fxlib` (docs/colab.md).
REPOSITORY, REF = "{repository}", "{ref}"
import os, subprocess, sys, tempfile
if "google.colab" in sys.modules:
    if sys.version_info < (3, 10):
        raise SystemExit(f"fxlib needs Python 3.10 or newer; this runtime has "
                         f"{{sys.version.split()[0]}}: pick a newer Colab runtime")
    import torch                           # Colab's own build (CUDA on a GPU runtime): kept
    url = os.environ.get("FXLIB_REPOSITORY_URL") or f"https://github.com/{{REPOSITORY}}"
    ref = os.environ.get("FXLIB_REF") or REF
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as keep:
        keep.write(f"torch=={{torch.__version__}}\\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", keep.name,
                    f"fxlib @ git+{{url}}@{{ref}}"], check=True)
    import importlib; importlib.invalidate_caches()    # import the package just installed
    from fxlib.colab import versions; print(versions())'''


def _cell_source(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def _retarget_notebook(nb: dict, name: str, repository: str, ref: str) -> bool:
    """Point ``nb``'s badge and install cell at ``repository``/``ref``; True if it changed."""
    changed = False
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "[![Open In Colab]" in text:
            start = text.index("[![Open In Colab]")
            stop = text.index(".ipynb)", start) + len(".ipynb)")
            new = text[:start] + badge(name, repository, ref) + text[stop:]
        elif cell["cell_type"] == "code" and text.startswith(_INSTALL_MARK):
            new = install_cell(repository, ref)
        else:
            continue
        if new != text:
            cell["source"] = _cell_source(new)
            changed = True
    return changed


def notebook_paths(folder: Optional[Path] = None) -> list[Path]:
    """The study notebooks in ``folder`` (default: the checkout's ``notebooks/``)."""
    folder = folder or (REPO_ROOT / "notebooks" if REPO_ROOT else Path("notebooks"))
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def retarget(repository: str = REPOSITORY, ref: str = REF, folder: Optional[Path] = None,
             write: bool = True) -> list[Path]:
    """The notebooks whose badge or install cell do not point at ``repository``/``ref``;
    rewritten in place (atomically) unless ``write`` is False."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise ValueError(f"repository must be owner/name, got {repository!r}")
    stale = []
    for path in notebook_paths(folder):
        nb = json.loads(path.read_text(encoding="utf-8"))
        if _retarget_notebook(nb, path.stem, repository, ref):
            stale.append(path)
            if write:
                with atomic_open(path, "w", encoding="utf-8") as f:
                    f.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return stale


def versions() -> str:
    """One line: fxlib (and the commit pip installed it from), torch, Python, the device."""
    from importlib.metadata import PackageNotFoundError, distribution

    import torch
    where = ""
    try:
        direct = distribution("fxlib").read_text("direct_url.json")
        if direct:
            info = json.loads(direct)
            commit = info.get("vcs_info", {}).get("commit_id")
            where = f" from {info.get('url')}" + (f" @ {commit[:12]}" if commit else "")
        version = distribution("fxlib").version
    except PackageNotFoundError:
        version = "not installed"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"fxlib {version}{where}; torch {torch.__version__} ({gpu}); Python "
            f"{sys.version.split()[0]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fxlib.colab", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, text in (("retarget", "point every notebook's badge and install cell at a "
                        "repository and ref"), ("check", "exit 1 if a notebook's badge or "
                        "install cell differs from --repository/--ref")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--repository", default=REPOSITORY, help="owner/name on GitHub")
        p.add_argument("--ref", default=REF, help="branch, tag or commit")
        p.add_argument("--notebooks", type=Path, default=None, help="the notebooks folder")
    sub.add_parser("versions", help="print fxlib's, torch's and Python's versions")
    args = ap.parse_args(argv)
    if args.cmd == "versions":
        print(versions())
        return 0
    stale = retarget(args.repository, args.ref, args.notebooks, write=args.cmd == "retarget")
    verb = "rewrote" if args.cmd == "retarget" else "differ"
    for path in stale:
        print(f"{verb}: {path}")
    if args.cmd == "check":
        return 1 if stale else 0
    print(f"{len(stale)} notebook(s) now point at {args.repository} @ {args.ref}")
    return 0


__all__ = ["REPOSITORY", "REF", "DRIVE_MOUNT", "DRIVE_FOLDER", "STORAGE_CHOICES", "Storage",
           "in_colab", "storage_roots", "use_storage", "mount_drive", "colab_url", "badge",
           "install_cell", "retarget", "versions"]


if __name__ == "__main__":
    sys.exit(main())
