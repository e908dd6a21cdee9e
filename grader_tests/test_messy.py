"""Messy but honest notebooks get full marks; the same mess with a wrong answer scores as its clean twin.

Every entry of grader_tests/messy/ is graded in one batch by the instructors' grade command in a temporary
course: copied, deleted, moved, split and re-labelled cells, the student's own cells, a notebook downloaded
twice, two notebooks in one folder, Colab metadata and CRLF line endings, an old nbformat minor version, saved
outputs and images. None may end "could not be graded", and the student's files in submitted/ stay as they were.
"""
import re
import subprocess
import sys

import pytest

from coursekit.course.config import nbgrader_env
from coursekit.course.notebooks import reference_answers
from coursekit.course.submissions import files_digest, folder_files
from catalogue.report import SUMMARY_LINES
from hostile import FIGURES
from messy import HONEST, MESSY, WRONG, write_submission
from support.course import ASSIGNMENT, new_course, scores

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(tmp_path_factory, source_nb, release_nb):
    """Every messy entry graded with `python -m coursekit grade`: (course, process, digests before grading)."""
    course = new_course(tmp_path_factory.mktemp("messy") / "course")
    reference = reference_answers(source_nb)
    digests = {}
    for entry in MESSY:
        folder = course / "submitted" / entry.name / ASSIGNMENT
        write_submission(folder, entry.build(release_nb, reference))
        digests[entry.name] = files_digest(folder_files(folder), folder)
    process = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(course), "grade", ASSIGNMENT,
                              "--workers", "2"], capture_output=True, text=True, env=nbgrader_env(), timeout=1800)
    assert process.returncode in (0, 1), process.stdout[-3000:] + process.stderr[-3000:]
    return course, process, digests


@pytest.fixture(scope="module")
def batch_scores(batch):
    return scores(batch[0])


@pytest.fixture(scope="module")
def reasons(batch):
    return dict(re.findall(r"^  (\S+): (.+)$", batch[1].stdout, flags=re.M))


def expected(entry, max_points):
    return {cell: 0 if cell in entry.loses else points for cell, points in max_points.items()}


@pytest.mark.parametrize("entry", HONEST, ids=[e.name for e in HONEST])
def test_messy_honest_notebook_gets_full_marks(entry, batch_scores, reasons, max_points):
    assert "could not be graded" not in reasons.get(entry.name, ""), reasons[entry.name]
    assert batch_scores.get(entry.name) == max_points, f"{entry.name} ({entry.what}): {reasons.get(entry.name)}"


@pytest.mark.parametrize("entry", WRONG, ids=[e.name for e in WRONG])
def test_messy_wrong_notebook_scores_as_its_clean_twin(entry, batch_scores, reasons, max_points):
    assert "could not be graded" not in reasons.get(entry.name, ""), reasons[entry.name]
    assert batch_scores.get(entry.name) == expected(entry, max_points), f"{entry.name} ({entry.what})"


@pytest.mark.parametrize("entry", [e for e in MESSY if e.renamed], ids=[e.name for e in MESSY if e.renamed])
def test_the_reason_names_the_file_graded_in_place_of_the_notebook(entry, reasons):
    assert f"graded {entry.renamed} as backprop.ipynb" in reasons.get(entry.name, ""), reasons.get(entry.name)


def test_repairs_are_reported(reasons):
    assert "deleted cells restored: test_sgd_update, test_training" in reasons["two-tests-deleted"]
    assert "moved back to their place: test_softmax" in reasons["test-moved-up"]
    assert "nbgrader metadata reset: relu" in reasons["wrong-points-tampered"]


def test_submitted_files_are_not_modified(batch):
    course, _, digests = batch
    for name, digest in digests.items():
        folder = course / "submitted" / name / ASSIGNMENT
        assert files_digest(folder_files(folder), folder) == digest, name


def test_summary_line(batch_scores, max_points, request):
    full = sum(batch_scores.get(e.name) == max_points for e in HONEST)
    twins = sum(batch_scores.get(e.name) == expected(e, max_points) for e in WRONG)
    line = (f"messy honest submissions: {full}/{len(HONEST)} full marks · messy wrong submissions: "
            f"{twins}/{len(WRONG)} score as their clean twin")
    request.config.stash.setdefault(SUMMARY_LINES, []).append(line)
    request.config.stash.setdefault(FIGURES, {})["messy"] = (full, len(HONEST))
    print(line)
    assert full == len(HONEST) and twins == len(WRONG), line
