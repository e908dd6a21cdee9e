"""Grade a whole class: nbgrader's autograde for every submission, in parallel, losing nothing.

``grade_class`` finds the submissions in ``submitted/<student>/<assignment>/``, leaves out those graded
before whose files (and the assignment's source and nbgrader_config.py) have not changed, and hands the
rest to worker processes (local.py), one per core, or to the workers of a Dask cluster (dask.py, each task a
pure function of bytes in remote.py). Every submission ends with a grade in the gradebook:

- graded by nbgrader: the scores nbgrader recorded (a dead or stuck kernel costs only the cells it did not
  run, see preprocessors/safe_execute.py), flagged for attention when the kernel stopped;
- a notebook submitted under another name (``backprop (1).ipynb``): graded as the expected one when the folder
  lacks it (course/submissions.py says which file), with the reason "graded backprop (1).ipynb as backprop.ipynb";
- not gradable (no notebook, an unreadable notebook, a worker that could not be stopped after the time
  limit, a worker that died): 0 on every autograded cell through nbgrader's Gradebook API, with the reason.

The outcome of each submission is kept in ``autograded/.coursekit/<assignment>.json`` as soon as it is
known (state.py), so an interrupted run loses nothing and the next run continues where it stopped.

Importing nbgrader takes seconds of CPU, so the fork server the workers come from (local.py) is started
first and run.py (the Grader, grade_class) imports nbgrader's gradebook only afterwards: the two imports run
side by side, and the workers are forked ready to grade.
"""
import os

DEFAULT_TIME_LIMIT = 300  # seconds one submission may take, by default


def default_workers():
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def __getattr__(name):
    """grade_class, describe, Run and Grader, from run.py, imported when first used: nbgrader's import takes
    seconds, which ``python -m coursekit --help`` need not pay."""
    if name in ("grade_class", "describe", "Run", "Grader"):
        from . import run
        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
