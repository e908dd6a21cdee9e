"""The grader's sandbox: every kernel that runs a submission starts under OS limits, away from the course.

A submission's code runs inside the grader. Without a sandbox it could read the source notebook (solutions,
hidden tests), the gradebook and other students' work, or take the machine down. Each kernel therefore starts
as ``bwrap`` (bubblewrap, Debian's package) with a private view of the file system in which only the system,
Python and the notebook's own non-notebook files are visible, read-only, and its working folder and /tmp are
small in-memory file systems; then ``sandbox_launch.py`` applies the limits below (address space, file size,
CPU time, processes), drops root to an unprivileged uid, and starts the kernel. The environment is cleared, so
the instructor's variables (and NBGRADER_EXECUTION) are not visible to student code.

Without bwrap the limits still apply, but the file system is not hidden: the command says so once.
"""
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode
from traitlets.config import LoggingConfigurable

LAUNCHER = Path(__file__).resolve().parent / "untrusted" / "launch.py"
SANDBOX_LAUNCHER = "/sandbox/launch.py"


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

    def bwrap_path(self):
        """The bubblewrap executable, or None when it is not installed or switched off."""
        return shutil.which(self.bwrap) if self.bwrap else None

    def isolates_files(self):
        """Whether commands run in bubblewrap's new root (else only under the OS limits, or bare)."""
        return self.enabled and self.bwrap_path() is not None

    def launcher_args(self, launcher, private=(), silence=False):
        """The limit-setting launcher and its arguments, to put before the command."""
        copies = [arg for path in private for arg in ("--private-copy", path)] + (["--silence"] if silence else [])
        return [sys.executable, launcher, "--memory-mb", str(self.memory_mb), "--processes", str(self.processes),
                "--file-size-mb", str(self.file_size_mb), "--cpu-seconds", str(self.cpu_seconds),
                "--uid", str(self.uid_base + os.getpid() % 4000), *copies, "--"]

    def wrap(self, command, cwd, private=(), binds=None, silence=False):
        """The argv that runs command in the sandbox with working folder cwd.

        command: argv list; cwd: the host folder whose non-notebook files the code may read (the notebooks
        there, which hold the hidden tests, are left out); private: host files the command names that only
        the grader's user may read (the connection file): bound read-only, copied for the kernel's uid;
        binds: host path -> path in the sandbox, further files to bind read-only; silence: discard the
        command's own stdout and stderr.
        """
        private = [os.path.realpath(path) for path in private]
        if not self.enabled:
            return list(command)
        bwrap = self.bwrap_path()
        if bwrap is None:
            return [*self.launcher_args(str(LAUNCHER), private, silence), *command]
        return [bwrap, *self.bwrap_args(cwd, private, binds or {}),
                *self.launcher_args(SANDBOX_LAUNCHER, private, silence), *command]

    def bwrap_args(self, cwd, readable, binds):
        """bubblewrap's arguments: a new root with the system and Python read-only, and small writable tmpfs."""
        args = []
        made = {"/tmp", "/dev/shm"}
        bound = set()

        def parents(path):
            for parent in reversed(Path(path).parents):
                if str(parent) != "/" and str(parent) not in made:
                    made.add(str(parent))
                    args.extend(["--perms", "0755", "--dir", str(parent)])

        def bind(source, target=None):
            target = target or source
            parents(target)
            made.add(str(target))
            bound.add(str(target))
            args.extend(["--ro-bind", str(source), str(target)])

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
            for entry in sorted(Path(cwd).iterdir()):
                if entry.is_file() and entry.suffix != ".ipynb":
                    args.extend(["--ro-bind", str(entry), str(entry)])
            args.extend(["--chdir", cwd])
        for path in readable:
            bind(os.path.realpath(path))
        args.extend(["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--clearenv",
                     "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
                     "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib", "--setenv", "LANG", "C.UTF-8"])
        return args


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start in the Sandbox (nbgrader_config.py: c.Execute.kernel_manager_class)."""

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
        return Sandbox(parent=self).wrap(command, cwd, private=[self.connection_file], silence=True)
