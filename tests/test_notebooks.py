"""The study notebooks execute end to end under papermill (smoke scale), with no error output,
and committed notebooks carry no outputs."""
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_stripped(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, \
                f"{path.name} has outputs committed; strip them"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


def test_00_dataset_runs_under_papermill(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("FXLIB_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "00_dataset.ipynb"
    papermill.execute_notebook(
        str(REPO / "notebooks" / "00_dataset.ipynb"), str(out), kernel_name="python3",
        parameters={"profile": "smoke", "root": str(tmp_path / "data")}, progress_bar=False,
        cwd=str(REPO / "notebooks"))
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "linear filter leaves ESR" in text and "data folder:" in text
    # the profile chose the data scale (smoke) and the study's figures folder
    assert (tmp_path / "figures" / "smoke" / "embedded-muff" / "fig3-3_dataset_example.png"
            ).is_file()
    assert (tmp_path / "data" / "embedded" / "smoke" / "manifest.json").is_file()
