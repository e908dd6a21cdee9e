"""The referee: re-runs every test cell's hidden checks in the grader's own process, against the submission's
functions running in a separate sandboxed process.

Inside the notebook, student code and tests share one interpreter, so a submission can patch what the tests
call (``np.allclose``, ``builtins``, IPython's own machinery) and make a failing cell look passed. The referee
takes that power away: the submission's code cells run in a worker process (``referee_worker.py``, in the
Sandbox), and the hidden checks run here, with the grader's untouched NumPy, calling the submission's functions
through proxies that send arrays (never pickles) to the worker and mirror back any change the function made to
its arguments. A test cell that passed in the notebook but whose hidden checks fail here gets an error output,
so nbgrader's SaveAutoGrades scores it 0, and the student's feedback says why.
"""
import contextlib
import io
import os
import select
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, List, Unicode

from . import wire
from .notebooks import nbgrader_meta, solution_ids
from .sandbox import Sandbox

HERE = Path(__file__).resolve().parent
SANDBOX_DIR = "/sandbox/referee"
VERDICT_ERROR = "HiddenCheckFailed"


class StudentCodeError(Exception):
    """The submission's function raised, or its process ended, timed out or answered nonsense."""


class StudentProcess:
    """The submission's code cells, run once in a sandboxed worker; call(name, args) calls its functions."""

    def __init__(self, cells, cwd, sandbox, timeout, max_frame_mb=256):
        self.deadline = time.monotonic() + timeout
        self.max_frame = max_frame_mb << 20
        binds = {HERE / "referee_worker.py": f"{SANDBOX_DIR}/referee_worker.py", HERE / "wire.py": f"{SANDBOX_DIR}/wire.py"}
        if sandbox.enabled and sandbox.bwrap_path():
            worker = f"{SANDBOX_DIR}/referee_worker.py"
        else:
            worker = str(HERE / "referee_worker.py")
        command = sandbox.wrap([sys.executable, worker], cwd, binds=binds)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                        env={"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg",
                                             "PYTHONPATH": ""})
        self.dead = None
        self._send({"cells": cells})
        self._receive()

    def _send(self, header, buffers=()):
        frame = wire.pack(header, buffers)
        try:
            self.process.stdin.write(struct.pack(">Q", len(frame)) + frame)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail("the submission's process ended")

    def _read(self, size):
        data = b""
        fd = self.process.stdout.fileno()
        while len(data) < size:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self._fail("the submission's functions took longer than the referee's time limit")
            chunk = os.read(fd, min(size - len(data), 1 << 20))
            if not chunk:
                self._fail("the submission's process ended (os._exit, a crash, or running out of memory)")
            data += chunk
        return data

    def _receive(self):
        (size,) = struct.unpack(">Q", self._read(8))
        if size > self.max_frame:
            self._fail(f"the submission's function returned more than {self.max_frame >> 20} MiB")
        return wire.unpack(self._read(size))

    def _fail(self, reason):
        self.dead = self.dead or reason
        self.close()
        raise StudentCodeError(self.dead)

    def call(self, name, args):
        """(reply header, decoded {"result", "args"}) of the submission's function name on args."""
        if self.dead:
            raise StudentCodeError(self.dead)
        structure, buffers = wire.encode(list(args))
        self._send({"call": name, "args": structure}, buffers)
        header, buffers = self._receive()
        return header, wire.decode(header["value"], buffers)

    def close(self):
        """Stop the worker and everything it started."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()


def _mirror(original, after):
    """Make the grader's argument original look as the submission's function left its own copy."""
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if after.shape == original.shape:
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in [k for k in original if k not in after]:
            del original[key]
        for key, value in after.items():
            if isinstance(original.get(key), np.ndarray) and isinstance(value, np.ndarray) \
                    and value.shape == original[key].shape and value.dtype == original[key].dtype:
                np.copyto(original[key], value)
            else:
                original[key] = value


def proxy(student, name):
    """A function that calls the submission's function name in the worker, with the notebook's semantics."""
    def call(*args):
        header, value = student.call(name, args)
        for original, after in zip(args, value["args"]):
            _mirror(original, after)
        if not header["ok"]:
            raise StudentCodeError(f"{name} raised {header['error']}")
        aliases = header.get("result_aliases_arg") or []
        return args[aliases[0]] if aliases else value["result"]
    call.__name__ = name
    return call


class CellResult:
    """What a test cell did in the referee's run: its printed output and its error (None when it passed)."""

    def __init__(self, output="", error=None):
        self.output, self.error = output, error

    def as_metadata(self):
        return {"passed": self.error is None, "output": self.output[-4000:], "error": self.error}


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


