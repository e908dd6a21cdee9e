"""Kernels forked from the zygote (coursekit/sandbox/preload.py): the same sandbox as a kernel started from
scratch, nothing of the zygote, a fresh start of their own, and a fallback when the zygote fails.

Each test starts real kernels in bubblewrap; the zygote needs root (it joins the sandbox's namespaces).
"""
import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from coursekit.sandbox import ZYGOTE_ATTEMPTS, Sandbox, SandboxedKernelManager, offer_zygote, preload
from support.files import Listener, reach_code
from support.course import REPO
from support.zygotes import BROKEN, replace_zygote

pytestmark = [pytest.mark.slow,  # real kernels
              pytest.mark.skipif(not Sandbox().preloaded(), reason="the zygote needs root and bubblewrap")]


@pytest.fixture
def folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o755)
    return work


def run(folder, *sources, config=None):
    """Run the cells in a sandboxed kernel in folder; return (the kernel manager, each cell's outputs)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, timeout=60, config=config or Config(),
                            resources={"metadata": {"path": str(folder)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        km = client.km
    return km, [cell.outputs for cell in nb.cells]


def printed(outputs):
    """What a cell printed on stdout; fails with the cell's error or stderr if it wrote one."""
    assert all(out.get("name") != "stderr" and out["output_type"] != "error" for out in outputs), outputs
    return "".join(out.get("text", "") for out in outputs if out.get("name") == "stdout").strip()


def facts(folder, code):
    """json.loads of what code (which prints one JSON value) printed in a fresh kernel."""
    km, outputs = run(folder, code)
    assert km.held_command is not None, "the kernel did not start from the zygote"
    return json.loads(printed(outputs[0]))


def test_a_kernel_starts_with_the_preloaded_modules(folder):
    assert facts(folder, "import sys, json; print(json.dumps(['sklearn.datasets' in sys.modules]))") == [True]


def test_a_preloaded_kernel_has_the_sandboxes_uid_limits_and_working_folder(folder):
    code = ("import json, os, resource; print(json.dumps([os.getuid(), os.getcwd(), "
            "resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_NPROC)[0], "
            "resource.getrlimit(resource.RLIMIT_CPU)[0], dict(os.environ)]))")
    uid, cwd, memory, processes, cpu, environment = facts(folder, code)
    sandbox = Sandbox()
    assert (uid, cwd) == (sandbox.kernel_uid(), str(folder.resolve()))
    assert (memory, processes, cpu) == (sandbox.memory_mb << 20, sandbox.processes, sandbox.cpu_seconds)
    assert {name: environment.get(name) for name in sandbox.environment()} == sandbox.environment()
    assert not {"JPY_PARENT_PID", "NBGRADER_EXECUTION", "COURSEKIT_PIN"} & set(environment), environment


PRIVILEGES = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
STATUS_CODE = ("import ctypes, json, os\n"
               "status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())\n"
               "tty = int(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[4])\n"
               "dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE
               "print(json.dumps({**{k: status[k].strip() for k in %r}, 'tty': tty, 'dumpable': dumpable, "
               "'session': os.getsid(0), 'group': os.getpgid(0)}))" % (PRIVILEGES,))


def test_a_preloaded_kernel_has_the_privileges_of_a_kernel_started_from_scratch(folder):
    fresh = Config()
    fresh.Sandbox.preload = []
    km, outputs = run(folder, STATUS_CODE, config=fresh)
    assert km.held_command is None
    from_scratch = json.loads(printed(outputs[0]))
    preloaded = facts(folder, STATUS_CODE)
    assert preloaded == from_scratch
    assert (preloaded["NoNewPrivs"], preloaded["CapEff"], preloaded["tty"]) == ("1", "0000000000000000", 0)
    # ipykernel signals its process group on an interrupt only when it leads one: it leads none either way
    assert (preloaded["session"], preloaded["group"], preloaded["dumpable"]) == (0, 0, 1)


def test_a_preloaded_kernel_sees_only_its_sandbox(folder):
    (folder / "data.txt").write_text("the student's file")
    (folder / "backprop.ipynb").write_text("hidden tests")
    code = ("import json, os; print(json.dumps([sorted(os.listdir('.')), "
            "sorted(p for p in os.listdir('/proc') if p.isdigit()), os.path.exists(%r)]))" % __file__)
    files, pids, sees_tests = facts(folder, code)
    assert files == ["data.txt"], "the notebook (hidden tests) must not be visible"
    assert pids == ["1", "2"], "only the sandbox's pid 1 and the kernel: not the zygote, not the grader"
    assert not sees_tests


