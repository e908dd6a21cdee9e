"""One task of a grading worker: nbgrader's autograde, or its feedback, for one submission.

``Task`` goes to a worker, ``Result`` comes back: typed records, the only things that cross the worker pipe.
The work itself is nbgrader's own API (``NbGraderAPI.autograde`` / ``generate_feedback``) with the course's
preprocessors; this module reads nbgrader's log for the reason when a submission needs the instructor.
"""
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..preprocessors.safe_execute import KERNEL_STOPPED

LOCK_RETRIES = 3


@dataclass(frozen=True)
class Task:
    """What a worker is asked to do: kind is "autograde" or "feedback"; log_file keeps nbgrader's log."""
    kind: str
    assignment: str
    student: str
    log_file: str


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
    for attempt in range(LOCK_RETRIES):
        result = api.autograde(task.assignment, task.student, force=True, create=True)
        if result["success"] or "database is locked" not in result.get("error", "") + result.get("log", ""):
            break
        time.sleep(1 + attempt)
    log = result.get("log", "") + result.get("error", "")
    write_log(task.log_file, log)
    if not result["success"]:
        return Result(task.student, False, "could not be graded: " + failure_reason(log))
    return Result(task.student, True, kernel_stop_reason(log), **submission_score(api, task.assignment, task.student))


def kernel_stop_reason(log):
    """Why the kernel stopped early, from the tag KernelSafeExecute writes into nbgrader's log, or None."""
    stopped = re.findall(re.escape(KERNEL_STOPPED) + r" (\w+) in (\S+)", log)
    if not stopped:
        return None
    ename, cell = stopped[0]
    what = "did not stop after a cell's time limit" if ename == "KernelUnresponsive" else "died"
    return f"the kernel {what} in {cell}: later cells were not run and score 0"


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
