"""One class's grading run: the Grader and grade_class (the package's docstring tells the story)."""
import shutil
import time
from collections import deque
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from ..errors import KitError
from ..sandbox import offer_zygote, remove_stale_kernel_folders
from . import DEFAULT_TIME_LIMIT, default_workers
from .forkserver import start_fork_server
from .local import Worker, close_pool, cores_for, run_tasks
from .progress import default_progress
from .selection import to_grade
from .state import Outcome, State, only_run
from .tasks import Task



@dataclass
class Run:
    """The result of grade_class: this run's outcomes, the submissions left as they were, the whole class."""
    graded: list
    up_to_date: list
    attention: dict
    seconds: float
    workers: int
    logs: Path


class Grader:
    """Grades a list of submissions of one assignment with a pool of workers; records every outcome."""

    def __init__(self, course, assignment, notebooks, pool, size, time_limit, progress, grace=None, scheduler=None,
                 pin=True):
        from ..course.config import course_directory
        self.course, self.assignment, self.notebooks = Path(course), assignment, notebooks
        self.scheduler = scheduler
        self.coursedir = course_directory(course)
        self.pool, self.size, self.pin = pool, size, pin
        self.time_limit, self.progress = time_limit, progress
        # after the time limit the kernel is killed; the worker then has this long to record the cells that ran
        self.grace = max(10.0, min(60.0, time_limit / 4)) if grace is None else grace
        self.state = State(course, assignment)
        self.logs = self.state.folder / "logs" / assignment

    def autograded_notebook(self, student, notebook=None):
        """The path of the student's autograded notebook."""
        folder = self.coursedir.format_path(self.coursedir.autograded_directory, student, self.assignment)
        return Path(folder) / f"{notebook or self.notebooks[0]}.ipynb"

    def run(self, submissions):
        """Grade the submissions; return their outcomes in the order they finished."""
        self.submissions = {s.student: s for s in submissions}
        self.fingerprints = {s.student: s.fingerprint for s in submissions}
        self.renamed = {s.student: s.renamed for s in submissions}
        self.state.forget(self.fingerprints)
        outcomes = []
        self.progress.start(len(submissions))
        try:
            for submission in submissions:
                if len(submission.missing) == len(self.notebooks):
                    outcomes.append(self.give_zero(submission.student, 0.0, "no notebook submitted: "
                                                   f"{', '.join(submission.missing)} missing"))
            gradable = [s.student for s in submissions if len(s.missing) < len(self.notebooks)]
            if self.scheduler:
                from .dask import run_on_cluster
                outcomes += run_on_cluster(self, gradable, self.scheduler)
            else:
                outcomes += self.run_pool(gradable)
        finally:
            self.progress.close()
        return outcomes

    def run_pool(self, students):
        """Hand the students' submissions to workers, watch their time, collect their outcomes."""
        self.outcomes = []
        self.start_workers(min(self.size, len(students)))
        tasks = deque(Task("autograde", self.assignment, student, str(self.logs / f"{student}.log"),
                           tuple(sorted(self.renamed.get(student, {}).items())))
                      for student in students)
        run_tasks(self.pool, tasks, self.check, self.course)
        return self.outcomes

    def start_workers(self, size):
        """Start workers until the pool has size of them, each on a core of its own when there are enough and
        pin is set; a worker of a kept pool that is gone since its last run is dropped first."""
        cores = cores_for(size) if self.pin else [None] * size
        for worker in [worker for worker in self.pool if worker.gone()]:
            worker.close(wait=0)
            self.pool.remove(worker)
        offer = offer_zygote(self.coursedir.config) if len(self.pool) < size else None
        while len(self.pool) < size:
            self.pool.append(Worker(self.course, len(self.pool) + 1, cores[len(self.pool)], kernels=True,
                                    zygote=offer))

    def check(self, worker):
        """Record the outcome of the worker's task if it is over (answered, died or timed out); whether it is."""
        outcome = self.outcome_of(worker)
        if outcome is not None:
            self.outcomes.append(outcome)
        return outcome is not None

    def outcome_of(self, worker):
        """The outcome of the worker's task if it is over, else None; stops it when past the time limit."""
        student = worker.task.student
        result = worker.answer()
        if result is not None:
            worker.finish()
            return self.from_result(result, worker)
        worker.check_started()
        if not worker.process.is_alive():
            worker.finish()
            return self.give_zero(student, worker.elapsed(), f"the grading process died (exit code "
                                  f"{worker.process.exitcode}): nothing could be graded")
        if worker.elapsed() > self.time_limit + self.grace:
            worker.kill()
            worker.finish()
            return self.give_zero(student, worker.elapsed(), f"stopped after the {self.time_limit:g} s time "
                                  "limit per submission: nothing could be graded")
        if worker.elapsed() > self.time_limit and not worker.kernels_stopped:
            worker.stop_kernels()
        return None

    def from_result(self, result, worker):
        """Record a worker's result; a submission nbgrader could not grade gets 0 with the reason."""
        student, seconds, reason = result.student, worker.elapsed(), result.reason
        limit = f"stopped after the {self.time_limit:g} s time limit per submission"
        if not result.done:
            return self.give_zero(student, seconds, f"{limit}: nothing could be graded" if worker.kernels_stopped
                                  else reason)
        if worker.kernels_stopped:
            reason = f"{limit}: cells that had not run score 0"
        outcome = Outcome(student, self.fingerprints[student], result.score, result.max_score, reason,
                          round(seconds, 2))
        return self.finish(outcome)

    def give_zero(self, student, seconds, reason):
        """Record 0 on every autograded cell with the reason; drop a partial autograded notebook and old feedback."""
        from ..course.gradebook import record_zero
        record_zero(self.course, self.assignment, student)
        for notebook in self.notebooks:
            partial = self.autograded_notebook(student, notebook)
            if partial.exists():
                partial.unlink()
        shutil.rmtree(self.coursedir.format_path(self.coursedir.feedback_directory, student, self.assignment),
                      ignore_errors=True)
        return self.finish(Outcome(student, self.fingerprints[student], 0.0, self.max_score, reason,
                                   round(seconds, 2)))

    @cached_property
    def max_score(self):
        """The assignment's maximum score in the gradebook."""
        from ..course.gradebook import open_gradebook
        with open_gradebook(self.course) as gb:
            return gb.find_assignment(self.assignment).max_score

    def finish(self, outcome):
        """Keep the outcome in the state file and show it in the progress."""
        self.state.record(outcome)
        self.progress.done(outcome.student, f"{outcome.score:g}/{outcome.max_score:g} ({outcome.seconds:.1f} s)",
                           outcome.reason)
        return outcome