def test_a_preloaded_kernel_reaches_no_network(folder):
    listener = Listener()
    km, outputs = run(folder, reach_code(listener.port) + "print(_reach())")
    time.sleep(0.5)
    listener.close()
    assert km.held_command is not None and printed(outputs[0]) == "0"
    assert (listener.connections, listener.datagrams) == (0, 0)


def test_a_preloaded_kernel_holds_none_of_the_zygotes_pipes(folder):
    code = ("import json, os\nlinks = {}\nfor fd in os.listdir('/proc/self/fd'):\n"
            "    try:\n        links[fd] = os.readlink('/proc/self/fd/' + fd)\n"
            "    except OSError:\n        pass  # the listing's own\nprint(json.dumps(links))")
    links = facts(folder, code)
    zygote = Sandbox().zygote()  # the one the kernel came from
    pipes = {f"pipe:[{os.fstat(stream.fileno()).st_ino}]" for stream in (zygote.process.stdin, zygote.process.stdout)}
    assert links["0"] == "/dev/null"
    assert not pipes & set(links.values()), links


def test_each_preloaded_kernel_draws_its_own_random_numbers(folder):
    code = "import json, random, numpy as np; print(json.dumps([random.random(), np.random.rand()]))"
    first, second = facts(folder, code), facts(folder, code)
    assert first[0] != second[0] and first[1] != second[1]


def test_a_students_own_launch_module_imports_in_a_preloaded_kernel(folder):
    (folder / "launch.py").write_text("WHOSE = 'the student'\n")
    assert facts(folder, "import json, launch; print(json.dumps(launch.WHOSE))") == "the student"


def test_a_students_module_named_like_a_preloaded_one_is_theirs(folder):
    """cycler is one of matplotlib's: in a kernel started from scratch the folder's cycler.py comes first."""
    (folder / "cycler.py").write_text("WHOSE = 'the student'\n")
    km, outputs = run(folder, "import sys, cycler; print(cycler.WHOSE, 'sklearn.datasets' in sys.modules)")
    assert printed(outputs[0]) == "the student False", "the kernel should have started from scratch"


def test_a_matplotlibrc_in_the_folder_is_read(folder):
    (folder / "matplotlibrc").write_text("figure.figsize: 3, 2\n")
    km, outputs = run(folder, "import matplotlib; print(matplotlib.rcParams['figure.figsize'])")
    assert printed(outputs[0]) == "[3.0, 2.0]"


def test_a_standard_library_name_keeps_the_kernel_preloaded(folder):
    """IPython puts the folder after the standard library: its fractions.py is not imported either way."""
    (folder / "fractions.py").write_text("WHOSE = 'the student'\n")
    assert facts(folder, "import fractions, json; print(json.dumps(hasattr(fractions, 'WHOSE')))") is False


def test_a_data_file_named_like_a_preloaded_module_keeps_the_kernel_preloaded(folder):
    (folder / "numpy.csv").write_text("1,2\n")
    assert facts(folder, "import json, sys; print(json.dumps('sklearn.datasets' in sys.modules))") is True


def test_matplotlib_in_a_preloaded_kernel_uses_the_sandboxes_folder_and_shows_figures_inline(folder):
    km, outputs = run(folder, "import matplotlib, matplotlib.pyplot as plt\n"
                              "print(matplotlib.get_configdir(), matplotlib.get_cachedir())\n"
                              "plt.plot([1, 2]); plt.show()")
    assert km.held_command is not None
    assert printed(outputs[0]) == "/tmp/matplotlib /tmp/matplotlib"
    assert any("image/png" in out.get("data", {}) for out in outputs[0]), outputs[0]


def test_a_preloaded_kernel_that_exits_is_seen_dead(folder):
    started = time.monotonic()
    with pytest.raises(DeadKernelError):
        run(folder, "import os; os._exit(3)", "print('never')")
    assert time.monotonic() - started < 30


@pytest.fixture
def zygote():
    sandbox = Sandbox()
    return preload.zygote(sandbox.preload, sandbox.environment())


def test_the_zygote_starts_no_kernel_in_a_process_that_is_not_a_held_sandbox(zygote):
    with pytest.raises(preload.ZygoteError, match="not the held sandbox"):
        zygote.join(os.getpid(), "token")


