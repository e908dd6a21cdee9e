"""The grader's sandbox: every kernel that runs a submission starts under OS limits, away from the course.

A submission's code runs inside the grader. Without a sandbox it could read the source notebook (solutions,
hidden tests), the gradebook and other students' work, or take the machine down. Each kernel therefore starts
as ``bwrap`` (bubblewrap, Debian's package) with a private view of the file system in which only the system,
Python and the notebook's own non-notebook files are visible, read-only, and its working folder and /tmp are
small in-memory file systems; then ``sandbox_launch.py`` applies the limits below (address space, file size,
CPU time, processes), drops root to an unprivileged uid, and starts the kernel. The environment is cleared, so
the instructor's variables (and NBGRADER_EXECUTION) are not visible to student code.

The sandbox has a network namespace of its own (``--unshare-net``: only its own, empty loopback), so student
code reaches no host, no port of the grading machine and no name server. The kernel therefore talks to the
grader over Jupyter's ``ipc`` transport: ZeroMQ on Unix sockets in a per-kernel folder that is bound into the
sandbox read-write at the same path (the only host folder the kernel may write to).

The instructor's helper files and folders (the non-notebook files of ``source/<assignment>/``, and its folders
that hold no notebook) are bound from the instructor's copy, and a student's file that would shadow one of
their modules (``backprop_checks.so``, ``backprop_checks.pyc``, ...) is not bound at all; folders a student
adds are never bound.

Without bwrap the limits still apply (and the kernel uses tcp on loopback), but neither the file system nor
the network is hidden: the command says so once.

A grader running as root starts each kernel as a fork of a process that imported the kernel's libraries once
(``c.Sandbox.preload``; preload.py), in a sandbox bubblewrap built exactly as above: about 3 CPU s less per
submission.
"""
import asyncio
import functools
import glob
import importlib.machinery
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Float, Integer, List, Type, Unicode, default
from traitlets.config import LoggingConfigurable

from ..libraries import NOTEBOOK_LIBRARIES

LAUNCHER = Path(__file__).resolve().parent / "untrusted" / "launch.py"
SANDBOX_LAUNCHER = "/sandbox/launch.py"
KERNEL_FOLDER_PREFIX = "coursekit-kernel-"  # + the grading process's pid: remove_stale_kernel_folders
READY_SECONDS = 60  # for a held sandbox to say it is ready
ZYGOTE_ATTEMPTS = 3  # failures of the zygote after which a grading process starts every kernel from scratch
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
FONT_CACHE = "/sandbox/matplotlib"  # the grader's matplotlib font lists, read-only (font_cache_files)


def instructor_folder(config, assignment):
    """The instructor's copy of an assignment's files, ``source/<assignment>/`` (realpath), or None.

    config: the nbgrader config (its CourseDirectory section names the course); assignment: the assignment id
    nbgrader passes in ``resources['nbgrader']['assignment']``.
    """
    if not assignment:
        return None
    from nbgrader.coursedir import CourseDirectory
    coursedir = CourseDirectory(config=config)
    folder = os.path.realpath(coursedir.format_path(coursedir.source_directory, ".", assignment))
    return folder if os.path.isdir(folder) else None


