"""Grading one submission on a machine that shares no files with the course: bytes in, bytes out.

``assignment_bundle`` (the instructor's side) packs what every task of a class needs: nbgrader_config.py,
the files of ``source/<assignment>/`` and the assignment as the gradebook defines it. ``submission_bundle``
packs one student's submitted files and the manual grades the gradebook already holds for them. On a worker,
``grade_remotely`` builds a private course folder from the bundle (one per process and assignment version,
reused across tasks), grades the submission there with the local engine (the same nbgrader autograde,
sandbox, referee and time limit as ``make grade``), and returns a ``Graded``: the outcome, what autograde
recorded in the private gradebook, the autograded files and nbgrader's log. It never opens the course's
gradebook; ``record_graded`` writes the result there, on the instructor's side, with nbgrader's API.

The work is a pure function of its inputs, so a task can run on any worker, and run again.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..course import gradebook
from ..course.config import course_directory, kit_folder, load_config
from ..course.submissions import folder_files
from ..errors import KitError
from ..sandbox import remove_stale_kernel_folders
from .tasks import Result


class SandboxUnavailable(KitError):
    """A worker that cannot sandbox student code (no bubblewrap) refuses to grade."""


@dataclass(frozen=True)
class AssignmentBundle:
    """What every grading task of one assignment needs, as bytes and plain data."""
    assignment: str
    config: bytes                 # the course's nbgrader_config.py
    source: dict                  # relative path -> bytes, the files of source/<assignment>/
    definition: dict              # the assignment as the gradebook defines it (gradebook.assignment_definition)
    time_limit: float
    fingerprint: str = field(default="", compare=False)


@dataclass(frozen=True)
class SubmissionBundle:
    """One student's submission: the files of submitted/<student>/<assignment>/ and the gradebook's record."""
    student: str
    files: dict                   # relative path -> bytes
    record: dict = None           # gradebook.submission_record before grading (manual grades), or None


@dataclass(frozen=True)
class Graded:
    """What grading one submission produced: everything the instructor's side records."""
    student: str
    result: Result
    record: dict                  # gradebook.submission_record after autograde
    files: dict                   # relative path -> bytes, the autograded/<student>/<assignment>/ folder
    log: str                      # nbgrader's log of the submission
    seconds: float = 0.0          # how long the worker took
    worker: str = ""              # the worker's host name


def read_files(folder):
    """relative path -> bytes of every file below folder (checkpoints left out)."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder_files(folder)}


def write_files(folder, files):
    """Write files (relative path -> bytes) below folder, which is emptied first; no path may leave it."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    root = folder.resolve()
    for name, data in files.items():
        target = (folder / name).resolve()
        if root not in target.parents:
            raise KitError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def assignment_bundle(course, assignment, time_limit):
    """The AssignmentBundle of the course's assignment (the instructor's side)."""
    course = Path(course)
    config = (course / "nbgrader_config.py").read_bytes()
    source = read_files(course / "source" / assignment)
    definition = gradebook.assignment_definition(course, assignment)
    digest = hashlib.sha256(config)
    for name in sorted(source):
        digest.update(name.encode() + b"\0" + source[name] + b"\0")
    digest.update(repr(definition).encode())
    return AssignmentBundle(assignment, config, source, definition, time_limit, digest.hexdigest()[:16])


def submission_bundle(course, assignment, student, folder):
    """The SubmissionBundle of the student's submission folder (the instructor's side)."""
    return SubmissionBundle(student, read_files(folder), gradebook.submission_record(course, assignment, student))


_courses = {}
_courses_lock = threading.Lock()


