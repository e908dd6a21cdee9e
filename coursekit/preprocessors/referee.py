"""The referee: re-runs every test cell's hidden checks in the grader's own process, against the submission's
functions running in a separate sandboxed process.

Inside the notebook, student code and tests share one interpreter, so a submission can patch what the tests
call (``np.allclose``, ``builtins``, IPython's own machinery) and make a failing cell look passed. The referee
takes that power away: the submission's code cells run in a worker process (``referee_worker.py``, in the
Sandbox), and the hidden checks run here, with the grader's untouched NumPy, calling the submission's functions
through proxies (``sandbox/functions.py``) that send arrays, never pickles, to the worker and mirror back any
change the function made to its arguments. A test cell that passed in the notebook but whose hidden checks fail
here gets an error output, so nbgrader's SaveAutoGrades scores it 0, and the student's feedback says why.

When the notebook's kernel stopped (it died, or hung past the interrupt: ``safe_execute.kernel_stop``), the
referee runs only the cells before the one where it stopped: the tests from there on score 0 in the notebook
anyway, and running the cell again would cost the worker its time limit a second time. Their results say that
the kernel stopped.

Nothing of the submission's folder is ever imported here: the instructor's cells import the instructor's
helper modules from ``source/<assignment>/`` (``import_from``), never from the autograded folder, where a
student's ``backprop_checks/`` package or ``sklearn.py`` would shadow them and run as the grader. Every module
loaded from outside the Python installation during one run is dropped afterwards, so no state of one
submission's run carries over to the next one a long-lived worker grades.
"""
import builtins
import contextlib
import functools
import importlib
import io
import os
import sys
import sysconfig
import time
import warnings

import numpy as np
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, List, Unicode

from ..course.notebooks import nbgrader_meta, solution_ids
from ..sandbox import Sandbox, instructor_folder, instructor_modules, reachable
from ..sandbox.functions import OVER_BUDGET, RestartingStudent, StudentCodeError, StudentProcess, proxy
from .safe_execute import KernelSafeExecute, kernel_stop, not_run

VERDICT_ERROR = "HiddenCheckFailed"


MAX_ERROR = 2000  # characters of a cell's error kept (a forged frame may carry megabytes)


class CellResult:
    """What a test cell did in the referee's run: its printed output and its error (None when it passed).

    reason: the error without the text of the exceptions the submission's functions raised (``redact``), which
    the class summary shows the instructor (report/reasons.py); the student's feedback shows the error itself.
    """

    def __init__(self, output="", error=None):
        self.output, self.error = output, error
        self.reason = error

    def redact(self, raised):
        """Set reason from the error, each text of raised ('Type: message') replaced by ``exception_name``."""
        if self.error:
            reason = self.error
            for text in sorted({t for t in raised if t}, key=len, reverse=True):
                reason = reason.replace(text, exception_name(text))
            self.error, self.reason = self.error[:MAX_ERROR], reason[:MAX_ERROR]

    def as_metadata(self):
        """The cell's metadata entry (redact has cut the error and the reason to MAX_ERROR)."""
        return {"passed": self.error is None, "output": self.output[-4000:], "error": self.error,
                "reason": self.reason}


def exception_name(text):
    """The exception's name in 'Type: message' when it is one of Python's own, else "an exception" (a
    submission names its own classes)."""
    name = text.split(":", 1)[0].strip()
    kind = getattr(builtins, name, None)
    return name if isinstance(kind, type) and issubclass(kind, BaseException) else "an exception"


