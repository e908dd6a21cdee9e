"""Calling a submission's functions from the grader: they run in a sandboxed worker, only values cross.

``StudentProcess`` starts ``untrusted/referee_worker.py`` in the Sandbox, runs the submission's code cells
there once, and then calls its functions on request. ``proxy`` makes such a function look local: arrays go
over the wire format (``untrusted/wire.py``: JSON headers and raw buffers, never pickles), and changes the
function made to its arguments are mirrored back, so a test sees the notebook's semantics.
"""
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .untrusted import wire

UNTRUSTED = Path(__file__).resolve().parent / "untrusted"
SANDBOX_DIR = "/sandbox/referee"


class StudentCodeError(Exception):
    """The submission's function raised, or its process ended, timed out or answered nonsense."""


class StudentProcess:
    """The submission's code cells, run once in a sandboxed worker; call(name, args) calls its functions.

    instructor: the instructor's copy of the assignment's files, bound into the worker's folder in place of
    the submission's (Sandbox.wrap).
    """

    def __init__(self, cells, cwd, sandbox, timeout, instructor=None):
        self.deadline = time.monotonic() + timeout
        binds = {UNTRUSTED / "referee_worker.py": f"{SANDBOX_DIR}/referee_worker.py",
                 UNTRUSTED / "wire.py": f"{SANDBOX_DIR}/wire.py"}
        worker = f"{SANDBOX_DIR}/referee_worker.py" if sandbox.isolates_files() else str(UNTRUSTED / "referee_worker.py")
        command = sandbox.wrap([sys.executable, worker], cwd, binds=binds, instructor=instructor)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
                                        env={"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg",
                                             "PYTHONPATH": ""})
        self.dead = None
        self._send({"cells": cells})
        self._receive()

    def _send(self, header, buffers=()):
        try:
            self.process.stdin.write(wire.frame(header, buffers))
            self.process.stdin.flush()
        except wire.FrameError as error:
            raise StudentCodeError(f"the arguments could not be sent: {error}") from None
        except (BrokenPipeError, OSError):
            self._fail("the submission's process ended")

    def _read(self, size):
        """size bytes from the worker, within the deadline."""
        data = bytearray()
        fd = self.process.stdout.fileno()
        while len(data) < size:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self._fail("the submission's functions took longer than the referee's time limit")
            chunk = os.read(fd, min(size - len(data), 1 << 20))
            if not chunk:
                self._fail("the submission's process ended (os._exit, a crash, or running out of memory)")
            data += chunk
        return bytes(data)

    def _receive(self):
        try:
            return wire.read_frame(self._read)
        except wire.FrameError as error:
            self._fail(f"the submission's process sent a bad message: {error}")

    def _fail(self, reason):
        self.dead = self.dead or reason
        self.close()
        raise StudentCodeError(self.dead)

    def call(self, name, args):
        """(reply header, decoded {"result", "args"} or None) of the submission's function name on args."""
        if self.dead:
            raise StudentCodeError(self.dead)
        structure, buffers = wire.encode(list(args))
        self._send({"call": name, "args": structure}, buffers)
        header, buffers = self._receive()
        return header, wire.decode(header.get("value"), buffers)

    def close(self):
        """Stop the worker and everything it started."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()


def mirror(original, after):
    """Make the grader's argument original look as the submission's function left its own copy.

    original, after: the same argument before the call (the grader's object) and after it (the worker's copy,
    decoded); arrays of the same shape are copied in place, dicts get the worker's keys and values.
    """
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
        if isinstance(value, dict):
            for original, after in zip(args, value.get("args", [])):
                mirror(original, after)
        if not header.get("ok"):
            raise StudentCodeError(f"{name} raised {header.get('error')}")
        aliases = header.get("result_aliases_arg") or []
        return args[aliases[0]] if aliases else value["result"]
    call.__name__ = name
    return call
