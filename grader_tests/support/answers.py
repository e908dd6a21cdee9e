"""Answers that several tests submit: one definition each."""

# A backward pass that forgets the ReLU mask: the most common bug of this exercise. It loses
# test_backward_hidden_layer and test_training, and nothing else.
BACKWARD_WITHOUT_RELU_MASK = '''
def backward(X, Y, params, cache):
    grad_logits = (cache["probs"] - Y) / len(X)
    grad_z1 = grad_logits @ params["W2"].T
    return {"W1": X.T @ grad_z1, "B1": grad_z1.sum(axis=0),
            "W2": cache["a1"].T @ grad_logits, "B2": grad_logits.sum(axis=0)}
'''
NO_MASK_LOSES = {"test_backward_hidden_layer", "test_training"}