def test_the_zygote_starts_no_kernel_in_the_held_sandbox_of_another_kernel(zygote, folder):
    argv = Sandbox().wrap([sys.executable, "-c", "pass", "--", "connection-of-b.json"], str(folder), hold=True)
    held = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert held.stdout.readline() == b"ready\n"
        with pytest.raises(preload.ZygoteError, match="not the held sandbox of this kernel"):
            zygote.join(preload.holder_pid(held.pid), "connection-of-a.json")
    finally:
        held.kill()
        held.wait()


def test_the_zygote_starts_no_kernel_outside_a_sandbox_whatever_the_command_line(zygote):
    impostor = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "--hold", "token"],
                                stdin=subprocess.PIPE)
    try:
        with pytest.raises(preload.ZygoteError, match="not in a sandbox"):
            zygote.join(impostor.pid, "token")
    finally:
        impostor.kill()
        impostor.wait()


def test_when_the_zygote_fails_kernels_start_from_scratch(folder, monkeypatch, tmp_path):
    replace_zygote(monkeypatch, tmp_path, BROKEN)
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)", "print('and on')")
    assert SandboxedKernelManager.zygote_failures == 1
    assert [printed(out) for out in outputs] == ["False", "and on"]


def test_after_repeated_failures_of_the_zygote_kernels_no_longer_ask_it(folder, monkeypatch):
    monkeypatch.setattr(SandboxedKernelManager, "zygote_failures", ZYGOTE_ATTEMPTS)
    km, outputs = run(folder, "print('ran')")
    assert km.held_command is None and printed(outputs[0]) == "ran"


def test_with_no_preload_configured_kernels_start_from_scratch(folder):
    config = Config()
    config.Sandbox.preload = []
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)", config=config)
    assert km.held_command is None and printed(outputs[0]) == "False"


@pytest.fixture
def shared(monkeypatch):
    """This test process as a grading process offered the zygote of the process that started it (offer_zygote):
    the zygote is started here, and then left out of this process's own, as another process's would be."""
    offered = offer_zygote()
    owner = preload._zygotes.pop((os.getpid(), offered[1]))
    monkeypatch.setattr(preload, "_shared", None)
    preload.share(offered)
    yield offered
    preload.close_zygotes()  # the connection, and the zygotes of this process's own the test started
    owner.close()


def test_a_grading_process_offered_the_zygote_starts_its_kernels_from_it(folder, shared):
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)")
    assert km.held_command is not None and printed(outputs[0]) == "True"
    connection = preload._zygotes.get((os.getpid(), "shared"))
    assert isinstance(connection, preload.SharedZygote) and connection.alive(), "not asked through the socket"


def test_the_kernels_of_a_shared_zygote_run_on_the_cores_of_their_grading_process(folder, shared):
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # a pinned grading process; its sandbox's pid 1 inherits the core
    try:
        km, outputs = run(folder, "import os, sys; print(sorted(os.sched_getaffinity(0)), 'sklearn' in sys.modules)")
    finally:
        os.sched_setaffinity(0, cores)
    assert printed(outputs[0]) == f"{[min(cores)]} True"


def test_a_shared_zygote_answers_no_process_of_another_uid(shared):
    address, _ = shared
    os.chmod(os.path.dirname(address), 0o755)  # let the other uid reach the socket, which the zygote refuses
    os.chmod(address, 0o666)
    code = ("import os, socket, sys\nos.setgid(65101); os.setuid(65101)\n"
            "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(60)\n"
            "print(repr(s.recv(100)))")
    try:
        done = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=90)
    finally:
        os.chmod(os.path.dirname(address), 0o700)
        os.chmod(address, 0o600)
    assert done.stdout.strip() == "b''", done.stderr


def test_a_grading_process_whose_shared_zygote_is_gone_starts_its_own(folder, shared, monkeypatch, tmp_path):
    monkeypatch.setattr(SandboxedKernelManager, "zygote_failures", 0)
    preload.share((str(tmp_path / "gone"), shared[1]))
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)")
    assert km.held_command is not None and printed(outputs[0]) == "True"
    assert preload._shared is None and (os.getpid(), shared[1]) in preload._zygotes


