"""Wrong answers of the kinds students really write, each with the test cells it must lose.

``loses`` holds the cells of the entry's own function that catch the bug and, where the lesson's network
really trains worse with it (final loss above 0.09 or test accuracy below 0.9, measured by grading the entry),
``test_training``. ``says`` is a phrase of the message the first losing cell prints: the visible check's
diagnosis, which the student sees before submitting.
"""
from functools import partial

from support.answers import BACKWARD_WITHOUT_RELU_MASK

from . import answers

wrong = partial(answers, "wrong")

RELU = [
    wrong("relu_leaky", "a leaky ReLU that keeps 1% of the negative values",
          relu="""
def relu(z):
    return np.where(z > 0, z, 0.01 * z)
""", loses={"test_relu", "test_training"}, says="leaky ReLU"),  # the run ends at loss 0.0901, above 0.09
    wrong("relu_absolute_value", "|z| instead of max(0, z)",
          relu="""
def relu(z):
    return np.abs(z)
""", loses={"test_relu"}, says="returned |z|"),  # |z| trains the moons too: loss 0.0808
    wrong("relu_returns_mask", "the boolean mask z > 0 instead of the values",
          relu="""
def relu(z):
    return z > 0
""", loses={"test_relu", "test_training"}, says="not a mask"),
    wrong("relu_returns_float_mask", "the mask as floats, (z > 0).astype(float), instead of the values",
          relu="""
def relu(z):
    return (z > 0).astype(float)
""", loses={"test_relu", "test_training"}, says="not a mask"),
    wrong("relu_integer_result", "casts the result to int",
          relu="""
def relu(z):
    return np.maximum(0, z).astype(int)
""", loses={"test_relu", "test_training"}, says="expected floats"),
    wrong("relu_clips_input_in_place", "sets the negative entries of z to 0 in place and returns z",
          relu="""
def relu(z):
    z[z < 0] = 0
    return z
""", loses={"test_relu"}, says="changed its input z in place"),
    wrong("relu_maximum_into_input", "np.maximum(z, 0, out=z): the result is written into z",
          relu="""
def relu(z):
    return np.maximum(z, 0, out=z)
""", loses={"test_relu"}, says="changed its input z in place"),
    wrong("relu_python_max", "Python's max(0, z), which cannot compare an array with 0",
          relu="""
def relu(z):
    return max(0, z)
""", loses={"test_relu", "test_training"}, says="use np.maximum(0, z)"),
    wrong("relu_minimum", "np.minimum(0, z): keeps the negative part instead of the positive one",
          relu="""
def relu(z):
    return np.minimum(0, z)
""", loses={"test_relu", "test_training"}, says="max(0, z)"),
    wrong("relu_clipped_to_one", "np.clip(z, 0, 1): also caps the positive values at 1",
          relu="""
def relu(z):
    return np.clip(z, 0, 1)
""", loses={"test_relu"}, says="max(0, z)"),
    wrong("relu_two_dimensional_only", "loops over rows and columns, so it only works on 2-D arrays",
          relu="""
def relu(z):
    out = np.zeros(z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[i, j] = max(0.0, z[i, j])
    return out
""", loses={"test_relu"}, says="any shape"),
    wrong("relu_no_return", "computes the result but forgets to return it",
          relu="""
def relu(z):
    out = np.maximum(0, z)
""", loses={"test_relu", "test_training"}, says="forget the return"),
]

