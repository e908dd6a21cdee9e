"""coursekit/sandbox/functions.py: the referee calls a submission's function in another process, and the
grader's arguments end up as the function left its own copies (mirror), with the notebook's semantics (proxy).

The student process is faked here: it runs the function in this process on copies that crossed the real wire
format, and answers as referee_worker.py does (the reply header, the result and the arguments afterwards).
"""
import io

import numpy as np
import pytest

from coursekit.sandbox.functions import StudentCodeError, mirror, proxy
from coursekit.sandbox.untrusted import wire


def through_the_wire(value):
    structure, buffers = wire.encode(value)
    header, received = wire.read_frame(io.BytesIO(wire.frame({"value": structure}, buffers)).read)
    return wire.decode(header["value"], received)


class FakeStudent:
    """Stands for StudentProcess: call(name, args) -> (reply header, decoded {"result", "args"})."""

    def __init__(self, **functions):
        self.functions = functions
        self.calls = []
        self.raised = []

    def call(self, name, args):
        self.calls.append(name)
        args = through_the_wire(list(args))  # the worker's own copies
        try:
            result, reply = self.functions[name](*args), {"ok": True}
        except Exception as error:
            result, reply = None, {"ok": False, "error": f"{type(error).__name__}: {error}"}
        aliases = [i for i, arg in enumerate(args)
                   if isinstance(arg, np.ndarray) and isinstance(result, np.ndarray) and np.shares_memory(arg, result)]
        return {**reply, "result_aliases_arg": aliases}, through_the_wire({"result": result, "args": args})


def test_mirror_copies_a_changed_array_into_the_original_in_place():
    original = np.zeros(3)
    mirror(original, np.array([1.0, 2.0, 3.0]))
    assert np.array_equal(original, [1, 2, 3]), f"the grader's array is {original}, the function left [1, 2, 3]"


def test_mirror_leaves_an_array_whose_copy_changed_shape():
    original = np.zeros(3)
    mirror(original, np.ones(4))
    assert np.array_equal(original, np.zeros(3)), "an array of another shape was forced into the original"


def test_mirror_gives_a_dict_the_workers_keys_and_values():
    original = {"W": np.zeros(2), "gone": 1, "same": "x"}
    mirror(original, {"W": np.ones(2), "new": 5, "same": "x"})
    assert set(original) == {"W", "new", "same"}, f"keys are {sorted(original)}"
    assert original["new"] == 5 and np.array_equal(original["W"], np.ones(2))


def test_mirror_updates_the_arrays_of_a_dict_in_place():
    weights = np.zeros((2, 2))
    original = {"W": weights}
    mirror(original, {"W": np.full((2, 2), 7.0)})
    assert original["W"] is weights, "the dict's array was replaced, so other references to it did not change"
    assert np.array_equal(weights, np.full((2, 2), 7.0))


def test_mirror_replaces_a_dict_entry_whose_dtype_changed():
    original = {"W": np.zeros(2)}
    mirror(original, {"W": np.array([1, 2], dtype=np.int64)})
    assert original["W"].dtype == np.int64, "a dict entry of another dtype was cast into the old array"


def test_proxy_returns_the_functions_result():
    relu = proxy(FakeStudent(relu=lambda z: np.maximum(z, 0)), "relu")
    got = relu(np.array([-1.0, 2.0]))
    assert np.array_equal(got, [0.0, 2.0]), f"relu returned {got}"
    assert relu.__name__ == "relu"


def test_proxy_mirrors_an_in_place_change_of_an_argument():
    def relu_in_place(z):
        z[z < 0] = 0
        return z.copy()
    z = np.array([-1.0, 2.0])
    proxy(FakeStudent(relu=relu_in_place), "relu")(z)
    assert np.array_equal(z, [0.0, 2.0]), "the function changed its argument, the grader's copy did not change"


def test_proxy_returns_the_argument_itself_when_the_function_returns_its_input():
    def sgd_update(params, step):
        params += step
        return params
    params = np.zeros(2)
    result = proxy(FakeStudent(sgd_update=sgd_update), "sgd_update")(params, 1.0)
    assert result is params, "a function that returns its input must give the grader's own array back"
    assert np.array_equal(params, [1.0, 1.0])


def test_proxy_mirrors_changes_to_a_dict_argument():
    def update(params):
        params["W"] -= 1
        params["extra"] = 1
    params = {"W": np.ones(2)}
    proxy(FakeStudent(update=update), "update")(params)
    assert np.array_equal(params["W"], [0.0, 0.0]) and params["extra"] == 1, f"params are {params}"


def test_proxy_raises_student_code_error_with_the_functions_error():
    def broken(z):
        raise ValueError("shapes do not match")
    with pytest.raises(StudentCodeError, match="broken raised ValueError: shapes do not match"):
        proxy(FakeStudent(broken=broken), "broken")(np.zeros(1))


def test_proxy_keeps_the_text_of_the_functions_error_for_the_referee_to_redact():
    def broken(z):
        raise ValueError("shapes do not match")
    student = FakeStudent(broken=broken)
    with pytest.raises(StudentCodeError):
        proxy(student, "broken")(np.zeros(1))
    assert student.raised == ["ValueError: shapes do not match"]


def test_proxy_mirrors_arguments_even_when_the_function_raises():
    def half_done(z):
        z[0] = 9
        raise RuntimeError("stopped")
    z = np.zeros(2)
    with pytest.raises(StudentCodeError):
        proxy(FakeStudent(half_done=half_done), "half_done")(z)
    assert z[0] == 9, "what the function did before raising was not mirrored (the notebook would keep it)"
