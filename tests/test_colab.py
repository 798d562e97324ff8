"""Colab, emulated: three notebooks on three fresh "machines" that share only a Google Drive folder.

Each machine is a new virtual environment whose only fxlib is the one its notebook's install
cell puts there (non-editable, from a git repository at a pinned commit, as in Colab); the
packages Colab ships are "preinstalled" by a ``.pth`` line pointing at this environment's
site-packages, so nothing but fxlib is installed and torch stays as it is. A stand-in
``google.colab`` (``drive.mount`` maps a temporary folder; ``output`` records the widget-manager
call) is imported when each kernel starts, as Colab does. ``01_A_vs_B``, ``03_kd_on_B`` and
``07_figures`` then run in the ``smoke`` profile with ``storage="auto"``, each in its own
kernel process, working directory and home, outside the checkout. Checked: 03 reuses 01's
teacher B (one B run folder, its files untouched), and 07 draws every figure of 01 and 03.

Also here, without a kernel: ``fxlib.colab``'s storage roots, the install cell and badges
(one constant; ``retarget`` for a fork).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import torch

import fxlib.colab as colab
from fxlib import figures

REPO = Path(__file__).resolve().parents[1]

STUB = {
    "google/colab/__init__.py": "from . import drive, output  # noqa: F401\n",
    "google/colab/drive.py": '''"""Stand-in for google.colab.drive: mount() links MyDrive to FXLIB_TEST_DRIVE."""
import os
from pathlib import Path


def mount(mountpoint, force_remount=False, **kwargs):
    point = Path(mountpoint)
    point.mkdir(parents=True, exist_ok=True)
    if not (point / "MyDrive").exists():
        (point / "MyDrive").symlink_to(os.environ["FXLIB_TEST_DRIVE"], target_is_directory=True)
    print(f"Mounted at {mountpoint}")
''',
    "google/colab/output.py": '''"""Stand-in for google.colab.output."""


def enable_custom_widget_manager():
    print("colab stand-in: custom widget manager enabled")
''',
}


# -- without a kernel -------------------------------------------------------------------------
def test_storage_roots(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    local = colab.storage_roots("auto")
    assert local.kind == "local" and local == colab.storage_roots("local")
    folder = colab.storage_roots(str(tmp_path / "study"))
    assert (folder.kind, folder.runs) == ("folder", tmp_path / "study" / "runs")
    monkeypatch.setenv("FXLIB_DRIVE_MOUNT", str(tmp_path / "drive"))
    drive = colab.storage_roots("drive")
    assert drive.figures == tmp_path / "drive" / "MyDrive" / "fxlib" / "figures"
    with pytest.raises(RuntimeError, match="storage='drive' needs Google Colab"):
        colab.use_storage("drive")
    for bad in ("", "  ", None, 3):
        with pytest.raises(ValueError, match="storage must be one of auto, local, drive"):
            colab.storage_roots(bad)
    for name in ("FXLIB_DATA", "FXLIB_RUNS", "FXLIB_FIGURES"):
        monkeypatch.delenv(name, raising=False)
    used = colab.use_storage(str(tmp_path / "study"))
    assert os.environ["FXLIB_RUNS"] == str(used.runs) and used.data.is_dir()
    assert "runs    " + str(used.runs) in used.describe()


def test_notebooks_point_at_the_one_repository_constant(tmp_path):
    assert colab.retarget(write=False) == []          # badges and install cells in sync
    for path in colab.notebook_paths():
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert "".join(code[0]["source"]) == colab.install_cell(), path.name
        assert colab.badge(path.stem) in "".join(nb["cells"][0]["source"]), path.name
        params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
        assert 'storage = "auto"' in "".join(params[0]["source"]), path.name
    # a fork: retarget rewrites a copy's badges and install cells, and only those
    fork = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", fork)
    changed = colab.retarget("someone/fxlib-fork", "v1", fork)
    assert len(changed) == len(colab.notebook_paths()) >= 8
    nb = json.loads((fork / "03_kd_on_B.ipynb").read_text(encoding="utf-8"))
    text = json.dumps(nb)
    assert "github/someone/fxlib-fork/blob/v1/notebooks/03_kd_on_B.ipynb" in text
    assert '\\"someone/fxlib-fork\\", \\"v1\\"' in text and "fxlib/fxlib" not in text
    assert colab.retarget("someone/fxlib-fork", "v1", fork, write=False) == []
    assert subprocess.run([sys.executable, "-m", "fxlib.colab", "check", "--notebooks",
                           str(fork)], capture_output=True).returncode == 1
    with pytest.raises(ValueError, match="owner/name"):
        colab.retarget("no-slash", "main", fork)


# -- three emulated Colab machines ------------------------------------------------------------
def _pinned_repository(root: Path) -> tuple[str, str]:
    """The working tree (tracked and new files, as git would see them) committed into a fresh
    repository: (its file:// URL, the commit) -- what the install cell installs from."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    src = root / "fxlib-repo"
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], cwd=src, check=True)
    subprocess.run(git + ["add", "-A"], cwd=src, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "snapshot"], cwd=src, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True,
                            text=True, check=True).stdout.strip()
    return src.as_uri(), commit