SOFTMAX = [
    wrong("softmax_over_columns", "normalises over axis=0, the samples, instead of the classes",
          softmax="""
def softmax(logits):
    exp = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exp / exp.sum(axis=0, keepdims=True)
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="axis=1"),
    wrong("softmax_without_max_shift", "exp(logits) / row sum, without subtracting the maximum",
          softmax="""
def softmax(logits):
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
""", loses={"test_softmax_stable"}, says="subtract each row's own maximum"),
    wrong("softmax_global_max", "subtracts one maximum of the whole array instead of each row's maximum",
          softmax="""
def softmax(logits):
    exp = np.exp(logits - np.max(logits))
    return exp / exp.sum(axis=1, keepdims=True)
""", loses={"test_softmax_stable"}, says="each row's own maximum"),
    wrong("softmax_whole_array", "divides by the sum of the whole array instead of each row's sum",
          softmax="""
def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum()
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="not the whole array"),
    wrong("softmax_sigmoid", "the sigmoid of each logit instead of the softmax of each row",
          softmax="""
def softmax(logits):
    return 1 / (1 + np.exp(-logits))
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="sigmoid"),
    wrong("softmax_sum_without_keepdims", "divides by exp.sum(axis=1), which broadcasts against the columns",
          softmax="""
def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1)
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="keepdims=True"),
    wrong("softmax_max_without_keepdims", "subtracts logits.max(axis=1), which broadcasts against the columns",
          softmax="""
def softmax(logits):
    exp = np.exp(logits - logits.max(axis=1))
    return exp / exp.sum(axis=1, keepdims=True)
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="keepdims=True"),
    wrong("softmax_shifts_logits_in_place", "subtracts the row maximum from logits in place",
          softmax="""
def softmax(logits):
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)
""", loses={"test_softmax", "test_softmax_stable"}, says="changed its input logits in place"),
    wrong("softmax_not_normalised", "returns exp(logits - max) and forgets to divide by the row sum",
          softmax="""
def softmax(logits):
    return np.exp(logits - logits.max(axis=1, keepdims=True))
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="divide each row by its own sum"),
    wrong("softmax_returns_log_probabilities", "returns the log-softmax instead of the probabilities",
          softmax="""
def softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
""", loses={"test_softmax", "test_softmax_stable", "test_training"}, says="log-probabilities"),
]

BACKWARD = [
    wrong("backward_without_1_over_N", "grad_logits = probs - Y, without the 1/N of the mean loss",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = cache["probs"] - Y
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer", "test_training"},
          says="N=4 times too large"),
    wrong("backward_without_relu_mask", "passes the gradient back through the ReLU without the mask z1 > 0",
          backward=BACKWARD_WITHOUT_RELU_MASK, loses={"test_backward_hidden_layer", "test_training"}, says="is the ReLU mask applied?"),
    wrong("backward_mask_inverted", "the mask on the wrong side of the kink: z1 < 0 instead of z1 > 0",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] < 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="is the ReLU mask applied?"),
    wrong("backward_multiplies_by_a1", "multiplies by a1 (the ReLU itself) instead of its derivative z1 > 0",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * cache["a1"]
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="is the ReLU mask applied?"),
    wrong("backward_mask_before_W2", "applies the mask to grad_logits, before going back through W2",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits * (cache["logits"] > 0)) @ params["W2"].T
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="is the ReLU mask applied?"),
    wrong("backward_output_bias_averaged", "grad B2 averages grad_logits over the samples: 1/N twice",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.mean(axis=0)}
