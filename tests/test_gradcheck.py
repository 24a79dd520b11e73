"""mytorch.gradcheck itself: it catches wrong gradients, points at the worst element, uses PyTorch's tolerance rule,
and never modifies the model it is given."""

import copy

import numpy as np
import pytest
from helpers import make_bias_init, make_weight_init, one_hot

from hw1 import MLP
from mytorch import BatchNorm, GradcheckError, Identity, Linear, SoftmaxCrossEntropy, Tanh, gradcheck


class ScaledIdentity:
    """A duck-typed activation f(z) = z whose derivative() is deliberately off by a factor (1 + error)."""

    def __init__(self, error):
        self.error, self.state = error, None

    def forward(self, z):
        self.state = z
        return z

    def derivative(self):
        return np.full(self.state.shape, 1.0 + self.error)


class SummedLinear(Linear):
    """The classic mistake: dW summed over the batch instead of averaged."""

    def backward(self, delta, *, input_grad=True):
        dx = super().backward(delta, input_grad=input_grad)
        self.dW = self.dW * delta.shape[0]
        return dx


def test_gradcheck_uses_atol_plus_rtol_times_numeric():
    # analytic = (1 + e) * numeric: passes when e * |numeric| <= rtol * |numeric| (atol 0), whatever the values.
    x = np.random.default_rng(0).standard_normal((3, 4))
    gradcheck(ScaledIdentity(0.9e-3), x, atol=0.0, rtol=1e-3)
    with pytest.raises(GradcheckError):
        gradcheck(ScaledIdentity(1.1e-3), x, atol=0.0, rtol=1e-3)
    gradcheck(ScaledIdentity(1.1e-3), x, atol=1.0, rtol=1e-3)  # a generous atol absorbs it


def test_gradcheck_reports_a_summed_dW_with_both_values_and_the_tolerance(rng):
    layer = SummedLinear(3, 2, make_weight_init(rng), make_bias_init(rng))
    with pytest.raises(GradcheckError, match=r"FAIL Linear\(3 -> 2\) dW\[\d+, \d+\]: analytic .*, numeric .*tolerance"):
        gradcheck(layer, rng.standard_normal((4, 3)))
    checks = gradcheck(layer, rng.standard_normal((4, 3)), raise_exception=False)
    failed = {c.quantity for c in checks if not c.ok}
    assert failed == {"Linear(3 -> 2) dW"}


def test_gradcheck_points_at_the_worst_element(rng):
    class OneWrongElement(Linear):
        def backward(self, delta):
            dx = super().backward(delta)
            self.dW[2, 1] += 0.5
            return dx

    layer = OneWrongElement(3, 2, make_weight_init(rng), make_bias_init(rng))
    check = next(c for c in gradcheck(layer, rng.standard_normal((4, 3)), raise_exception=False) if not c.ok)
    assert check.index == (2, 1)
    np.testing.assert_allclose(check.analytic - check.numeric, 0.5, rtol=1e-5)


def test_gradcheck_catches_a_wrong_gradient_inside_an_mlp(rng):
    mlp = MLP(4, 3, [5], [Tanh(), Identity()], make_weight_init(rng), make_bias_init(rng), SoftmaxCrossEntropy(), 0.1)
    mlp.linear_layers[0] = SummedLinear(4, 5, make_weight_init(rng), make_bias_init(rng))
    with pytest.raises(GradcheckError, match=r"mlp\.linear_layers\[0\]\.dW"):
        gradcheck(mlp, rng.standard_normal((6, 4)), one_hot(rng, 6, 3))


def test_gradcheck_leaves_the_model_and_input_untouched(rng):
    bn = BatchNorm(3)
    bn.gamma = rng.uniform(0.5, 2, (1, 3))
    x = rng.standard_normal((5, 3))
    bn_before, x_before = copy.deepcopy(bn.__dict__), x.copy()
    gradcheck(bn, x)
    assert np.array_equal(x, x_before)
    for name in ("gamma", "beta", "dgamma", "dbeta", "running_mean", "running_var"):
        assert np.array_equal(getattr(bn, name), bn_before[name]), name  # no forward or backward ran on it


def test_gradcheck_of_an_mlp_without_labels_says_what_to_pass(rng):
    mlp = MLP(2, 2, [], [Identity()], make_weight_init(rng), make_bias_init(rng), SoftmaxCrossEntropy(), 0.1)
    with pytest.raises(ValueError, match=r"gradcheck\(mlp, x, labels\)"):
        gradcheck(mlp, rng.standard_normal((3, 2)))
