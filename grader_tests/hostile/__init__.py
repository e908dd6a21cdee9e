"""A catalogue of hostile and broken submissions, each with the most it may score.

Every entry starts from the reference solution (or the untouched release), then tampers with the notebook,
tries to fool the tests, crashes or starves the grader, or reaches for secrets. ``earns`` names the test
cells its honest work earns; every other test cell must score 0, and no cell may score above its points.
``reason`` is a word the instructor's one-line reason must contain (crashed, timed out, tampered, ...).

``SECRET_ENV`` is set in the grader's environment by the test: no submission may see it.
"""
import copy
from dataclasses import dataclass, field

import nbformat

from coursekit.course.notebooks import build_submission, cells_by_id
from support.answers import BACKWARD_WITHOUT_RELU_MASK as BACKWARD_NO_MASK
from support.cells import TEST_CELLS

SECRET_ENV = ("COURSEKIT_INSTRUCTOR_SECRET", "instructor-secret-5f1c0a")
ANOTHER_STUDENT_MARK = "another-students-private-mark-93be"

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


def entry(name, what, build, earns=TEST_CELLS, reason=None):
    return Hostile(name, what, build, frozenset(earns), reason)


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
    entry("rename-grade-id", "renames test_relu's grade_id and empties it, with a leaky relu",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "pass", grade_id="test_relu_mine"),
                                relu=LEAKY_RELU), BUT_RELU, reason="could not be graded"),
    entry("unlock-test-cell", "removes the locked flag of test_relu and empties it, with a leaky relu",
          lambda r, ref: edited(r, ref, _replace_source("test_relu", "pass", locked=False), relu=LEAKY_RELU),
          BUT_RELU),
    entry("strip-test-metadata", "removes test_relu's nbgrader metadata and empties it, with a leaky relu",
          lambda r, ref: edited(r, ref, _strip_metadata("test_relu", "pass"), relu=LEAKY_RELU), BUT_RELU),
    entry("redefine-helpers", "adds a cell that replaces the visible checks by no-ops, with a leaky relu",
          lambda r, ref: with_cell(r, ref, PATCH_CHECKS, relu=LEAKY_RELU), BUT_RELU),
    entry("renamed-notebook", "submits the notebook as my_backprop.ipynb",
          lambda r, ref: {"my_backprop.ipynb": build_submission(r, ref)}, (), reason="backprop.ipynb"),
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
    entry("infinite-loop", "relu loops forever", lambda r, ref: notebook(r, ref, relu=LOOP_IN_RELU), BUT_RELU),
    entry("stubborn-loop", "sgd_update loops forever and swallows the interrupt",
          lambda r, ref: notebook(r, ref, sgd_update=STUBBORN_LOOP), BEFORE_SGD, reason="kernel"),
    entry("sleep", "relu sleeps past every time limit", lambda r, ref: notebook(r, ref, relu=SLEEP_IN_RELU),
          BUT_RELU),
    entry("memory-bomb", "relu allocates memory until it runs out",
          lambda r, ref: notebook(r, ref, relu=MEMORY_BOMB), BUT_RELU),
    entry("fork-bomb", "sgd_update forks until it cannot", lambda r, ref: notebook(r, ref, sgd_update=FORK_BOMB),
          BEFORE_SGD),
    entry("output-flood", "relu prints 3 GB before returning the right values",
          lambda r, ref: notebook(r, ref, relu=OUTPUT_FLOOD), BUT_RELU),
    entry("disk-bomb", "a cell writes a 4 GB file, then the reference solution runs",
          lambda r, ref: with_cell(r, ref, DISK_BOMB)),
    # reaching for secrets
    entry("read-secrets", "a cell reads every notebook, gradebook and environment it can find and prints them",
          lambda r, ref: with_cell(r, ref, READ_SECRETS)),
    entry("read-hidden-tests", "relu records the source of the tests that call it; a last cell prints them and "
          "the kernel's input history, and raises them as an error",
          lambda r, ref: with_cell(r, ref, PRINT_HIDDEN_TESTS_LATER, after="try_learning_rate",
                                   relu=READ_HIDDEN_TESTS_AT_RUNTIME)),
]


def control_submissions(release_nb, reference):
    """Honest submissions graded in the same batch: their grades must not change."""
    mark = f"print({ANOTHER_STUDENT_MARK!r})"
    return {
        "control-reference": with_cell(release_nb, reference, mark),
        "control-no-relu-mask": notebook(release_nb, reference, backward=BACKWARD_NO_MASK),
    }


def write_submission(folder, files):
    """Write a submission's files (notebooks, text, bytes) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
