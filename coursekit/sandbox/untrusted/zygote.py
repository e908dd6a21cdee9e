"""A process that imported the kernel's libraries once and starts each kernel as a fork, inside that kernel's
own sandbox (started by the grader's SandboxedKernelManager; see coursekit/sandbox/preload.py).

Standalone on purpose (standard library, launch.py and the preloaded libraries only): it runs outside the
sandbox as root, with the sandbox's environment, and never holds a submission's path, file or code. Its only
input is, per kernel, the host pid of a sandbox's pid 1 (``launch.py --hold``, which bubblewrap has already set
up) and a token that pid 1's command line must hold (the kernel's connection file: a reused pid is refused).
Its first line says ``ready`` and the top-level modules it imported from outside the standard library (a kernel
whose folder has a module of one of those names starts from scratch: there the file would be imported
instead). For each request it forks:

- a go-between, which closes every file but its reply pipe, points 0-2 at /dev/null, starts a session of its
  own (no controlling terminal; the kernel's process group is then outside the sandbox, as a kernel
  bubblewrap starts), and joins the sandbox's namespaces (ipc, uts, net, pid, then mnt: its root and working
  folder become the sandbox's);
- from it the kernel, the first process of the sandbox's pid namespace after pid 1. The kernel takes its
  arguments and environment from pid 1 (``/proc/1/cmdline``, ``/proc/1/environ``, ``/proc/1/cwd``), reseeds
  the random generators and the multiprocessing key it shares with the zygote, sets no-new-privileges (as
  bubblewrap does for what it starts), applies launch.py's ``prepare`` (limits, the connection file's private
  copy, the unprivileged uid), becomes dumpable again (as an exec would make it), and runs
  ``python -m ipykernel_launcher`` in place.

The referee's worker starts the same way (its pid 1's command is ``python referee_worker.py``, run in place as
a script, and its token ``launch.py --token``): it takes its stdin and stdout, the referee's protocol, from pid 1
(``launch.py --pipes``).

The go-between waits for the kernel, so that an ended kernel is reaped; the kernel dies with the sandbox.
Replies on stdout, one line per request: the kernel's pid in the sandbox, or ``error: <why>``.

Run as ``zygote.py --listen FD MODULES...``, it also serves the other grading processes of one run (preload.py's
offer): they connect to the Unix socket FD listens on (bound by the grader in the zygote's private home), read
the ready line and ask as above. A kernel runs on the cores of its sandbox's pid 1, which has those of the
grading process that asked.
"""
import contextlib
import ctypes
import importlib
import os
import random
import runpy
import select
import signal
import socket
import struct
import sys

import launch

NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes what /proc/<pid> names
KERNEL_MODULE = "ipykernel_launcher"
MATPLOTLIB_DIRS = ("get_configdir", "get_cachedir")
START_SECONDS = 30  # for the go-between to answer with the kernel's pid; the other requests wait meanwhile
PR_SET_DUMPABLE = 4  # linux/prctl.h
PR_SET_NO_NEW_PRIVS = 38


