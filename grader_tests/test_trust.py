"""The trust boundary and the network: nothing of a submission's folder runs in the grader, no student code
reaches the network.

The batch below is graded IN THIS PROCESS with nbgrader's own API (``NbGraderAPI.autograde``, as a grading
worker does), one submission after another, while an audit hook records every module the process imports and
every file it compiles or executes as code. Submissions bring modules that shadow what the instructor's cells
import (a ``backprop_checks/`` package, a ``backprop_checks.so``, ``sklearn.py``, ``numpy.py``, a ``.pth``
file, ``sitecustomize.py``); each would write a marker file on the host if it ran outside the sandbox, and
then hands over to the real module, so that a shadow that does run changes no grade and is seen only by the
markers and the hook. Other submissions connect to a TCP listener of this test on 127.0.0.1, resolve host
names, and send the hidden test code they find in their caller's frames and in the kernel's history to it.
"""
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from coursekit.course.config import course_directory
from coursekit.course.notebooks import build_submission, reference_answers
from coursekit.preprocessors.referee import import_from
from coursekit.sandbox import Sandbox, SandboxedKernelManager
from support.course import ASSIGNMENT, new_course, scores
from support.files import Listener, exfiltrating_relu, history_sender, reach_code, write_submission

HAS_BWRAP = Sandbox().isolates_files()
needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap (apt-get install bubblewrap) is not installed")


# ---------------------------------------------------------------- what the grader's process loads

class ImportRecorder:
    """An audit hook (installed once per process) that records, while on, every module imported and every file
    compiled or executed as code, and every module-like file opened by the import system."""

    installed = None

    def __init__(self):
        self.on = False
        self.imported, self.code_files, self.opened = set(), set(), set()

    @classmethod
    def get(cls):
        if cls.installed is None:
            cls.installed = cls()
            sys.addaudithook(cls.installed.hook)
        return cls.installed

    def hook(self, event, args):
        if not self.on:
            return
        if event == "import":
            self.imported.add(args[0])
        elif event == "exec" and hasattr(args[0], "co_filename"):
            self.code_files.add(args[0].co_filename)
        elif event == "compile" and len(args) > 1 and isinstance(args[1], str):
            self.code_files.add(args[1])
        elif event == "ctypes.dlopen" and isinstance(args[0], str):
            self.code_files.add(args[0])
        elif event == "open" and isinstance(args[0], str) and args[0].endswith((".py", ".pyc", ".so", ".pth")) \
                and by_the_import_system():  # nbgrader also opens them, to copy them to autograded/
            self.opened.add(args[0])


def by_the_import_system():
    """Whether the import system (or site, for .pth files) is on the current call stack."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or name.endswith(os.sep + "site.py"):
            return True
        frame = frame.f_back
    return False


def under(path, folders):
    path = os.path.realpath(path)
    return any(path == f or path.startswith(f + os.sep) for f in folders)


def module_files(module):
    files = [getattr(module, "__file__", None)]
    try:
        files += list(getattr(module, "__path__", None) or [])
    except TypeError:
        pass
    return [f for f in files if isinstance(f, str)]


# ---------------------------------------------------------------- the submissions

def marker_code(marker):
    """Python that writes the marker file on the host (it cannot from the sandbox: there the folder is not)."""
    return (f"import os as _os\ntry:\n    _os.makedirs({str(marker.parent)!r}, exist_ok=True)\n"
            f"    open({str(marker)!r}, 'a').write(str(_os.getuid()) + ' ' + __name__ + '\\n')\n"
            f"except OSError:\n    pass\n")


def delegate_code(name):
    """Python that, run as the shadow module name, replaces itself by the real module of that name."""
    return textwrap.dedent(f"""
        import sys as _sys, os as _os
        _here = _os.path.dirname(_os.path.abspath(__file__))
        del _sys.modules[{name!r}]
        _saved = list(_sys.path)
        _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or '.') != _here]
        try:
            import {name} as _real
        finally:
            _sys.path[:] = _saved
        _sys.modules[{name!r}] = _real
    """)


SHADOW_CHECKS_PACKAGE = '''
import importlib.util as _util, os as _os, sys as _sys
_file = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "backprop_checks.py")
_spec = _util.spec_from_file_location("backprop_checks", _file)
_real = _util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
_sys.modules["backprop_checks"] = _real
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
'''

CONSTRUCTOR_C = '''
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void shadow(void) {
    FILE *f = fopen("%s", "a");
    if (f) { fprintf(f, "%%d backprop_checks.so\\n", (int)getuid()); fclose(f); }
}
'''


def shared_object(marker, folder):
    """The bytes of a shared library whose constructor writes marker when it is loaded, or None without gcc."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    source = folder / "shadow.c"
    source.write_text(CONSTRUCTOR_C % marker)
    target = folder / "shadow.so"
    if subprocess.run([gcc, "-shared", "-fPIC", "-o", str(target), str(source)], capture_output=True).returncode:
        return None
    return target.read_bytes()


