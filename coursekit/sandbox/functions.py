"""Calling a submission's functions from the grader: they run in a sandboxed worker, only values cross.

``StudentProcess`` starts ``untrusted/referee_worker.py`` in the Sandbox, runs the submission's code cells
there once, and then calls its functions on request. ``proxy`` makes such a function look local: arrays go
over the wire format (``untrusted/wire.py``: JSON headers and raw buffers, never pickles), and changes the
function made to its arguments are mirrored back, so a test sees the notebook's semantics.

A hidden check calls the submission's functions thousands of times (the training check: 1,600 calls), so a
round trip is kept cheap: the pipes hold a whole frame (1 MiB), frames are written with one ``writev`` and
read into one preallocated buffer (``select`` only when the worker has not answered yet), arrays cross
without extra copies, and each call tells the worker which arguments the grader mirrors (``mirror_kind``),
so that the worker sends back only those, and marks the ones its function left exactly as they came
(``wire.UNCHANGED``) instead of sending them again.

Each distinct question is asked once (``Answers``): a call whose request is byte for byte one already answered
(the same function, argument bytes, dtypes, shapes and kinds) gets that answer again, without a round trip.
The hidden training check repeats the visible one's 1,600 calls exactly, so it costs about 100 round trips
instead: about one repeated question in 16 (the same ones in every grading) is asked again all the same, and
a function whose second answer to it differs from its first (one that keeps state between calls) fails.
"""
import contextlib
import fcntl
import hashlib
import os
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import zygote_trouble, zygote_usable
from .untrusted import wire

UNTRUSTED = Path(__file__).resolve().parent / "untrusted"
SANDBOX_DIR = "/sandbox/referee"
PIPE_SIZE = 1 << 20  # Linux's default limit for an unprivileged process; a training call's frame fits
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
OVER_BUDGET = "the submission's functions took longer than the referee's time limit"


def mirror_kind(value):
    """What proxy's mirror does with the worker's copy of the argument value after a call (wire.encode
    decides what the copy is): 0 nothing, so the worker need not send it back; 1 copy it into value, where a
    copy the function left unchanged changes nothing, so the worker may answer wire.UNCHANGED; 2 mirror it,
    and the worker always sends it (a dict with other values, which mirror replaces by the worker's)."""
    if type(value) is np.ndarray:
        return 1 if value.dtype.kind in wire.NUMERIC_KINDS else 0
    if isinstance(value, np.ndarray):  # a subclass: crosses as a plain array, mirrored as always
        return 2 if value.dtype.kind in wire.NUMERIC_KINDS else 0
    if type(value) is dict and all(type(k) is str for k in value):
        if all(type(v) is np.ndarray and v.dtype.kind in wire.NUMERIC_KINDS for v in value.values()):
            return 1
        return 2
    return 0


def enlarge_pipe(fd):
    """Let the pipe of fd hold PIPE_SIZE bytes (fewer reads, writes and process switches per frame)."""
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


class StudentCodeError(Exception):
    """The submission's function raised, or its process ended, timed out or answered nonsense.

    defined: when the process failed while running the submission's cells, how many of them had run.
    """

    def __init__(self, message, defined=None):
        super().__init__(message)
        self.defined = defined


