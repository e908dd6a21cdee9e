"""Visible checks for the backprop exercise.

Each ``check_*`` function takes the function under test as an argument, runs it on
small fixed inputs and raises ``AssertionError`` with a message that says what is
wrong and where to look. The expected values were worked out in advance (the
gradients by central differences), so a bug in one of your functions never makes
the check of another one fail.
"""
import numpy as np

# A tiny network: N=4 samples, D=3 inputs, H=5 hidden units, C=2 classes.
# Every hidden pre-activation z1 is at least 0.02 away from the ReLU kink at 0.
EXAMPLE_X = np.array([[0.0, 0.3, -0.3], [-0.9, -0.5, -1.0], [0.1, 1.3, -0.5], [-0.6, 0.5, 0.4]])
EXAMPLE_Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
EXAMPLE_PARAMS = {
    "W1": np.array([[0.1, -0.7, 0.0, 0.6, -1.1],
                    [-0.4, -1.5, -1.0, -1.5, -0.2],
                    [-1.0, 0.2, 0.1, -0.1, -2.0]]),
    "B1": np.array([-0.2, 0.0, 0.0, -0.5, -0.1]),
    "W2": np.array([[-0.8, -0.6], [0.8, -0.6], [0.0, 0.7], [-0.5, -0.1], [0.1, 0.1]]),
    "B2": np.array([-0.4, 0.0]),
}
EXAMPLE_CACHE = {
    "z1": EXAMPLE_X @ EXAMPLE_PARAMS["W1"] + EXAMPLE_PARAMS["B1"],
    "a1": np.array([[0.0, 0.0, 0.0, 0.0, 0.44],
                    [0.91, 1.18, 0.4, 0.0, 2.99],
                    [0.0, 0.0, 0.0, 0.0, 0.53],
                    [0.0, 0.0, 0.0, 0.0, 0.0]]),
}
EXAMPLE_CACHE["logits"] = EXAMPLE_CACHE["a1"] @ EXAMPLE_PARAMS["W2"] + EXAMPLE_PARAMS["B2"]
EXAMPLE_CACHE["probs"] = np.array([[0.401312339888, 0.598687660112],
                                   [0.687831330583, 0.312168669417],
                                   [0.401312339888, 0.598687660112],
                                   [0.401312339888, 0.598687660112]])
# Gradients of the mean cross-entropy, by central differences (h = 1e-6).
EXAMPLE_GRADS = {
    "W1": np.array([[0.030952409913, -0.216666869113, 0.108333434556, 0.0, 0.0],
                    [0.017195783242, -0.120370482859, 0.060185241402, 0.0, 0.0],
                    [0.034391566539, -0.240740965718, 0.120370482859, 0.0, 0.0]]),
    "B1": np.array([-0.034391566539, 0.240740965662, -0.120370482859, 0.0, 0.0]),
    "W2": np.array([[0.156481627656, -0.156481627656],
                    [0.202910242553, -0.202910242553],
                    [0.068783133023, -0.068783133023],
                    [0.0, 0.0],
                    [0.501472162073, -0.501472162018]]),
    "B2": np.array([-0.027057912411, 0.027057912466]),
}
GRADIENT_TOLERANCE = 1e-6


