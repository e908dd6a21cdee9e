"""The source notebook: its structure, and that the reference solution passes every test cell."""
import json
import subprocess

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.validator import Validator

from coursekit.course.notebooks import cells_by_id, hidden_blocks, nbgrader_meta, solution_ids
from support.cells import FUNCTIONS
from support.course import NOTEBOOK, REPO, SOURCE


@pytest.fixture(scope="module")
def executed_source(source_nb):
    """The source notebook executed top to bottom in its folder, as a student's kernel would run it."""
    nb = nbformat.from_dict(json.loads(json.dumps(source_nb)))
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(SOURCE)}}).execute()
    return nb


def test_solution_cells_hold_exactly_the_four_functions(source_nb):
    assert solution_ids(source_nb) == list(FUNCTIONS), "the solution cells are not the four functions"
    cells = cells_by_id(source_nb)
    for name in FUNCTIONS:
        assert cells[name].source.startswith(f"def {name}("), f"the solution cell {name} must define {name}"
        assert "### BEGIN SOLUTION" in cells[name].source and "### END SOLUTION" in cells[name].source


def test_every_test_cell_is_locked_has_points_and_hidden_tests(source_nb):
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            assert meta["locked"] and meta["points"] > 0, meta["grade_id"]
            assert hidden_blocks(cell.source), f"{meta['grade_id']} has no hidden tests"


def test_every_other_cell_is_locked(source_nb):
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        assert meta, f"a cell without nbgrader metadata: {cell.source[:60]!r}"
        assert meta["locked"] or meta["solution"], f"{meta['grade_id']} is editable but not a solution cell"


@pytest.mark.slow
def test_source_runs_top_to_bottom_without_errors(executed_source):
    for cell in executed_source.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{nbgrader_meta(cell)['grade_id']}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.slow
def test_test_cells_write_nothing_to_stderr(executed_source):
    for cell in executed_source.cells:
        if nbgrader_meta(cell).get("grade"):
            stderr = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert not stderr, f"{nbgrader_meta(cell)['grade_id']} wrote to stderr: {stderr}"


@pytest.mark.slow
def test_source_prints_the_lessons_figures(executed_source):
    printed = "".join(o.get("text", "") for c in executed_source.cells for o in c.get("outputs", []))
    for line in ["epoch 100 | loss 0.2307 | train acc 0.898", "epoch 200 | loss 0.1876 | train acc 0.914",
                 "epoch 300 | loss 0.1265 | train acc 0.960", "epoch 400 | loss 0.0899 | train acc 0.967",
                 "Test accuracy: 0.9333333333333333"]:
        assert line in printed


@pytest.mark.slow
def test_source_shows_the_loss_curve_and_decision_boundary(executed_source):
    plots = cells_by_id(executed_source)["plots"]
    assert any("image/png" in o.get("data", {}) for o in plots.outputs)


@pytest.mark.slow
def test_nbgrader_validator_passes_every_test_cell_of_the_source():
    # nbgrader validate exits 0 even when tests fail, so read the Validator's result instead.
    results = Validator().validate(str(SOURCE / NOTEBOOK))
    assert results == {}, results.get("failed", results)


def test_committed_notebooks_carry_no_outputs_or_execution_counts():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert tracked, "no notebooks tracked by git"
    for path in tracked:
        nb = nbformat.read(REPO / path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path}: clear the outputs"
