"""What a class's grading has done so far: autograded/.coursekit/<assignment>.json, and the run lock.

The outcome of each submission is written as soon as it is known (atomically), so an interrupted run loses
nothing and the next run continues where it stopped. Outcomes are kept only for the same assignment source and
nbgrader_config.py: when either changes, every submission is graded again.
"""
import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..course.config import course_directory, kit_folder
from ..course.submissions import files_digest, folder_files
from ..errors import KitError

STATE_VERSION = 1


@dataclass
class Outcome:
    """How a submission was graded: its score, and a reason when the instructor should look at it."""
    student: str
    fingerprint: str
    score: float = 0.0
    max_score: float = 0.0
    reason: str = None
    seconds: float = 0.0


def grading_fingerprint(course, assignment):
    """What every grade depends on besides the submission: the assignment's source and nbgrader_config.py."""
    course = Path(course)
    files = folder_files(course / "source" / assignment) + [course / "nbgrader_config.py"]
    return files_digest([f for f in files if f.exists()], course)


class State:
    """The outcome of every submission graded so far, in autograded/.coursekit/<assignment>.json."""

    def __init__(self, course, assignment):
        self.folder = kit_folder(course_directory(course))
        self.path = self.folder / f"{assignment}.json"
        self.grading = grading_fingerprint(course, assignment)
        self.load()

    def load(self):
        """Read the outcomes saved for the same assignment source and configuration (none otherwise)."""
        self.outcomes = {}
        try:
            saved = json.loads(self.path.read_text())
            if saved.get("version") == STATE_VERSION and saved.get("grading") == self.grading:
                self.outcomes = {s: Outcome(**o) for s, o in saved.get("students", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            pass  # no state, or an unreadable one: every submission is graded again

    def save(self):
        """Write the state atomically (a crash never leaves half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"version": STATE_VERSION, "grading": self.grading, "students": {
            s: asdict(o) for s, o in sorted(self.outcomes.items())}}, indent=1))
        os.replace(temporary, self.path)

    def record(self, outcome):
        """Keep an outcome and save at once."""
        self.outcomes[outcome.student] = outcome
        self.save()

    def forget(self, students):
        """Drop the outcomes of students about to be graded again, so an interrupted run grades them next time."""
        for student in students:
            self.outcomes.pop(student, None)
        self.save()


@contextmanager
def only_run(state):
    """Hold the course's grading lock for the assignment, or raise KitError if another run holds it."""
    state.folder.mkdir(parents=True, exist_ok=True)
    with open(state.path.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KitError(f"another grade command is grading this assignment in {state.folder.parent.parent}: "
                           "wait for it to finish") from None
        state.load()  # as the last run left it
        yield
