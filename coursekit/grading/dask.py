"""Grading a class on a Dask cluster: ``python -m coursekit grade ASSIGNMENT --scheduler tcp://HOST:PORT``.

Each submission is one Dask task, ``remote.grade_remotely(assignment bundle, submission bundle)``: bytes in,
a ``Graded`` out, so workers need no access to the course folder. The assignment bundle is scattered to the
workers once. Results are recorded as they arrive, on this side only (``remote.record_graded``: the one
writer of the gradebook, SQLite or PostgreSQL), with the same state, progress and reasons as local grading.

Faults lose nothing:
- a worker that dies in the middle of a task has it run again elsewhere (the scheduler's own rescheduling,
  up to ``distributed.scheduler.allowed-failures`` times); a submission that killed every worker it ran on
  gets 0 with the reason;
- a task that failed on the worker (no bubblewrap there, a bug of ours) gets 0 with the error as the reason;
- a scheduler that goes away ends the command with a one-line error; what was graded is recorded, and the
  next run grades the rest.

Worker hosts need the course's Python packages (requirements.txt and this package) and bubblewrap, and no
access to the course folder. Workers must be allowed to start processes (the kernels):
``DASK_DISTRIBUTED__WORKER__DAEMON=False dask worker tcp://HOST:PORT --nthreads 1``.
"""
import time
import uuid

from ..errors import KitError
from .remote import assignment_bundle, grade_remotely, record_graded, submission_bundle
from .state import Outcome

CONNECT_TIMEOUT = "20s"


def connect(address):
    """A Dask Client of the scheduler at address; KitError when it cannot be reached."""
    from distributed import Client
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise KitError(f"cannot reach the Dask scheduler at {address} ({type(error).__name__}: {error}): start it "
                       "('dask scheduler') or check the address") from None


def scheduler_lost(client):
    """Whether the client lost its scheduler."""
    return client.status not in ("running", "connecting")


def run_on_cluster(grader, students, address):
    """Grade the students' submissions on the cluster at address; record and return their outcomes."""
    from distributed import as_completed
    client = connect(address)
    try:
        bundle = client.scatter(assignment_bundle(grader.course, grader.assignment, grader.time_limit),
                                broadcast=True, hash=False)
        started = {}
        futures = {}
        for student in students:
            folder = grader.submissions[student].folder
            key = f"grade-{grader.assignment}-{student}-{uuid.uuid4().hex[:8]}"
            future = client.submit(grade_remotely, bundle, submission_bundle(grader.course, grader.assignment,
                                                                             student, folder),
                                   key=key, pure=False)
            futures[future], started[student] = student, time.monotonic()
        outcomes = []
        for future in as_completed(futures, loop=client.loop):
            student = futures[future]
            outcomes.append(collect(grader, future, student, time.monotonic() - started[student], client, address))
        return outcomes
    finally:
        client.close()


def collect(grader, future, student, seconds, client, address):
    """Record the outcome of one finished task."""
    from distributed import KilledWorker
    try:
        graded = future.result()
    except KilledWorker as error:
        return grader.give_zero(student, seconds, f"the grading worker died each time it ran this submission "
                                                  f"({error}): nothing could be graded")
    except Exception as error:  # noqa: BLE001 - a task's failure is this submission's, not the class's
        if scheduler_lost(client):
            raise KitError(f"lost the Dask scheduler at {address}: the submissions graded so far are recorded; "
                           "run the command again to grade the rest") from None
        return grader.give_zero(student, seconds, f"could not be graded on the cluster: {type(error).__name__}: "
                                                  f"{error}")
    record_graded(grader.course, grader.assignment, graded)
    result = graded.result
    return grader.finish(Outcome(student, grader.fingerprints[student], result.score, result.max_score,
                                 result.reason, round(graded.seconds, 2)))
