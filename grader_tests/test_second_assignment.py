"""A tiny second assignment, made in a temporary course next to backprop, released, graded and reported with
the kit's own commands: nothing in the kit is tied to one assignment, and grading one never touches another.

The new assignment is what an instructor adds next term: source/doubling/doubling.ipynb, with nbgrader's
Create Assignment metadata, one solution cell, one test cell with visible and hidden tests, and a helper file
the notebook imports (source/doubling/doubling_checks.py).
"""
import subprocess
import sys

import nbformat
import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.notebooks import SOLUTION_MARKERS, build_submission, read, reference_answers
from coursekit.preprocessors.hide_hidden_tests import normalise
from support.cells import nbgrader_cell
from support.course import ASSIGNMENT, new_course, scores, submit
from support.secrets import helper_files, hidden_test_lines

pytestmark = pytest.mark.slow  # releases, grades (kernels) and reports a course

NAME = "doubling"
CHECKS = f'''"""Visible checks of the {NAME} exercise."""


def check_double(double):
    """double on the example students see."""
    got = double(3)
    assert got == 6, f"double(3) gave {{got!r}}, expected 6"
    print("double: the visible checks pass.")
'''
SOLUTION = """def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION"""
TEST = """check_double(double)
### BEGIN HIDDEN TESTS
assert double(21) == 42, "double(21) is wrong (hidden check)"
assert double(-0.5) == -1.0, "double(-0.5) is wrong (hidden check)"
### END HIDDEN TESTS"""
WRONG = "def double(x):\n    return x + 3"  # right on the visible example only


def source_notebook():
    nb = nbformat.v4.new_notebook(cells=[
        nbgrader_cell("markdown", "intro", "# Doubling\n\nWrite `double(x)`, which returns twice `x`."),
        nbgrader_cell("code", "setup", f"from {NAME}_checks import check_double"),
        nbgrader_cell("code", "double", SOLUTION, solution=True),
        nbgrader_cell("code", "test_double", TEST, points=2),
    ])
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def kit(course, *args):
    """python -m coursekit --course COURSE ARGS, as an instructor runs it."""
    return subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), *args],
                          capture_output=True, text=True, env=nbgrader_env(), timeout=900)


def said(process):
    return f"exit {process.returncode}\n{process.stdout[-2000:]}\n{process.stderr[-2000:]}"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The repo's course (backprop, not generated) with the doubling assignment added, released, graded
    (a correct and a wrong submission) and reported: (course, {command: process})."""
    course = new_course(tmp_path_factory.mktemp("second") / "course", generate=False)
    folder = course / "source" / NAME
    folder.mkdir()
    nbformat.write(source_notebook(), folder / f"{NAME}.ipynb")
    (folder / f"{NAME}_checks.py").write_text(CHECKS)
    ran = {"release": kit(course, "release", NAME)}
    assert ran["release"].returncode == 0, said(ran["release"])
    release_nb = read(course / "release" / NAME / f"{NAME}.ipynb")
    submit(course, "correct", build_submission(release_nb, reference_answers(source_notebook())), NAME, NAME)
    submit(course, "wrong", build_submission(release_nb, {"double": WRONG}), NAME, NAME)
    ran["grade"] = kit(course, "grade", NAME, "--workers", "2")
    ran["report"] = kit(course, "report", NAME, "--workers", "2")
    return course, ran


def test_the_source_notebook_is_valid_nbformat():
    nbformat.validate(source_notebook())


def test_release_has_the_notebook_and_the_helper_file(course):
    folder = course[0] / "release" / NAME
    assert sorted(p.name for p in folder.iterdir()) == [f"{NAME}.ipynb", f"{NAME}_checks.py"]


def test_release_has_no_solution(course):
    release_nb = read(course[0] / "release" / NAME / f"{NAME}.ipynb")
    text = "\n".join(cell.source for cell in release_nb.cells)
    assert "return 2 * x" not in text, "the solution is in the release"
    assert "raise NotImplementedError()" in text, "the solution cell has no stub"
    for marker in SOLUTION_MARKERS:
        assert marker not in text, f"{marker} in the release"


def test_release_has_no_hidden_test_code(course):
    source = course[0] / "source" / NAME
    secret = hidden_test_lines(read(source / f"{NAME}.ipynb"), helper_files(source), min_length=1)
    assert len(secret) >= 4, f"the hidden tests were not found in the source: {secret}"
    text = normalise("\n".join(p.read_text() for p in sorted((course[0] / "release" / NAME).iterdir())))
    leaked = [line for line in secret if line in text]
    assert not leaked, f"hidden test code in the release: {leaked}"
    assert "check_double(double)" in text, "the visible test is missing from the release"


def test_grade_succeeds_without_submissions_needing_attention(course):
    assert course[1]["grade"].returncode == 0, said(course[1]["grade"])


def test_the_correct_submission_gets_full_marks_and_the_wrong_one_none(course):
    got = scores(course[0], NAME)
    assert got == {"correct": {"test_double": 2.0}, "wrong": {"test_double": 0.0}}, got


def test_report_succeeds(course):
    assert course[1]["report"].returncode == 0, said(course[1]["report"])


def test_report_is_written_for_the_new_assignment_only(course):
    reports = course[0] / "reports"
    assert (reports / NAME / "scores.csv").exists(), f"no reports/{NAME}/scores.csv"
    assert not (reports / ASSIGNMENT).exists(), f"reports/{ASSIGNMENT}/ was written by the {NAME} report"


def test_feedback_is_written_for_the_new_assignment_only(course):
    feedback = course[0] / "feedback"
    assert sorted(p.parent.name for p in feedback.glob(f"*/{NAME}")) == ["correct", "wrong"]
    assert not list(feedback.glob(f"*/{ASSIGNMENT}")), f"feedback of {ASSIGNMENT} was written"


def test_grading_keeps_its_state_per_assignment(course):
    kit_folder = course[0] / "autograded" / ".coursekit"
    assert (kit_folder / f"{NAME}.json").exists(), f"no state file for {NAME}"
    assert not (kit_folder / f"{ASSIGNMENT}.json").exists(), f"grading {NAME} wrote {ASSIGNMENT}'s state file"


def test_grade_without_a_name_in_a_course_of_two_is_a_one_line_error(course):
    process = kit(course[0], "grade")
    assert process.returncode == 2, said(process)
    assert process.stderr.count("\n") == 1, f"not one line: {process.stderr!r}"
    assert ASSIGNMENT in process.stderr and NAME in process.stderr, f"does not name both: {process.stderr!r}"
