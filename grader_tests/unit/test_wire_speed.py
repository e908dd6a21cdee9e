"""The referee's fast path (wire.py's Reader and write_frame, referee_worker.py's call with argument kinds and
its lazy input transformer, functions.py's mirror_kind): faster, and the grader sees exactly what it saw before.

The worker's replies are compared with the full replies of the old protocol (every argument sent back, no
kinds): after proxy's mirroring, the grader's arguments and the returned values must be the same.
"""
import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from coursekit.sandbox import functions
from coursekit.sandbox.functions import mirror_kind, proxy
from coursekit.sandbox.untrusted import wire

sys.path.insert(0, str(Path(functions.__file__).parent / "untrusted"))
import referee_worker  # noqa: E402 (the worker imports wire as a top-level module, as in the sandbox)

GUARD = referee_worker.Guard([])


class WorkerStudent:
    """Stands for StudentProcess: the worker's call() on copies that crossed the wire, with or without kinds."""

    def __init__(self, kinds, **functions_):
        self.kinds, self.namespace = kinds, functions_

    def call(self, name, args):
        structure, buffers = wire.encode(list(args))
        header, received = wire.read_frame(wire.Reader(*reading(wire.frame({"args": structure}, buffers))).read_exactly)
        worker_args = referee_worker.wire.decode(header["args"], received)
        kinds = [mirror_kind(a) for a in args] if self.kinds else None
        reply, out = referee_worker.call(self.namespace, name, worker_args, GUARD, kinds)
        header, received = wire.read_frame(wire.Reader(*reading(referee_worker.wire.frame(reply, out))).read_exactly)
        return header, wire.decode(header.get("value"), received)


def reading(data):
    """(fd,) of a pipe that holds data (written by a thread, so that it may exceed the pipe's size)."""
    r, w = os.pipe()

    def write():
        wire_fd = os.fdopen(w, "wb")
        wire_fd.write(data)
        wire_fd.close()
    threading.Thread(target=write, daemon=True).start()
    return (r,)


def relu(z):
    return np.maximum(0, z)


def relu_in_place(z):
    z[z < 0] = 0
    return z


def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] -= learning_rate * grads[name]
    return params


def grads_changing_sgd(params, grads, learning_rate):
    for name in params:
        grads[name] *= learning_rate
        params[name] -= grads[name]
    return params


def adds_a_key(params, scale):
    params["extra"] = np.ones(2)
    return scale


def zero_d_in_dict(values):
    return float(values["x"].sum())


def list_changer(items, array):
    items.append(1)
    array += 1
    return items


CASES = {
    "relu": (relu, lambda: [np.array([[-1.0, 2.0], [3.0, -4.0]])]),
    "relu in place": (relu_in_place, lambda: [np.array([-1.0, 2.0, -3.0])]),
    "sgd_update": (sgd_update, lambda: [{"W": np.ones((2, 3)), "b": np.zeros(3)},
                                        {"W": np.full((2, 3), 0.5), "b": np.ones(3)}, 0.1]),
    "sgd changes grads": (grads_changing_sgd, lambda: [{"W": np.ones((2, 3))}, {"W": np.full((2, 3), 0.5)}, 0.1]),
    "adds a key": (adds_a_key, lambda: [{"W": np.ones(2)}, 3]),
    "0-d array in a dict": (zero_d_in_dict, lambda: [{"x": np.array(2.0)}]),
    "list and array": (list_changer, lambda: [[0], np.zeros(3)]),
    "object array": (lambda a: 1, lambda: [np.array([object()], dtype=object)]),
}