def relative_error(got, expected):
    """Relative error ||got - expected|| / (||got|| + ||expected||) of two arrays, 0 when both are 0."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.linalg.norm(got) + np.linalg.norm(expected)
    return 0.0 if scale == 0 else float(np.linalg.norm(got - expected) / scale)


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of the scalar function ``f()`` with respect to the float64 array ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored; the result has ``x``'s shape.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        f_plus = f()
        x[index] = old - h
        f_minus = f()
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def _copy(arrays):
    """Deep copy of a dict of arrays."""
    return {name: np.array(value, copy=True) for name, value in arrays.items()}


def _check_array(what, got, expected_shape):
    """Fail unless ``got`` is a float NumPy array of ``expected_shape``."""
    assert isinstance(got, np.ndarray), (
        f"{what} is a {type(got).__name__}, expected a NumPy array of shape {expected_shape}")
    assert got.shape == expected_shape, f"{what} has shape {got.shape}, expected {expected_shape}"
    assert np.issubdtype(got.dtype, np.floating), (
        f"{what} has dtype {got.dtype}, expected floats: return values, not a mask or integers")


def _check_unchanged(what, before, after):
    """Fail if the dict of arrays ``after`` differs from the copy ``before`` taken earlier."""
    for name, value in before.items():
        assert np.array_equal(np.asarray(after[name]), value), (
            f"{what}[{name!r}] was modified: compute into new arrays instead of writing into your inputs")


# ---------------------------------------------------------------- relu

def check_relu(relu):
    """relu(z) is max(0, z) elementwise, as a new float array, and leaves z unchanged."""
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0], [1.5, -1.0, 2.0, -3.0, 0.25]])
    expected = np.array([[0.0, 0.0, 0.0, 0.5, 3.0], [1.5, 0.0, 2.0, 0.0, 0.25]])
    z_before = z.copy()
    try:
        out = relu(z)
    except ValueError as error:
        if "truth value" not in str(error):
            raise
        raise AssertionError(f"relu raised '{error}': Python's max and if compare one number at a time; "
                             "use np.maximum(0, z), which works elementwise") from error
    assert out is not None, "relu returned None: did you forget the return statement?"
    _check_array("relu(z)", out, z.shape)
    assert np.array_equal(z, z_before), (
        "relu changed its input z in place: build a new array instead of writing into z")
    assert not np.shares_memory(out, z), "relu returned (a view of) its input: return a new array"
    out = np.asarray(out)  # a plain array, whatever the class returned: its == is NumPy's
    if np.allclose(out, np.abs(z)):
        raise AssertionError("relu(z) returned |z|: negative inputs must become 0, not positive")
    if np.array_equal(out, (z > 0).astype(out.dtype)):
        raise AssertionError("relu(z) returned 1 where z > 0 and 0 elsewhere: return the values max(0, z), "
                             "not a mask")
    negative = z < 0
    if np.all(out[~negative] == z[~negative]) and np.any(out[negative] != 0):
        raise AssertionError(
            f"relu(z) is wrong for negative z: relu({z[negative][0]}) gave {out[negative][0]}, expected 0 "
            "(a leaky ReLU keeps a little of the negative values; this one must not)")
    wrong = np.argwhere(out != expected)
    if len(wrong):
        i = tuple(wrong[0])
        raise AssertionError(f"relu({z[i]}) gave {out[i]}, expected {expected[i]}: relu(z) = max(0, z)")
    for shape in [(10,), (2, 1, 5)]:
        _check_relu_of_shape(relu, z.reshape(shape), expected.reshape(shape))


def _check_relu_of_shape(relu, z, expected):
    """relu gives the expected values for z of another shape than the 2-D example."""
    try:
        out = np.asarray(relu(z.copy()))
    except Exception as error:
        raise AssertionError(f"relu failed on an array of shape {z.shape} ({type(error).__name__}: {error}): "
                             "relu must work elementwise on arrays of any shape") from error
    assert out.shape == z.shape and np.array_equal(out, expected), (
        f"relu is wrong on an array of shape {z.shape}: it must work elementwise on arrays of any shape")


# ---------------------------------------------------------------- softmax

def _softmax_of(softmax, logits):
    """softmax(logits); a broadcasting error becomes an AssertionError that says how to keep the shapes apart."""
    try:
        return softmax(logits)
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        raise AssertionError(
            f"softmax raised '{error}': a row's maximum or sum must stay a column of shape (N, 1) to broadcast "
            "against logits (N, C); compute it with axis=1, keepdims=True") from error


def check_softmax(softmax):
    """softmax(logits) gives row-wise probabilities, as a new array, and leaves logits unchanged."""
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -2.0, 0.0]])
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    logits_before = logits.copy()
    probs = _softmax_of(softmax, logits)
    assert probs is not None, "softmax returned None: did you forget the return statement?"
    _check_array("softmax(logits)", probs, logits.shape)
    probs = np.asarray(probs)  # a plain array, whatever the class returned: its == is NumPy's
    assert np.array_equal(logits, logits_before), (
        "softmax changed its input logits in place: compute into a new array")
    if np.allclose(probs, 1 / (1 + np.exp(-logits))):
        raise AssertionError("softmax returned the sigmoid of each logit: softmax exponentiates and "
                             "divides by the sum over the classes of the same row")
    if np.allclose(probs.sum(axis=0), 1) and not np.allclose(probs.sum(axis=1), 1):
        raise AssertionError("each column of softmax(logits) sums to 1, but each row must: "
                             "normalise over the classes, axis=1 (with keepdims=True)")
    if np.isclose(probs.sum(), 1):
        raise AssertionError("all entries of softmax(logits) together sum to 1, but each row must: "
                             "normalise each row (axis=1), not the whole array")
    assert np.all(probs >= 0), (
        "softmax(logits) has negative entries, but probabilities are exp(...) / sum, never negative: "
        "did you return log-probabilities?")
    row_sums = probs.sum(axis=1)
    assert np.allclose(row_sums, 1), (
        f"the rows of softmax(logits) sum to {np.round(row_sums, 4)}, expected 1 each: divide each row by its own "
        "sum (axis=1, keepdims=True)")
    error = np.max(np.abs(probs - expected))
    assert error < 1e-7, (
        f"softmax(logits) differs from exp(logits) / row sum by up to {error:.1e}: "
        f"for logits {logits[2]} expected {np.round(expected[2], 6)}, got {np.round(probs[2], 6)}")


def check_softmax_stable(softmax):
    """softmax gives finite, correct probabilities for logits of size 1000 and rows on very different scales."""
    logits = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0], [1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]])
    increasing = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]
    expected = np.array([increasing, increasing[::-1], increasing, [0.0, 0.0, 1.0]])
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            probs = _softmax_of(softmax, logits)
    except FloatingPointError as error:
        raise AssertionError(
            f"softmax failed on logits of size 1000 ({error}): subtract each row's own maximum "
            "(axis=1, keepdims=True) from the logits before exp, which does not change the result") from None
    assert probs is not None, "softmax returned None: did you forget the return statement?"
    _check_array("softmax(logits)", probs, logits.shape)
    probs = np.asarray(probs)
    assert np.all(np.isfinite(probs)), (
        "softmax gave nan or inf for logits of size 1000: subtract each row's maximum before exp")
    bad_rows = [i for i in range(len(logits)) if not np.allclose(probs[i], expected[i], rtol=1e-7, atol=1e-12)]
    assert not bad_rows, (
        f"softmax is wrong for the rows {logits[bad_rows].tolist()} (got {probs[bad_rows].tolist()}): "
        "a shift must use each row's own maximum (axis=1, keepdims=True), not one maximum for the whole array")


# ---------------------------------------------------------------- backward

_HINTS = {
    "W2": "grad W2 = a1.T @ grad_logits, with grad_logits = (probs - Y) / N",
    "B2": "grad B2 sums grad_logits over the samples (axis=0)",
    "W1": "grad W1 = X.T @ grad_z1, with grad_z1 = (grad_logits @ W2.T) * (z1 > 0): is the ReLU mask applied?",
    "B1": "grad B1 sums grad_z1 over the samples (axis=0): is the ReLU mask applied?",
}


def _diagnose(name, got, expected, n_samples):
    """A sentence on how the gradient ``got`` of parameter ``name`` differs from ``expected``."""
    error = relative_error(got, expected)
    ratio = np.sum(got * expected) / np.sum(expected * expected)
    if np.allclose(got, -expected, rtol=1e-5, atol=1e-9):
        return f"grad {name} has the wrong sign: it is the gradient of the loss, not of -loss"
    if np.allclose(got, n_samples * expected, rtol=1e-5, atol=1e-9):
        return (f"grad {name} is N={n_samples} times too large: the loss is the mean over the "
                "samples, so grad_logits carries a factor 1/N")
    if np.allclose(got, expected / n_samples, rtol=1e-5, atol=1e-9):
        return f"grad {name} is N={n_samples} times too small: divide by N once, not twice"
    if np.allclose(got, ratio * expected, rtol=1e-5, atol=1e-9):
        return f"grad {name} is {ratio:.3g} times the numerical gradient: look for a stray factor. {_HINTS[name]}"
    return f"grad {name} differs from the numerical gradient by {error:.1e} (relative error). {_HINTS[name]}"


def _run_backward(backward, labels=EXAMPLE_Y):
    """Run backward on fresh copies of the example's inputs, with the given labels; return (grads, the copies)."""
    X, Y = EXAMPLE_X.copy(), labels.copy()
    params, cache = _copy(EXAMPLE_PARAMS), _copy(EXAMPLE_CACHE)
    try:
        grads = backward(X, Y, params, cache)
    except ValueError as error:
        raise AssertionError(
            f"backward raised '{error}': check the shapes of your products. In the example X is (4, 3), W1 (3, 5), "
            "W2 (5, 2), z1 and a1 (4, 5), probs and Y (4, 2); so grad_logits @ W2.T is (4, 5) and X.T @ grad_z1 "
            "is (3, 5)") from error
    assert grads is not None, "backward returned None: did you forget the return statement?"
    assert isinstance(grads, dict), f"backward returned a {type(grads).__name__}, expected a dict of gradients"
    return grads, (X, Y, params, cache)


