"""The fork server the grading workers come from: started first, it imports nbgrader and the notebooks'
libraries once, while the command that started it imports nbgrader too (on another core).

Standard library only, so that ``cli.main`` can start it before its own import of nbgrader; local.py forks
the workers from it. Forking from a server that only imported modules (no database connections, no event loop;
the only threads are those NumPy's and SciPy's OpenBLAS start, which their fork handlers take care of) is
safe, and spares each worker the seconds of those imports.

It also imports the notebooks' libraries (coursekit/libraries.py): the referee runs the given cells in the
grading worker (preprocessors/referee.py), so a worker forked with them loaded does not pay their import
(about 2 s of CPU) at its first submission. A course whose notebooks import others pays those there.
"""
import multiprocessing
import multiprocessing.forkserver

from ..libraries import NOTEBOOK_LIBRARIES

PRELOAD = ["coursekit.grading.local", "coursekit.course.gradebook", "coursekit.preprocessors", "nbgrader.apps.api",
           *NOTEBOOK_LIBRARIES]


def worker_context():
    """The multiprocessing context of the workers: a fork server that has imported PRELOAD."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_fork_server():
    """Start the fork server now, without waiting for its imports."""
    worker_context()
    multiprocessing.forkserver.ensure_running()
