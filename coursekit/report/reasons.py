"""Why the class failed each test cell: the trusted run's messages, grouped and counted.

The reasons come from the referee's run of the hidden checks (``metadata.coursekit.referee`` of each test cell
of an autograded notebook, which only the referee writes) and, for cells the kernel did not finish and
submissions without a gradable notebook, from the grade command's own reason (a kernel that died, a notebook
that was missing); never from what student code printed. The referee stores each message as ``reason`` with the
text of every exception the submission's functions raised replaced by the exception's name (referee.py,
``CellResult.redact``). Check messages also quote values of the submission (a number it returned), so quoted
text and numbers are masked before messages are grouped: "relu(-0.5) gave 0.5" and "relu(-2) gave 2" are one
reason.
"""
import re
from collections import Counter
from dataclasses import dataclass

from ..course.notebooks import nbgrader_meta
from ..errors import KitError
from ..preprocessors.referee import exception_name
from ..preprocessors.safe_execute import STOPPED_ERRORS

NOTEBOOK_ONLY = "failed in the notebook's kernel only (an error or output on stderr there); the trusted run passed"
NO_FAILURE = "below full points with no failure in either run (a manual grade?)"
NO_TRUSTED_RUN = "no trusted message (the referee did not run this cell)"
MAX_LENGTH = 160
MAX_INPUT = 500  # characters looked at: the masks below stay cheap whatever a message holds

QUOTED = re.compile(r"(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])")  # 'text', not the apostrophe of "Python's"
NUMBER = re.compile(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
STUDENT_ERROR = re.compile(r"^StudentCodeError: (\w+) raised (.*)", re.S)


def class_reason(error):
    """A trusted message of one test cell ('Type: message', the referee's redacted error or the grader's reason)
    as a reason shared by every student who had it."""
    error = error[:MAX_INPUT]
    function_raised = STUDENT_ERROR.match(error)
    if function_raised:  # a proxy's error: only the function and, if it is Python's own, the exception's name
        return f"{function_raised[1]} raised {exception_name(function_raised[2])}"
    text = error.removeprefix("AssertionError: ").strip() or "AssertionError"
    text = NUMBER.sub("#", QUOTED.sub("'…'", text))
    return shorten(text, MAX_LENGTH)


def shorten(text, width):
    """text, cut to width characters with an ellipsis when longer."""
    return text if len(text) <= width else text[:width - 1] + "…"


def cell_verdicts(nb):
    """{grade_id: Verdict} of the test cells of an autograded notebook that the referee ran."""
    verdicts = {}
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        run = cell.get("metadata", {}).get("coursekit", {}).get("referee")
        if grade_id and isinstance(run, dict):
            outputs = cell.get("outputs", [])
            errors = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
            stderr = any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in outputs)
            reason = run.get("reason", run.get("error"))
            verdicts[grade_id] = Verdict(str(reason) if reason else None,
                                         any(name in STOPPED_ERRORS for name in errors), bool(errors) or stderr)
    return verdicts


@dataclass(frozen=True)
class Verdict:
    """One test cell of an autograded notebook: the referee's redacted error (None: passed), whether the kernel
    stopped before or in it, and whether it shows an error or stderr output from the kernel (either scores 0). The last two are read from the
    outputs, which student code can forge; a forgery only changes which trusted message is shown."""
    error: str
    stopped: bool
    failed_in_kernel: bool


def cell_reason(verdict, attention):
    """Why one test cell failed. verdict: its Verdict, or None when the cell has no trusted run (no readable
    notebook); attention: the grade command's reason for the submission, or None."""
    if verdict is None:
        return class_reason(attention) if attention else NO_TRUSTED_RUN
    if verdict.stopped and attention:  # the kernel died or hung: the referee's run alone would not say so
        return class_reason(attention)
    if verdict.error:
        return class_reason(verdict.error)
    return NOTEBOOK_ONLY if verdict.failed_in_kernel else NO_FAILURE


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
