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
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, List, Unicode

from . import wire
from .notebooks import hidden_blocks, nbgrader_meta, solution_ids
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


def run_hidden_checks(test_cells, namespace):
    """grade_id -> None when every hidden block of the test cell passes in namespace, else the first error.

    The blocks run in notebook order in one namespace, as in the notebook, so a block may use what an
    earlier block defined.
    """
    verdicts = {}
    for cell in test_cells:
        error = None
        for block in hidden_blocks(cell.source):
            try:
                exec(compile(block, f"<hidden tests of {nbgrader_meta(cell)['grade_id']}>", "exec"), namespace)
            except Exception as exc:  # noqa: BLE001 - any failure of a check is a failed check
                error = error or f"{type(exc).__name__}: {exc}"
        verdicts[nbgrader_meta(cell)["grade_id"]] = error
    return verdicts


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
        test_cells = [c for c in nb.cells if utils.is_grade(c) and c.cell_type == "code" and hidden_blocks(c.source)]
        if not test_cells:
            return nb, resources
        cells = [c.source for c in nb.cells if c.cell_type == "code" and not utils.is_grade(c)
                 and nbgrader_meta(c).get("grade_id") not in self.skip_cells]
        cwd = resources.get("metadata", {}).get("path") or os.getcwd()
        verdicts = self.referee(cells, test_cells, solution_ids(nb), cwd)
        for cell in test_cells:
            verdict = verdicts[nbgrader_meta(cell)["grade_id"]]
            if verdict and not utils.has_failed(cell):
                self.log.warning("%s passed in the notebook but not for the referee: %s",
                                 nbgrader_meta(cell)["grade_id"], verdict)
                cell.outputs.append(NotebookNode(output_type="error", ename=VERDICT_ERROR, evalue=verdict, traceback=[
                    f"{VERDICT_ERROR}: this cell's output says it passed, but its hidden checks fail when your "
                    f"functions run on their own: {verdict}"]))
        return nb, resources

    def referee(self, cells, test_cells, functions, cwd):
        """grade_id -> verdict (None: passed) for the hidden checks of test_cells against the code cells."""
        sandbox = Sandbox(parent=self)
        try:
            student = StudentProcess(cells, cwd, sandbox, self.timeout, self.max_result_mb)
        except StudentCodeError as error:
            return {nbgrader_meta(c)["grade_id"]: str(error) for c in test_cells}
        try:
            namespace = {"np": np, **{name: proxy(student, name) for name in functions}}
            return run_hidden_checks(test_cells, namespace)
        finally:
            student.close()
