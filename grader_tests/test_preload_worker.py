"""The referee's worker forked from the kernels' zygote (sandbox/functions.py, start_worker): the same sandbox,
privileges and environment as a worker started from scratch, none of the zygote's pipes, its end seen at once,
and a start from scratch when a file of the folder would shadow a preloaded module or the zygote fails.

Each test starts real workers in bubblewrap; the zygote needs root (it joins the sandbox's namespaces).
"""
import json
import os
import time

import pytest

from coursekit.sandbox import Sandbox, SandboxedKernelManager, preload
from coursekit.sandbox.functions import StudentCodeError, StudentProcess, proxy
from support.zygotes import BROKEN, replace_zygote

pytestmark = [pytest.mark.slow,  # real sandboxes, and a zygote per test process
              pytest.mark.skipif(not Sandbox().preloaded(), reason="the zygote needs root and bubblewrap")]

FACTS = '''
import ctypes, json, os, resource, sys

def facts(_):
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    links = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            links[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            pass  # the listing's own
    limits = [resource.getrlimit(getattr(resource, name))[0] for name in
              ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE")]
    privileges = {k: status[k].strip() for k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
                                                 "CapAmb", "NoNewPrivs", "Seccomp")}
    return json.dumps({"privileges": privileges, "limits": limits, "cwd": os.getcwd(), "files": sorted(os.listdir(".")),
                       "environment": dict(os.environ), "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                       "tty": int(stat[4]), "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), "links": links,
                       "preloaded": "sklearn.datasets" in sys.modules, "argv": sys.argv})
'''


@pytest.fixture
def folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o755)
    (work / "data.txt").write_text("the student's file")
    (work / "backprop.ipynb").write_text("hidden tests")
    return work


def start(folder, *cells, preloading=True):
    """A worker that ran cells in folder, with the zygote (the default) or with no preloading configured."""
    sandbox = Sandbox() if preloading else Sandbox(preload=[])
    return StudentProcess(list(cells), str(folder), sandbox, timeout=60)


def held(student):
    """Whether the worker joined a held sandbox: it was forked from the zygote."""
    return "--hold" in student.process.args


def call(student, name, *args):
    try:
        return proxy(student, name)(*args)
    finally:
        student.close()


def test_a_worker_starts_from_the_zygote_with_its_modules(folder):
    student = start(folder, FACTS)
    assert held(student)
    assert json.loads(call(student, "facts", 0))["preloaded"]


def test_a_preloaded_worker_has_the_sandbox_privileges_limits_and_files_of_one_started_from_scratch(folder):
    fresh_student = start(folder, FACTS, preloading=False)
    assert not held(fresh_student)
    fresh = json.loads(call(fresh_student, "facts", 0))
    preloaded = json.loads(call(start(folder, FACTS), "facts", 0))
    for facts in (fresh, preloaded):
        del facts["preloaded"], facts["links"]
    assert preloaded == fresh
    sandbox = Sandbox()
    assert preloaded["privileges"]["Uid"].split() == [str(sandbox.kernel_uid())] * 4
    assert (preloaded["privileges"]["NoNewPrivs"], preloaded["privileges"]["CapEff"]) == ("1", "0000000000000000")
    assert preloaded["limits"][:3] == [sandbox.memory_mb << 20, sandbox.processes, sandbox.cpu_seconds]
    assert preloaded["files"] == ["data.txt"], "the notebook (hidden tests) must not be visible"
    assert preloaded["pids"] == ["1", "2"], "only the sandbox's pid 1 and the worker: not the zygote, not the grader"
    assert set(preloaded["environment"]) == {*sandbox.environment(), "MPLBACKEND", "PWD"}, "nothing of the grader's"
    assert {name: preloaded["environment"][name] for name in sandbox.environment()} == sandbox.environment()


