"""Correct answers written differently from the reference solution: each must get full marks.

A correct student must never lose a point to a test that assumed one way of writing a function.
"""
from functools import partial

from . import answers

correct = partial(answers, "correct")

CORRECT = [
    correct("relu_where", "np.where(z > 0, z, 0)",
            relu="""
def relu(z):
    return np.where(z > 0, z, 0)
"""),
    correct("relu_clip", "np.clip(z, 0, None)",
            relu="""
def relu(z):
    return np.clip(z, 0, None)
"""),
    correct("relu_times_mask", "z * (z > 0), which gives -0.0 for negative z",
            relu="""
def relu(z):
    return z * (z > 0)
"""),
    correct("relu_copy_then_zero", "copies z, then sets the negative entries of the copy to 0",
            relu="""
def relu(z):
    out = z.copy()
    out[out < 0] = 0
    return out
"""),
    correct("relu_half_sum_with_abs", "(z + |z|) / 2",
            relu="""
def relu(z):
    return (z + np.abs(z)) / 2
"""),
    correct("softmax_scipy", "scipy.special.softmax along axis 1",
            softmax="""
from scipy.special import softmax as scipy_softmax


def softmax(logits):
    return scipy_softmax(logits, axis=1)
"""),
    correct("softmax_log_sum_exp", "exp(logits - logsumexp(logits)), with scipy's logsumexp",
            softmax="""
from scipy.special import logsumexp


def softmax(logits):
    return np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
"""),
    correct("softmax_log_sum_exp_by_hand", "a log-sum-exp written by hand, then exp",
            softmax="""
def softmax(logits):
    m = np.max(logits, axis=1, keepdims=True)
    log_sum = m + np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return np.exp(logits - log_sum)
"""),
    correct("softmax_transposed_broadcast", "normalises the transpose, with sums indexed [:, None]",
            softmax="""
def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1)[:, None])
    return (exp.T / exp.sum(axis=1)).T
"""),
    correct("backward_einsum", "every product written with np.einsum",
            backward="""
def backward(X, Y, params, cache):
    N = X.shape[0]
    grad_logits = (cache["probs"] - Y) / N
    grad_z1 = np.einsum("nc,hc->nh", grad_logits, params["W2"]) * (cache["z1"] > 0)
    return {"W1": np.einsum("nd,nh->dh", X, grad_z1), "B1": np.einsum("nh->h", grad_z1),
            "W2": np.einsum("nh,nc->hc", cache["a1"], grad_logits), "B2": np.einsum("nc->c", grad_logits)}
"""),
    correct("backward_mask_from_a1", "the ReLU mask built from a1 > 0 instead of z1 > 0",
            backward="""
def backward(X, Y, params, cache):
    a1 = cache["a1"]
    grad_logits = (cache["probs"] - Y) / len(Y)
    grad_a1 = grad_logits @ params["W2"].T
    grad_z1 = grad_a1 * (a1 > 0)
    return {"W1": X.T @ grad_z1, "B1": np.sum(grad_z1, axis=0), "W2": a1.T @ grad_logits,
            "B2": np.sum(grad_logits, axis=0)}
"""),
    correct("backward_mask_in_place_on_own_array", "zeroes grad_z1 where z1 <= 0, in place on its own array",
            backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / X.shape[0]
    grad_z1 = grad_logits @ params["W2"].T
    grad_z1[cache["z1"] <= 0] = 0
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
"""),
    correct("backward_divides_at_the_end", "works with probs - Y and divides each gradient by N at the end",
            backward="""
def backward(X, Y, params, cache):
    N = len(X)
    delta2 = cache["probs"] - Y
    delta1 = (delta2 @ params["W2"].T) * np.heaviside(cache["z1"], 0)
    grads = {"W1": X.T @ delta1, "B1": delta1.sum(axis=0), "W2": cache["a1"].T @ delta2, "B2": delta2.sum(axis=0)}
    return {name: grad / N for name, grad in grads.items()}
"""),
    correct("backward_recomputes_forward", "ignores cache and runs forward(X, params) again",
            backward="""
def backward(X, Y, params, cache):
    fresh = forward(X, params)
    grad_logits = (fresh["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (fresh["z1"] > 0)
    ones = np.ones(len(X))
    return {"W1": X.T @ grad_z1, "B1": ones @ grad_z1, "W2": fresh["a1"].T @ grad_logits, "B2": ones @ grad_logits}
"""),
    correct("sgd_new_dict", "builds a new dict of new arrays",
            sgd_update="""
def sgd_update(params, grads, learning_rate):
    return {name: params[name] - learning_rate * grads[name] for name in params}
"""),
    correct("sgd_rebinds_in_same_dict", "assigns new arrays into the same dict and returns it",
            sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name, grad in grads.items():
        params[name] = params[name] - learning_rate * grad
    return params
"""),
    correct("sgd_deep_copy", "deep-copies params, updates the copy in place, returns the copy",
            sgd_update="""
import copy


def sgd_update(params, grads, learning_rate):
    new_params = copy.deepcopy(params)
    for name in new_params:
        new_params[name] -= grads[name] * learning_rate
    return new_params
"""),
    correct("sgd_subtract_out", "np.subtract with out= on each parameter array, returns params",
            sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in ["W1", "B1", "W2", "B2"]:
        np.subtract(params[name], learning_rate * grads[name], out=params[name])
    return params
"""),
    correct("all_four_rewritten", "a student who wrote all four functions differently from the reference",
            relu="""
def relu(z):
    return np.clip(z, 0.0, np.inf)
""", softmax="""
def softmax(logits):
    e = np.exp(logits - np.amax(logits, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)
""", backward="""
def backward(X, Y, params, cache):
    n = Y.shape[0]
    d_logits = (cache["probs"] - Y) / n
    d_hidden = np.dot(d_logits, params["W2"].T)
    d_hidden = np.where(cache["z1"] > 0, d_hidden, 0.0)
    return {
        "W2": np.dot(cache["a1"].T, d_logits),
        "B2": d_logits.sum(0),
        "W1": np.dot(X.T, d_hidden),
        "B1": d_hidden.sum(0),
    }
""", sgd_update="""
def sgd_update(params, grads, learning_rate):
    updated = dict(params)
    for key in updated:
        updated[key] = updated[key] + (-learning_rate) * grads[key]
    return updated
"""),
]