def resolving_cell(port):
    return reach_code(port) + textwrap.dedent("""
        import socket
        for _name in ['localhost', 'example.com', 'hidden-tests.attacker.example']:
            try:
                print(_name, socket.getaddrinfo(_name, 80)[:1])
            except OSError as _error:
                print(_name, 'not resolved:', _error)
        print('sent', _reach())
    """)


def with_cells(release_nb, reference, cells, **answers):
    """The reference solution (with answers) and extra cells after the setup cell and at the end."""
    nb = build_submission(release_nb, {**reference, **answers})
    index = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"][0]
    for code in reversed(cells.get("after_setup", [])):
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    for code in cells.get("at_end", []):
        nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


SHADOW_MODULES = ["sklearn", "numpy"]


@pytest.fixture(scope="module")
def trust_batch(tmp_path_factory, source_nb, release_nb):
    """Shadow-module, network and control submissions graded in this process: (course, results, recorder,
    listener, markers folder, seconds per submission)."""
    root = tmp_path_factory.mktemp("trust")
    course = new_course(root / "course")
    markers = root / "markers"
    listener = Listener()
    reference = reference_answers(source_nb)
    nb = build_submission(release_nb, reference)
    submissions = {
        "shadow-checks-package": {"backprop_checks/__init__.py": marker_code(markers / "package")
                                  + SHADOW_CHECKS_PACKAGE},
        "shadow-modules-and-startup-files": {
            **{f"{name}.py": marker_code(markers / name) + delegate_code(name) for name in SHADOW_MODULES},
            "coursekit.pth": "import os; os.makedirs(%r, exist_ok=True); open(%r, 'a')\n"
                             % (str(markers), str(markers / "pth")),
            "sitecustomize.py": marker_code(markers / "sitecustomize"),
            "usercustomize.py": marker_code(markers / "usercustomize")},
        "network-connect": {"backprop.ipynb": with_cells(release_nb, reference, {
            "after_setup": [reach_code(listener.port) + "print('sent', _reach())"]})},
        "network-resolve": {"backprop.ipynb": with_cells(release_nb, reference, {
            "after_setup": [resolving_cell(listener.port)]})},
        "network-exfiltrate-tests": {"backprop.ipynb": with_cells(release_nb, reference, {
            "at_end": [history_sender(listener.port)]}, relu=exfiltrating_relu(listener.port))},
        "control-reference": {},
    }
    library = shared_object(markers / "so", root)
    if library is not None:
        submissions["shadow-checks-package"]["backprop_checks.so"] = library
    for student, files in submissions.items():
        write_submission(course / "submitted" / student / ASSIGNMENT, {"backprop.ipynb": nb, **files})

    from nbgrader.apps.api import NbGraderAPI
    config = course_directory(course).config
    config.Execute.timeout = 30
    api = NbGraderAPI(config=config)
    recorder = ImportRecorder.get()
    before = dict(sys.modules)
    results, seconds = {}, {}
    recorder.on = True
    try:
        for student in submissions:
            started = time.monotonic()
            results[student] = api.autograde(ASSIGNMENT, student, force=True, create=True)
            seconds[student] = time.monotonic() - started
    finally:
        recorder.on = False
    time.sleep(1)  # let the listener take what may still be on its way
    listener.close()
    new_modules = {name: module for name, module in sys.modules.items() if name not in before}
    yield course, results, recorder, listener, markers, seconds, new_modules


