"""Compare graded entries with their expectations, and the summary line a test run prints."""
import pytest

from . import TEST_CELLS

# Lines the catalogue's tests leave for the end of the pytest run (printed by conftest.pytest_terminal_summary).
SUMMARY_LINES = pytest.StashKey[list]()


def lost_cells(scores, max_points):
    """The test cells that scored below their points. scores, max_points: grade_id -> points."""
    return {cell for cell in TEST_CELLS if scores.get(cell, 0) < max_points[cell]}


def differences(entry, graded, max_points):
    """One line for each test cell whose score contradicts the entry's expectation (empty when all agree)."""
    lost = lost_cells(graded.scores, max_points)
    lines = []
    for cell in TEST_CELLS:
        score = f"{graded.scores.get(cell, 0):g}/{max_points[cell]:g}"
        if cell in entry.loses and cell not in lost:
            lines.append(f"{cell} scored {score}, but must lose points")
        elif cell in lost and cell not in entry.loses:
            error = graded.errors.get(cell, "no error output")
            lines.append(f"{cell} scored {score}, but must keep full marks; it raised {error}")
    return lines


def summary_line(entries, results, max_points):
    """`wrong answers caught 48/48 · correct answers accepted 19/19 · ...` for the graded entries.

    A wrong answer is caught when it loses points in a cell of its own function; a correct one is accepted with
    full marks; a look-alike is held to its worth when it loses every cell it must. The last part counts, for
    each test cell, the wrong answers it caught.
    """
    graded = [(entry, lost_cells(results[entry.name].scores, max_points)) for entry in entries
              if entry.name in results]
    wrong = [(entry, lost) for entry, lost in graded if entry.kind == "wrong"]
    correct = [lost for entry, lost in graded if entry.kind == "correct"]
    lookalikes = [(entry, lost) for entry, lost in graded if entry.kind == "lookalike"]
    as_expected = sum(lost == entry.loses for entry, lost in graded)
    caught = sum(bool(lost & entry.own_cells) for entry, lost in wrong)
    held = sum(entry.loses <= lost for entry, lost in lookalikes)
    per_cell = ", ".join(f"{cell.removeprefix('test_')} {sum(cell in lost for _, lost in wrong)}"
                         for cell in TEST_CELLS)
    return (f"wrong answers caught {caught}/{len(wrong)} · "
            f"correct answers accepted {sum(not lost for lost in correct)}/{len(correct)} · "
            f"look-alikes held to their worth {held}/{len(lookalikes)}"
            f" · outcomes as expected {as_expected}/{len(graded)} · wrong answers caught per cell: {per_cell}")
