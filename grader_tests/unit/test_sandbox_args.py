"""coursekit/sandbox/__init__.py: the bubblewrap command line a kernel or the referee's worker starts with.

Only the arguments are inspected; bubblewrap never runs here. The order matters: bubblewrap mounts in the
order given, so the in-memory /tmp must come before every bind and folder under /tmp, or it hides them (a
course or a venv under /tmp then vanished inside the sandbox: a fresh clone in /tmp graded everything 0).
"""
import os
import subprocess
import sys
import sysconfig

import pytest

from coursekit.sandbox import KERNEL_FOLDER_PREFIX, LAUNCHER, SANDBOX_LAUNCHER, Sandbox, remove_stale_kernel_folders


def pairs(args, option):
    """The (source, target) of every `option SOURCE TARGET` in args, with its index."""
    return [(i, args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == option]


def index_of(args, *sequence):
    """The index where sequence starts in args."""
    for i in range(len(args) - len(sequence) + 1):
        if tuple(args[i:i + len(sequence)]) == sequence:
            return i
    raise AssertionError(f"{' '.join(sequence)} not in the arguments")


def paths_used(args):
    """(index, path in the sandbox) of every mount, folder or working folder the arguments make."""
    used = [(i, target) for i, _, target in pairs(args, "--ro-bind")]
    used += [(i, args[i + 1]) for i, a in enumerate(args) if a in ("--dir", "--tmpfs", "--chdir")]
    return used


@pytest.fixture
def course_in_tmp(tmp_path):
    """An autograded submission folder under /tmp: the notebook, a helper file, a data file, a subfolder."""
    folder = tmp_path / "course" / "autograded" / "alice" / "week1"
    folder.mkdir(parents=True)
    (folder / "week1.ipynb").write_text("{}")
    (folder / "other.ipynb").write_text("{}")
    (folder / "week1_checks.py").write_text("")
    (folder / "data.csv").write_text("")
    (folder / "sub").mkdir()
    return folder


def test_tmp_is_mounted_before_anything_under_tmp(course_in_tmp, monkeypatch):
    monkeypatch.setattr(sys, "prefix", "/tmp/clone/.venv")  # a venv in a fresh clone under /tmp
    args = Sandbox().bwrap_args(str(course_in_tmp), [], {str(course_in_tmp / "data.csv"): "/tmp/extra/data.csv"})
    tmpfs = index_of(args, "--tmpfs", "/tmp")
    under_tmp = [(i, path) for i, path in paths_used(args) if path.startswith("/tmp/")]
    assert any(path == "/tmp/clone/.venv" for _, path in under_tmp), "the venv under /tmp is not bound at all"
    hidden = [path for i, path in under_tmp if i < tmpfs]
    assert not hidden, f"mounted before the /tmp tmpfs, so hidden by it inside the sandbox: {hidden}"


def test_the_working_folder_is_a_tmpfs_before_its_files_are_bound(course_in_tmp):
    cwd = str(course_in_tmp)
    args = Sandbox().bwrap_args(cwd, [], {})
    folder = index_of(args, "--tmpfs", cwd)
    files = [i for i, _, target in pairs(args, "--ro-bind") if target.startswith(cwd + "/")]
    assert files and min(files) > folder, "a file of the working folder is bound before the folder's tmpfs hides it"
    assert index_of(args, "--chdir", cwd) > folder


def test_the_working_folders_notebooks_are_not_bound(course_in_tmp):
    args = Sandbox().bwrap_args(str(course_in_tmp), [], {})
    bound = {source for _, source, _ in pairs(args, "--ro-bind")}
    notebooks = [p for p in bound if p.endswith(".ipynb")]
    assert not notebooks, f"notebooks (they hold the hidden tests) are visible in the sandbox: {notebooks}"


def test_the_working_folders_other_files_are_bound_read_only_at_the_same_path(course_in_tmp):
    args = Sandbox().bwrap_args(str(course_in_tmp), [], {})
    bound = {(source, target) for _, source, target in pairs(args, "--ro-bind")}
    for name in ["week1_checks.py", "data.csv"]:
        path = str(course_in_tmp / name)
        assert (path, path) in bound, f"{name} (the notebook imports or reads it) is not visible in the sandbox"
    assert str(course_in_tmp / "sub") not in {s for s, _ in bound}, "a subfolder of the working folder is bound"


def test_the_launcher_is_bound_at_sandbox_launch_py():
    args = Sandbox().bwrap_args(None, [], {})
    assert SANDBOX_LAUNCHER == "/sandbox/launch.py"
    assert ("--ro-bind", str(LAUNCHER), SANDBOX_LAUNCHER) in {tuple(args[i:i + 3]) for i in range(len(args) - 2)}


def test_python_and_the_system_are_bound_read_only():
    args = Sandbox().bwrap_args(None, [], {})
    targets = {target for _, _, target in pairs(args, "--ro-bind")}
    for path in {sys.prefix, sys.base_prefix, sysconfig.get_paths()["stdlib"]}:
        assert any(path == t or path.startswith(t + "/") for t in targets), f"{path} is not visible in the sandbox"
    assert "/usr" in targets, "/usr (the system's libraries) is not visible in the sandbox"
    assert not pairs(args, "--bind"), "something is bound writable"


def test_extra_binds_and_readable_files_are_bound(tmp_path):
    worker, secret = tmp_path / "worker.py", tmp_path / "connection.json"
    worker.write_text("")
    secret.write_text("{}")
    args = Sandbox().bwrap_args(None, [str(secret)], {str(worker): "/sandbox/referee/worker.py"})
    bound = {(source, target) for _, source, target in pairs(args, "--ro-bind")}
    assert (str(worker), "/sandbox/referee/worker.py") in bound, "a bind asked for is missing"
    assert (str(secret), str(secret)) in bound, "the connection file is not visible to the kernel"


def test_parent_folders_are_made_before_a_bind_needs_them():
    args = Sandbox().bwrap_args(None, [], {"/etc/hostname": "/sandbox/referee/deep/x.py"})
    bind = index_of(args, "--ro-bind", "/etc/hostname", "/sandbox/referee/deep/x.py")
    for parent in ["/sandbox", "/sandbox/referee", "/sandbox/referee/deep"]:
        assert index_of(args, "--dir", parent) < bind, f"{parent} is not made before the bind into it"


def test_the_environment_is_cleared_and_namespaces_unshared():
    args = Sandbox().bwrap_args(None, [], {})
    for option in ["--clearenv", "--unshare-pid", "--die-with-parent"]:
        assert option in args, f"{option} is missing"
    assert index_of(args, "--setenv", "HOME", "/tmp") > index_of(args, "--clearenv")


def test_scratch_size_limits_the_writable_folders(course_in_tmp):
    args = Sandbox(scratch_mb=7).bwrap_args(str(course_in_tmp), [], {})
    for folder in ["/tmp", "/dev/shm", str(course_in_tmp)]:
        tmpfs = index_of(args, "--tmpfs", folder)
        assert args[tmpfs - 4:tmpfs - 2] == ["--size", str(7 << 20)], f"{folder} has no size limit of scratch_mb"


def test_wrap_puts_bwrap_then_the_launcher_with_the_limits_then_the_command(tmp_path):
    fake_bwrap = tmp_path / "bwrap"
    fake_bwrap.write_text("#!/bin/sh\n")
    fake_bwrap.chmod(0o755)
    sandbox = Sandbox(bwrap=str(fake_bwrap), memory_mb=123, cpu_seconds=45)
    argv = sandbox.wrap(["python", "-c", "pass"], None)
    assert argv[0] == str(fake_bwrap)
    launcher = len(argv) - 1 - argv[::-1].index(SANDBOX_LAUNCHER)  # after the bind to it
    assert argv[launcher - 1] == sys.executable, "the launcher is not run by this Python"
    limits = argv[launcher:]
    assert limits[limits.index("--memory-mb") + 1] == "123" and limits[limits.index("--cpu-seconds") + 1] == "45"
    assert argv[-4:] == ["--", "python", "-c", "pass"], f"the command does not end the argv: {argv[-4:]}"


def test_wrap_without_bwrap_still_applies_the_limits():
    argv = Sandbox(bwrap="").wrap(["python"], None)
    assert argv[:2] == [sys.executable, str(LAUNCHER)] and "--memory-mb" in argv and argv[-1] == "python"


def test_wrap_when_disabled_runs_the_command_bare():
    assert Sandbox(enabled=False).wrap(["python", "x.py"], "/tmp") == ["python", "x.py"]


def test_stale_kernel_folders_of_gone_graders_are_removed_and_others_kept(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()  # its pid no longer runs: a grading worker that was killed
    alive = tmp_path / f"{KERNEL_FOLDER_PREFIX}{os.getpid()}-abc"
    stale = tmp_path / f"{KERNEL_FOLDER_PREFIX}{ended.pid}-def"
    other = tmp_path / "coursekit-other"
    for folder in (alive / "sockets", stale / "sockets", other):
        folder.mkdir(parents=True)
    remove_stale_kernel_folders(tmp_path)
    assert alive.exists() and other.exists(), "a running grader's or an unrelated folder was removed"
    assert not stale.exists(), "the socket folder of a grader that no longer runs was kept"


def test_the_instructors_folders_are_bound_unless_they_hold_a_notebook(tmp_path):
    instructor, work = tmp_path / "source", tmp_path / "work"
    (instructor / "helperpkg").mkdir(parents=True)
    (instructor / "helperpkg" / "__init__.py").write_text("")
    (instructor / "solutions" / "deep").mkdir(parents=True)
    (instructor / "solutions" / "deep" / "key.ipynb").write_text("{}")
    (instructor / "__pycache__").mkdir()
    work.mkdir()
    binds = {target: source for _, source, target in
             pairs(Sandbox().bwrap_args(str(work), [], {}, instructor=str(instructor)), "--ro-bind")}
    work = os.path.realpath(work)
    assert binds.get(f"{work}/helperpkg") == str(instructor / "helperpkg"), "the helper package is not visible"
    assert f"{work}/solutions" not in binds, "a folder holding a notebook (hidden tests) is visible in the sandbox"
    assert f"{work}/__pycache__" not in binds