def referee_run(cells, namespace, skip=()):
    """Run the trusted cells in notebook order in namespace; grade_id -> CellResult for the test cells.

    cells: (grade_id, kind, source) with kind "given" or "test"; the given cells define what the tests use
    (data, forward, train) and call the submission's functions through the proxies in namespace.
    """
    results = {}
    for grade_id, kind, source in cells:
        if grade_id in skip:
            continue
        output, error = run_cell(source, namespace, grade_id)
        if kind == "test":
            results[grade_id] = CellResult(output, error)
    return results


class Referee(NbGraderPreprocessor):
    """nbgrader autograde preprocessor (after Execute): confirm every passed test cell outside the kernel."""

    enabled = Bool(True, help="Re-run the hidden checks outside the notebook's kernel.").tag(config=True)
    timeout = Float(120, help="Seconds the submission's functions may take in all, per notebook.").tag(config=True)
    skip_cells = List(Unicode(), ["plots", "run_training", "try_by_hand", "try_learning_rate"],
                      help="grade_ids of given cells that only show results; the worker does not run them.").tag(
        config=True)
    max_result_mb = Integer(256, help="Largest value a function may send back, in MiB.").tag(config=True)

    def preprocess(self, nb, resources):
        if not self.enabled:
            return nb, resources
        for cell in nb.cells:  # only the referee writes this metadata: never trust a submission's copy
            cell.get("metadata", {}).pop("coursekit", None)
        trusted = trusted_cells(nb)
        if not any(kind == "test" for _, kind, _ in trusted):
            return nb, resources
        cwd = resources.get("metadata", {}).get("path") or os.getcwd()
        results = self.referee(nb, trusted, cwd)
        for cell in nb.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if utils.is_grade(cell) and cell.cell_type == "code" and grade_id in results:
                result = results[grade_id]
                cell.metadata.setdefault("coursekit", {})["referee"] = result.as_metadata()
                if result.error and not utils.has_failed(cell):
                    self.log.warning("%s passed in the notebook but not for the referee: %s", grade_id, result.error)
                    cell.outputs.append(NotebookNode(output_type="error", ename=VERDICT_ERROR, evalue=result.error,
                                                     traceback=[f"{VERDICT_ERROR}: this cell passed in the notebook, "
                                                                f"but not when its checks ran outside your kernel: "
                                                                f"{result.error}"]))
        return nb, resources

    def referee(self, nb, trusted, cwd):
        """grade_id -> CellResult of every test cell, run in this process against the sandboxed worker."""
        worker_cells = [c.source for c in nb.cells if c.cell_type == "code" and not utils.is_grade(c)
                        and nbgrader_meta(c).get("grade_id") not in self.skip_cells]
        sandbox = Sandbox(parent=self)
        try:
            student = StudentProcess(worker_cells, cwd, sandbox, self.timeout, self.max_result_mb)
        except StudentCodeError as error:
            return {grade_id: CellResult("", f"StudentCodeError: {error}") for grade_id, kind, _ in trusted
                    if kind == "test"}
        namespace = {"__name__": "__main__", **{name: proxy(student, name) for name in solution_ids(nb)}}
        sys.path.insert(0, cwd)
        try:
            return referee_run(trusted, namespace, skip=self.skip_cells)
        finally:
            sys.path.remove(cwd)
            student.close()


def trusted_cells(nb):
    """The instructor's code cells of an autograded notebook, as (grade_id, "given" or "test", source).

    They are the locked cells, which nbgrader's OverwriteCells restored from the gradebook (a cell whose
    grade_id the gradebook did not know has lost its grade_id by then). Solution cells and cells without a
    grade_id are the student's: they run only in the sandboxed worker.
    """
    return [(nbgrader_meta(c)["grade_id"], "test" if nbgrader_meta(c).get("grade") else "given", c.source)
            for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade_id")
            and nbgrader_meta(c).get("locked") and not nbgrader_meta(c).get("solution")]