def _check_gradient_shape(name, got):
    """Fail, with a hint at the likely mistake, unless grad ``name`` has the shape of params[name]."""
    shape, expected = np.shape(got), EXAMPLE_PARAMS[name].shape
    if shape == expected:
        return
    other = {"W1": "W2", "W2": "W1"}.get(name)
    if other and shape == EXAMPLE_PARAMS[other].shape:
        hint = f"the shape of {other}: are W1 and W2 swapped?"
    elif name in ("B1", "B2"):
        hint = "a bias gradient sums over the samples (axis=0)"
    else:
        hint = _HINTS[name]
    raise AssertionError(f"grad {name} has shape {shape}, expected {expected}: {hint}")


def _check_gradients(backward, names):
    """backward's gradients for names match the example's numerical gradients."""
    grads, _ = _run_backward(backward)
    for name in names:
        assert name in grads, f"the gradients have no key {name!r}: use the same keys as params (W1, B1, W2, B2)"
        _check_gradient_shape(name, grads[name])
        _check_array(f"grad {name}", grads[name], EXAMPLE_PARAMS[name].shape)
    for name in names:
        got = np.asarray(grads[name])
        if relative_error(got, EXAMPLE_GRADS[name]) > GRADIENT_TOLERANCE:
            raise AssertionError(_diagnose(name, got, EXAMPLE_GRADS[name], len(EXAMPLE_X)))