class StudentProcess:
    """The submission's code cells, run once in a sandboxed worker; call(name, args) calls its functions.

    instructor: the instructor's copy of the assignment's files, bound into the worker's folder in place of
    the submission's (Sandbox.wrap).
    """

    def __init__(self, cells, cwd, sandbox, timeout, instructor=None, cell_timeout=None, call_timeout=None):
        sandbox.wait_for_stopped()  # before the budget starts: the stopped sandbox's processes are not its time
        # a wait for the zygote is not the budget's time either (a worker from scratch starts within it)
        self.process, self.to_worker, self.from_worker = start_worker(sandbox, cwd, instructor)
        self.deadline = time.monotonic() + timeout
        self.call_timeout = call_timeout
        self.over = OVER_BUDGET  # why a wait that runs out fails: the budget, or one call's limit (call)
        self.dead = None
        self.answers = Answers()  # RestartingStudent hands a restarted worker those of the one before
        self.raised = []  # the exceptions ('Type: message') the submission's functions raised: its own text
        self.hung = None  # the function whose call ran past call_timeout or cell_limit, which stopped this worker
        for pipe in (self.to_worker, self.from_worker):
            enlarge_pipe(pipe.fileno())
            os.set_blocking(pipe.fileno(), False)  # every wait is a select with the deadline
        self.reader = wire.Reader(self.from_worker.fileno(), wait=lambda: self._wait(readable=True))
        self.defined = None
        try:
            self._send({"cells": cells})
        except StudentCodeError:  # cells too large to send: nothing ran
            self.close()
            raise
        self._run_cells(cell_timeout)

    def _run_cells(self, cell_timeout):
        """Wait for the worker to run the cells, each within cell_timeout; count the cells it ran."""
        final = self.deadline
        self.defined = 0
        while True:
            if cell_timeout:
                self.deadline = min(final, time.monotonic() + cell_timeout)
            header, _ = self._receive()
            if header.get("ready"):
                break
            self.defined = int(header.get("defined", self.defined))
        self.deadline, self.defined = final, None

    @staticmethod
    def _frame(header, buffers=()):
        """The parts of the frame to send (wire.frame_parts); StudentCodeError when it is too large."""
        try:
            return wire.frame_parts(header, buffers)
        except wire.FrameError as error:
            raise StudentCodeError(f"the arguments could not be sent: {error}") from None

    def _send(self, header, buffers=()):
        self._send_parts(self._frame(header, buffers))

    def _send_parts(self, parts):
        try:
            wire.write_parts(self.to_worker.fileno(), parts, wait=self._wait_writable)
        except (BrokenPipeError, OSError):
            self._fail("the submission's process ended")

    def _wait(self, readable):
        """Return when the worker's pipe can be read (or written), or fail at the deadline."""
        fd = (self.from_worker if readable else self.to_worker).fileno()
        remaining = self.deadline - time.monotonic()
        ready = select.select([fd], [], [], max(remaining, 0)) if readable else \
            select.select([], [fd], [], max(remaining, 0))
        if remaining <= 0 or not (ready[0] or ready[1]):
            self._fail(self.over)

    def _wait_writable(self):
        self._wait(readable=False)

    def _read(self, size):
        """size bytes from the worker, within the deadline (a view of the reader's buffer)."""
        if time.monotonic() >= self.deadline:
            self._fail(self.over)
        if not self.reader.buffered():
            self._wait(readable=True)  # the worker is still at work: wait, then read all it sent at once
        data = self.reader.read_exactly(size)
        if len(data) < size:
            self._fail("the submission's process ended (os._exit, a crash, or running out of memory)")
        return data

    def _receive(self):
        try:
            return wire.read_frame(self._read)
        except wire.FrameError as error:
            self._fail(f"the submission's process sent a bad message: {error}")

    def _fail(self, reason):
        self.dead = self.dead or reason
        self.close()
        raise StudentCodeError(self.dead, self.defined)

    def call(self, name, args, cell_limit=None):
        """(reply header, decoded {"result", "args"} or None) of the submission's function name on args.

        One call may take call_timeout seconds, the cell the referee runs its time limit (cell_limit, a
        CellLimit, or None), and all calls together the referee's budget: a call past the first two stops the
        worker and counts as hung, so that a function that hangs or is slow costs one limit, as in the
        notebook's kernel. A question answered before gets its stored answer (Answers), unless it is audited; a
        function found unreliable fails at once.
        """
        if self.dead:
            raise StudentCodeError(self.dead)
        if name in self.answers.unreliable:
            raise StudentCodeError(self.answers.unreliable[name])
        if cell_limit and time.monotonic() >= cell_limit.deadline:
            raise StudentCodeError(cell_limit.message(None))
        structure, buffers = wire.encode(list(args))
        request = self._frame({"call": name, "args": structure, "kinds": [mirror_kind(a) for a in args]}, buffers)
        key = Answers.key(request)
        known = self.answers.get(key)
        if known is not None and not self.answers.audit_now(key):
            if time.monotonic() >= self.deadline:
                self._fail(OVER_BUDGET)  # as a call sent now would
            return known
        final = self.deadline
        limits = [(final, OVER_BUDGET)]
        if self.call_timeout and self.call_timeout > 0:
            limits.append((time.monotonic() + self.call_timeout,
                           f"{name} ran past the {self.call_timeout:g} s time limit of one call"))
        if cell_limit:
            limits.append((cell_limit.deadline, cell_limit.message(name)))
        self.deadline, self.over = min(limits, key=lambda limit: limit[0])
        limited = self.deadline < final
        try:
            self._send_parts(request)
            header, buffers = self._receive()
        except StudentCodeError:
            if limited and time.monotonic() >= self.deadline:
                self.hung = name
            raise
        finally:
            self.deadline = final
            self.over = OVER_BUDGET
        value = wire.decode(header.get("value"), buffers)
        if known is None:
            if header.get("ok"):  # an error's text may differ between two runs (an object's address in it)
                self.answers.put(key, header, value)
        elif not same_reply(known, (header, value)):
            raise StudentCodeError(self.answers.differed(name))
        return header, value

    def close(self):
        """Stop the worker and everything it started."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()
        self.to_worker.close()
        self.from_worker.close()


def worker_environment():
    """The worker's environment when it runs without bubblewrap (which sets the sandbox's own)."""
    return {"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg", "PYTHONPATH": ""}


def start_worker(sandbox, cwd, instructor):
    """The referee's worker in the Sandbox, in folder cwd: (its process, a pipe to it, a pipe from it).

    A fork of the kernel zygote when kernels start preloaded (``Sandbox.preloaded``: no Python or NumPy start-up,
    about 0.15 s of CPU less per submission), unless a file of the folder would shadow a preloaded module, as for
    a kernel (preload.shadowing); else, or when the zygote fails, started from scratch. The same sandbox either
    way; the preloaded worker has the kernel's memory footprint (its libraries are mapped), so it has as much
    of c.Sandbox.memory_mb left for a submission's arrays as the notebook's kernel had.
    """
    binds = {UNTRUSTED / "referee_worker.py": f"{SANDBOX_DIR}/referee_worker.py",
             UNTRUSTED / "wire.py": f"{SANDBOX_DIR}/wire.py"}
    worker = f"{SANDBOX_DIR}/referee_worker.py" if sandbox.isolates_files() else str(UNTRUSTED / "referee_worker.py")
    if sandbox.preloaded() and zygote_usable():
        from .preload import READY_SECONDS, shadowing
        files = sandbox.working_files(cwd, instructor)
        until = time.monotonic() + READY_SECONDS  # the zygote's waits, all together; not the submission's time
        try:
            if not shadowing(files, sandbox.zygote().loaded(max(0, until - time.monotonic()))):
                return held_worker(sandbox, worker, cwd, binds, instructor, until)
        except Exception as error:  # noqa: BLE001 - whatever the zygote did wrong, the worker starts from scratch
            zygote_trouble(sandbox.log, error, "the referee's worker")
    command = sandbox.wrap([sys.executable, worker], cwd, binds=binds, instructor=instructor)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=cwd, start_new_session=True, env=worker_environment())
    return process, process.stdin, process.stdout


def held_worker(sandbox, worker, cwd, binds, instructor, until):
    """start_worker's fork of the zygote, started by time.monotonic() until: bubblewrap builds the sandbox
    around ``launch.py --hold``, which holds the protocol's pipes (``--pipes``) until the zygote's fork, joined
    to the sandbox, has taken them."""
    token = secrets.token_hex(16)  # in pid 1's command line: the zygote joins no other process
    opened = []
    try:
        for _ in range(3):
            opened.extend(os.pipe())
        to_read, to_write, from_read, from_write, pid_read, pid_write = opened
        command = sandbox.wrap([sys.executable, worker], cwd, binds=binds, instructor=instructor, hold=True,
                               pipes=(to_read, from_write), token=token)
        process = subprocess.Popen(command, stdin=pid_read, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   cwd=cwd, start_new_session=True, env=worker_environment(),
                                   pass_fds=(to_read, from_write))
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
    for fd in (to_read, from_write, pid_read):
        os.close(fd)
    to_worker, from_worker = open(to_write, "wb", buffering=0), open(from_read, "rb", buffering=0)
    try:
        sandbox.zygote().start_in(process, token, pid_write, until)
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 9)
        process.wait()
        to_worker.close()
        from_worker.close()
        raise
    finally:
        os.close(pid_write)
    return process, to_worker, from_worker


REPLY_KEYS = ("ok", "result_aliases_arg")  # what of a reply's header a stored answer keeps


class Answers:
    """The replies of the calls answered so far, by the SHA-256 of their request frame.

    A reply is stored and handed out as fresh copies, so that what a caller does to one answer never changes
    the next. Replies of at most LIMIT bytes (value_bytes) are kept per submission; later ones are not stored.

    About one repeated question in ``audit`` is asked again all the same: those whose digest is 0 modulo audit,
    so the same ones in every grading of the submission (grades stay identical run to run). A function whose
    answer then differs from its first one is unreliable from then on: that call and every later call of it
    fail. So a function that keeps state between calls by mistake (a momentum left over from the visible
    training) is caught when one of its differing answers is asked again, as about 100 of the hidden
    training's 1,600 repeated calls are. A function that tells an audit from a first question (it has seen
    the arguments before) can answer it the same; it answered the question itself the first time.
    Byte-for-byte: a function whose floating-point results vary between two calls on the same arguments fails.
    """

    LIMIT = 256 << 20
    AUDIT = 16

    def __init__(self, audit=AUDIT):
        self.audit = audit
        self.replies = {}
        self.size = 0
        self.hits = 0  # repeated questions answered from memory
        self.audits = 0  # repeated questions asked again
        self.unreliable = {}  # function name -> why its calls fail

    @staticmethod
    def key(parts):
        """The digest of a request's frame parts (wire.frame_parts): the function, its arguments' structure,
        kinds and bytes."""
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part)
        return digest.digest()

    def get(self, key):
        """(reply header, decoded value) of the request key, or None when it was not answered yet."""
        reply = self.replies.get(key)
        return None if reply is None else (reply[0], fresh(reply[1]))

    def audit_now(self, key):
        """Whether to ask the repeated question key again all the same; counts it."""
        if self.audit and int.from_bytes(key[-4:], "big") % self.audit == 0:
            self.audits += 1
            return True
        self.hits += 1
        return False

    def put(self, key, header, value):
        """Store a reply that succeeded (its outcome and value), while the replies stay within LIMIT bytes."""
        size = value_bytes(value)
        if self.size + size <= self.LIMIT:
            self.replies[key] = ({k: header.get(k) for k in REPLY_KEYS}, fresh(value))
            self.size += size

    def differed(self, name):
        """Mark the function name unreliable; the reason its calls fail."""
        self.unreliable[name] = (f"{name} gave two different answers to the same call (the same arguments, byte "
                                 f"for byte): its result must depend only on its arguments")
        return self.unreliable[name]


def same_reply(first, second):
    """Whether two (header, decoded value) replies are the same: the outcome, the aliased argument, and every
    value, arrays byte for byte."""
    return ([first[0].get(k) for k in REPLY_KEYS] == [second[0].get(k) for k in REPLY_KEYS]
            and same_value(first[1], second[1]))


def same_value(a, b):
    """Whether two decoded values are equal: same types and structure, arrays of the same dtype, shape and
    bytes, other values of the same repr (exact for floats, and nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return repr(a) == repr(b)


def fresh(value):
    """A copy of a decoded value: its arrays, dicts, lists and tuples are new, the rest is immutable."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {k: fresh(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(fresh(v) for v in value)
    return value


def value_bytes(value):
    """About the bytes a decoded value holds: its arrays' and strings' own, and 64 for every other item."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, str):
        return len(value)
    if type(value) is dict:
        return 64 + sum(len(k) + value_bytes(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return 64 + sum(value_bytes(v) for v in value)
    return 64


class CellLimit:
    """The time limit of the cell the referee runs: its deadline (time.monotonic) and how a call past it fails."""

    def __init__(self, seconds, cell):
        self.seconds, self.cell = seconds, cell
        self.deadline = time.monotonic() + seconds

    def message(self, name):
        """Why a call of the function name (None: a call made after the deadline) fails."""
        if name:
            return f"{name} was still running at the {self.seconds:g} s time limit of {self.cell} in the referee's run"
        return f"{self.cell} ran past its {self.seconds:g} s time limit in the referee's run"


class RestartingStudent:
    """The submission's functions as the referee's proxies call them, across the workers a hung call costs.

    start(): a new StudentProcess with the submission's cells run. After a call that ran past the limit of one
    call or of its cell (which stops the worker), that function raises at once when called again, as in the
    notebook's kernel (preprocessors/safe_execute.py), and the next call of another function starts a new
    worker. A worker that could not be started stays the answer to every later call.
    """

    def __init__(self, start):
        self.start = start
        self.process = start()
        self.answers = self.process.answers  # stored answers and unreliable functions outlive a worker
        self.hung = {}  # function name -> why it is not called again
        self.failed = None
        self.raised = []
        self.cell_limit = None

    @contextlib.contextmanager
    def time_limit(self, seconds, cell):
        """While the referee runs the cell (a grade_id), it may take seconds of wall time (None: no limit), not
        counting the start of a new worker; the function still running at the limit counts as hung (call), as
        in the kernel, where the function running when a cell is interrupted is the one replaced."""
        self.cell_limit = CellLimit(seconds, cell) if seconds else None
        try:
            yield
        finally:
            self.cell_limit = None

    def call(self, name, args):
        """StudentProcess.call on the current worker (started again if a hung call stopped the last one)."""
        if name in self.hung:
            raise StudentCodeError(self.hung[name])
        if self.failed:
            raise StudentCodeError(self.failed)
        if self.process is None:
            limit = self.cell_limit
            if limit and time.monotonic() >= limit.deadline:
                raise StudentCodeError(limit.message(None))
            started = time.monotonic()
            try:
                self.process = self.start()
                self.process.answers = self.answers
            except StudentCodeError as error:
                self.failed = str(error)
                raise
            except Exception as error:  # noqa: BLE001 - the worker could not even be started (Popen)
                self.failed = f"the submission's process could not be started again: {error}"
                raise StudentCodeError(self.failed) from None
            if limit:  # the new worker ran the submission's cells again: not time of this cell's calls
                limit.deadline += time.monotonic() - started
        try:
            return self.process.call(name, args, self.cell_limit)
        except StudentCodeError as error:
            if self.process.hung == name:
                self.hung[name] = str(error)
                self.process.close()
                self.process = None
            raise

    def close(self):
        if self.process is not None:
            self.process.close()


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
            student.raised.append(str(header.get("error")))
            raise StudentCodeError(f"{name} raised {header.get('error')}")
        aliases = header.get("result_aliases_arg") or []
        return args[aliases[0]] if aliases else value["result"]
    call.__name__ = name
    return call
