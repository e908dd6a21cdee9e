"""release/ is exactly what nbgrader generates from source/, and nothing secret leaks into it."""
import filecmp

import pytest

from coursekit.course.assignments import new_course  # not the tests' copy of one generated course
from coursekit.course.notebooks import HIDDEN_MARKERS, SOLUTION_MARKERS, cells_by_id, read, reference_answers
from coursekit.preprocessors.hide_hidden_tests import normalise
from support.course import ASSIGNMENT, NOTEBOOK, RELEASE, SOURCE
from support.secrets import helper_files, hidden_test_lines


def comparable(nb):
    """What must match between two releases: every cell's type, source and nbgrader metadata, in order."""
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]


@pytest.mark.slow  # runs nbgrader generate_assignment
def test_release_is_exactly_what_nbgrader_generates(tmp_path):
    generated = new_course(tmp_path / "course") / "release" / ASSIGNMENT
    committed_files = sorted(p.name for p in RELEASE.iterdir())
    assert sorted(p.name for p in generated.iterdir()) == committed_files
    assert comparable(read(generated / NOTEBOOK)) == comparable(read(RELEASE / NOTEBOOK)), (
        "release/ is out of date: run 'make release' and commit it")
    for name in committed_files:
        if name != NOTEBOOK:
            assert filecmp.cmp(generated / name, RELEASE / name, shallow=False), f"{name} differs: make release"


def release_text():
    """Every file of the release, as one string."""
    return "\n".join(p.read_text() for p in sorted(RELEASE.rglob("*")) if p.is_file())


def test_release_has_no_solution_or_hidden_test_markers():
    text = release_text()
    for marker in SOLUTION_MARKERS + HIDDEN_MARKERS:
        assert marker not in text


def significant_lines(code):
    """Lines of code worth looking for: not blank, not a def line, not a docstring line or a comment."""
    lines, in_docstring = [], False
    for line in code.split("\n"):
        stripped = line.strip()
        if stripped.startswith('"""'):
            in_docstring = not (in_docstring or stripped.count('"""') == 2)
            continue
        if in_docstring or not stripped or stripped.startswith(("def ", "#")) or stripped in {"return params"}:
            continue
        lines.append(stripped)
    return lines


def test_release_holds_no_solution_code(source_nb, release_nb):
    text = release_text()
    release_cells = cells_by_id(release_nb)
    for grade_id, code in reference_answers(source_nb).items():
        assert "raise NotImplementedError()" in release_cells[grade_id].source
        for line in significant_lines(code):
            assert line not in text, f"solution line of {grade_id} in the release: {line!r}"


def test_release_holds_no_hidden_test_code(source_nb):
    # The release is nbgrader's work alone, so every hidden-test line counts, however short; lines the
    # helper files (backprop_checks.py, handed out too) share with the hidden tests are not secret.
    secret = hidden_test_lines(source_nb, helper_files(SOURCE), min_length=1)
    assert len(secret) > 100, f"only {len(secret)} hidden-test lines: the source should have hidden tests"
    text = normalise(release_text())
    leaked = [line for line in secret if line in text]
    assert not leaked, f"{len(leaked)} hidden test lines in the release, e.g. {leaked[:3]}"
