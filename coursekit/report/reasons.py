"""Why the class failed each test cell: the trusted run's messages, grouped and counted.

The reasons come from the referee's run of the hidden checks (``metadata.coursekit.referee`` of each test cell
of an autograded notebook, which only the referee writes) and, for cells the kernel did not finish and
submissions without a gradable notebook, from the grade command's own reason (a kernel that died, a notebook
that was missing); never from what student code printed. Check messages quote values of
the submission (an exception's text, a number it returned), so quoted text and numbers are masked before
messages are grouped: "relu(-0.5) gave 0.5" and "relu(-2) gave 2" are one reason, and nothing a student wrote
into an exception reaches the instructor's summary.
"""
import re
from collections import Counter

from ..errors import KitError
from ..preprocessors.safe_execute import STOPPED_ERRORS

NOTEBOOK_ONLY = "failed in the notebook's kernel only (an error or output on stderr there); the trusted run passed"
NO_TRUSTED_RUN = "no trusted message (the referee did not run this cell)"
MAX_LENGTH = 160

# 'text' up to a quote that ends a clause, so the quotes inside a quoted exception message and the apostrophe of
# "Python's" do not end it
QUOTED = re.compile(r"(?<![A-Za-z])'.*?'(?=[:,.;)\]]|$)", re.S)
NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
STUDENT_ERROR = re.compile(r"^StudentCodeError: (\w+) raised (\w+)\b.*", re.S)


def class_reason(error):
    """The referee's error of one test cell ('Type: message') as a reason shared by every student who had it."""
    function_raised = STUDENT_ERROR.match(error)
    if function_raised:  # the rest is the submission's own exception message
        return f"{function_raised[1]} raised {function_raised[2]}"
    text = error.removeprefix("AssertionError: ").strip() or "AssertionError"
    text = NUMBER.sub("#", QUOTED.sub("'…'", text))
    return text if len(text) <= MAX_LENGTH else text[:MAX_LENGTH - 1] + "…"


def cell_verdicts(nb):
    """{grade_id: (the referee's error or None when it passed, whether the kernel stopped before or in the cell)}
    of the test cells of an autograded notebook. The stop is read from the error outputs KernelSafeExecute gives
    such cells; a student who forges one gains nothing, as only the grade command's own reason is then used."""
    verdicts = {}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        verdict = cell.get("metadata", {}).get("coursekit", {}).get("referee")
        if grade_id and isinstance(verdict, dict):
            stopped = any(output.get("output_type") == "error" and output.get("ename") in STOPPED_ERRORS
                          for output in cell.get("outputs", []))
            verdicts[grade_id] = (str(verdict["error"]) if verdict.get("error") else None, stopped)
    return verdicts


def cell_reason(verdict, attention):
    """Why one test cell failed. verdict: its (referee error, kernel stopped) or None when the cell has no
    trusted run (no readable notebook); attention: the grade command's reason for the submission, or None."""
    if verdict is None:
        return class_reason(attention) if attention else NO_TRUSTED_RUN
    error, stopped = verdict
    if stopped and attention:  # the kernel died or hung: the referee's run alone would not say so
        return class_reason(attention)
    return class_reason(error) if error else NOTEBOOK_ONLY


def failure_reasons(summary, notebooks_of):
    """{test cell: Counter(reason -> students)} over the class.

    summary: the ClassSummary; notebooks_of(student): the student's autograded notebooks (nbformat nodes).
    """
    reasons = {cell: Counter() for cell in summary.max_points}
    for student, scores in summary.scores.items():
        failed = [cell for cell, points in summary.max_points.items() if scores.get(cell, 0.0) < points]
        verdicts = {}
        for nb in notebooks_of(student) if failed else ():
            verdicts.update(cell_verdicts(nb))
        for cell in failed:
            reasons[cell][cell_reason(verdicts.get(cell), summary.reasons.get(student))] += 1
    return reasons


def autograded_notebooks(course, assignment, notebooks):
    """notebooks_of(student) for failure_reasons: the student's readable autograded notebooks of the assignment."""
    from ..course.config import course_directory
    from ..course.notebooks import read
    from ..course.submissions import student_folders
    folders = student_folders(course_directory(course), "autograded", assignment)

    def notebooks_of(student):
        found = []
        for name in notebooks if student in folders else ():
            try:
                found.append(read(folders[student] / f"{name}.ipynb"))
            except KitError:  # missing or unreadable: that notebook has no trusted message
                pass
        return found
    return notebooks_of
