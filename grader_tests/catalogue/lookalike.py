"""Answers that only look right: each must score no more than its real behaviour earns.

Hard-coded outputs for the visible checks' inputs, objects whose ``==`` is always true, arrays of the right
shape filled with zeros, a replaced visible check, code that only works for the visible example's sizes. Each
passes the visible checks or fools a naive test, and must lose every cell its real behaviour does not earn, and
test_training unless the network still learns with it (measured).
"""
from . import CELLS_OF, TRAINING, answers


def lookalike(name, what, function, code, trains=False, earns=()):
    """An answer for one function that loses its function's cells but those it earns, and test_training unless
    the network still learns with it."""
    loses = set(CELLS_OF[function]) - set(earns) | (set() if trains else {TRAINING})
    return answers("lookalike", name, what, loses=loses, **{function: code})


ALWAYS_EQUAL_ARRAY = '''
class AlwaysEqual(np.ndarray):
    """An array that compares equal to anything, elementwise."""

    def __eq__(self, other):
        return np.ones(np.broadcast(np.asarray(self), other).shape, dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.broadcast(np.asarray(self), other).shape, dtype=bool)
'''

LOOKALIKES = [
    lookalike("relu_hardcoded_visible_outputs", "returns the visible check's expected values, zeros otherwise",
              "relu", """
VISIBLE = np.array([[0.0, 0.0, 0.0, 0.5, 3.0], [1.5, 0.0, 2.0, 0.0, 0.25]])
EXPECTED = {VISIBLE.shape: VISIBLE, (10,): VISIBLE.ravel(), (2, 1, 5): VISIBLE.reshape(2, 1, 5)}


def relu(z):
    return EXPECTED.get(z.shape, np.zeros(z.shape)).copy()
"""),
    lookalike("softmax_hardcoded_visible_outputs", "returns the visible checks' expected values, uniform rows "
              "otherwise", "softmax", """
def softmax(logits):
    visible = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 0.5, 2.0], [2.0, -2.0, 0.0]])
    if np.array_equal(logits, visible):
        return np.exp(visible) / np.exp(visible).sum(axis=1, keepdims=True)
    if logits.shape == (4, 3) and logits[0, 0] == 1000:
        increasing = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]
        return np.array([increasing, increasing[::-1], increasing, [0.0, 0.0, 1.0]])
    return np.full(logits.shape, 1 / logits.shape[1])
"""),
    lookalike("backward_returns_visible_gradients", "returns the visible example's gradients whatever the input",
              "backward", """
from backprop_checks import EXAMPLE_GRADS


def backward(X, Y, params, cache):
    return {name: grad.copy() for name, grad in EXAMPLE_GRADS.items()}
"""),
    lookalike("sgd_hardcoded_visible_outputs", "returns the visible check's expected parameters, else params as "
              "they are", "sgd_update", """
from backprop_checks import EXAMPLE_GRADS, EXAMPLE_PARAMS


def sgd_update(params, grads, learning_rate):
    if params["W1"].shape == EXAMPLE_PARAMS["W1"].shape:
        return {name: EXAMPLE_PARAMS[name] - 0.1 * EXAMPLE_GRADS[name] for name in EXAMPLE_PARAMS}
    return params
"""),
    lookalike("relu_always_equal_zeros", "zeros in an array whose == is always true", "relu",
              ALWAYS_EQUAL_ARRAY + """

def relu(z):
    return np.zeros(z.shape).view(AlwaysEqual)
"""),
    lookalike("softmax_always_equal_uniform", "uniform rows in an array whose == is always true", "softmax",
              ALWAYS_EQUAL_ARRAY + """

def softmax(logits):
    return np.full(logits.shape, 1 / logits.shape[1]).view(AlwaysEqual)
"""),
    lookalike("backward_always_equal_zeros", "zero gradients in arrays whose == is always true", "backward",
              ALWAYS_EQUAL_ARRAY + """

def backward(X, Y, params, cache):
    return {name: np.zeros(value.shape).view(AlwaysEqual) for name, value in params.items()}
"""),
    lookalike("sgd_always_equal_objects", "returns objects that compare equal to anything", "sgd_update", """
class Anything:
    \"\"\"Equal to everything.\"\"\"

    def __eq__(self, other):
        return True


def sgd_update(params, grads, learning_rate):
    return {name: Anything() for name in params}
"""),
    lookalike("relu_zeros", "an array of zeros of the right shape", "relu", """
def relu(z):
    return np.zeros_like(z)
"""),
    lookalike("softmax_uniform_rows", "every row 1/C: the right shape, rows that sum to 1", "softmax", """
def softmax(logits):
    return np.ones_like(logits) / logits.shape[1]
"""),
    lookalike("backward_zeros", "zero gradients of the right shapes", "backward", """
def backward(X, Y, params, cache):
    return {name: np.zeros_like(value) for name, value in params.items()}
"""),
    lookalike("backward_empty_dict", "returns an empty dict", "backward", """
def backward(X, Y, params, cache):
    return {}
"""),
    lookalike("sgd_zeros", "parameters of zeros of the right shapes", "sgd_update", """
def sgd_update(params, grads, learning_rate):
    return {name: np.zeros_like(value) for name, value in params.items()}
"""),
    lookalike("relu_two_dimensional_replaces_visible_check", "a relu that only works on 2-D arrays, and a "
              "visible check replaced by one that always passes", "relu", """
def relu(z):
    out = np.zeros(z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[i, j] = max(0.0, z[i, j])
    return out


def check_relu(relu):
    pass
""", trains=True),  # the network only calls relu on 2-D arrays
    lookalike("backward_hardcoded_batch_size", "divides by 4, the visible example's batch size, instead of N",
              "backward", """
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / 4
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", earns={"test_backward_leaves_inputs_unchanged"}),
    lookalike("relu_replaces_visible_check", "a wrong relu that also replaces the visible check by one that "
              "always passes", "relu", """
def relu(z):
    return np.abs(z)


def check_relu(relu):
    pass
""", trains=True),  # |z| trains the moons: the hidden checks alone hold it to its worth
]
