"""Linear: x @ W + b; dW and db are batch means, dx is not; against explicit sums, finite differences and torch."""

import numpy as np
import pytest
from helpers import central_difference, make_bias_init, make_weight_init, tensor, torch_float64, zeros_bias

from mytorch import Linear, gradcheck


@pytest.fixture
def layer(rng):
    return Linear(4, 3, make_weight_init(rng), make_bias_init(rng))


def test_linear_constructor_calls_weight_init_then_bias_init_and_nothing_else_random():
    calls = []

    def weight_init(n_in, n_out):
        calls.append(("weight", n_in, n_out))
        return np.arange(n_in * n_out, dtype=float).reshape(n_in, n_out)

    def bias_init(n):
        calls.append(("bias", n))
        return np.full((1, n), 0.5)

    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    layer = Linear(4, 3, weight_init, bias_init)
    assert calls == [("weight", 4, 3), ("bias", 3)]
    assert np.array_equal(np.random.get_state()[1], before), "Linear drew from np.random itself"
    assert np.array_equal(layer.W, np.arange(12.0).reshape(4, 3)) and np.array_equal(layer.b, np.full((1, 3), 0.5))


def test_linear_gradients_and_momentum_start_as_zeros_shaped_like_parameters(layer):
    assert layer.W.shape == (4, 3) and layer.b.shape == (1, 3)
    for name, like in [("dW", layer.W), ("db", layer.b), ("momentum_W", layer.W), ("momentum_b", layer.b)]:
        value = getattr(layer, name)
        assert value.shape == like.shape and not value.any(), name


def test_linear_forward_is_x_times_W_plus_b(layer, rng):
    x = rng.standard_normal((5, 4))
    expected = np.array(
        [[sum(x[i, k] * layer.W[k, j] for k in range(4)) + layer.b[0, j] for j in range(3)] for i in range(5)]
    )
    np.testing.assert_allclose(layer(x), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13, atol=1e-15)


def test_linear_dW_and_db_are_batch_means_and_dx_is_not_averaged(layer, rng):
    x = rng.standard_normal((5, 4))
    delta = rng.standard_normal((5, 3))
    layer(x)
    dx = layer.backward(delta)
    # Written out per example: the mean of outer products x_i delta_i^T, the mean of delta_i, and W delta_i.
    dW = sum(np.outer(x[i], delta[i]) for i in range(5)) / 5
    db = sum(delta[i] for i in range(5)) / 5
    np.testing.assert_allclose(layer.dW, dW, rtol=1e-13, atol=1e-15)
    assert layer.db.shape == (1, 3)
    np.testing.assert_allclose(layer.db, db[None, :], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, np.stack([layer.W @ delta[i] for i in range(5)]), rtol=1e-13, atol=1e-15)


def test_linear_backward_matches_finite_differences(layer, rng):
    checks = gradcheck(layer, rng.standard_normal((5, 4)))
    assert {c.quantity.split()[-1] for c in checks} == {"dx", "dW", "db"}


def test_linear_backward_matches_independent_finite_differences(layer, rng):
    x = rng.standard_normal((5, 4))
    upstream = rng.standard_normal((5, 3))
    layer(x)
    dx = layer.backward(upstream)

    def loss():  # L = sum(out * upstream), so dL/dout = upstream
        return float(np.sum(layer.forward(x) * upstream))

    batch = x.shape[0]
    W, b = layer.W.copy(), layer.b.copy()
    np.testing.assert_allclose(layer.dW, central_difference(loss, layer.W) / batch, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(layer.db, central_difference(loss, layer.b) / batch, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dx, central_difference(loss, x), rtol=1e-6, atol=1e-9)
    assert np.array_equal(layer.W, W) and np.array_equal(layer.b, b)


def test_linear_matches_torch_float64(layer, rng):
    torch = torch_float64()
    x = rng.standard_normal((6, 4))
    upstream = rng.standard_normal((6, 3))
    out = layer(x)
    dx = layer.backward(upstream)
    xt, Wt, bt = (tensor(torch, a, requires_grad=True) for a in (x, layer.W, layer.b))
    out_t = xt @ Wt + bt
    (out_t * tensor(torch, upstream)).sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-13, atol=1e-15)
    # The handout averages parameter gradients over the batch; torch's are of the summed loss.
    np.testing.assert_allclose(layer.dW, Wt.grad.numpy() / 6, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.db, bt.grad.numpy() / 6, rtol=1e-13, atol=1e-15)


def test_linear_accepts_a_bias_init_returning_a_flat_vector():
    layer = Linear(2, 3, lambda n_in, n_out: np.ones((n_in, n_out)), lambda n: np.zeros(n))
    assert layer.b.shape == (1, 3)
    assert layer(np.ones((4, 2))).shape == (4, 3)


def test_linear_forward_on_a_batch_of_one(rng):
    layer = Linear(3, 2, make_weight_init(rng), zeros_bias)
    x = rng.standard_normal((1, 3))
    np.testing.assert_allclose(layer(x), x @ layer.W, rtol=1e-15)


def test_linear_backward_with_input_grad_false_sets_the_same_gradients_and_returns_none(layer, rng):
    x, delta = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    assert layer.backward(delta, input_grad=False) is None
    np.testing.assert_allclose(layer.dW, x.T @ delta / 5, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.db, delta.mean(axis=0, keepdims=True), rtol=1e-13, atol=1e-15)
