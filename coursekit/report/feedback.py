"""Every student's feedback: nbgrader's generate_feedback on the grading workers, in parallel.

nbgrader_config.py (through ``coursekit.preprocessors.install``) adds HideHiddenTests to GenerateFeedback, so
no hidden test code reaches a student.
"""
from collections import deque

from ..course.config import course_directory, kit_folder
from ..course.submissions import student_folders
from ..grading.local import run_tasks
from ..grading.tasks import Task


def students_with_autograded_notebooks(course, assignment):
    """Students whose autograded/<student>/<assignment>/ holds a notebook, sorted."""
    folders = student_folders(course_directory(course), "autograded", assignment)
    return [student for student, folder in folders.items() if any(folder.glob("*.ipynb"))]


def write_feedback(course, pool, students, assignment, progress):
    """nbgrader's generate_feedback for each student, on the pool's workers; {student: problem} of failures."""
    logs = kit_folder(course_directory(course)) / "logs" / assignment
    problems = {}

    def check(worker):
        result = worker.answer()
        if result is None and worker.process.is_alive():
            return False
        worker.check_started()
        student = worker.finish().student
        if result is None or not result.done:
            problems[student] = result.reason if result else "no feedback: the process writing it died"
        progress.done(student, "feedback written" if student not in problems else "", problems.get(student))
        return True

    if not students:
        return problems
    tasks = deque(Task("feedback", assignment, student, str(logs / f"{student}.feedback.log")) for student in students)
    progress.start(len(tasks), unit="feedback")
    try:
        run_tasks(pool, tasks, check, course)
    finally:
        progress.close()
    return problems
