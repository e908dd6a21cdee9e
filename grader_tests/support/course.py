"""The repo's assignment and temporary course folders for the tests."""
from coursekit.course import gradebook, submissions
from coursekit.course.assignments import new_course
from coursekit.course.config import REPO, run_nbgrader

ASSIGNMENT = "backprop"
NOTEBOOK = "backprop.ipynb"
SOURCE = REPO / "source" / ASSIGNMENT
RELEASE = REPO / "release" / ASSIGNMENT

__all__ = ["ASSIGNMENT", "NOTEBOOK", "RELEASE", "REPO", "SOURCE", "graded_course", "new_course", "run_nbgrader",
           "scores", "submit"]


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