@pytest.mark.slow
@needs_bwrap
def test_every_submission_is_graded(trust_batch):
    _, results, *_ = trust_batch
    failed = {student: (result.get("error") or result.get("log", ""))[-500:]
              for student, result in results.items() if not result["success"]}
    assert not failed, failed


@pytest.mark.slow
@needs_bwrap
def test_nothing_of_a_submission_runs_in_the_grader(trust_batch):
    course, _, recorder, _, markers, _, new_modules = trust_batch
    folders = [os.path.realpath(course / "submitted"), os.path.realpath(course / "autograded")]
    assert recorder.imported, "the audit hook recorded no import: it did not run"
    helpers = os.path.realpath(course / "source" / ASSIGNMENT / "backprop_checks.py")
    assert helpers in recorder.code_files, "the referee did not import the instructor's backprop_checks.py"
    from_submissions = sorted(f for f in recorder.code_files | recorder.opened if under(f, folders))
    assert not from_submissions, f"the grader compiled, executed or opened as code: {from_submissions}"
    loaded = {name: module_files(module) for name, module in list(sys.modules.items())}
    from_submissions = {name: files for name, files in loaded.items() if any(under(f, folders) for f in files)}
    assert not from_submissions, f"modules loaded from submissions: {from_submissions}"
    imported_from_course = {name: module_files(m) for name, m in new_modules.items()
                            if any(under(f, [os.path.realpath(course)]) for f in module_files(m))}
    assert not imported_from_course, f"modules of the course stayed loaded after grading: {imported_from_course}"
    written = sorted(p.name for p in markers.glob("*")) if markers.exists() else []
    assert not written, f"shadow modules ran on the host: {written}"


@pytest.mark.slow
@needs_bwrap
def test_no_network_reaches_the_listener(trust_batch):
    _, _, _, listener, *_ = trust_batch
    assert (listener.connections, len(listener.received), listener.datagrams) == (0, 0, 0), \
        listener.received[:2000]


@pytest.mark.slow
@needs_bwrap
def test_each_submission_scores_what_its_honest_work_earns(trust_batch, max_points):
    course, *_ = trust_batch
    got = scores(course)
    wrong = {student: cells for student, cells in got.items() if cells != max_points}
    assert not wrong, wrong


