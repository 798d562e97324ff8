"""The package's shape, as contracts that fail on a regression.

* Layers (``[tool.importlinter]`` in pyproject.toml, checked with import-linter): every import
  points down, every module has a layer, no circle between sibling modules. The contract is
  also run on copies of the package with each of the two circles the code once had put back
  (hidden in a function, as they were) and with an upward import: each must break it.
* No fxlib import inside a function (an import in a function to dodge a circle is a circle),
  but for the one listed with its reason.
* No branch on a model family's name outside the registry (``fxlib.models``): families are
  types (``fxlib.models.family``).
* Docstrings point into the project's own docs/, and every section they name exists.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fxlib"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` with the project's contracts on the package found under ``root``."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(REPO / 'pyproject.toml')!r}, "
            "no_cache=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(root),
                                                       "PATH": "/usr/bin:/bin"})


def test_import_contracts_hold():
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(PACKAGE, root / "fxlib", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "fxlib" / module
    path.write_text(path.read_text(encoding="utf-8") + "\n\ndef _injected():\n"
                    f"    {line}\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("module, line, named", [
    # the circles of the old tree: runs <-> teacher and audio <-> access, each hidden in a function
    ("train/runs.py", "from .teacher import load_teacher", "No cycles are allowed in fxlib.train"),
    ("data/access.py", "from .audio import read_wav", "No cycles are allowed in fxlib.data"),
    # a lower layer reaching up (the streaming benchmark once imported the study)
    ("runtime/benchmark.py", "from ..study import Study", "fxlib.runtime.benchmark -> fxlib.study"),
    ("models/rnn.py", "from ..train import train", "fxlib.models.rnn -> fxlib.train"),
])
def test_contracts_break_on_a_circle_or_an_upward_import(tmp_path, module, line, named):
    out = _lint(_copy_with(tmp_path, module, line))
    assert out.returncode != 0
    assert "BROKEN" in out.stdout and named in out.stdout, out.stdout[-3000:]


#: Imports of fxlib modules that may sit in a function, with the reason.
DEFERRED = {("models/rnn.py", "gru_kernel"): "numba costs ~1.5 s to import; only GRUs on CPU "
                                              "need it, and `import fxlib` stays light",
            ("models/rnn.py", "lstm_kernel"): "as gru_kernel: only LSTMs on CPU need numba"}


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.level or
                                                        (sub.module or "").startswith("fxlib")):
                    yield sub.lineno, sub.module or ""
                elif isinstance(sub, ast.Import):
                    for alias in sub.names:
                        if alias.name.startswith("fxlib"):
                            yield sub.lineno, alias.name


def test_no_fxlib_import_inside_a_function():
    found = []
    for path in SOURCES:
        rel = path.relative_to(PACKAGE).as_posix()
        for line, module in _function_imports(path):
            if (rel, module.split(".")[-1]) not in DEFERRED:
                found.append(f"fxlib/{rel}:{line} imports {module or '.'} inside a function")
    assert not found, "\n".join(found)


FAMILY_NAMES = {"rnn", "cafx"}
REGISTRY = {"models/__init__.py", "models/family.py"}


def _family_branches(path: Path):
    """Comparisons with a family name, and model-name prefix tests ("A"...), in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in FAMILY_NAMES for o in operands):
                yield node.lineno
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "startswith" and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in ("A", "B", "C")
                and "model" in ast.unparse(node.func.value).lower()):
            yield node.lineno


def test_no_family_branch_outside_the_registry():
    found = [f"fxlib/{p.relative_to(PACKAGE).as_posix()}:{line}"
             for p in SOURCES if p.relative_to(PACKAGE).as_posix() not in REGISTRY
             for line in _family_branches(p)]
    assert not found, "branches on a family name (use the family's type): " + ", ".join(found)


def test_the_family_check_sees_a_branch(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f(family):\n    if family == 'rnn':\n        return 1\n")
    assert list(_family_branches(probe)) == [2]


DOC_FILES = sorted(PACKAGE.rglob("*.py")) + [REPO / "README.md"] + sorted(
    (REPO / "notebooks").glob("*.ipynb"))
OUTSIDE = re.compile(r"MODEL-SPEC|PROTOCOL\.md|PROTOCOL §|DATA-NOTES|shared/study|"
                     r"shared/external")


def test_nothing_points_outside_the_repository():
    found = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in DOC_FILES
             for m in OUTSIDE.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found


POINTER = re.compile(r"docs/([\w-]+\.md)(?:,?\s+\(?section\s+'([^']+)')?")


def _headings(doc: Path) -> set[str]:
    return {line[3:].strip() for line in doc.read_text(encoding="utf-8").splitlines()
            if line.startswith("## ")}


def test_every_docs_pointer_resolves():
    pointers = [(p, m.group(1), m.group(2)) for p in DOC_FILES
                for m in POINTER.finditer(re.sub(r"\s+", " ", p.read_text(encoding="utf-8")))]
    assert len(pointers) >= 10                      # the docstrings do point there
    bad = []
    for path, doc, section in pointers:
        target = REPO / "docs" / doc
        if not target.is_file():
            bad.append(f"{path.relative_to(REPO)} -> docs/{doc}: no such file")
        elif section and section not in _headings(target):
            bad.append(f"{path.relative_to(REPO)} -> docs/{doc}: no section '{section}'")
    assert not bad, "\n".join(bad)
