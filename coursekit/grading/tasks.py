"""One task of a grading worker: nbgrader's autograde, or its feedback, for one submission.

``Task`` goes to a worker, ``Result`` comes back: typed records, the only things that cross the worker pipe.
The work itself is nbgrader's own API (``NbGraderAPI.autograde`` / ``generate_feedback``) with the course's
preprocessors; this module reads nbgrader's log for the reason when a submission needs the instructor.

A notebook submitted under another name (``Task.renamed``, found by course/submissions.py) is graded from a copy
of the submission folder in which it has the expected name (``staged``): nbgrader reads only
``<notebook>.ipynb``, and the student's files in submitted/ are never modified.
"""
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..preprocessors.rebuild import REPAIRED
from ..preprocessors.safe_execute import KERNEL_STOPPED, TIMED_OUT

LOCK_RETRIES = 3


@dataclass(frozen=True)
class Task:
    """What a worker is asked to do: kind is "autograde" or "feedback"; log_file keeps nbgrader's log."""
    kind: str
    assignment: str
    student: str
    log_file: str
    renamed: tuple = ()  # (notebook name, file name in the submission folder graded as <notebook name>.ipynb)


@dataclass(frozen=True)
class Result:
    """What a worker answers: whether nbgrader recorded grades (done), why the instructor should look at the
    submission (reason, None when nothing is wrong), and the submission's score in the gradebook."""
    student: str
    done: bool
    reason: str = None
    score: float = 0.0
    max_score: float = 0.0


def run_task(api, task):
    """The Result of the task, done with the worker's NbGraderAPI."""
    job = {"autograde": grade_submission, "feedback": write_feedback}[task.kind]
    return job(api, task)


def grade_submission(api, task):
    """Autograde one submission with nbgrader's API (retried while SQLite reports a lock)."""
    with staged(api, task):
        for attempt in range(LOCK_RETRIES):
            result = api.autograde(task.assignment, task.student, force=True, create=True)
            if result["success"] or "database is locked" not in result.get("error", "") + result.get("log", ""):
                break
            time.sleep(1 + attempt)
    log = result.get("log", "") + result.get("error", "")
    write_log(task.log_file, log)
    renamed = "; ".join(f"graded {found} as {name}.ipynb" for name, found in task.renamed) or None
    if not result["success"]:
        return Result(task.student, False, "; ".join(filter(None, [
            "could not be graded: " + failure_reason(log), renamed])))
    reason = "; ".join(filter(None, [renamed, kernel_stop_reason(log), hung_reason(log), repair_reason(log)])) or None
    return Result(task.student, True, reason, **submission_score(api, task.assignment, task.student))


@contextmanager
def staged(api, task):
    """While grading a submission whose notebook has another name, nbgrader's submitted/ is a copy of the
    submission folder (in autograded/.coursekit/staged/) in which the notebook has the expected name."""
    if not task.renamed:
        yield
        return
    from nbgrader.utils import temp_attrs

    from ..course.config import kit_folder
    coursedir = api.coursedir
    staging = kit_folder(coursedir) / "staged"
    original = Path(coursedir.format_path(coursedir.submitted_directory, task.student, task.assignment))
    relative = os.path.relpath(staging, coursedir.root)
    with temp_attrs(coursedir, submitted_directory=relative):
        copy = Path(coursedir.format_path(coursedir.submitted_directory, task.student, task.assignment))
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(original, copy, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        try:
            for name, found in task.renamed:
                (copy / found).rename(copy / f"{name}.ipynb")
            yield
        finally:
            shutil.rmtree(copy, ignore_errors=True)


def repair_reason(log):
    """What RebuildFromSource repaired in the notebook, from its tag lines in nbgrader's log, or None."""
    notes = re.findall(re.escape(REPAIRED) + r" ([^:\n]+): (.+)$", log, flags=re.M)
    if not notes:
        return None
    return "notebook repaired: " + "; ".join(dict.fromkeys(note.strip() for _, note in notes))


def tagged_lines(log, tag):
    """(name, cell) of every line 'tag name in cell' KernelSafeExecute logged at ERROR level, in order; only
    at a line's start, so that a submission's text quoted in another line cannot forge one."""
    return re.findall(r"^\[ERROR\] " + re.escape(tag) + r" (\w+) in (.+)$", log, flags=re.M)


def kernel_stop_reason(log):
    """Why the kernel stopped early, from the tag KernelSafeExecute writes into nbgrader's log, or None."""
    stopped = tagged_lines(log, KERNEL_STOPPED)
    if not stopped:
        return None
    ename, cell = stopped[0]
    what = "did not stop after a cell's time limit" if ename == "KernelUnresponsive" else "died"
    return f"the kernel {what} in {cell}: later cells were not run and score 0"


def hung_reason(log):
    """Which functions ran past a cell's time limit, from the tag KernelSafeExecute writes into nbgrader's log,
    or None."""
    hung = dict(tagged_lines(log, TIMED_OUT))
    if not hung:
        return None
    names = ", ".join(f"{name} in {cell}" for name, cell in hung.items())
    return f"timed out: {names} (later calls fail at once and their cells score 0)"


def write_feedback(api, task):
    """nbgrader's generate_feedback for one student (feedback/<student>/<assignment>/*.html)."""
    result = api.generate_feedback(task.assignment, task.student, force=True)
    log = result.get("log", "") + result.get("error", "")
    write_log(task.log_file, log)
    return Result(task.student, result["success"], None if result["success"] else "no feedback: " + failure_reason(log))


def write_log(path, text):
    """Keep nbgrader's log of one task."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def submission_score(api, assignment, student):
    """{"score", "max_score"} of the student's submission in the gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return {"score": submission.score, "max_score": submission.max_score}


def failure_reason(log):
    """The exception that stopped nbgrader, from its log of a failed run, as 'Name: message'."""
    block = log.split("There was an error processing assignment: ", 1)[-1]
    block = re.split(r"^\[\w+\] (?!Traceback)", block, maxsplit=1, flags=re.M)[0]
    raised = [line.strip() for line in block.splitlines()
              if re.match(r"\s*[\w.]+(Error|Exception|Exit|Interrupt)\b", line) and "NbGraderException" not in line]
    if raised:
        name, _, message = raised[-1].partition(":")
        return name.rsplit(".", 1)[-1] + (":" + message if message else "")
    errors = [line.replace("[ERROR]", "").strip() for line in log.splitlines() if "[ERROR]" in line]
    return errors[0] if errors else last_line(log)


def last_line(text):
    """The last non-empty line of text, or a placeholder."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
