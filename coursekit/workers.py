"""Grading processes: each one runs nbgrader's autograde, or its feedback, for one submission at a time.

A worker is a long-lived process, forked from a server that imported nbgrader once, that handles submission
after submission in-process with ``NbGraderAPI.autograde`` or ``NbGraderAPI.generate_feedback``, so a class
pays nbgrader's start-up once instead of once per student. It runs in its own session (a Ctrl-C in the
terminal reaches only the parent), writes its output and its kernels' output to a log file, and talks to
the parent over a pipe: a task dict in (``{"kind": "autograde" or "feedback", "assignment", "student",
"log_file"}``), a result dict out.

This module is the one place where a submission is launched and stopped: ``Worker()`` starts the process,
the kernel is its child (jupyter_client starts each kernel in a process group of its own), and
``Worker.stop_kernels`` / ``Worker.kill`` end them. Resource limits for student code belong here.
"""
import multiprocessing
import multiprocessing.forkserver
import os
import re
import signal
import time
import traceback
from multiprocessing.connection import wait
from pathlib import Path

import psutil

from . import KitError

LOCK_RETRIES = 3
READY = {"ready": True}  # the first message of a worker: it has loaded the course and waits for tasks
# Imported once by the fork server; each worker is forked from it ready to grade, in a fraction of a second.
PRELOAD = ["coursekit.workers", "coursekit.gradebook", "coursekit.execute", "coursekit.feedback",
           "nbgrader.apps.api"]


def worker_context():
    """The multiprocessing context of the workers: a fork server that has imported nbgrader once.

    Forking from a server that only imported modules (no threads, no database connections, no event loop)
    is safe, and spares each worker the seconds nbgrader's import takes.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_fork_server():
    """Start the fork server now, without waiting: it imports nbgrader while the caller does the same."""
    worker_context()
    multiprocessing.forkserver.ensure_running()


def redirect_output(log_path):
    """Send this process's stdout and stderr (and so its kernels') to the log file."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def worker_main(course, index, conn):
    """Entry point of a worker process: run the tasks the parent sends until it sends None."""
    os.setsid()
    try:
        from nbgrader.apps.api import NbGraderAPI

        from .gradebook import course_directory  # its import makes SQLite connections wait for locks
        api = NbGraderAPI(config=course_directory(course).config)
        redirect_output(log_folder(api.coursedir) / "logs" / f"worker-{index}.log")
    except Exception as error:
        conn.send({"failed": f"{type(error).__name__}: {error}"})
        return
    jobs = {"autograde": grade_submission, "feedback": write_feedback}
    conn.send(READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        task = dict(task)
        try:
            result = jobs[task.pop("kind")](api, **task)
        except Exception:  # a bug of ours must not stop the class: report it for this submission
            result = {"student": task["student"], "done": False,
                      "reason": "failed: " + last_line(traceback.format_exc())}
        conn.send(result)


def log_folder(coursedir):
    """Where the grade command keeps its state and logs: autograded/.coursekit/ (ignored by nbgrader's globs)."""
    return Path(coursedir.root) / coursedir.autograded_directory / ".coursekit"


def grade_submission(api, assignment, student, log_file):
    """Autograde one submission with nbgrader's API; a result dict for the parent.

    The result has ``done`` (nbgrader recorded grades), ``reason`` (why the instructor should look at it,
    or None), ``score`` and ``max_score``.
    """
    for attempt in range(LOCK_RETRIES):
        result = api.autograde(assignment, student, force=True, create=True)
        if result["success"] or "database is locked" not in result.get("error", "") + result.get("log", ""):
            break
        time.sleep(1 + attempt)
    from .execute import KERNEL_STOPPED
    log = result.get("log", "") + result.get("error", "")
    write_log(log_file, log)
    outcome = {"student": student, "done": result["success"], "reason": None}
    if not result["success"]:
        outcome["reason"] = "could not be graded: " + failure_reason(log)
        return outcome
    outcome.update(submission_score(api, assignment, student))
    stopped = re.findall(re.escape(KERNEL_STOPPED) + r" (\w+) in (\S+)", log)
    if stopped:
        ename, cell = stopped[0]
        what = "did not stop after a cell's time limit" if ename == "KernelUnresponsive" else "died"
        outcome["reason"] = f"the kernel {what} in {cell}: later cells were not run and score 0"
    return outcome


def write_feedback(api, assignment, student, log_file):
    """nbgrader's generate_feedback for one student (feedback/<student>/<assignment>/*.html)."""
    result = api.generate_feedback(assignment, student, force=True)
    log = result.get("log", "") + result.get("error", "")
    write_log(log_file, log)
    return {"student": student, "done": result["success"],
            "reason": None if result["success"] else "no feedback: " + failure_reason(log)}


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


class Worker:
    """A worker process seen from the parent: its pipe, its current task and when that task started."""

    def __init__(self, course, index):
        context = worker_context()
        self.index = index
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=worker_main, args=(str(course), index, child_conn),
                                       daemon=True, name=f"coursekit-grader-{index}")
        self.process.start()
        child_conn.close()
        self.task = None
        self.started = None
        self.kernels_stopped = False
        self.ready = False

    def submit(self, task):
        """Send a task (the keyword arguments of grade_submission) to the worker."""
        self.conn.send(task)
        self.task, self.started, self.kernels_stopped = task, time.monotonic(), False

    def answer(self):
        """The result the worker sent for its task, or None (not yet, or the worker is gone)."""
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if "failed" in message:
                    raise KitError(f"a grading worker could not start: {message['failed']}")
                if message != READY:
                    return message
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

    def kill(self):
        """Kill the worker and everything it started."""
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
    """Give the tasks to the pool's idle workers until all are done; a dead worker is replaced.

    check(worker) is called for every busy worker when it answered and about once a second otherwise; it
    returns True once the worker's task is over (its answer handled, or the worker given up).
    """
    while tasks or any(worker.task for worker in pool):
        for worker in pool:
            if worker.task is None and tasks:
                worker.submit(tasks.popleft())
        busy = [worker for worker in pool if worker.task]
        wait([worker.conn for worker in busy] + [worker.process.sentinel for worker in busy], timeout=1.0)
        for index, worker in enumerate(pool):
            if worker.task and check(worker) and not worker.process.is_alive():
                worker.close(wait=0)
                pool[index] = Worker(course, worker.index)


def close_pool(pool):
    """Stop the workers: idle ones are asked to exit, busy ones (an interrupted run) are killed."""
    for worker in pool:
        if worker.task:
            worker.kill()
        else:
            worker.close()
