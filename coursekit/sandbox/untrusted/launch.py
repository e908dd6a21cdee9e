"""Runs inside the sandbox, before the submission's code: apply OS limits, drop root, exec the command.

Standalone on purpose (standard library only): it is bound read-only into the sandbox and run there as
``python sandbox_launch.py --memory-mb N ... -- COMMAND...``.

With ``--hold`` it runs as the sandbox's pid 1 and starts nothing: the kernel (or the referee's worker)
joins the sandbox from the preloaded-kernel zygote (zygote.py), reads these same arguments from
/proc/1/cmdline and calls ``prepare``. This process writes ``ready`` on its stdout, reads the joined process's
pid on its stdin, and exits when that process does, so that the grader sees it end as it would see bubblewrap
end. ``--pipes IN OUT``: this process holds the joined process's stdin and stdout (the referee's protocol),
which it opens as /proc/1/fd/IN and /proc/1/fd/OUT before it answers; this process closes its own copies once
it has the pid, so that the grader sees the end of the worker's output when the worker ends.
"""
import argparse
import os
import resource
import select
import sys


def copy_font_cache(folder, uid):
    """Copy matplotlib's font lists (fontlist-*.json) from folder into MPLCONFIGDIR, owned by uid: matplotlib
    reads them instead of spending about 0.4 s of CPU building one in this fresh sandbox."""
    target = os.environ.get("MPLCONFIGDIR")
    if not target or not os.path.isdir(folder):
        return
    try:
        os.makedirs(target, exist_ok=True)
        copies = [target]
        for name in os.listdir(folder):
            if name.startswith("fontlist-") and name.endswith(".json"):
                copies.append(os.path.join(target, name))
                with open(os.path.join(folder, name), "rb") as source, open(copies[-1], "wb") as copy:
                    copy.write(source.read())
        if os.getuid() == 0:
            for path in copies:
                os.chown(path, uid, uid)
    except OSError:
        pass  # matplotlib builds its own list then


def parse(argv):
    """The launcher's options; ``command`` is the argv to run (without the ``--``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--file-size-mb", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--private-copy", action="append", default=[],
                        help="a root-only file the command names (the kernel's connection file): copied to /tmp "
                             "for the unprivileged uid, and the command's mention of it replaced")
    parser.add_argument("--silence", action="store_true", help="send the command's stdout and stderr to /dev/null")
    parser.add_argument("--font-cache", help="a folder of matplotlib font lists to copy into MPLCONFIGDIR")
    parser.add_argument("--hold", action="store_true", help="be the sandbox's pid 1 while a kernel joins it")
    parser.add_argument("--pipes", nargs=2, type=int, help="with --hold: the joined process's stdin and stdout")
    parser.add_argument("--token", help="with --hold: names this sandbox to the zygote (zygote.py's join)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return args


def prepare(args):
    """Apply the limits, drop root and silence the console; return the command to run (the connection file's
    private copy in place of the original)."""
    command = list(args.command)
    mb = 1 << 20
    # Address space: a memory bomb gets MemoryError instead of taking the machine's memory.
    resource.setrlimit(resource.RLIMIT_AS, (args.memory_mb * mb, args.memory_mb * mb))
    # Largest file the code may write: a disk bomb gets "File too large".
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size_mb * mb, args.file_size_mb * mb))
    # CPU time: a busy loop that survives the interrupts still ends.
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_seconds, args.cpu_seconds + 5))
    # No core dumps of a segfaulting kernel on the grader's disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Processes and threads of this user: a fork bomb gets "Resource temporarily unavailable".
    # The kernel does not start as root, because root ignores this limit.
    resource.setrlimit(resource.RLIMIT_NPROC, (args.processes, args.processes))
    if args.font_cache:
        copy_font_cache(args.font_cache, args.uid)
    if os.getuid() == 0:
        for path in args.private_copy:
            copy = os.path.join("/tmp", "private-" + os.path.basename(path))
            with open(path, "rb") as source, open(copy, "wb") as target:
                target.write(source.read())
            os.chown(copy, args.uid, args.uid)
            command = [copy if part == path else part for part in command]
        os.setgroups([])
        os.setgid(args.uid)
        os.setuid(args.uid)
    # A kernel's own console output (its start-up banner, crash reports) is not the notebook's: keep it off
    # the grader's terminal. What student code prints still reaches the notebook through the kernel.
    if args.silence:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    return command


def hold(pipes=()):
    """As the sandbox's pid 1: say ready, read the joined process's pid, reap orphans until it exits. pipes:
    file descriptors held for the joined process, which has opened its own copies before its pid is sent."""
    os.write(1, b"ready\n")
    line = sys.stdin.readline()
    for fd in pipes or ():
        os.close(fd)
    if not line.strip().isdigit():
        sys.exit(1)  # the grader could not start the kernel and falls back to a fresh sandbox
    try:
        kernel = os.pidfd_open(int(line))
    except OSError:
        sys.exit(1)  # it already ended
    while not select.select([kernel], [], [], 1.0)[0]:
        reap()
    sys.exit(0)


def reap():
    """Collect the exit status of every child that ended (as the sandbox's pid 1: its orphans)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def main(argv):
    args = parse(argv)
    if args.hold:
        hold(args.pipes)
    command = prepare(args)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
