"""Kernels that start from a process which imported their libraries once: the zygote (untrusted/zygote.py).

A kernel that starts from scratch spends about 3 s of CPU before the first cell: Python, ipykernel, NumPy,
matplotlib and scikit-learn (benchmarks/PROFILE.md). Plain nbgrader pays that per submission too. Here one
zygote imports them once: the grade command's (``offer``), shared by its grading processes, or a grading
process's own (a Dask worker process offers one to the grading processes it keeps). Then each kernel, and each
referee worker (sandbox/functions.py), is:

1. its sandbox, built by bubblewrap exactly as for any kernel, around ``launch.py --hold`` as its pid 1;
2. a fork of the zygote that joins that sandbox's namespaces and runs launch.py's limits and the kernel there.

The security-critical part (the new root, the binds, the namespaces) stays bubblewrap's. The zygote runs as
root outside any sandbox, so it is a process of its own, started by a clean exec with the sandbox's
environment; it never sees a submission: it gets a pid and answers a pid. Joining another process's mount
namespace needs root, so only a grader running as root uses it (``Sandbox.preloaded``); otherwise every kernel
starts from scratch, with the same limits and the same sandbox.
"""
import atexit
import contextlib
import importlib.machinery
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import KitError
from . import KERNEL_FOLDER_PREFIX  # a zygote's home is swept with the kernels' folders of a killed grader

ZYGOTE = Path(__file__).resolve().parent / "untrusted" / "zygote.py"
READY_SECONDS = 60


class ZygoteError(KitError):
    """The zygote could not start a kernel (the kernel manager then starts one from scratch)."""