def snapshot(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes() if value.dtype.kind != "O" else value.size)
    if isinstance(value, dict):
        return ("dict", [(k, snapshot(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [snapshot(v) for v in value])
    return ("other", repr(value) if not hasattr(value, "description") else value.description)


@pytest.mark.parametrize("name", CASES)
def test_the_grader_sees_what_the_full_protocol_showed(name):
    function, make_args = CASES[name]
    outcomes = []
    for kinds in (False, True):
        args = make_args()
        result = proxy(WorkerStudent(kinds, f=function), "f")(*args)
        outcomes.append((snapshot(result), [snapshot(a) for a in args],
                         [i for i, a in enumerate(args) if a is result]))
    assert outcomes[0] == outcomes[1], f"{name}: with kinds the grader saw {outcomes[1]}, without {outcomes[0]}"


def test_an_unchanged_argument_is_not_sent_back():
    reply, buffers = referee_worker.call({"f": lambda a, d: 0}, "f",
                                         [np.ones(1000), {"W": np.ones(100)}], GUARD, [1, 1])
    assert sum(memoryview(b).nbytes for b in buffers) == 0, "unchanged arguments crossed the wire again"
    assert reply["value"]["__dict__"]["args"]["__list__"] == [{"__unchanged__": True}] * 2


def test_a_result_that_is_an_argument_is_not_sent_twice():
    reply, buffers = referee_worker.call({"f": relu_in_place}, "f", [np.array([-1.0, 1.0])], GUARD, [1])
    assert reply["result_aliases_arg"] == [0]
    assert sum(memoryview(b).nbytes for b in buffers) == 16, "the result was sent besides the changed argument"


@pytest.mark.parametrize("value, kind", [
    (np.ones(3), 1), (np.array(1.0), 1), ({"W": np.ones(2)}, 1), ({"x": np.array(1.0)}, 1),
    ({"W": np.ones(2), "n": 3}, 2), ({}, 1), ([np.ones(2)], 0), (3.0, 0), ("s", 0),
    (np.array([None]), 0), ({1: np.ones(2)}, 0), (np.ma.masked_array([1.0]), 2),
])
def test_mirror_kind(value, kind):
    assert mirror_kind(value) == kind


def test_mirror_ignores_an_unchanged_argument():
    original = {"W": np.ones(2)}
    before = copy.deepcopy(original)
    functions.mirror(original, wire.UNCHANGED)
    assert original.keys() == before.keys() and np.array_equal(original["W"], before["W"])


def test_frames_larger_than_the_pipe_cross_in_order():
    big = np.arange(3 << 18, dtype=np.float64)  # 6 MiB, beyond the pipe and the reader's first buffer
    structure, buffers = wire.encode([big, 1.5])
    r, w = os.pipe()

    def write():
        for i in range(3):
            wire.write_frame(w, {"i": i, "v": structure}, buffers)
        os.close(w)
    threading.Thread(target=write, daemon=True).start()
    reader = wire.Reader(r, size=1024)
    for i in range(3):
        header, received = reader.read_frame()
        assert header["i"] == i
        got = wire.decode(header["v"], received)
        assert np.array_equal(got[0], big) and got[1] == 1.5
    with pytest.raises(wire.FrameError, match="ended"):
        reader.read_frame()
    os.close(r)


@pytest.mark.parametrize("code, needs", [
    ("x = 1\ndef f():\n    return x % 2 != 0\n", False),
    ("%matplotlib inline\nx = 1", True),
    ("!ls", True),
    ("files = !ls", True),
    ("x?", True),
    ("  x = 1", True),
    ("\nx = 1", True),
    ('s = """\n... not a prompt\n"""', True),
    (">>> x = 1", True),
    ("In [1]: x = 1", True),
    ("def f(:", True),
])
def test_the_input_transformer_is_used_for_every_cell_it_could_change(code, needs):
    assert referee_worker.needs_transform(code) == needs
    transformer = pytest.importorskip("IPython.core.inputtransformer2").TransformerManager()
    if not needs:
        assert transformer.transform_cell(code).rstrip("\n") == code.rstrip("\n")


def test_the_guard_keeps_a_submodule_imported_after_its_snapshot():
    """matplotlib imports numpy.ma: without np.ma, NumPy's lazy __getattr__ imported it again until RecursionError.
    In a process of its own, whose NumPy has not imported numpy.ma yet, as the worker's."""
    code = ("import sys, numpy as np\nsys.path.insert(0, sys.argv[1])\nimport referee_worker\n"
            "assert 'numpy.ma' not in sys.modules\nguard = referee_worker.Guard([np])\n"
            "import numpy.ma\nnp.patched = True\nguard.restore()\n"
            "print(np.ma.masked_less(np.arange(3), 1).count(), hasattr(np, 'patched'))")
    folder = str(Path(functions.__file__).parent / "untrusted")
    done = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr


def test_the_guard_removes_a_forged_submodule_that_the_import_system_does_not_know():
    guard = referee_worker.Guard([np])
    np.fake = type(np)("numpy.fake")
    guard.restore()
    assert not hasattr(np, "fake")