def run_cell(source, namespace, name):
    """Execute one cell's source in namespace: (printed text, 'Name: message' of its error or None)."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(compile(source, f"<{name}>", "exec"), namespace)
        error = None
    except Exception as exc:  # noqa: BLE001 - any failure of a check is a failed check
        error = f"{type(exc).__name__}: {exc}"
    return printed.getvalue(), error


def referee_run(cells, namespace, skip=(), time_limit=None):
    """Run the trusted cells in notebook order in namespace; grade_id -> CellResult for the test cells.

    cells: (grade_id, kind, source) with kind "given" or "test"; the given cells define what the tests use
    (data, forward, train) and call the submission's functions through the proxies in namespace.
    time_limit(grade_id): a context manager that bounds the time of the submission's calls in that cell
    (RestartingStudent.time_limit).
    """
    results = {}
    for grade_id, kind, source in cells:
        if grade_id in skip:
            continue
        with time_limit(grade_id) if time_limit else contextlib.nullcontext():
            output, error = run_cell(source, namespace, grade_id)
        if kind == "test":
            results[grade_id] = CellResult(output, error)
    return results


class Referee(NbGraderPreprocessor):
    """nbgrader autograde preprocessor (after Execute): confirm every passed test cell outside the kernel."""

    enabled = Bool(True, help="Re-run the hidden checks outside the notebook's kernel.").tag(config=True)
    timeout = Float(120, help="Seconds the submission's functions may take in all, per notebook.").tag(config=True)
    cell_timeout = Float(None, allow_none=True, help="Seconds one of the submission's cells may take to run in "
                         "the worker (default: c.Execute.timeout, the notebook's limit per cell, or 30 when it has "
                         "none); a cell past it counts as hung, and the tests run with the cells before it.").tag(
        config=True)
    call_timeout = Float(None, allow_none=True, help="Seconds one call of a submission's function may take "
                         "(default: c.Execute.timeout, the notebook's limit per cell); past it the worker is stopped "
                         "and the later calls fail, instead of the first hung call using up the whole budget.").tag(
        config=True)
    test_timeout = Float(None, allow_none=True, help="Seconds the referee's run of one cell may take, its checks "
                         "and the calls of the submission's functions together (default: twice c.Execute.timeout: "
                         "a call through the worker's pipe costs more than in the kernel, and the training makes "
                         "thousands); the function still running at the limit counts as hung, as one past "
                         "call_timeout, so a function that is slow in every call costs one cell's limit, not the "
                         "whole budget.").tag(config=True)
    droppable_imports = List(Unicode(), list(reachable.DROPPABLE), help="Top-level packages (plotting, data sets) "
                             "whose imports in the given cells the worker skips when no code of the submission "
                             "can reach them (sandbox/reachable.py).").tag(config=True)
    skip_cells = List(Unicode(), [], help="grade_ids of given cells that only show results (plots, demos): the "
                      "worker does not run them. Set per course in nbgrader_config.py.").tag(config=True)

    def preprocess(self, nb, resources):
        self.instructor = instructor_folder(self.config, resources.get("nbgrader", {}).get("assignment"))
        for cell in nb.cells:  # only the referee writes this metadata (reports read it): never keep a submission's
            cell.get("metadata", {}).pop("coursekit", None)
        if not self.enabled:
            return nb, resources
        if not any(kind == "test" for _, kind, _ in trusted_cells(nb.cells)):
            return nb, resources
        stopped = kernel_stop(resources)
        ran = nb.cells[:stopped["index"]] if stopped else nb.cells
        trusted = trusted_cells(ran)
        cwd = resources.get("metadata", {}).get("path") or os.getcwd()
        results = self.referee(nb, ran, trusted, cwd) if any(kind == "test" for _, kind, _ in trusted) else {}
        if stopped:
            results.update(not_run_results(nb.cells, stopped))
        for cell in nb.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if utils.is_grade(cell) and cell.cell_type == "code" and grade_id in results:
                result = results[grade_id]
                cell.metadata.setdefault("coursekit", {})["referee"] = result.as_metadata()
                if result.error and not utils.has_failed(cell):
                    # %r: the error holds the submission's text, which must not forge a line of the log
                    self.log.warning("%s passed in the notebook but not for the referee: %r", grade_id, result.error)
                    cell.outputs.append(NotebookNode(output_type="error", ename=VERDICT_ERROR, evalue=result.error,
                                                     traceback=[f"{VERDICT_ERROR}: this cell passed in the notebook, "
                                                                f"but not when its checks ran outside your kernel: "
                                                                f"{result.error}"]))
        return nb, resources

    def start_student(self, cells, cwd, sandbox, instructor, budget=None):
        """The submission's worker with its cells run; when a cell kills or hangs it, a new worker with only the
        cells before that one, so that the tests of functions defined before the crash still count (in the
        notebook's kernel the cells after the crash did not run, so their tests score 0 there anyway).

        budget: the seconds left of the referee's timeout (all of it by default)."""
        budget = self.timeout if budget is None else budget
        if budget <= 0:
            raise StudentCodeError(OVER_BUDGET)
        started = time.monotonic()
        limits = {"cell_timeout": self.limit("cell_timeout"), "call_timeout": self.limit("call_timeout")}
        try:
            return StudentProcess(cells, cwd, sandbox, budget, instructor=instructor, **limits)
        except StudentCodeError as error:
            remaining = budget - (time.monotonic() - started)
            if not error.defined or error.defined >= len(cells) or remaining <= 0:
                raise
            self.log.warning("the referee's worker stopped in the submission's cell %d (%s): its tests run with "
                             "the %d cells before it", error.defined + 1, error, error.defined)
            return StudentProcess(cells[:error.defined], cwd, sandbox, remaining, instructor=instructor, **limits)

    @functools.cached_property
    def notebook_timeout(self):
        """The notebook's limit per cell (KernelSafeExecute's timeout, c.Execute.timeout); None when it is off
        (None, 0 or -1, as in nbclient)."""
        limit = KernelSafeExecute(config=self.config).timeout
        return limit if limit and limit > 0 else None

    def limit(self, name):
        """Seconds of the limit name (cell_timeout, call_timeout, test_timeout) as configured, else as derived
        from the notebook's limit per cell; None when off. The worker's cells always have a limit (30 s when
        the notebook has none), so that a loop at the top of a cell cannot use up the whole budget."""
        limit = getattr(self, name)
        if limit is None:
            notebook = self.notebook_timeout
            limit = {"test_timeout": notebook and 2 * notebook, "cell_timeout": notebook or 30}.get(name, notebook)
        return limit if limit and limit > 0 else None

    def referee(self, nb, ran, trusted, cwd):
        """grade_id -> CellResult of every test cell of trusted, run in this process against the sandboxed worker.

        ran: the cells of nb that ran in the notebook's kernel (all, or those before the one where it stopped);
        the worker runs the submission's among them."""
        instructor = getattr(self, "instructor", None)
        worker_cells = reachable.worker_cells(worker_sources(ran, self.skip_cells), instructor_modules(instructor),
                                              self.droppable_imports)
        sandbox = Sandbox(parent=self)
        if instructor is None:
            self.log.warning("the instructor's copy of the assignment (source/<assignment>/) was not found: the "
                             "referee's cells can import no helper module of the assignment")
        sandbox.wait_for_stopped()  # the kernel's sandbox, just stopped: its processes are not the budget's time
        deadline = time.monotonic() + self.timeout
        try:
            student = RestartingStudent(lambda: self.start_student(worker_cells, cwd, sandbox, instructor,
                                                                   budget=deadline - time.monotonic()))
        except StudentCodeError as error:
            return {grade_id: CellResult("", f"StudentCodeError: {error}") for grade_id, kind, _ in trusted
                    if kind == "test"}
        namespace = {"__name__": "__main__", **{name: proxy(student, name) for name in solution_ids(nb)}}
        seconds = self.limit("test_timeout")
        try:
            with import_from(instructor, avoid=[cwd]):
                results = referee_run(trusted, namespace, skip=self.skip_cells,
                                      time_limit=lambda cell: student.time_limit(seconds, cell))
        finally:
            student.close()
        for result in results.values():
            result.redact(student.raised)
        return results


def installed_paths():
    """The folders of the Python installation (standard library, site-packages): code from there is trusted."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *(sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib"))}
    return sorted(os.path.realpath(p) for p in paths if p)


def inside(path, folder):
    """Whether path is folder or lies below it (both made real)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def module_files(module):
    """The files and folders a module was loaded from (its __file__, a package's __path__)."""
    files = [getattr(module, "__file__", None)]
    try:
        files += list(getattr(module, "__path__", None) or [])
    except TypeError:  # a namespace package's _NamespacePath may recompute itself; be safe
        pass
    return [f for f in files if isinstance(f, str)]


@contextlib.contextmanager
def import_from(instructor, avoid=()):
    """While the referee runs: the instructor's folder first on sys.path, no folder in avoid (the submission's)
    on it, and the instructor's module names imported afresh from there; afterwards sys.path as it was and every
    module first imported meanwhile from outside the Python installation removed from sys.modules.

    Modules of the installation (sklearn, matplotlib, ... imported for the first time by a given cell) stay:
    they are trusted code, importing them again for each submission would cost seconds, and some extension
    modules cannot be loaded twice in one process.
    """
    saved_path = list(sys.path)
    avoid = [os.path.realpath(a) for a in avoid if a]
    names = instructor_modules(instructor)
    # Modules of the same names imported earlier (another assignment's helpers, a test's copy) wait aside.
    hidden = {name: module for name, module in sys.modules.items() if name.split(".")[0] in names}
    for name in hidden:
        del sys.modules[name]
    before = set(sys.modules)
    kept = [p for p in saved_path if not any(inside(p or os.getcwd(), a) for a in avoid)]
    sys.path[:] = ([instructor] if instructor else []) + kept
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        trusted = installed_paths()
        for name in [n for n in sys.modules if n not in before]:
            files = module_files(sys.modules[name])
            outside = [f for f in files if not any(inside(f, t) for t in trusted)]
            if name.split(".")[0] in names or outside:  # built-in modules (no file) stay
                del sys.modules[name]
        sys.modules.update(hidden)


def worker_sources(cells, skip_cells=()):
    """(source, given) of the code cells (of a notebook's cells) the referee's worker runs, in notebook order:
    every cell but the test cells and the given cells of skip_cells; given tells the instructor's given cells
    from the submission's."""
    return [(c.source, given(c)) for c in cells if c.cell_type == "code" and not utils.is_grade(c)
            and nbgrader_meta(c).get("grade_id") not in skip_cells]


def instructors(cell):
    """Whether cell is one of the instructor's code cells: locked, with a grade_id (OverwriteCells restored it
    from the gradebook; a cell whose grade_id the gradebook did not know has lost it by then), not an answer."""
    meta = nbgrader_meta(cell)
    return bool(cell.get("cell_type") == "code" and meta.get("grade_id") and meta.get("locked")
                and not meta.get("solution"))


def given(cell):
    """Whether cell is one of the instructor's given cells: an instructor's cell that is not a test."""
    return instructors(cell) and not nbgrader_meta(cell).get("grade")


def not_run_results(cells, stopped):
    """grade_id -> CellResult of the test cells among cells (a notebook's) from the one where the kernel
    stopped on (stopped: safe_execute.kernel_stop): they score 0 in the notebook, so the referee does not run
    them, and its result, which the feedback shows, says what the kernel did."""
    return {nbgrader_meta(c)["grade_id"]: CellResult("", stopped["error"] if i == stopped["index"]
                                                      else not_run(stopped["cell"]))
            for i, c in enumerate(cells) if i >= stopped["index"] and instructors(c) and not given(c)}


def trusted_cells(cells):
    """The instructor's code cells among an autograded notebook's cells, as (grade_id, "given" or "test",
    source).

    They are the locked cells (``instructors``). Solution cells and cells without a grade_id are the student's:
    they run only in the sandboxed worker.
    """
    return [(nbgrader_meta(c)["grade_id"], "given" if given(c) else "test", c.source)
            for c in cells if instructors(c)]