def gradebook_grade_ids(course, assignment):
    """A function: notebook name -> the grade_ids of its cells in the gradebook (to recognise a renamed one)."""
    @lru_cache(maxsize=None)
    def grade_ids(notebook):
        from ..course.gradebook import open_gradebook
        with open_gradebook(course) as gb:
            return {cell.name for cell in gb.find_notebook(notebook, assignment).source_cells}
    return grade_ids


def grade_class(course, assignment, workers=None, time_limit=DEFAULT_TIME_LIMIT, students=(), force=False,
                progress=None, grace=None, scheduler=None, pool=None):
    """Autograde the assignment's submissions that need it; return a Run.

    students: grade only these (whether changed or not); force: grade every submission again; time_limit:
    seconds per submission, after which its kernel is killed; grace: seconds the worker then has to record
    the cells that ran before it is killed too (default: a quarter of the limit, 10 to 60 s); scheduler: the
    address of a Dask scheduler to grade on (dask.py) instead of this machine's workers; pool: a list of
    workers (local.Worker) to grade with and to leave open afterwards, idle, for the next run (a Dask worker
    keeps one: remote.py), whose workers are not pinned to cores (other Dask workers may share the machine); by
    default the run starts its own, pinned, and closes them.
    """
    started = time.monotonic()
    course = Path(course).resolve()
    if workers is not None and workers < 1:
        raise KitError(f"--workers must be at least 1, not {workers}")
    if time_limit <= 0:
        raise KitError(f"--timeout must be a positive number of seconds, not {time_limit:g}")
    size = workers or default_workers()
    if not scheduler:
        remove_stale_kernel_folders()
        start_fork_server()
    kept, pool = pool is not None, [] if pool is None else pool
    try:
        from ..course.config import course_directory
        from ..course.gradebook import graded_students, require_assignment
        from ..course.submissions import find_submissions
        notebooks = require_assignment(course, assignment)
        submissions = find_submissions(course, assignment, notebooks, gradebook_grade_ids(course, assignment))
        unknown = sorted(set(students) - set(submissions))
        if unknown:
            raise KitError(f"no submission of {assignment} for {', '.join(unknown)} in "
                           f"{course_directory(course).submitted_directory}/: check the student ids")
        if not submissions:
            raise KitError(f"no submissions of {assignment} in {course}/submitted/*/{assignment}/: collect "
                           "them first (nbgrader collect, or copy them there)")
        grader = Grader(course, assignment, notebooks, pool, size, time_limit, progress or default_progress(),
                        grace, scheduler, pin=not kept)
        with only_run(grader.state):
            todo = to_grade(submissions, grader.state, graded_students(course, assignment), students, force,
                            grader.autograded_notebook)
            outcomes = grader.run(todo) if todo else []
    finally:
        busy = [worker for worker in pool if worker.task] if kept else pool
        close_pool(busy)
        pool[:] = [worker for worker in pool if worker not in busy]
    attention = {s: o.reason for s, o in sorted(grader.state.outcomes.items())
                 if o.reason and s in submissions}
    return Run(outcomes, sorted(set(submissions) - {s.student for s in todo}), attention,
               time.monotonic() - started, min(size, len(todo)), grader.logs.relative_to(course))


def describe(run):
    """A few lines for the instructor: what was graded, how fast, and what needs attention."""
    lines = []
    if run.graded:
        per = run.seconds / len(run.graded)
        lines.append(f"graded {len(run.graded)} submission(s) in {run.seconds:.1f} s with {run.workers} "
                     f"worker(s) ({per:.1f} s per submission)")
    if run.up_to_date:
        lines.append(f"{len(run.up_to_date)} submission(s) unchanged since they were graded (use --force or "
                     "--student to grade them again)")
    if run.attention:
        lines.append(f"{len(run.attention)} submission(s) need attention:")
        lines += [f"  {student}: {reason}" for student, reason in run.attention.items()]
        lines.append(f"(each has a log in {run.logs}/; fix or replace a submission in submitted/ and run the "
                     "command again: it grades only what changed)")
    return "\n".join(lines)
