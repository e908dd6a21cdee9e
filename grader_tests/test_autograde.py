"""nbgrader's own autograde and export, in a temporary course folder, on the reference and the untouched release."""
import csv
import os

import pytest

from coursekit.course.notebooks import build_submission, reference_answers
from support.course import ASSIGNMENT, REPO, graded_course, run_nbgrader

pytestmark = pytest.mark.slow  # every test autogrades notebooks with nbgrader


def test_reference_solution_autogrades_to_full_marks(example_course, max_points):
    _, course_scores = example_course
    assert course_scores["reference"] == max_points


def test_untouched_release_scores_zero_on_every_test_cell(example_course, max_points):
    _, course_scores = example_course
    assert course_scores["untouched"] == {cell: 0 for cell in max_points}


def test_autograded_notebooks_are_written_to_the_temporary_course(example_course):
    course, _ = example_course
    for student in ["reference", "untouched"]:
        assert (course / "autograded" / student / ASSIGNMENT / "backprop.ipynb").exists()


def test_nbgrader_export_writes_the_grades(example_course, max_points):
    course, _ = example_course
    run_nbgrader(course, "export")
    with open(course / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert float(rows["reference"]["score"]) == sum(max_points.values())
    assert float(rows["untouched"]["score"]) == 0


def snapshot(folder):
    """Every path below folder with its size and modification time, .venv and caches left out."""
    result = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in {".venv", ".git", "__pycache__", ".pytest_cache"}]
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            result[path] = (stat.st_size, stat.st_mtime_ns)
    return result


def test_grading_in_a_temporary_course_leaves_the_repo_untouched(tmp_path, source_nb, release_nb):
    before = snapshot(REPO)
    course, _ = graded_course(tmp_path / "course", {"student": build_submission(release_nb, reference_answers(source_nb))})
    run_nbgrader(course, "export")
    assert snapshot(REPO) == before
