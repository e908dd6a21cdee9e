"""The visible checks' fixed example agrees with the reference solution and with numerical gradients."""
import numpy as np
import pytest

import backprop_checks as checks


def test_example_cache_is_the_reference_forward_pass(reference):
    cache = reference["forward"](checks.EXAMPLE_X, checks.EXAMPLE_PARAMS)
    for name, value in checks.EXAMPLE_CACHE.items():
        np.testing.assert_allclose(value, cache[name], rtol=1e-11, atol=1e-12, err_msg=name)


def test_example_grads_are_the_numerical_gradients(reference):
    params = {k: v.copy() for k, v in checks.EXAMPLE_PARAMS.items()}

    def loss():
        return reference["cross_entropy"](reference["forward"](checks.EXAMPLE_X, params)["probs"], checks.EXAMPLE_Y)

    for name in params:
        numeric = checks.numerical_gradient(loss, params[name])
        assert checks.relative_error(checks.EXAMPLE_GRADS[name], numeric) < 1e-6, name


def test_example_grads_are_the_reference_backward(reference):
    grads = reference["backward"](checks.EXAMPLE_X, checks.EXAMPLE_Y, checks.EXAMPLE_PARAMS, checks.EXAMPLE_CACHE)
    for name, value in checks.EXAMPLE_GRADS.items():
        assert checks.relative_error(grads[name], value) < 1e-6, name


def test_example_keeps_z1_away_from_the_relu_kink():
    assert np.min(np.abs(checks.EXAMPLE_CACHE["z1"])) >= 0.0199


@pytest.mark.parametrize("check, function", [
    ("check_relu", "relu"), ("check_softmax", "softmax"), ("check_softmax_stable", "softmax"),
    ("check_backward_output_layer", "backward"), ("check_backward_hidden_layer", "backward"),
    ("check_backward_leaves_inputs_unchanged", "backward"), ("check_sgd_update", "sgd_update"),
])
def test_visible_check_passes_the_reference(reference, check, function):
    getattr(checks, check)(reference[function])
