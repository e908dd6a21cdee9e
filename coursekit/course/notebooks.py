"""Reading, cleaning and filling nbgrader notebooks."""
import copy
import re
from pathlib import Path

import nbformat

from ..errors import KitError

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def read(path):
    """The notebook at path, or a KitError that says what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise KitError(f"{path}: no such notebook")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for unreadable files
        raise KitError(f"{path}: not a readable notebook ({type(error).__name__}: {error})") from None


def nbgrader_meta(cell):
    """The cell's nbgrader metadata ({} for cells nbgrader does not manage)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def cells_by_id(nb):
    """Map grade_id -> cell for every nbgrader cell."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if "grade_id" in nbgrader_meta(c)}


def solution_ids(nb):
    """grade_ids of the autograded-answer cells, in notebook order."""
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells
            if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")]


def test_ids(nb):
    """grade_ids of the autograded test cells, in notebook order, with their points."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0)) for c in nb.cells
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def strip_markers(source, markers):
    """The source without the lines that hold the given begin/end markers."""
    return "\n".join(line for line in source.split("\n") if not any(m in line for m in markers))


def hidden_blocks(source):
    """The code between each BEGIN/END HIDDEN TESTS pair of a cell, as a list of strings."""
    pattern = re.escape(HIDDEN_MARKERS[0]) + r"[^\n]*\n(.*?)\n[^\n]*" + re.escape(HIDDEN_MARKERS[1])
    return re.findall(pattern, source, flags=re.S)


def reference_answers(source_nb):
    """grade_id -> code of the reference solution: the source's solution cells without the markers."""
    cells = cells_by_id(source_nb)
    return {grade_id: strip_markers(cells[grade_id].source, SOLUTION_MARKERS) for grade_id in solution_ids(source_nb)}


def build_submission(release_nb, answers):
    """A copy of the release notebook with the solution cells named in answers replaced by that code.

    answers: grade_id -> cell source. Cells not named keep the release's stub.
    """
    nb = copy.deepcopy(release_nb)
    cells = cells_by_id(nb)
    unknown = set(answers) - set(solution_ids(nb))
    if unknown:
        raise KitError(f"no solution cell named {', '.join(sorted(unknown))} in the release notebook")
    for grade_id, code in answers.items():
        cells[grade_id].source = code.strip("\n")
    return nb


def write(nb, path):
    """Write nb to path, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