@pytest.mark.slow
@needs_bwrap
def test_the_instructors_helpers_win_inside_the_sandbox(trust_batch):
    """The autograded folder holds the student's backprop_checks/ and .so; the kernel saw neither (it would have
    failed to import the .so), and the kernel's notebook imported the instructor's checks."""
    course, *_ = trust_batch
    folder = course / "autograded" / "shadow-checks-package" / ASSIGNMENT
    assert (folder / "backprop_checks").is_dir()
    nb = nbformat.read(folder / "backprop.ipynb", 4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[:1]


# ---------------------------------------------------------------- the pieces, without grading

def test_the_sandbox_has_no_network_and_binds_the_instructors_files(tmp_path):
    instructor, work = tmp_path / "source", tmp_path / "work"
    instructor.mkdir()
    work.mkdir()
    (instructor / "helpers.py").write_text("TRUSTED = True\n")
    (instructor / "data.csv").write_text("1,2\n")
    for name in ["helpers.py", "helpers.pyc", "helpers.cpython-311-x86_64-linux-gnu.so", "mine.py", "data.csv",
                 "answers.ipynb"]:
        (work / name).write_text("student\n")
    (work / "helpers").mkdir()
    args = Sandbox().bwrap_args(str(work), [], {}, writable=[str(tmp_path)], instructor=str(instructor))
    assert "--unshare-net" in args
    binds = {args[i + 2]: args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"}
    work = os.path.realpath(work)
    assert binds[f"{work}/helpers.py"] == os.path.realpath(instructor / "helpers.py")
    assert binds[f"{work}/data.csv"] == os.path.realpath(instructor / "data.csv")
    assert binds[f"{work}/mine.py"] == f"{work}/mine.py"
    assert not [t for t in binds if t.startswith(f"{work}/helpers") and t != f"{work}/helpers.py"]
    assert f"{work}/answers.ipynb" not in binds
    assert ["--bind", os.path.realpath(tmp_path), os.path.realpath(tmp_path)] == \
        args[args.index("--bind"):args.index("--bind") + 3]
    assert "--unshare-net" not in Sandbox(config=Config({"Sandbox": {"network": True}})).bwrap_args(
        str(work), [], {})


@needs_bwrap
def test_code_in_the_sandbox_imports_a_helper_package_of_the_instructor_and_reads_its_data_folder(tmp_path):
    instructor, work = tmp_path / "source", tmp_path / "work"
    (instructor / "helperpkg").mkdir(parents=True)
    (instructor / "helperpkg" / "__init__.py").write_text("ORIGIN = 'instructor'\n")
    (instructor / "data").mkdir()
    (instructor / "data" / "points.csv").write_text("1,2\n")
    (work / "helperpkg").mkdir(parents=True)
    (work / "helperpkg" / "__init__.py").write_text("ORIGIN = 'student'\n")
    code = "import helperpkg; print(helperpkg.ORIGIN, open('data/points.csv').read().strip())"
    command = Sandbox().wrap([sys.executable, "-c", code], str(work), instructor=str(instructor))
    done = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=60)
    assert done.stdout.strip() == "instructor 1,2", done.stderr


def test_the_referee_imports_only_the_instructors_copy_and_forgets_it(tmp_path, monkeypatch):
    instructor, work = tmp_path / "source", tmp_path / "autograded"
    instructor.mkdir()
    work.mkdir()
    (instructor / "trusthelper.py").write_text("STATE = []\n")
    (work / "trusthelper").mkdir()
    (work / "trusthelper" / "__init__.py").write_text("raise SystemExit('the student package ran')\n")
    (work / "trustshadow.py").write_text("raise SystemExit('a student module ran')\n")
    monkeypatch.syspath_prepend(str(work))
    monkeypatch.chdir(work)
    path = list(sys.path)
    for _ in range(2):
        with import_from(str(instructor), avoid=[str(work)]):
            import trusthelper
            assert trusthelper.__file__ == str(instructor / "trusthelper.py")
            assert trusthelper.STATE == []  # a fresh module for every run
            trusthelper.STATE.append("one submission")
            with pytest.raises(ImportError):
                import trustshadow  # noqa: F401
        assert "trusthelper" not in sys.modules
        assert sys.path == path


@needs_bwrap
def test_a_sandboxed_kernel_talks_over_ipc_and_reaches_no_network(tmp_path):
    from nbclient import NotebookClient
    listener = Listener()
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o755)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(reach_code(listener.port) + "print('sent', _reach())")]
    client = NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, timeout=30,
                            resources={"metadata": {"path": str(folder)}})
    with client.setup_kernel():
        assert client.km.transport == "ipc"
        sockets = Path(client.km.ipc_folder)
        assert sockets.is_dir() and any(p.is_socket() for p in sockets.iterdir())
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    time.sleep(0.5)
    listener.close()
    assert nb.cells[0].outputs[0]["text"].strip() == "sent 0"
    assert (listener.connections, listener.datagrams) == (0, 0)
    assert not sockets.exists(), "the kernel's socket folder was not removed"


def test_without_bubblewrap_the_kernel_starts_over_tcp_under_the_limits(tmp_path):
    from nbclient import NotebookClient
    folder = tmp_path / "work"
    folder.mkdir()
    folder.chmod(0o755)
    config = Config()
    config.Sandbox.bwrap = ""
    if os.getuid() == 0:  # the kernel's uid could not run a Python under /root: keep root, keep the limits
        config.Sandbox.uid_base = -(os.getpid() % 4000)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0])")]
    client = NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, timeout=30, config=config,
                            resources={"metadata": {"path": str(folder)}})
    with client.setup_kernel():
        assert client.km.transport == "tcp"
        client.execute_cell(nb.cells[0], 0)
    assert nb.cells[0].outputs[0]["text"].strip() == str(Sandbox().processes)
