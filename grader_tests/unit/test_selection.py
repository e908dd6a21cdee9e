"""coursekit/grading/selection.py: which submissions a run grades (new, changed, asked for, or not fully
graded), and which it leaves as they are."""
from pathlib import Path
from types import SimpleNamespace

from coursekit.course.submissions import Submission
from coursekit.grading.selection import to_grade
from coursekit.grading.state import Outcome

SUBMISSIONS = {s: Submission(s, Path("submitted") / s / "week1", f"{s}-v1") for s in ["alice", "bob", "carol"]}


def state(**outcomes):
    return SimpleNamespace(outcomes=outcomes)


def graded_before(*students, reason=None, fingerprint=None):
    return {s: Outcome(s, fingerprint or f"{s}-v1", reason=reason) for s in students}


def notebook_exists(*students):
    return lambda student: SimpleNamespace(exists=lambda: student in students)


def chosen(todo):
    return sorted(s.student for s in todo)


ALL = ("alice", "bob", "carol")


def test_a_first_run_grades_every_submission():
    assert chosen(to_grade(SUBMISSIONS, state(), set(), [], False, notebook_exists())) == list(ALL)


def test_nothing_is_graded_again_when_nothing_changed():
    todo = to_grade(SUBMISSIONS, state(**graded_before(*ALL)), set(ALL), [], False, notebook_exists(*ALL))
    assert chosen(todo) == [], f"unchanged submissions graded again: {chosen(todo)}"


def test_a_changed_submission_is_graded_again():
    outcomes = {**graded_before(*ALL), **graded_before("bob", fingerprint="bob-v0")}
    todo = to_grade(SUBMISSIONS, state(**outcomes), set(ALL), [], False, notebook_exists(*ALL))
    assert chosen(todo) == ["bob"]


def test_a_new_submission_is_graded():
    todo = to_grade(SUBMISSIONS, state(**graded_before("alice", "bob")), set(ALL), [], False, notebook_exists(*ALL))
    assert chosen(todo) == ["carol"]


def test_a_submission_missing_from_the_gradebook_is_graded_again():
    todo = to_grade(SUBMISSIONS, state(**graded_before(*ALL)), {"alice", "bob"}, [], False, notebook_exists(*ALL))
    assert chosen(todo) == ["carol"], "a submission the gradebook lost was not graded again"


def test_a_submission_whose_autograded_notebook_is_gone_is_graded_again():
    todo = to_grade(SUBMISSIONS, state(**graded_before(*ALL)), set(ALL), [], False, notebook_exists("alice", "bob"))
    assert chosen(todo) == ["carol"]


def test_a_submission_that_could_not_be_graded_is_not_retried_until_it_changes():
    # it has no autograded notebook, but its outcome holds the reason the instructor was given
    outcomes = {**graded_before("alice", "bob"), **graded_before("carol", reason="no notebook submitted")}
    todo = to_grade(SUBMISSIONS, state(**outcomes), set(ALL), [], False, notebook_exists("alice", "bob"))
    assert chosen(todo) == []


def test_students_asked_for_are_graded_even_if_unchanged_and_only_they():
    todo = to_grade(SUBMISSIONS, state(**graded_before(*ALL)), set(ALL), ["bob"], False, notebook_exists(*ALL))
    assert chosen(todo) == ["bob"]


def test_force_grades_every_submission():
    todo = to_grade(SUBMISSIONS, state(**graded_before(*ALL)), set(ALL), [], True, notebook_exists(*ALL))
    assert chosen(todo) == list(ALL)