def test_a_preloaded_worker_holds_its_protocol_and_none_of_the_zygotes_pipes(folder):
    links = json.loads(call(start(folder, FACTS), "facts", 0))["links"]
    zygote = Sandbox().zygote()  # the one the worker came from
    zygote_pipes = {f"pipe:[{os.fstat(stream.fileno()).st_ino}]"
                    for stream in (zygote.process.stdin, zygote.process.stdout)}
    assert not zygote_pipes & set(links.values()), links
    assert [links[fd] for fd in ("0", "1", "2")] == ["/dev/null"] * 3, "what student code prints stays out"
    others = [link for fd, link in links.items() if fd not in ("0", "1", "2")]
    assert [link.split(":")[0] for link in others].count("pipe") == 2, "the protocol's two pipes, nothing else"
    assert all(link.startswith("pipe:") or link == "/dev/null" for link in others), links


def test_the_sandboxes_pid_1_keeps_no_copy_of_the_workers_pipes(folder):
    """Once the worker has its pipes, only the worker holds them: its end is the end of its output."""
    student = start(folder, FACTS)
    holder = preload.holder_pid(student.process.pid)
    deadline = time.monotonic() + 10
    while held_pipes(holder) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert held(student) and held_pipes(holder) == []
    finally:
        student.close()


def held_pipes(pid):
    """The file descriptors above 2 of the process pid that are pipes."""
    links = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    return sorted(fd for fd, link in links.items() if fd > 2 and link.startswith("pipe:"))


def test_the_grader_sees_a_preloaded_worker_end_at_once(folder):
    student = start(folder, "import os\ndef leave(code):\n    os._exit(code)\n")
    assert held(student)
    started = time.monotonic()
    with pytest.raises(StudentCodeError, match="process ended"):
        call(student, "leave", 3)
    assert time.monotonic() - started < 10


def test_a_file_shadowing_a_preloaded_module_starts_the_worker_from_scratch(folder):
    """cycler is one of matplotlib's: a worker started from scratch imports the folder's cycler.py."""
    (folder / "cycler.py").write_text("WHOSE = 'the student'\n")
    student = start(folder, "import cycler\ndef whose(_):\n    return cycler.WHOSE\n")
    assert not held(student)
    assert call(student, "whose", 0) == "the student"


def test_matplotlib_in_a_preloaded_worker_draws_as_in_one_started_from_scratch(folder):
    cell = ("import matplotlib, matplotlib.pyplot as plt\n"
            "def drawn(_):\n    plt.plot([1, 2])\n"
            "    return [matplotlib.get_backend(), matplotlib.get_configdir(), len(plt.get_fignums())]\n")
    fresh = call(start(folder, cell, preloading=False), "drawn", 0)
    assert call(start(folder, cell), "drawn", 0) == fresh == ["Agg", "/tmp/matplotlib", 1]


def test_when_the_zygote_fails_the_worker_starts_from_scratch(folder, monkeypatch, tmp_path):
    replace_zygote(monkeypatch, tmp_path, BROKEN)
    student = start(folder, FACTS)
    assert SandboxedKernelManager.zygote_failures == 1 and not held(student)
    assert not json.loads(call(student, "facts", 0))["preloaded"]


def test_a_file_named_like_a_standard_module_is_not_imported_in_either_worker(folder):
    """As in a kernel, the folder comes after the standard library: its random.py neither replaces random nor
    breaks the worker (NumPy's import of secrets imports random)."""
    (folder / "random.py").write_text("WHOSE = 'the student'\n")
    cell = "import random\ndef whose(_):\n    return getattr(random, 'WHOSE', 'the standard library')\n"
    fresh, preloaded = start(folder, cell, preloading=False), start(folder, cell)
    assert held(preloaded) and not held(fresh)
    assert call(fresh, "whose", 0) == call(preloaded, "whose", 0) == "the standard library"


def test_waiting_for_the_zygote_is_not_the_submissions_time(folder, monkeypatch, tmp_path):
    real = preload.ZYGOTE
    replace_zygote(monkeypatch, tmp_path, f"import runpy, sys, time\nsys.path.insert(0, {str(real.parent)!r})\n"
                                          f"time.sleep(3)\nrunpy.run_path({str(real)!r}, run_name='__main__')\n")
    try:
        student = StudentProcess(["def twice(x):\n    return 2 * x\n"], str(folder), Sandbox(), timeout=2)
        assert held(student)
        assert call(student, "twice", 21) == 42
    finally:
        preload.close_zygotes()  # the slow one, and its folder
