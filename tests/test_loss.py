"""SoftmaxCrossEntropy: the per-example loss and softmax - y, against closed forms, finite differences and torch."""

import math

import numpy as np
from helpers import central_difference, cross_entropy_reference, one_hot, tensor, torch_float64
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mytorch import SoftmaxCrossEntropy, gradcheck

LOUD = dict(all="raise")


def logits_and_labels(max_batch=5, max_classes=6, bound=30.0):
    """Hypothesis strategy: (x, y) with x: (batch, classes) bounded floats and y one-hot of the same shape."""

    def build(shape):
        batch, classes = shape
        x = arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False))
        y = st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch).map(lambda k: np.eye(classes)[k])
        return st.tuples(x, y)

    return st.tuples(st.integers(1, max_batch), st.integers(2, max_classes)).flatmap(build)


def test_cross_entropy_matches_closed_form_values():
    # softmax([log 1, log 2, log 3]) = [1/6, 2/6, 3/6]: the loss at class k is -log((k + 1) / 6).
    x = np.log(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]))
    y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss = SoftmaxCrossEntropy()(x, y)
    assert loss.shape == (3,)
    np.testing.assert_allclose(loss, [math.log(2.0), math.log(6.0), math.log(3.0)], rtol=1e-15)


def test_cross_entropy_derivative_is_softmax_minus_labels_not_divided_by_batch():
    x = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 2.0]]))
    y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    ce = SoftmaxCrossEntropy()
    ce(x, y)
    expected = np.array([[1 / 6, 2 / 6, 3 / 6], [0.4, 0.4, 0.2]]) - y
    np.testing.assert_allclose(ce.derivative(), expected, rtol=1e-14, atol=1e-16)


def test_cross_entropy_derivative_matches_finite_differences(rng):
    x = rng.standard_normal((4, 5)) * 3
    gradcheck(SoftmaxCrossEntropy(), x, one_hot(rng, 4, 5))


def test_cross_entropy_derivative_matches_independent_finite_differences(rng):
    x = rng.standard_normal((3, 4)) * 3
    y = one_hot(rng, 3, 4)
    ce = SoftmaxCrossEntropy()
    ce(x, y)
    analytic = ce.derivative()
    numeric = central_difference(lambda: float(np.sum(SoftmaxCrossEntropy()(x, y))), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_cross_entropy_loss_and_derivative_match_torch_float64(rng):
    torch = torch_float64()
    x = rng.standard_normal((6, 5)) * 4
    y = one_hot(rng, 6, 5)
    ce = SoftmaxCrossEntropy()
    loss = ce(x, y)
    xt = tensor(torch, x, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(xt, tensor(torch, y), reduction="none")
    loss_t.sum().backward()
    np.testing.assert_allclose(loss, loss_t.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ce.derivative(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_exact_and_warning_free_at_logits_of_plus_minus_1e4():
    x = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    y = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 1.0, 0]])
    ce = SoftmaxCrossEntropy()
    with np.errstate(**LOUD):
        loss = ce(x, y)
        derivative = ce.derivative()
    # logsumexp(1e4, -1e4, 0) = 1e4 + log(1 + e^-1e4 + e^-2e4) = 1e4 in float64;  equal logits: log 3;  two tied: log 2.
    np.testing.assert_allclose(loss, [0.0, 2e4, math.log(3.0), math.log(2.0)], rtol=1e-15, atol=0)
    expected = np.array([[1, 0, 0], [1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]]) - y
    np.testing.assert_allclose(derivative, expected, rtol=1e-15, atol=0)


@given(logits_and_labels())
def test_cross_entropy_matches_logaddexp_reference(xy):
    x, y = xy
    np.testing.assert_allclose(SoftmaxCrossEntropy()(x, y), cross_entropy_reference(x, y), rtol=1e-12, atol=1e-12)


@given(logits_and_labels())
def test_softmax_rows_sum_to_one(xy):
    x, y = xy
    ce = SoftmaxCrossEntropy()
    ce(x, y)
    softmax = ce.derivative() + y
    assert (softmax >= 0).all()
    np.testing.assert_allclose(softmax.sum(axis=1), 1.0, rtol=0, atol=1e-14)


@given(logits_and_labels(), st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=5))
def test_adding_a_constant_to_a_row_of_logits_changes_nothing(xy, shifts):
    x, y = xy
    shifted = x + np.array(shifts[: len(x)])[:, None]
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    # Only rounding of x + c (relative 1e-16 of |c| <= 1e3) separates the two.
    np.testing.assert_allclose(a(x, y), b(shifted, y), rtol=0, atol=1e-11)
    np.testing.assert_allclose(a.derivative(), b.derivative(), rtol=0, atol=1e-11)


def test_cross_entropy_accepts_integer_one_hot_labels(rng):
    x = rng.standard_normal((3, 4))
    y = np.eye(4, dtype=int)[[0, 3, 1]]
    ce = SoftmaxCrossEntropy()
    np.testing.assert_allclose(ce(x, y), cross_entropy_reference(x, y), rtol=1e-12)
    assert ce.derivative().dtype == np.float64