def preload(modules):
    """Import the modules every kernel would import; one that fails is left to the kernel."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel imports it (and reports the error) itself
            pass


def serve(ready, listener):
    """Answer request lines ``<pid> <token>`` (start a kernel) from the grader on stdin and from the grading
    processes connected to listener, each of which first gets the ready line; until stdin closes (the grader
    that started this zygote ended). Only processes of this zygote's own uid may connect; one that does not
    read its replies is dropped, so that it cannot hold up the others."""
    peers = {0: Peer(0, 1)}
    while True:
        for ready_one in select.select([*peers, listener], [], [])[0]:
            if ready_one is listener:
                accept(listener, peers, ready)
                continue
            peer = peers[ready_one]
            try:
                data = os.read(peer.fd, 4096)
            except OSError:
                data = b""
            if not data:
                if peer.fd == 0:
                    return
                drop(peers, peer)
                continue
            peer.buffer += data
            while b"\n" in peer.buffer and peer.fd in peers:
                line, _, peer.buffer = peer.buffer.partition(b"\n")
                if not peer.send(answer(line.decode(errors="replace"))) and peer.fd != 0:
                    drop(peers, peer)


class Peer:
    """A grader asking for kernels: the file descriptors of its requests and of its replies, and what of its
    requests has arrived so far."""

    def __init__(self, fd, reply_fd, connection=None):
        self.fd, self.reply_fd, self.connection, self.buffer = fd, reply_fd, connection, b""

    def send(self, line):
        """Write the reply line; whether it went (a connection's socket does not block: a full one fails)."""
        data = (line + "\n").encode()
        try:
            return os.write(self.reply_fd, data) == len(data)
        except OSError:
            return False


def drop(peers, peer):
    del peers[peer.fd]
    if peer.connection is not None:
        peer.connection.close()


def accept(listener, peers, ready):
    """Accept a grading process's connection, if it runs as this zygote's uid, and send it the ready line."""
    try:
        connection, _ = listener.accept()
    except OSError:
        return
    _, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                           struct.calcsize("3i")))
    if uid != os.geteuid():
        connection.close()
        return
    connection.setblocking(False)
    peer = Peer(connection.fileno(), connection.fileno(), connection)
    peers[peer.fd] = peer
    if not peer.send(ready):
        drop(peers, peer)


def answer(line):
    """The reply to one request line."""
    try:
        launch.reap()  # the go-betweens that ended
        pid, _, token = line.strip().partition(" ")
        if pid.isdigit() and token:
            return start(int(pid), token)
        return "error: not a pid and a token"
    except Exception as error:  # noqa: BLE001 - out of processes or files: this kernel fails, the zygote goes on
        return f"error: {type(error).__name__}: {error}"


def start(holder, token):
    """Fork the go-between for the sandbox whose pid 1 has host pid holder; return its reply line."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            go_between(holder, token, write)
        finally:
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as reply:
        if not select.select([reply], [], [], START_SECONDS)[0]:
            os.kill(pid, signal.SIGKILL)  # its kernel, if any, dies with its sandbox, which the grader then stops
            return f"error: the kernel did not start within {START_SECONDS} s"
        line = reply.readline().strip()
    return line if line.isdigit() else (line or "error: the kernel's process ended before it started")


def go_between(holder, token, reply):
    """Join the sandbox of holder and fork the kernel into it; wait for the kernel. Never returns."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, reply)
    os.closerange(reply + 1, os.sysconf("SC_OPEN_MAX"))
    os.setsid()
    try:
        join(holder, token)
    except OSError as error:
        os.write(reply, f"error: could not join the sandbox of pid {holder}: {error}\n".encode())
        os._exit(1)
    kernel = os.fork()
    if kernel == 0:
        try:
            run_kernel(reply)
        finally:
            os._exit(1)
    os.close(reply)
    os.waitpid(kernel, 0)
    os._exit(0)