def worker_course(bundle):
    """This process's private course folder for the bundle's assignment: built once per thread and version.

    Raises SandboxUnavailable before anything is graded when this machine cannot sandbox student code.
    """
    key = (bundle.fingerprint, threading.get_ident())
    with _courses_lock:
        if key in _courses:
            return _courses[key]
        # nbgrader runs alembic by name: the worker's PATH may lack this interpreter's bin
        bin_folder = str(Path(sys.executable).parent)
        if bin_folder not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bin_folder + os.pathsep + os.environ.get("PATH", "")
        folder = Path(tempfile.mkdtemp(prefix=f"coursekit-{bundle.assignment}-")) / "course"
        write_files(folder / "source" / bundle.assignment, bundle.source)
        config = bundle.config + (f"\n# a private course of a grading worker: its own gradebook\n"
                                  f"c.CourseDirectory.db_url = 'sqlite:///{folder / 'gradebook.db'}'\n").encode()
        (folder / "nbgrader_config.py").write_bytes(config)
        require_sandbox(folder)
        remove_stale_kernel_folders()
        gradebook.create_assignment(folder, bundle.assignment, bundle.definition)
        _courses[key] = folder
        return folder


def require_sandbox(course):
    """Raise SandboxUnavailable unless this machine runs student code in bubblewrap."""
    from ..sandbox import Sandbox
    if not Sandbox(config=load_config(course)).isolates_files():
        import socket
        raise SandboxUnavailable(f"grading worker {socket.gethostname()} has no bubblewrap (or the sandbox is "
                                 "off): it refuses to grade student code unsandboxed; apt-get install bubblewrap")


class QuietProgress:
    """No progress output on a worker."""

    def start(self, total, unit="submission"):
        pass

    def done(self, name, text="", problem=None):
        pass

    def close(self):
        pass


_pools = {}  # thread -> (course, the grading worker kept for it): kept_pool


def kept_pool(course):
    """This thread's grading worker for its private course (a pool of one, local.Worker), kept from task to
    task: each task would otherwise fork a worker and start its kernel zygote again (about 2 s of CPU). The
    pool kept for another course of this thread (an earlier version of the assignment) is closed."""
    from .local import close_pool
    thread = threading.get_ident()
    kept = _pools.get(thread)
    if kept is None or kept[0] != course:
        if kept is not None:
            close_pool(kept[1])
        kept = _pools[thread] = (course, [])
    return kept[1]


def grade_remotely(bundle, submission):
    """Grade one submission in this process's private course; the Graded result (the worker's side)."""
    from .run import grade_class
    course = worker_course(bundle)
    coursedir = course_directory(course)
    student, assignment = submission.student, bundle.assignment
    write_files(coursedir.format_path(coursedir.submitted_directory, student, assignment), submission.files)
    shutil.rmtree(coursedir.format_path(coursedir.autograded_directory, student, assignment), ignore_errors=True)
    if submission.record is not None:  # the instructor's manual grades, which autograde takes into account
        gradebook.write_submission_record(course, assignment, student, submission.record,
                                          fields=("manual_score", "extra_credit", "manual_comment"),
                                          late_penalty=False)
    run = grade_class(course, assignment, workers=1, time_limit=bundle.time_limit, students=[student],
                      progress=QuietProgress(), pool=kept_pool(course))
    outcome = run.graded[0]
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    log = kit_folder(coursedir) / "logs" / assignment / f"{student}.log"
    import socket
    return Graded(student, Result(student, True, outcome.reason, outcome.score, outcome.max_score),
                  gradebook.submission_record(course, assignment, student),
                  read_files(autograded) if autograded.is_dir() else {},
                  log.read_text() if log.exists() else "", outcome.seconds, socket.gethostname())


def record_graded(course, assignment, graded):
    """Write a worker's Graded into the course: its gradebook, autograded/ and the log (the instructor's side)."""
    coursedir = course_directory(course)
    gradebook.write_submission_record(course, assignment, graded.student, graded.record,
                                      fields=("auto_score", "needs_manual_grade", "auto_comment"))
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, graded.student, assignment))
    if graded.files:
        write_files(autograded, graded.files)
    else:
        shutil.rmtree(autograded, ignore_errors=True)
    log = kit_folder(coursedir) / "logs" / assignment / f"{graded.student}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(graded.log)