def check_backward_output_layer(backward):
    """backward's gradients for W2 and B2 match the numerical gradients of the example."""
    _check_gradients(backward, ["W2", "B2"])


def check_backward_hidden_layer(backward):
    """backward's gradients for W1 and B1 match the numerical gradients of the example."""
    _check_gradients(backward, ["W1", "B1"])


def _same_gradients(grads, other):
    """Whether two dicts of gradients hold the same keys and equal arrays (compared as plain arrays)."""
    return sorted(grads) == sorted(other) and all(
        np.array_equal(np.asarray(grads[name]), np.asarray(other[name])) for name in grads)


def check_backward_leaves_inputs_unchanged(backward):
    """backward computes its gradients from its inputs and modifies none of X, Y, params and cache."""
    grads, (X, Y, params, cache) = _run_backward(backward)
    _check_unchanged("X", {"X": EXAMPLE_X}, {"X": X})
    _check_unchanged("Y", {"Y": EXAMPLE_Y}, {"Y": Y})
    _check_unchanged("params", EXAMPLE_PARAMS, params)
    _check_unchanged("cache", EXAMPLE_CACHE, cache)
    other_grads, _ = _run_backward(backward, labels=EXAMPLE_Y[:, ::-1])
    assert not _same_gradients(grads, other_grads), (
        "backward returned the same gradients for other labels Y: compute them from X, Y, params and cache "
        "(this point is for a backward that computes its gradients without changing its inputs)")


# ---------------------------------------------------------------- sgd_update

def check_sgd_update(sgd_update):
    """sgd_update moves every parameter by -learning_rate * grad and leaves grads unchanged."""
    learning_rate = 0.1
    params = _copy(EXAMPLE_PARAMS)
    grads = _copy(EXAMPLE_GRADS)
    new_params = sgd_update(params, grads, learning_rate)
    assert new_params is not None, (
        "sgd_update returned None: return the updated params (even if you updated the arrays in place)")
    assert isinstance(new_params, dict), f"sgd_update returned a {type(new_params).__name__}, expected the params dict"
    _check_unchanged("grads", EXAMPLE_GRADS, grads)
    for name, value in EXAMPLE_PARAMS.items():
        assert name in new_params, f"the updated params have no key {name!r}: keep all of W1, B1, W2, B2"
        _check_array(f"the updated {name}", new_params[name], value.shape)
        got = np.asarray(new_params[name])
        step = got - value
        expected_step = -learning_rate * EXAMPLE_GRADS[name]
        if np.allclose(step, expected_step, rtol=1e-9, atol=1e-15):
            continue
        if np.allclose(step, 0):
            raise AssertionError(f"{name} did not change: update every parameter, the biases too")
        if np.allclose(step, -expected_step, rtol=1e-9, atol=1e-15):
            raise AssertionError(f"{name} moved up the gradient: gradient descent subtracts learning_rate * grad")
        if np.allclose(step, -EXAMPLE_GRADS[name], rtol=1e-9, atol=1e-15):
            raise AssertionError(f"{name} moved by the whole gradient: scale the step by learning_rate")
        raise AssertionError(f"{name} moved by {step.ravel()[:3]}..., expected -learning_rate * grad "
                             f"= {expected_step.ravel()[:3]}...")


# ---------------------------------------------------------------- training

FINAL_LOSS_TARGET = 0.09
TEST_ACCURACY_TARGET = 0.9


def check_training(losses, test_accuracy):
    """The lesson's training run reaches the lesson's final loss and test accuracy."""
    losses = np.asarray(losses, dtype=np.float64)
    assert np.all(np.isfinite(losses)), (
        "the loss became nan or inf during training: check the scale of your gradients (the 1/N) "
        "and the sign of the update")
    assert losses[-1] <= FINAL_LOSS_TARGET, (
        f"after {len(losses)} epochs the loss is {losses[-1]:.4f}, expected at most {FINAL_LOSS_TARGET}: "
        "a function passes its own tests but training does not work; look at the loss curve")
    assert test_accuracy >= TEST_ACCURACY_TARGET, (
        f"test accuracy is {test_accuracy:.3f}, expected at least {TEST_ACCURACY_TARGET}")