def join(holder, token):
    """setns(2) into every namespace of the process holder, once sure it is a held sandbox's pid 1 whose command
    line holds token: the pid is pinned with a pidfd, and still alive after its namespaces are open."""
    setns = ctypes.CDLL(None, use_errno=True).setns
    pinned = os.pidfd_open(holder)
    with open(f"/proc/{holder}/cmdline", "rb") as file:
        argv = file.read().split(b"\0")
    if b"--hold" not in argv or token.encode() not in argv:
        raise OSError(f"pid {holder} is not the held sandbox of this kernel")
    if os.readlink(f"/proc/{holder}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
        raise OSError(f"pid {holder} is not in a sandbox")
    files = [os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY) for name in NAMESPACES]
    signal.pidfd_send_signal(pinned, 0)  # ProcessLookupError if it ended: the files may be another process's
    os.close(pinned)
    for fd in files:
        if setns(fd, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        os.close(fd)


def run_kernel(reply):
    """In the sandbox: become the process pid 1 describes (a kernel, or the referee's worker), and run it.
    Never returns."""
    with open("/proc/1/cmdline", "rb") as file:
        argv = [part.decode() for part in file.read().split(b"\0")[:-1]]
    with open("/proc/1/environ", "rb") as file:
        environ = dict(part.decode().split("=", 1) for part in file.read().split(b"\0")[:-1])
    if "--hold" not in argv:
        raise SystemExit("pid 1 of the sandbox is not launch.py --hold")
    args = launch.parse(argv[argv.index("--memory-mb"):])
    if args.pipes:
        take_pipes(args.pipes)  # before the pid is sent: then pid 1 closes its copies
    os.chdir(os.readlink("/proc/1/cwd"))
    with contextlib.suppress(OSError):  # pid 1's cores (its grader's), as if bubblewrap had started it there
        os.sched_setaffinity(0, os.sched_getaffinity(1))
    os.environ.clear()
    os.environ.update(environ)
    os.write(reply, b"%d\n" % os.getpid())
    os.close(reply)
    no_new_privileges()
    fresh_state()
    command = launch.prepare(args)
    prctl(PR_SET_DUMPABLE, 1)  # setuid without exec left it 0
    del sys.modules["launch"]  # a student's own launch.py must import as in any kernel
    if command[:3] == [sys.executable, "-m", KERNEL_MODULE]:
        run_python([KERNEL_MODULE, *command[3:]], os.getcwd(),  # what python -m puts first
                   lambda: runpy.run_module(KERNEL_MODULE, run_name="__main__", alter_sys=True))
    if command[:1] == [sys.executable] and len(command) > 1 and command[1].endswith(".py"):
        run_python(command[1:], os.path.dirname(command[1]),  # what python script.py puts first
                   lambda: runpy.run_path(command[1], run_name="__main__"))
    os.execvp(command[0], command)


def take_pipes(fds):
    """Make pid 1's file descriptors fds (the input and the output of the referee's protocol) this process's
    stdin and stdout; as root, before the privileges are dropped (pid 1 runs as root)."""
    for target, (fd, flags) in enumerate(zip(fds, (os.O_RDONLY, os.O_WRONLY))):
        opened = os.open(f"/proc/1/fd/{fd}", flags)
        os.dup2(opened, target)
        os.close(opened)


def run_python(argv, first_path, run):
    """Run Python code (run()) as ``python`` would with argv and first_path first on sys.path. Never returns."""
    sys.argv = argv
    sys.path[0] = first_path
    code = 0
    try:
        run()
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def no_new_privileges():
    """What bubblewrap sets for the process it starts: no exec of a setuid program gains privileges."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def prctl(option, value):
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}): {os.strerror(error)}")


def fresh_state():
    """What every kernel would have had of its own: random seeds and matplotlib's folders (read again from
    the sandbox's MPLCONFIGDIR)."""
    random.seed()
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        multiprocessing.current_process().authkey = os.urandom(32)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    matplotlib = sys.modules.get("matplotlib")
    for name in MATPLOTLIB_DIRS:
        function = getattr(matplotlib, name, None)
        cells = dict(zip(getattr(getattr(function, "__code__", None), "co_freevars", ()),
                         getattr(function, "__closure__", None) or ()))
        if "called" in cells:
            cells["called"].cell_contents = False


def main(argv):
    if argv[:1] != ["--listen"] or len(argv) < 2 or not argv[1].isdigit():
        raise SystemExit("usage: zygote.py --listen FD MODULES...")
    # bound by the grader before this started: a grading process may connect now and wait for the ready line
    listener = socket.socket(fileno=int(argv[1]))
    preload(argv[2:])
    # IPython puts the kernel's folder after the standard library: only the other modules can be shadowed there
    loaded = {name.partition(".")[0] for name in sys.modules} - set(sys.stdlib_module_names) - {"launch"}
    ready = " ".join(["ready", *sorted(loaded)])
    sys.stdout.write(ready + "\n")
    sys.stdout.flush()
    serve(ready, listener)


if __name__ == "__main__":
    main(sys.argv[1:])
