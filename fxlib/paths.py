"""Where fxlib reads and writes: data, runs and figures.

One rule for every entry point (library, CLI, notebooks run from ``notebooks/``):
an explicit ``root`` argument wins; otherwise an environment variable; otherwise the folder
inside the repository checkout that fxlib was installed from (editable install, the normal
case); otherwise a cache folder in the user's home. All of these are git-ignored.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The checkout fxlib lives in, when it is one (``pyproject.toml`` beside the package).
_PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT: Path | None = (
    _PACKAGE_DIR.parent if (_PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
)


def _default(env: str, folder: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    if REPO_ROOT is not None:
        return REPO_ROOT / folder
    return Path.home() / ".cache" / "fxlib" / folder


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding ``embedded/`` and ``wright2019/`` datasets (env ``FXLIB_DATA``)."""
    return Path(root).expanduser() if root is not None else _default("FXLIB_DATA", "data")


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """Folder holding trained run directories (env ``FXLIB_RUNS``)."""
    return Path(root).expanduser() if root is not None else _default("FXLIB_RUNS", "runs")


def figures_root(root: str | os.PathLike | None = None) -> Path:
    """Folder receiving figures and result tables (env ``FXLIB_FIGURES``)."""
    return Path(root).expanduser() if root is not None else _default("FXLIB_FIGURES", "figures")
