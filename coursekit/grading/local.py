"""Grading processes: each one runs nbgrader's autograde, or its feedback, for one submission at a time.

A worker is a long-lived process, forked from a server that imported nbgrader once, that handles submission
after submission in-process with ``NbGraderAPI.autograde`` or ``NbGraderAPI.generate_feedback``, so a class
pays nbgrader's start-up once instead of once per student. It runs in its own session (a Ctrl-C in the
terminal reaches only the parent), writes its output and its kernels' output to a log file, and talks to
the parent over a pipe: a ``Task`` in, a ``Result`` out (tasks.py).

This module is the one place where a submission is launched and stopped: ``Worker()`` starts the process,
the kernel is its child (jupyter_client starts each kernel in a process group of its own), and
``Worker.stop_kernels`` / ``Worker.kill`` end them. The limits on student code are the sandbox's (sandbox/).
"""
import os
import signal
import time
import traceback
from multiprocessing.connection import wait
from pathlib import Path

import psutil

from ..errors import KitError
from .forkserver import worker_context
from .tasks import Result, last_line, run_task

READY = {"ready": True}  # the first message of a worker: it has loaded the course and waits for tasks


def redirect_output(log_path):
    """Send this process's stdout and stderr (and so its kernels') to the log file."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def worker_main(course, index, conn, core=None, kernels=False, zygote=None):
    """Entry point of a worker process: run the tasks the parent sends until it sends None; on the CPU core
    numbered core, if not None. kernels: the tasks run notebooks (autograde), so the kernel zygote starts at
    once (sandbox.start_zygote); zygote: the parent's offer of its zygote (sandbox.offer_zygote), asked instead
    of one of this process when the course's settings are the same."""
    os.setsid()
    if core is not None:
        # The grader, its kernel and its referee worker take turns (thousands of round trips per submission):
        # on one core each hand-over is cheaper, and the workers do not take each other's cores
        # (benchmarks/PROFILE.md, "Fifth change"). Everything the worker starts inherits the core.
        os.sched_setaffinity(0, {core})
    try:
        from nbgrader.apps.api import NbGraderAPI

        from ..course.config import course_directory, kit_folder
        from ..course.gradebook import open_gradebook  # noqa: F401 - its import makes SQLite wait for locks
        from ..sandbox import preload, start_zygote
        if zygote:
            preload.share(zygote)
        api = NbGraderAPI(config=course_directory(course).config)
        redirect_output(kit_folder(api.coursedir) / "logs" / f"worker-{index}.log")
        if kernels:
            start_zygote(api.config)
    except Exception as error:
        conn.send({"failed": f"{type(error).__name__}: {error}"})
        return
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result = run_task(api, task)
        except Exception:  # a bug of ours must not stop the class: report it for this submission
            result = Result(task.student, False, "failed: " + last_line(traceback.format_exc()))
        conn.send(result)


class Worker:
    """A worker process seen from the parent: its pipe, its current task and when that task started."""

    def __init__(self, course, index, core=None, kernels=False, zygote=None):
        context = worker_context()
        self.index = index
        self.core, self.kernels, self.zygote = core, kernels, zygote
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=worker_main, args=(str(course), index, child_conn, core, kernels, zygote),
                                       daemon=True, name=f"coursekit-grader-{index}")
        self.process.start()
        child_conn.close()
        self.task = None
        self.started = None
        self.kernels_stopped = False
        self.ready = False
        self.killed = False

    def submit(self, task):
        """Send a Task to the worker."""
        self.conn.send(task)
        self.task, self.started, self.kernels_stopped = task, time.monotonic(), False

    def answer(self):
        """The result the worker sent for its task, or None (not yet, or the worker is gone)."""
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if isinstance(message, Result):
                    return message
                if "failed" in message:
                    raise KitError(f"a grading worker could not start: {message['failed']}")
                self.ready = True
        except (EOFError, OSError):
            pass
        return None

    def check_started(self):
        """Raise KitError if the worker died before it was ready: grading cannot work, no grade is touched."""
        if not self.ready and not self.process.is_alive():
            raise KitError(f"a grading worker died while starting (exit code {self.process.exitcode}): see "
                           "the messages above, fix the cause and run the command again")

    def finish(self):
        """Forget the current task (its result arrived or it was given up); return it."""
        task, self.task = self.task, None
        return task

    def elapsed(self):
        """Seconds since the current task was sent."""
        return time.monotonic() - self.started

    def stop_kernels(self):
        """Kill every process the worker started (the kernel and whatever it spawned), not the worker."""
        self.kernels_stopped = True
        for child in descendants(self.process.pid):
            kill_process_group_of(child)
            kill(child)

    def gone(self):
        """Whether the worker ended or was killed (its process may take a moment to end)."""
        return self.killed or not self.process.is_alive()

    def kill(self):
        """Kill the worker and everything it started."""
        self.killed = True
        self.stop_kernels()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker leads its own session
        except (ProcessLookupError, PermissionError):
            pass
        self.process.kill()
        self.process.join(5)

    def close(self, wait=10):
        """Ask an idle worker to exit; kill it if it does not within wait seconds."""
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(wait)
        if self.process.is_alive():
            self.kill()
        self.conn.close()


def cores_for(size):
    """The core of each of size workers (1, 2, ...): its own when there are enough cores, else None each (the
    system places them)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return cores[:size] if size <= len(cores) else [None] * size


def descendants(pid):
    """The processes below pid, children first."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_process_group_of(process):
    """SIGKILL the process group the process leads (kernels lead their own), if it leads one."""
    try:
        if os.getpgid(process.pid) == process.pid and process.pid != os.getpgid(0):
            os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
        pass


def kill(process):
    """SIGKILL a psutil process that may already be gone."""
    try:
        process.kill()
    except psutil.NoSuchProcess:
        pass


def run_tasks(pool, tasks, check, course):
    """Give the tasks to the pool's idle workers until all are done; a worker that is gone is replaced while
    tasks are left (a worker of a kept pool that died while idle gives its task back to the one replacing it).

    check(worker) is called for every busy worker when it answered and about once a second otherwise; it
    returns True once the worker's task is over (its answer handled, or the worker given up).
    """
    while tasks or any(worker.task for worker in pool):
        for index, worker in enumerate(pool):
            if worker.task is None and tasks:
                task = tasks.popleft()
                try:
                    worker.submit(task)
                except OSError:  # its pipe is broken: it died since it last answered
                    tasks.appendleft(task)
                    worker.close(wait=0)
                    pool[index] = Worker(course, worker.index, worker.core, worker.kernels, worker.zygote)
        busy = [worker for worker in pool if worker.task]
        wait([worker.conn for worker in busy] + [worker.process.sentinel for worker in busy], timeout=1.0)
        for index, worker in enumerate(pool):
            if worker.task and check(worker) and worker.gone() and tasks:
                worker.close(wait=0)
                pool[index] = Worker(course, worker.index, worker.core, worker.kernels, worker.zygote)


def close_pool(pool):
    """Stop the workers: idle ones are asked to exit, busy ones (an interrupted run) are killed."""
    for worker in pool:
        if worker.task:
            worker.kill()
        else:
            worker.close()