def _machine(root: Path, name: str, stub: Path) -> tuple[Path, dict]:
    """A fresh venv (Colab's packages via .pth, no fxlib), home and IPython profile."""
    home = root / name
    venv = home / "venv"
    # no pip of its own: the preinstalled (current) pip serves, as on Colab
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True,
                          check=True).stdout.strip()
    Path(site, "colab_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # as a Colab kernel does\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FXLIB_", "PYTHON", "VIRTUAL_ENV", "IPYTHON", "JUPYTER"))}
    env.update(HOME=str(home), IPYTHONDIR=str(home / "ipython"), PYTHONPATH=str(stub),
               MPLBACKEND="Agg", CI="1", PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
               PIP_CACHE_DIR=str(root / "pip-cache"), PIP_DISABLE_PIP_VERSION_CHECK="1",
               NUMBA_CACHE_DIR=str(home / "numba-cache"))
    return python, env


def _run_notebook(python: Path, env: dict, notebook: str, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{notebook}.ipynb"
    proc = subprocess.run(
        [str(python), "-m", "papermill", str(REPO / "notebooks" / f"{notebook}.ipynb"),
         str(out), "-k", "python3", "--no-progress-bar", "-p", "profile", "smoke"],
        cwd=work, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"{notebook} failed:\n{proc.stderr[-4000:]}"
    nb = json.loads(out.read_text(encoding="utf-8"))
    return nb


def _text(nb: dict) -> str:
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_three_colab_machines_share_runs_through_drive(tmp_path):
    pytest.importorskip("papermill")
    stub = tmp_path / "stub"
    for name, text in STUB.items():
        (stub / name).parent.mkdir(parents=True, exist_ok=True)
        (stub / name).write_text(text)
    url, commit = _pinned_repository(tmp_path)
    drive = tmp_path / "google-drive"
    drive.mkdir()
    runs = drive / colab.DRIVE_FOLDER / "runs"
    seconds, texts = {}, {}
    for i, notebook in enumerate(("01_A_vs_B", "03_kd_on_B", "07_figures")):
        python, env = _machine(tmp_path, f"machine{i}", stub)
        env.update(FXLIB_TEST_DRIVE=str(drive), FXLIB_DRIVE_MOUNT=str(tmp_path / f"machine{i}"
                   / "content" / "drive"), FXLIB_REPOSITORY_URL=url, FXLIB_REF=commit)
        t0 = time.perf_counter()
        nb = _run_notebook(python, env, notebook, tmp_path / f"machine{i}" / "work")
        seconds[notebook] = time.perf_counter() - t0
        texts[notebook] = text = _text(nb)
        # the kernel ran the fxlib its install cell installed: non-editable, at the commit
        assert f"@ {commit[:12]}" in text and "fxlib 0." in text, text[:2000]
        assert f"torch {torch.__version__} " in text          # Colab's torch kept
        assert "storage: Google Drive" in text and "colab stand-in: custom widget" in text
        assert not [o for c in nb["cells"] for o in c.get("outputs", [])
                    if o["output_type"] == "error"]
        if notebook == "01_A_vs_B":
            teachers = sorted(runs.glob("B-scratch-smoke-s0-*"))
            assert len(teachers) == 1
            before = {p.name: p.stat().st_mtime_ns for p in teachers[0].iterdir()}
    # 03 reused 01's teacher B: still one B run, its files untouched, no second training
    assert sorted(runs.glob("B-scratch-smoke-s0-*")) == teachers
    assert {p.name: p.stat().st_mtime_ns for p in teachers[0].iterdir()} == before
    # 07 drew every figure of 01 and 03 from the Drive folder, and says what it could not
    folder = drive / colab.DRIVE_FOLDER / "figures" / "smoke" / "embedded-muff"   # the study's
    drawn = {p.stem for p in folder.glob("*.png")}
    for notebook in ("01_A_vs_B", "03_kd_on_B"):
        assert {f.name for f in figures.figure_specs(notebook)} <= drawn, notebook
    assert "(run 05_kd_to_C first)" in texts["07_figures"]
    print("emulated Colab, seconds per notebook (install cell included):",
          {k: round(v, 1) for k, v in seconds.items()})
