"""The answer catalogue, graded by nbgrader's real autograde: every wrong answer is caught where it should be,
every correct answer gets full marks, every look-alike scores no more than it is worth.

Grading all entries takes a few minutes (two temporary courses autograded at the same time); run one entry with
``pytest grader_tests/test_catalogue.py -k relu_leaky``: only the selected entries are graded.
"""
import sys
import time

import pytest

from coursekit.course.notebooks import cells_by_id, reference_answers, solution_ids
from support.cells import FUNCTIONS, TEST_CELLS, TRAINING
from catalogue import all_entries
from catalogue.builder import grade, submission
from catalogue.report import SUMMARY_LINES, differences, summary_line

ENTRIES = all_entries()
WRONG = [entry for entry in ENTRIES if entry.kind == "wrong"]
CORRECT = [entry for entry in ENTRIES if entry.kind == "correct"]
LOOKALIKES = [entry for entry in ENTRIES if entry.kind == "lookalike"]


def selected_entries(session):
    """The names of the entries whose tests of this module pytest is about to run (all unless -k narrows)."""
    return {item.callspec.params["entry"].name for item in session.items
            if getattr(item, "module", None) is sys.modules[__name__]
            and "entry" in getattr(getattr(item, "callspec", None), "params", {})}


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory, release_nb, source_nb, max_points):
    """name -> Graded for every selected entry, autograded by nbgrader in two temporary courses at once."""
    names = selected_entries(request.session)
    entries = [entry for entry in ENTRIES if entry.name in names]
    start = time.monotonic()
    results = grade(entries, tmp_path_factory.mktemp("catalogue"), release_nb, reference_answers(source_nb))
    seconds = time.monotonic() - start
    request.config.stash.setdefault(SUMMARY_LINES, []).extend([
        summary_line(entries, results, max_points),
        f"answer catalogue: {len(entries)} submissions autograded by nbgrader in {seconds:.0f} s "
        f"(2 courses at once, {seconds / max(len(entries), 1):.1f} s per submission)",
    ])
    return results


def test_catalogue_has_at_least_30_wrong_answers_for_every_function():
    assert len(WRONG) >= 30
    for function in FUNCTIONS:
        count = sum(function in entry.code for entry in WRONG)
        assert count >= 5, f"only {count} wrong answers for {function}"


def test_catalogue_has_at_least_10_correct_answers_and_a_lookalike_for_every_function():
    assert len(CORRECT) >= 10
    for function in FUNCTIONS:
        assert any(function in entry.code for entry in CORRECT), f"no correct answer for {function}"
        assert any(function in entry.code for entry in LOOKALIKES), f"no look-alike for {function}"


def test_catalogue_cells_are_the_notebooks_test_cells(max_points):
    # A renamed test cell would make the expectations that name it vacuous.
    assert list(max_points) == list(TEST_CELLS)


def test_entry_names_are_unique_and_kinds_known():
    names = [entry.name for entry in ENTRIES]
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)
    assert {entry.kind for entry in ENTRIES} == {"wrong", "correct", "lookalike"}


@pytest.mark.parametrize("entry", WRONG, ids=lambda entry: entry.name)
def test_wrong_answer_must_lose_points_in_its_own_cells_only(entry):
    assert entry.loses & entry.own_cells, f"{entry.name} must lose points in a cell of {entry.functions}"
    others = entry.loses - entry.own_cells - {TRAINING}
    assert not others, f"{entry.name} expects losses in cells of other functions: {sorted(others)}"
    assert entry.says, f"{entry.name}: say what the first cell it loses prints"


def test_correct_answers_must_keep_full_marks():
    assert [entry.name for entry in CORRECT if entry.loses] == []


def test_lookalikes_must_lose_points_in_their_own_cells_only():
    for entry in LOOKALIKES:
        assert entry.loses & entry.own_cells, f"{entry.name} must lose points in a cell of {entry.functions}"
        assert entry.loses <= entry.own_cells | {TRAINING}, f"{entry.name} expects losses in other functions' cells"


def test_submission_holds_the_entry_code_and_the_reference_elsewhere(release_nb, source_nb):
    reference = reference_answers(source_nb)
    for entry in ENTRIES:
        cells = cells_by_id(submission(entry, release_nb, reference))
        for grade_id in solution_ids(release_nb):
            expected = entry.code.get(grade_id, reference[grade_id])
            assert cells[grade_id].source == expected.strip("\n"), f"{entry.name}: solution cell {grade_id}"
        for grade_id, cell in cells_by_id(release_nb).items():
            if grade_id not in reference:
                assert cells[grade_id].source == cell.source, f"{entry.name}: cell {grade_id} changed"


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_entry_is_graded_as_expected(entry, graded, max_points):
    problems = differences(entry, graded[entry.name], max_points)
    assert not problems, f"{entry.kind} answer {entry.name} ({entry.what}):\n  " + "\n  ".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("entry", WRONG, ids=lambda entry: entry.name)
def test_first_cell_a_wrong_answer_loses_says_what_is_wrong(entry, graded):
    cell = entry.first_loss
    error = graded[entry.name].errors.get(cell, "no error output")
    assert entry.says in error, f"{entry.name}: {cell} should say {entry.says!r}, it raised {error}"