def test_a_failed_kernel_start_keeps_the_grading_process_on_the_shared_zygote(folder, shared, monkeypatch):
    """Trouble with one sandbox closes the connection; the next kernel connects to the same zygote again."""
    monkeypatch.setattr(SandboxedKernelManager, "zygote_failures", 0)
    from coursekit.sandbox import zygote_trouble
    run(folder, "pass")
    zygote_trouble(SandboxedKernelManager().log, RuntimeError("the kernel's sandbox did not start"))
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)")
    assert km.held_command is not None and printed(outputs[0]) == "True"
    assert preload._shared == shared and preload._zygotes[(os.getpid(), "shared")].alive()


def test_a_preloaded_kernel_computes_with_one_blas_thread_as_one_started_from_scratch(folder, shared):
    """The shared zygote imports NumPy on every core; its kernels still size BLAS as a kernel on one core."""
    code = "import numpy, threadpoolctl; print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info()}))"
    fresh = Config()
    fresh.Sandbox.preload = []
    km, outputs = run(folder, code, config=fresh)
    assert km.held_command is None
    assert json.loads(printed(outputs[0])) == facts(folder, code) == [1]


def test_a_peer_that_reads_no_replies_holds_up_no_other(shared):
    address, _ = shared
    greedy = socket.socket(socket.AF_UNIX)
    greedy.connect(address)
    greedy.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        for _ in range(2000):
            greedy.send(b"x\n" * 1000)  # requests whose replies it never reads
    other = preload.SharedZygote(address)
    try:
        other.loaded(30)
        with pytest.raises(preload.ZygoteError, match="not the held sandbox"):
            other.join(os.getpid(), "token", timeout=30)
    finally:
        other.close()
        greedy.close()


def test_threads_asking_for_a_zygote_at_once_share_one():
    import threading
    found, environment = [], {"PATH": "/usr/bin:/bin"}
    threads = [threading.Thread(target=lambda: found.append(preload.zygote(["json"], environment))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len({id(z) for z in found}) == 1
    finally:
        found[0].close()


def test_a_shared_zygote_that_ended_is_seen_gone_before_the_next_kernel(folder, shared, monkeypatch):
    monkeypatch.setattr(SandboxedKernelManager, "zygote_failures", 0)
    run(folder, "pass")
    connection = preload._zygotes[(os.getpid(), "shared")]
    os.kill(owner_pid(shared), 9)
    deadline = time.monotonic() + 10
    while connection.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.alive()
    km, outputs = run(folder, "import sys; print('sklearn.datasets' in sys.modules)")
    assert km.held_command is not None and printed(outputs[0]) == "True"
    assert SandboxedKernelManager.zygote_failures == 0 and preload._shared is None


def owner_pid(offered):
    """The pid of the zygote listening at the offer's address."""
    address = offered[0]
    inode = next(line.split()[6] for line in open("/proc/net/unix").read().splitlines()[1:]
                 if line.split()[-1] == address)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]" for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
    raise AssertionError("no process listens at the offer's address")


def test_the_grade_commands_first_offer_has_the_settings_its_workers_ask_for():
    """The grade command offers its zygote before it reads the course's settings or imports matplotlib; its
    workers ask with the course's settings, after the fork server imported matplotlib: the same key, or each
    worker would start a zygote of its own."""
    code = ("import json\nfrom coursekit.sandbox import Sandbox, font_cache_files, preload\n"
            "s = Sandbox()\nprint(json.dumps(preload.zygote_key(s.preload, s.environment(), font_cache_files())))")
    before = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    import matplotlib.pyplot  # noqa: F401 - as in the fork server
    from coursekit.course.config import course_directory
    from coursekit.sandbox import font_cache_files
    sandbox = Sandbox(config=course_directory(REPO).config)
    worker = preload.zygote_key(sandbox.preload, sandbox.environment(), font_cache_files())
    assert json.loads(before.stdout) == json.loads(json.dumps(worker)), before.stderr


def test_a_provisional_offer_of_other_settings_is_ended_by_the_courses(monkeypatch):
    monkeypatch.setattr(preload, "_provisional", None)
    environment = {"PATH": "/usr/bin:/bin"}
    first = preload.offer(["json"], environment, provisional=True)
    provisional = preload._zygotes[(os.getpid(), first[1])]
    second = preload.offer(["csv"], environment)
    try:
        assert not provisional.alive() and (os.getpid(), first[1]) not in preload._zygotes
        assert preload._zygotes[(os.getpid(), second[1])].alive()
    finally:
        preload._zygotes.pop((os.getpid(), second[1])).close()
