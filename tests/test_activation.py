"""Activations: derivatives against finite differences and PyTorch, stability at the extremes, the laws they obey."""

import math

import numpy as np
import pytest
from helpers import central_difference, tensor, torch_float64
from hypothesis import given
from hypothesis import strategies as st

from mytorch import Identity, ReLU, Sigmoid, Tanh, gradcheck

ACTIVATIONS = [Identity, Sigmoid, Tanh, ReLU]
# Every floating-point warning becomes an error: overflow, invalid, divide by zero, and underflow not declared intended.
LOUD = dict(all="raise")


def away_from_zero(rng, shape):
    """Inputs with |z| >= 0.1, so ReLU's kink is never inside a finite-difference step."""
    z = rng.standard_normal(shape) * 3
    return np.where(np.abs(z) < 0.1, 0.5, z)


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_activation_derivative_matches_finite_differences(cls, rng):
    gradcheck(cls(), away_from_zero(rng, (4, 5)))


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_activation_derivative_matches_independent_finite_differences(cls, rng):
    z = away_from_zero(rng, (3, 4))
    act = cls()
    act(z)
    analytic = act.derivative()
    # Element-wise functions: d out_ij / d z_ij is the derivative of sum(out) w.r.t. z_ij.
    numeric = central_difference(lambda: float(np.sum(cls()(z))), z)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# Sigmoid is 0.5 * (1 + tanh(z / 2)): exact to one unit in the last place of 1 (2.2e-16) absolutely, not relatively.
@pytest.mark.parametrize(
    "cls, torch_name, atol",
    [(Sigmoid, "sigmoid", 2.3e-16), (Tanh, "tanh", 0), (ReLU, "relu", 0)],
    ids=["Sigmoid", "Tanh", "ReLU"],
)
def test_activation_forward_and_derivative_match_torch_float64(cls, torch_name, atol, rng):
    torch = torch_float64()
    z = away_from_zero(rng, (6, 7))
    act = cls()
    out = act(z)
    zt = tensor(torch, z, requires_grad=True)
    out_t = getattr(torch, torch_name)(zt)
    out_t.sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=atol)
    # atol: 1 - tanh(z)^2 computed from the stored output cancels near saturation (absolute error ~1e-16).
    np.testing.assert_allclose(act.derivative(), zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_activation_call_is_forward_and_stores_output_in_state(cls, rng):
    z = rng.standard_normal((2, 3))
    act = cls()
    out = act(z)
    assert act.state is not None and np.array_equal(act.state, out)
    assert np.array_equal(cls().forward(z), out)
    derivative = act.derivative()
    assert derivative.shape == z.shape and derivative.dtype == np.float64


def test_identity_is_the_identity_with_derivative_one(rng):
    z = rng.standard_normal((3, 2))
    act = Identity()
    assert np.array_equal(act(z), z)
    assert np.array_equal(act.derivative(), np.ones_like(z))


def test_relu_derivative_is_zero_at_zero():
    act = ReLU()
    out = act(np.array([[-2.0, 0.0, 3.0, -0.0]]))
    assert np.array_equal(out, [[0.0, 0.0, 3.0, 0.0]])
    assert np.array_equal(act.derivative(), [[0.0, 0.0, 1.0, 0.0]])


@pytest.mark.parametrize("cls, low, high", [(Sigmoid, 0.0, 1.0), (Tanh, -1.0, 1.0)], ids=["Sigmoid", "Tanh"])
def test_sigmoid_and_tanh_saturate_without_warnings_at_plus_minus_1000(cls, low, high):
    # exp(710) overflows float64; s(-800) = e^-800 is below the smallest subnormal, so exactly 0 is right.
    z = np.array([[-1000.0, -800.0, 800.0, 1000.0]])
    act = cls()
    with np.errstate(**LOUD):
        out = act(z)
        derivative = act.derivative()
    assert np.array_equal(out, [[low, low, high, high]])
    assert np.array_equal(derivative, np.zeros_like(z))


def logistic(t):
    """1 / (1 + e^-t) in Python floats, as e^t / (1 + e^t) for t < 0: never overflows, no cancellation."""
    return math.exp(t) / (1.0 + math.exp(t)) if t < 0 else 1.0 / (1.0 + math.exp(-t))


def test_sigmoid_is_within_one_unit_in_the_last_place_of_one_of_the_exact_value():
    z = np.concatenate([np.linspace(-40, 40, 8001), [-1e300, -1000.0, -700.0, -50.0, 50.0, 700.0, 1000.0, 1e300]])
    with np.errstate(**LOUD):
        out = Sigmoid()(z)
    error = np.abs(out - [logistic(t) for t in z])
    assert error.max() <= 2.3e-16, (z[error.argmax()], error.max())


@given(st.floats(min_value=-700, max_value=700, allow_nan=False))
def test_sigmoid_is_symmetric(z):
    # s(-z) = 1 - s(z); in floating point s(z) + s(-z) may miss 1 by the rounding of the larger term.
    s = Sigmoid()(np.array([[z, -z]]))[0]
    assert abs(s[0] + s[1] - 1.0) <= 2.3e-16


@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_tanh_is_odd_and_is_twice_sigmoid_of_twice_minus_one(z):
    t = Tanh()(np.array([[z, -z]]))[0]
    assert t[0] == -t[1]
    assert abs(t[0] - (2.0 * Sigmoid()(np.array([[2.0 * z]]))[0, 0] - 1.0)) <= 1e-15


@pytest.mark.parametrize(
    "z",
    [np.array([[0, 1]]), np.array([[0, 1]], dtype=np.int8), np.array([[False, True]])],
    ids=["int64", "int8", "bool"],
)
def test_activations_convert_integer_and_boolean_input_to_float64(z):
    out = Sigmoid()(z)
    assert out.dtype == np.float64
    assert out[0, 0] == 0.5 and abs(out[0, 1] - logistic(1.0)) <= 2.3e-16


@pytest.mark.parametrize("z", [np.array(-0.3), np.float64(-0.3)], ids=["0-d array", "numpy scalar"])
def test_activations_accept_a_single_number_and_return_its_value_and_derivative(z):
    sigmoid, tanh = Sigmoid(), Tanh()
    assert np.shape(sigmoid(z)) == () and abs(sigmoid(z) - logistic(-0.3)) <= 2.3e-16
    assert abs(sigmoid.derivative() - logistic(-0.3) * (1 - logistic(-0.3))) <= 2.3e-16
    assert abs(tanh(z) - math.tanh(-0.3)) <= 1e-16
    assert abs(tanh.derivative() - (1 - math.tanh(-0.3) ** 2)) <= 2.3e-16