""", loses={"test_backward_output_layer"}, says="N=4 times too small"),  # trains as well: loss 0.0895
    wrong("backward_hidden_bias_averaged", "grad B1 averages grad_z1 over the samples: 1/N twice",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": np.mean(grad_z1, axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="N=4 times too small"),
    wrong("backward_output_bias_wrong_axis", "grad B2 sums over the classes (axis=1) instead of the samples",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=1)}
""", loses={"test_backward_output_layer", "test_training"}, says="over the samples (axis=0)"),
    wrong("backward_hidden_bias_wrong_axis", "grad B1 sums over the hidden units (axis=1) instead of the samples",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=1),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="over the samples (axis=0)"),
    wrong("backward_sign_flipped", "grad_logits = (Y - probs) / N: the gradient of -loss",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (Y - cache["probs"]) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer", "test_training"}, says="wrong sign"),
    wrong("backward_W1_W2_swapped", "returns the gradient of W2 under the key W1 and the other way round",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": cache["a1"].T @ grad_logits, "B1": grad_z1.sum(axis=0),
            "W2": X.T @ grad_z1, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer", "test_training"},
          says="W1 and W2 swapped"),
    wrong("backward_factor_2", "a stray factor 2, as from the derivative of a squared error",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = 2 * (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer"},
          says="2 times the numerical gradient"),  # a doubled step trains faster: loss 0.0529
    wrong("backward_divides_hidden_layer_again", "divides by N again in the hidden layer",
          backward="""
def backward(X, Y, params, cache):
    N = X.shape[0]
    grad_logits = (cache["probs"] - Y) / N
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0) / N
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="N=4 times too small"),
    wrong("backward_W2_not_transposed", "grad_logits @ W2 instead of grad_logits @ W2.T: a shape error",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_W2 = cache["a1"].T @ grad_logits
    grad_B2 = grad_logits.sum(axis=0)
    grad_z1 = (grad_logits @ params["W2"]) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0), "W2": grad_W2, "B2": grad_B2}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer", "test_backward_leaves_inputs_unchanged",
            "test_training"}, says="check the shapes of your products"),
    wrong("backward_uses_a1_for_W1", "grad W1 = a1.T @ grad_z1 instead of X.T @ grad_z1",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": cache["a1"].T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_hidden_layer", "test_training"}, says="grad W1 has shape (5, 5), expected (3, 5)"),
    wrong("backward_writes_into_cache", "computes grad_logits in place in cache['probs']",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = cache["probs"]
    grad_logits -= Y
    grad_logits /= len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_leaves_inputs_unchanged"}, says="cache['probs'] was modified"),
    wrong("backward_turns_a1_into_mask", "builds the ReLU mask in place in cache['a1']",
          backward="""
def backward(X, Y, params, cache):
    a1 = cache["a1"]
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_W2 = a1.T @ grad_logits
    a1[a1 > 0] = 1
    grad_z1 = (grad_logits @ params["W2"].T) * a1
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0), "W2": grad_W2, "B2": grad_logits.sum(axis=0)}
""", loses={"test_backward_leaves_inputs_unchanged"}, says="cache['a1'] was modified"),
    wrong("backward_lowercase_keys", "returns the gradients under the keys w1, b1, w2, b2",
          backward="""
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = (grad_logits @ params["W2"].T) * (cache["z1"] > 0)
    return {"w1": X.T @ grad_z1, "b1": grad_z1.sum(axis=0),
            "w2": cache["a1"].T @ grad_logits, "b2": grad_logits.sum(axis=0)}
""", loses={"test_backward_output_layer", "test_backward_hidden_layer", "test_training"}, says="no key 'W2'"),
]

SGD_UPDATE = [
    wrong("sgd_wrong_sign", "adds the gradient: moves up the loss",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] += learning_rate * grads[name]
    return params
""", loses={"test_sgd_update", "test_training"}, says="moved up the gradient"),
    wrong("sgd_without_learning_rate", "subtracts the whole gradient, without the learning rate",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] -= grads[name]
    return params
""", loses={"test_sgd_update"}, says="scale the step by learning_rate"),  # a step of 1 trains: loss 0.0529
    wrong("sgd_skips_biases", "updates W1 and W2 only",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    params["W1"] -= learning_rate * grads["W1"]
    params["W2"] -= learning_rate * grads["W2"]
    return params
""", loses={"test_sgd_update", "test_training"}, says="the biases too"),
    wrong("sgd_scales_grads_in_place", "multiplies grads by the learning rate in place, then subtracts them",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        grads[name] *= learning_rate
        params[name] -= grads[name]
    return params
""", loses={"test_sgd_update"}, says="grads['W1'] was modified"),
    wrong("sgd_returns_nothing", "updates the arrays in place and returns nothing",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] -= learning_rate * grads[name]
""", loses={"test_sgd_update", "test_training"}, says="returned None"),
    wrong("sgd_returns_inside_loop", "the return statement inside the loop: only W1 is updated",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] -= learning_rate * grads[name]
        return params
""", loses={"test_sgd_update", "test_training"}, says="B1 did not change"),
    wrong("sgd_divides_by_learning_rate", "divides the gradient by the learning rate",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    return {name: params[name] - grads[name] / learning_rate for name in params}
""", loses={"test_sgd_update"}, says="expected -learning_rate * grad"),  # a step of 2 trains: loss 0.0363
    wrong("sgd_whole_dict", "subtracts learning_rate * grads, the whole dict, from each parameter",
          sgd_update="""
def sgd_update(params, grads, learning_rate):
    for name in params:
        params[name] = params[name] - learning_rate * grads
    return params
""", loses={"test_sgd_update", "test_training"}, says="unsupported operand"),
]

WRONG = RELU + SOFTMAX + BACKWARD + SGD_UPDATE