def font_cache_files():
    """host file -> path in the sandbox of the grader's matplotlib font lists (``fontlist-v*.json``).

    Every kernel and referee worker starts with an empty MPLCONFIGDIR, where matplotlib would spend about
    0.4 s of CPU building its font list again; launch.py copies these into it instead. The lists name font
    files of the system and of Python's matplotlib, which the sandbox shows read-only at the same paths.
    """
    folders = []
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        try:
            folders.append(matplotlib.get_cachedir())
        except Exception:  # noqa: BLE001 - no cache folder: the sandbox builds its own list
            pass
    folders.append(os.environ.get("MPLCONFIGDIR")
                   or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"))
    for folder in folders:
        found = sorted(glob.glob(os.path.join(folder or "", "fontlist-v*.json")))
        if found:
            return {path: f"{FONT_CACHE}/{os.path.basename(path)}" for path in found}
    return {}


def remove_stale_kernel_folders(folder=None):
    """Remove the kernels' socket folders (``coursekit-kernel-<pid>-*`` in folder, the temporary folder by
    default) whose grading process no longer runs: a worker killed mid-submission cannot remove its own."""
    for path in glob.glob(os.path.join(folder or tempfile.gettempdir(), KERNEL_FOLDER_PREFIX + "*")):
        pid = os.path.basename(path)[len(KERNEL_FOLDER_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not process_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def process_exists(pid):
    """Whether a process with this pid runs (as any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def module_name(file_name):
    """The top-level module name a file or folder of a sys.path folder would be imported as (its name up to
    the first dot: ``x.py``, ``x.pyc``, ``x.cpython-311-x86_64-linux-gnu.so`` and ``x/`` are all ``x``)."""
    return file_name.split(".", 1)[0]


def instructor_files(folder):
    """name -> path of what the kernel sees of the top of the instructor's folder: the regular, non-notebook
    files, and the folders (a package of helpers, a data folder) that hold no notebook anywhere below, since a
    folder is bound whole and a notebook holds hidden tests. nbgrader's generate_assignment hands all of these
    to students in release/ anyway; hidden folders and those nbgrader itself leaves out (__pycache__,
    feedback) are not bound."""
    if not folder or not os.path.isdir(folder):
        return {}
    shown = {}
    for entry in sorted(Path(folder).iterdir()):
        if entry.is_file() and entry.suffix not in (".ipynb", ".pyc"):
            shown[entry.name] = str(entry)
        elif entry.is_dir() and not entry.name.startswith(".") and entry.name not in ("__pycache__", "feedback") \
                and not any(entry.rglob("*.ipynb")):
            shown[entry.name] = str(entry)
    return shown


def instructor_modules(folder):
    """The top-level module names the instructor's folder provides (its modules and folders)."""
    if not folder or not os.path.isdir(folder):
        return set()
    suffixes = tuple(importlib.machinery.all_suffixes())
    return {module_name(entry.name) for entry in Path(folder).iterdir()
            if not entry.name.startswith(".") and (entry.is_dir() or entry.name.endswith(suffixes))} - {""}


def tasks_of(uid):
    """The processes and threads whose real uid is uid (from /proc/<pid>/status, which a process cannot hide
    from root, as it can hide /proc/<pid>'s owner by being not dumpable)."""
    count, prefix = 0, f"Uid:\t{uid}\t"
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/status", "rb") as file:
                    status = file.read().decode("utf-8", "replace")
            except OSError:  # it ended meanwhile
                continue
            if prefix in status:
                count += int(status.partition("\nThreads:\t")[2].partition("\n")[0] or 1)
    return count


class Sandbox(LoggingConfigurable):
    """Limits of one submission's kernel; set them in nbgrader_config.py as ``c.Sandbox.memory_mb = ...``."""

    enabled = Bool(True, help="Run kernels in the sandbox at all.").tag(config=True)
    memory_mb = Integer(4096, help="Address space of the kernel, in MiB.").tag(config=True)
    processes = Integer(256, help="Processes and threads the kernel's user may have.").tag(config=True)
    file_size_mb = Integer(64, help="Largest file the kernel may write, in MiB.").tag(config=True)
    scratch_mb = Integer(256, help="Size of the kernel's writable folders (working folder, /tmp), in MiB.").tag(
        config=True)
    cpu_seconds = Integer(900, help="CPU time of the kernel, in seconds.").tag(config=True)
    uid_base = Integer(61000, help="When grading as root, kernels run as uid uid_base + (grader pid % 4000).").tag(
        config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable; '' to run without the file system sandbox.").tag(
        config=True)
    preload = List(Unicode(), default_value=[*NOTEBOOK_LIBRARIES, "ipykernel.kernelapp", "ipykernel.ipkernel"],
                   help="Modules the kernel zygote imports once, so that each kernel starts as its fork "
                        "(coursekit/sandbox/preload.py); [] starts every kernel from scratch. Only when grading as "
                        "root in bubblewrap.").tag(config=True)
    stopped_wait = Float(10, help="Seconds a new sandbox waits for the processes of stopped ones, which share "
                         "its process limit, to be gone (wait_for_stopped).").tag(config=True)
    network = Bool(False, help="Let student code reach the network (the host's loopback, other machines, name "
                   "servers). Off: the sandbox has a network namespace of its own.").tag(config=True)

    def bwrap_path(self):
        """The bubblewrap executable, or None when it is not installed or switched off."""
        return shutil.which(self.bwrap) if self.bwrap else None

    def isolates_files(self):
        """Whether commands run in bubblewrap's new root (else only under the OS limits, or bare)."""
        return self.enabled and self.bwrap_path() is not None

    def preloaded(self):
        """Whether kernels start as forks of the zygote: it joins a sandbox's namespaces, which needs root."""
        return bool(self.preload) and self.isolates_files() and os.geteuid() == 0

    def environment(self):
        """The sandbox's whole environment (bubblewrap clears the rest). One BLAS thread: a grading process runs
        on a core of its own, and a kernel, preloaded or not, then computes as it does there (the zygote's
        NumPy sizes its thread pool when imported, before a kernel is moved to its grading process's core)."""
        return {"HOME": "/tmp", "PATH": "/usr/bin:/bin", "MPLCONFIGDIR": "/tmp/matplotlib", "LANG": "C.UTF-8",
                **{name: "1" for name in BLAS_THREADS}}

    def launcher_args(self, launcher, private=(), silence=False, font_cache=False, hold=False, pipes=None,
                      token=None):
        """The limit-setting launcher and its arguments, to put before the command."""
        copies = [arg for path in private for arg in ("--private-copy", path)] + (["--silence"] if silence else [])
        copies += ["--font-cache", FONT_CACHE] if font_cache else []
        copies += ["--hold"] if hold else []
        copies += ["--pipes", *map(str, pipes)] if pipes else []
        copies += ["--token", token] if token else []
        return [sys.executable, launcher, "--memory-mb", str(self.memory_mb), "--processes", str(self.processes),
                "--file-size-mb", str(self.file_size_mb), "--cpu-seconds", str(self.cpu_seconds),
                "--uid", str(self.kernel_uid()), *copies, "--"]

    def kernel_uid(self):
        """The unprivileged uid the launcher gives the command when the grader runs as root."""
        return self.uid_base + os.getpid() % 4000

    def zygote(self):
        """This grading process's kernel zygote for these settings (preload.zygote), started on first use."""
        from .preload import zygote
        return zygote(self.preload, self.environment(), font_cache_files())

    def wait_for_stopped(self):
        """Before a sandbox starts, when the grader runs as root: wait, at most ``stopped_wait`` seconds, until
        at most half of ``processes`` run as the sandboxes' uid.

        Every sandbox of a grading process (its kernels, its referee's workers, one at a time) runs as that uid
        and shares its process limit (RLIMIT_NPROC counts a uid's processes and threads). A stopped sandbox's
        processes die with its pid namespace, but not at once: the hundreds a fork bomb left, still being
        reaped, would leave the next kernel no thread to start, and the next student's kernel would die before
        it answered (0 points). Half, not none: a uid is shared in the rare case that two grading processes'
        pids are equal modulo 4000, and the other one's kernel then keeps running.
        """
        if os.geteuid() != 0 or not self.enabled:
            return
        uid, deadline = self.kernel_uid(), time.monotonic() + self.stopped_wait
        while tasks_of(uid) > self.processes // 2 and time.monotonic() < deadline:
            time.sleep(0.05)

    def wrap(self, command, cwd, private=(), binds=None, silence=False, writable=(), instructor=None, hold=False,
             pipes=None, token=None):
        """The argv that runs command in the sandbox with working folder cwd.

        command: argv list; cwd: the host folder whose non-notebook files the code may read (the notebooks
        there, which hold the hidden tests, are left out); private: host files the command names that only
        the grader's user may read (the connection file): bound read-only, copied for the kernel's uid;
        binds: host path -> path in the sandbox, further files to bind read-only; silence: discard the
        command's own stdout and stderr; writable: host folders bound read-write at the same path (the
        kernel's ipc socket folder); instructor: the instructor's copy of the assignment's files, whose
        files are bound into cwd in place of the submission's and whose module names no submitted file may
        shadow; hold: the launcher is the sandbox's pid 1 and runs nothing, for a kernel of the zygote to join
        (only with bubblewrap); pipes: with hold, the file descriptors (inherited by bubblewrap) that the joined
        process takes as its stdin and stdout (the referee's worker); token: with hold, a word for pid 1's command
        line that names this sandbox to the zygote (a kernel's connection file does that for a kernel).
        """
        private = [os.path.realpath(path) for path in private]
        if not self.enabled:
            return list(command)
        bwrap = self.bwrap_path()
        if bwrap is None:
            return [*self.launcher_args(str(LAUNCHER), private, silence), *command]
        fonts = font_cache_files()
        return [bwrap, *self.bwrap_args(cwd, private, {**fonts, **(binds or {})}, writable, instructor),
                *(["--as-pid-1"] if hold else []),
                *self.launcher_args(SANDBOX_LAUNCHER, private, silence, font_cache=bool(fonts), hold=hold,
                                    pipes=pipes, token=token), *command]

    def working_files(self, cwd, instructor=None):
        """path in the sandbox (in cwd) -> host file or folder bound there: the submission folder's regular,
        non-notebook files, except that the instructor's files and folders (``instructor_files``) come from
        the instructor's copy and a submitted file that would be imported under an instructor module's name is
        left out. A student's folders are never bound."""
        cwd = os.path.realpath(cwd)
        theirs = instructor_files(instructor)
        shadowed = instructor_modules(instructor)
        files = {}
        for entry in sorted(Path(cwd).iterdir()):
            if entry.is_file() and entry.suffix != ".ipynb" and module_name(entry.name) not in shadowed:
                files[os.path.join(cwd, entry.name)] = str(entry)
        for name, path in theirs.items():
            files[os.path.join(cwd, name)] = path
        return files

    def bwrap_args(self, cwd, readable, binds, writable=(), instructor=None):
        """bubblewrap's arguments: a new root with the system and Python read-only, and small writable tmpfs."""
        args = []
        made = {"/tmp", "/dev/shm"}
        bound = set()

        def parents(path):
            for parent in reversed(Path(path).parents):
                if str(parent) != "/" and str(parent) not in made:
                    made.add(str(parent))
                    args.extend(["--perms", "0755", "--dir", str(parent)])

        def bind(source, target=None, option="--ro-bind"):
            target = target or source
            parents(target)
            made.add(str(target))
            bound.add(str(target))
            args.extend([option, str(source), str(target)])

        # The in-memory folders first: a later bind below /tmp (a course or a venv there) stays visible.
        args.extend(["--proc", "/proc", "--dev", "/dev"])
        size = str(self.scratch_mb << 20)
        args.extend(["--size", size, "--perms", "1777", "--tmpfs", "/tmp"])
        args.extend(["--size", size, "--perms", "1777", "--tmpfs", "/dev/shm"])
        for system in ["/usr", "/bin", "/lib", "/lib64", "/etc"]:
            if os.path.exists(system):
                bind(system)
        for prefix in sorted({sys.prefix, sys.base_prefix, sysconfig.get_paths()["stdlib"]}):
            if not any(prefix.startswith(b + "/") or prefix == b for b in bound):
                bind(prefix)
        bind(LAUNCHER, SANDBOX_LAUNCHER)
        for source, target in binds.items():
            bind(source, target)
        if cwd:
            cwd = os.path.realpath(cwd)
            parents(cwd)
            args.extend(["--size", size, "--perms", "1777", "--tmpfs", cwd])
            for target, source in self.working_files(cwd, instructor).items():
                args.extend(["--ro-bind", source, target])
            args.extend(["--chdir", cwd])
        for path in readable:
            bind(os.path.realpath(path))
        for path in writable:
            bind(os.path.realpath(path), option="--bind")
        if not self.network:
            args.append("--unshare-net")
        args.extend(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--clearenv"])
        for name, value in self.environment().items():
            args.extend(["--setenv", name, value])
        return args


def zygote_usable():
    """Whether this grading process still asks its zygote for kernels and referee workers (zygote_trouble)."""
    return SandboxedKernelManager.zygote_failures < ZYGOTE_ATTEMPTS


def zygote_trouble(log, error, what="this kernel"):
    """Log a failure of the zygote to start what; after ZYGOTE_ATTEMPTS of them this grading process stops
    asking it."""
    SandboxedKernelManager.zygote_failures += 1
    gives_up = not zygote_usable()
    log.warning("%s; %s starts from scratch%s", error, what,
                ", and so will every later one of this grading process" if gives_up else "")
    from .preload import close_zygotes
    close_zygotes()  # the next attempt starts a new one


def offer_zygote(config=None):
    """Start now the kernel zygote that the grading processes this process starts share (preload.offer), when
    kernels start preloaded (``Sandbox.preloaded``) with config's settings: its offer, for
    ``Worker(zygote=...)``, or None. Without config (before the course's settings are read), a provisional
    offer with the defaults, ended by the next call if the course's settings differ."""
    from . import preload
    sandbox = Sandbox(config=config) if config is not None else Sandbox()
    if not sandbox.preloaded():
        preload.settle(None)
        return None
    try:
        return preload.offer(sandbox.preload, sandbox.environment(), font_cache_files(), provisional=config is None)
    except Exception:  # noqa: BLE001 - each grading process starts its own then
        return None


def start_zygote(config):
    """Start this grading process's kernel zygote now, when its kernels start preloaded (``Sandbox.preloaded``):
    its imports (about 1.7 s of CPU) then overlap the preparation of the process's first submission instead of
    delaying that submission's kernel. A zygote that cannot start is left to the first kernel, which starts
    from scratch and says why."""
    sandbox = Sandbox(config=config)
    if sandbox.preloaded():
        try:
            sandbox.zygote()
        except Exception:  # noqa: BLE001 - the first kernel tries again and reports it (zygote_trouble)
            pass


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start in the Sandbox (nbgrader_config.py: c.Execute.kernel_manager_class).

    When ``Sandbox.preloaded()``, the kernel is a fork of this grading process's zygote (preload.py), which
    joins a sandbox that bubblewrap built around ``launch.py --hold``; if that fails, this grading process
    starts its kernels from scratch from then on, in the same sandbox, and says so once in its log.

    In bubblewrap the kernel has no network, so it uses Jupyter's ipc transport: its sockets are
    ``<folder>/kernel-<n>`` in a folder of its own under the grader's temporary folder, owned by the kernel's
    uid, bound into the sandbox read-write at the same path and removed when the kernel is cleaned up.
    Without bubblewrap it uses tcp on loopback, as jupyter_client does by default. Its client is
    ReadyKernelClient (client.py), which does not idle 0.2 s once the kernel is ready.
    """

    client_factory = Type(klass="coursekit.sandbox.client.ReadyKernelClient", config=True)
    zygote_failures = 0  # of this grading process (zygote_trouble)
    fresh_command = None  # the kernel's command, started from scratch in its sandbox
    held_command = None  # the same sandbox held for a kernel of the zygote, when kernels start preloaded
    instructor_folder = Unicode(None, allow_none=True,
                                help="The instructor's copy of the assignment's files (set by KernelSafeExecute)")
    ipc_folder = Unicode(None, allow_none=True, help="The folder of the kernel's ipc sockets, while it has one")

    @default("transport")
    def _default_transport(self):
        return "ipc" if Sandbox(parent=self).isolates_files() else "tcp"

    async def _async_pre_start_kernel(self, **kw):
        if self.transport == "ipc" and not (self.ipc_folder and os.path.isdir(self.ipc_folder)):
            self.ipc_folder = tempfile.mkdtemp(prefix=f"{KERNEL_FOLDER_PREFIX}{os.getpid()}-")
            if os.getuid() == 0:  # the kernel runs as the sandbox's uid and creates its sockets here
                uid = Sandbox(parent=self).kernel_uid()
                os.chown(self.ipc_folder, uid, uid)
            self.ip = os.path.join(self.ipc_folder, "kernel")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.ipc_folder:
            shutil.rmtree(self.ipc_folder, ignore_errors=True)
            self.ipc_folder = None

    pre_start_kernel = _async_pre_start_kernel
    cleanup_resources = _async_cleanup_resources

    async def _async_interrupt_kernel(self):
        # A signal sent to the kernel's process group stops at bubblewrap, so a cell that runs past its time
        # limit is interrupted by a message on the control channel instead (ipykernel then signals itself).
        if not self.has_kernel:
            return await super()._async_interrupt_kernel()
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        cwd = self._launch_args.get("cwd") if isinstance(self._launch_args, dict) else None
        writable = [self.ipc_folder] if self.transport == "ipc" and self.ipc_folder else []
        sandbox = Sandbox(parent=self)
        wrap = functools.partial(sandbox.wrap, command, cwd, private=[self.connection_file], silence=True,
                                 writable=writable, instructor=self.instructor_folder)
        self.fresh_command = wrap()
        self.held_command = wrap(hold=True) if sandbox.preloaded() and zygote_usable() else None
        return self.held_command or self.fresh_command

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await asyncio.get_running_loop().run_in_executor(None, Sandbox(parent=self).wait_for_stopped)
        if kernel_cmd != self.held_command:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        loop = asyncio.get_running_loop()
        try:
            shadowed = await loop.run_in_executor(None, self.shadowed_by)
        except Exception as error:  # noqa: BLE001 - a zygote that cannot start: start from scratch
            zygote_trouble(self.log, error)
            shadowed = None
        if shadowed or not zygote_usable():
            return await super()._async_launch_kernel(self.fresh_command, **kw)
        # jupyter_client closes a stdin pipe it made itself; the held sandbox's pid 1 reads the kernel's pid there
        read, write = os.pipe()
        try:
            await super()._async_launch_kernel(kernel_cmd, **{**kw, "stdin": read, "stdout": subprocess.PIPE})
        finally:
            os.close(read)
        try:
            with open(write, "wb") as pid_1:
                await loop.run_in_executor(None, self.start_from_zygote, self.provisioner.process, pid_1)
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the kernel starts from scratch
            zygote_trouble(self.log, error)
            await self.provisioner.kill()
            await self.provisioner.wait()
            return await super()._async_launch_kernel(self.fresh_command, **kw)
        return None

    def zygote(self):
        """This grading process's zygote for the Sandbox's settings."""
        return Sandbox(parent=self).zygote()

    def shadowed_by(self):
        """The file of the kernel's folder that would make a preloaded kernel differ from one started from
        scratch (preload.shadowing), or None; waits for the zygote to be ready."""
        from .preload import shadowing
        cwd = self._launch_args.get("cwd") if isinstance(self._launch_args, dict) else None
        files = Sandbox(parent=self).working_files(cwd, self.instructor_folder) if cwd else {}
        found = shadowing(files, self.zygote().loaded())
        if found:
            self.log.info("%s in the notebook's folder: this kernel starts from scratch", found)
        return found

    def start_from_zygote(self, process, pid_1):
        """Once the held sandbox (process: bubblewrap) says ready, have the zygote start the kernel in it and
        tell the sandbox's pid 1 (pid_1: its stdin) which process to wait for."""
        self.zygote().start_in(process, os.path.realpath(self.connection_file), pid_1.fileno(),
                               time.monotonic() + READY_SECONDS)

    _launch_kernel = _async_launch_kernel