class Zygote:
    """One zygote process for this grading process: ``join(pid)`` starts a kernel in the sandbox of pid.

    It also listens on a Unix socket (address, in its private home) for the other grading processes of the
    run, which ask it through a SharedZygote (offer, share).
    """

    def __init__(self, modules, environment, font_cache=None):
        """modules: what the zygote imports; environment: the sandbox's (name -> value); font_cache: host
        font list files to copy into the zygote's own MPLCONFIGDIR (its home, a private temporary folder)."""
        self.home = tempfile.mkdtemp(prefix=f"{KERNEL_FOLDER_PREFIX}{os.getpid()}-zygote-")
        try:
            self.start(modules, environment, font_cache)
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.lock = threading.Lock()
        self.modules = None

    def start(self, modules, environment, font_cache):
        self.address = os.path.join(self.home, "socket")
        fonts = os.path.join(self.home, "matplotlib")
        os.makedirs(fonts)
        for path in font_cache or ():
            shutil.copy(path, fonts)
        env = {**environment, "HOME": self.home, "MPLCONFIGDIR": fonts,
               # what ipykernel sets before matplotlib's first import in any kernel
               "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:  # bound before anyone connects
            listener.bind(self.address)
            os.chmod(self.address, 0o600)
            listener.listen(socket.SOMAXCONN)  # nothing is accepted while it imports: every worker waits there
            self.process = subprocess.Popen([sys.executable, str(ZYGOTE), "--listen", str(listener.fileno()),
                                             *modules], cwd=self.home, env=env, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True, pass_fds=(listener.fileno(),),
                                            start_new_session=True)  # no controlling terminal to pass on
        self.requests, self.replies = self.process.stdin, self.process.stdout

    def loaded(self, timeout=READY_SECONDS):
        """The top-level modules the zygote imported, once it is ready."""
        with self.lock:
            return self.wait_ready(timeout)

    def wait_ready(self, timeout):
        if self.modules is None:
            ready, *modules = self.expect(timeout).split()
            if ready != "ready":
                self.fail("did not start")
            self.modules = frozenset(modules)
        return self.modules

    def join(self, holder, token, timeout=READY_SECONDS):
        """Start a kernel in the sandbox whose pid 1 is host pid holder and names token (the kernel's connection
        file) in its command line; return the kernel's pid there."""
        with self.lock:
            self.wait_ready(timeout)
            try:
                self.requests.write(f"{holder} {token}\n")
                self.requests.flush()
            except OSError:
                self.fail("ended")
            reply = self.expect(timeout)
        if not reply.isdigit():
            raise ZygoteError(f"the kernel zygote could not start a kernel: {reply}")
        return int(reply)

    def start_in(self, process, token, pid_1, until):
        """Once the held sandbox of process (bubblewrap around ``launch.py --hold``, its stdout a pipe) says
        ready, start in it the process its pid 1 describes (a kernel, a referee worker) and write that process's
        pid to pid_1 (a file descriptor: pid 1's stdin); all by time.monotonic() until."""
        with process.stdout:
            if not select.select([process.stdout], [], [], max(0, until - time.monotonic()))[0] \
                    or process.stdout.readline() != b"ready\n":
                raise ZygoteError("the held sandbox did not start")
        pid = self.join(holder_pid(process.pid), token, max(0, until - time.monotonic()))
        os.write(pid_1, b"%d\n" % pid)

    def expect(self, timeout):
        """The zygote's next line, within timeout seconds."""
        if not select.select([self.replies], [], [], timeout)[0]:
            self.fail(f"did not answer within {timeout} s")
        try:
            line = self.replies.readline()
        except OSError:
            line = ""
        if not line.endswith("\n"):  # a line cut short by the zygote's end is no answer
            self.fail("ended")
        return line.strip()

    def fail(self, what):
        self.close()
        raise ZygoteError(f"the kernel zygote {what}; kernels start from scratch")

    def alive(self):
        return self.process.poll() is None

    def close(self):
        """End the zygote (its kernels end with their sandboxes) and remove its home."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


class SharedZygote(Zygote):
    """A grading process's connection to the zygote of the process that started it (offer, share): the same
    requests and replies, over the zygote's Unix socket. Closing it leaves the zygote running."""

    def __init__(self, address, timeout=READY_SECONDS):
        self.address = address
        self.connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connection.connect(address)
                break
            except BlockingIOError:  # its queue of connections is full (EAGAIN): wait for room
                if time.monotonic() > deadline:
                    self.connection.close()
                    raise ZygoteError("the run's kernel zygote accepted no connection in time") from None
                time.sleep(0.05)
            except OSError as error:
                self.connection.close()
                raise ZygoteError(f"the run's kernel zygote cannot be reached: {error}") from None
        self.requests, self.replies = self.connection.makefile("w"), self.connection.makefile("r")
        self.lock = threading.Lock()
        self.modules = None
        self.open = True

    def alive(self):
        """Whether the connection is open: between two requests nothing is due, so a connection that can be
        read (once the ready line was) has ended."""
        if self.open and self.modules is not None and select.select([self.connection], [], [], 0)[0]:
            self.close()
        return self.open

    def close(self):
        self.open = False
        for stream in (self.requests, self.replies, self.connection):
            with contextlib.suppress(OSError):
                stream.close()


_zygotes = {}
_registry = threading.Lock()  # of _zygotes
_shared = None  # (address, key) of the zygote this grading process was offered (share)
_provisional = None  # the key of the zygote this process offered before it read the course's settings


def zygote_key(modules, environment, font_cache=None):
    """What makes two zygotes the same: their modules, environment and font lists."""
    return tuple(modules), tuple(sorted(environment.items())), tuple(sorted(font_cache or ()))


def zygote(modules, environment, font_cache=None):
    """This process's zygote for these modules and environment, started on first use (a forked grading worker
    starts its own: a zygote's pipes belong to the process that started it), or the zygote of the process
    that started this one, when it offered one with the same settings (share)."""
    global _shared
    key = zygote_key(modules, environment, font_cache)
    with _registry:  # a Dask worker's threads each grade with a kept pool of this process
        if _shared is not None and _shared[1] == key:
            found = _zygotes.get((os.getpid(), "shared"))
            if found is not None and found.alive():
                return found
            try:
                found = _zygotes[(os.getpid(), "shared")] = SharedZygote(_shared[0])
                return found
            except ZygoteError:
                _shared = None  # it is gone (its run ended): this process starts its own
        found = _zygotes.get((os.getpid(), key))
        if found is None or not found.alive():
            if found is not None:
                found.close()  # its folder
            found = _zygotes[(os.getpid(), key)] = Zygote(modules, environment, font_cache)
        return found


def offer(modules, environment, font_cache=None, provisional=False):
    """Start this process's zygote now, if it is not running, for the grading processes it starts to share:
    its offer, (address, key), for share() in each of them. One zygote for a run's workers instead of one each
    (about 1.7 s of CPU each), started before the grader's own imports. provisional: made before the course's
    settings were read (the grade command's first step); the next offer, or settle(), ends it if they differ."""
    global _provisional
    key = zygote_key(modules, environment, font_cache)
    settle(key)
    found = zygote(modules, environment, font_cache)
    if provisional:
        _provisional = key
    return found.address, key


def settle(key):
    """End the provisional offer's zygote unless the course's settings (key; None: no zygote) are its own."""
    global _provisional
    with _registry:
        if _provisional is not None and _provisional != key:
            found = _zygotes.pop((os.getpid(), _provisional), None)
            if found is not None:
                found.close()
        _provisional = None


def share(offered):
    """In a grading process: ask the zygote of offered (offer's answer) for kernels whose settings it has."""
    global _shared
    _shared = offered


@atexit.register
def close_zygotes():
    """End this process's zygotes (not those of the process it was forked from) and its connection to a shared
    one: the next kernel asks a new one, or connects again (zygote)."""
    for (owner, *_), found in _zygotes.items():
        if owner == os.getpid():
            found.close()


def shadowing(files, modules):
    """The first of files (paths the kernel's folder shows) that a preloaded kernel would not see as a kernel
    started from scratch does: a module of one of the zygote's top-level names (there the folder's file
    would be imported instead), or a matplotlibrc (read when matplotlib is imported); else None."""
    suffixes = tuple(importlib.machinery.all_suffixes())
    for path in sorted(files):
        name = os.path.basename(path)
        if name == "matplotlibrc" or (name.endswith(suffixes) and name.partition(".")[0] in modules):
            return name
    return None


def holder_pid(bwrap_pid):
    """The host pid of the sandbox's pid 1: bubblewrap's one child."""
    with open(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children") as file:
        children = file.read().split()
    if len(children) != 1:
        raise ZygoteError(f"bubblewrap (pid {bwrap_pid}) has {len(children)} children, not the sandbox's pid 1")
    return int(children[0])
