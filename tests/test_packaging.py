"""Set-up files agree with each other: environment.yml lists what pyproject.toml lists, the
Makefile pins torch, CI runs the README's test command."""
import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch", "soundfile": "pysoundfile"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_every_pyproject_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(d) for d in dep.get("pip", []) if not d.startswith("-")}
            assert "-e .[dev]" in dep.get("pip", [])
        else:
            listed.add(_name(dep))
    assert "python=3.11" in env["dependencies"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    missing = [d for d in wanted if CONDA_NAMES.get(_name(d), _name(d)) not in listed]
    assert not missing, f"environment.yml lacks {missing}"


def test_makefile_pins_torch_and_ci_runs_the_readme_command():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^TORCH\s*\?=\s*torch==2\.13\.0", makefile, re.M)
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in (REPO / "README.md").read_text()
