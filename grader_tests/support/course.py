"""The repo's assignment and temporary course folders for the tests."""
import atexit
import shutil
import tempfile
from pathlib import Path

from coursekit.course import assignments, gradebook, submissions
from coursekit.course.config import REPO, run_nbgrader

ASSIGNMENT = "backprop"
NOTEBOOK = "backprop.ipynb"
SOURCE = REPO / "source" / ASSIGNMENT
RELEASE = REPO / "release" / ASSIGNMENT

__all__ = ["ASSIGNMENT", "NOTEBOOK", "RELEASE", "REPO", "SOURCE", "graded_course", "new_course", "run_nbgrader",
           "scores", "submit"]


_generated = []  # the course generated once in this process, which new_course copies


def new_course(folder, generate=True):
    """A fresh course folder, as ``coursekit.course.assignments.new_course`` makes it.

    A generated one is a copy of a course generated once per test process: ``nbgrader generate_assignment``
    costs about 3 s of CPU, and most test modules start courses of their own. It holds no path of its folder
    (source/, release/, nbgrader_config.py, gradebook.db). test_release.py runs the generation itself.
    """
    if not generate:
        return assignments.new_course(folder, generate=False)
    if not _generated:
        root = Path(tempfile.mkdtemp(prefix="coursekit-tests-course-"))
        atexit.register(shutil.rmtree, root, True)
        _generated.append(assignments.new_course(root / "course"))
    return Path(shutil.copytree(_generated[0], folder, dirs_exist_ok=True))


def submit(course, student, nb, assignment=ASSIGNMENT, notebook=NOTEBOOK):
    """Place nb as the student's submission of the repo's assignment (or of another one)."""
    submissions.submit(course, assignment, student, nb, notebook.removesuffix(".ipynb"))


def scores(course, assignment=ASSIGNMENT):
    """student -> {test cell: score} of the assignment in the course's gradebook."""
    return gradebook.scores(course, assignment)


def graded_course(folder, submitted):
    """Autograde submitted (student -> notebook) with stock ``nbgrader autograde`` in a new course folder;
    return (course, scores)."""
    course = new_course(folder)
    for student, nb in submitted.items():
        submit(course, student, nb)
    run_nbgrader(course, "autograde", ASSIGNMENT)
    return course, scores(course)
