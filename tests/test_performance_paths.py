"""The shortcuts taken for speed keep the contract: MLP(..., dtype=np.float32), the first layer's skipped dL/dx,
in-place weight updates, and the NaN test that Linear runs on its output instead of its input."""

import numpy as np
import pytest
from helpers import make_bias_init, make_weight_init, one_hot, snapshot

from hw1 import MLP
from mytorch import Identity, Linear, ReLU, Sigmoid, SoftmaxCrossEntropy


def build(dtype=None, seed=0, num_bn_layers=1):
    rng = np.random.default_rng(seed)
    options = {} if dtype is None else {"dtype": dtype}
    return MLP(6, 4, [5, 3], [Sigmoid(), ReLU(), Identity()], make_weight_init(rng), make_bias_init(rng),
               SoftmaxCrossEntropy(), lr=0.1, momentum=0.9, num_bn_layers=num_bn_layers, **options)


def train(mlp, steps=3, seed=1):
    rng = np.random.default_rng(seed)
    x, labels = rng.standard_normal((8, 6)), one_hot(rng, 8, 4)
    for _ in range(steps):
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(labels)
        mlp.step()
    return x, labels


def test_float32_model_keeps_every_array_float32_and_tracks_the_float64_model():
    mlp32, mlp64 = build(np.float32), build()
    x, labels = train(mlp32)
    train(mlp64)
    values32, values64 = snapshot(mlp32), snapshot(mlp64)
    for key, value in values32.items():
        assert value.dtype == np.float32, key
        np.testing.assert_allclose(value, values64[key], rtol=2e-4, atol=2e-5, err_msg=key)
    mlp32.eval()
    assert mlp32.forward(x).dtype == np.float32


def test_default_model_is_float64_even_for_float32_input():
    mlp = build()
    x, _ = train(mlp)
    assert all(value.dtype == np.float64 for value in snapshot(mlp).values())
    assert mlp.forward(x.astype(np.float32)).dtype == np.float64


def test_linear_backward_without_input_grad_sets_the_same_gradients_and_returns_none(rng):
    layer = Linear(4, 3, make_weight_init(rng), make_bias_init(rng))
    x, delta = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    dx = layer.backward(delta)
    dW, db = layer.dW.copy(), layer.db.copy()
    assert layer.backward(delta, input_grad=False) is None
    np.testing.assert_array_equal(layer.dW, dW)
    np.testing.assert_array_equal(layer.db, db)
    np.testing.assert_allclose(dx, delta @ layer.W.T, rtol=1e-15)  # direct calls still get dL/dx


def test_mlp_asks_only_its_first_layer_to_skip_the_input_gradient(rng):
    class RecordingLinear(Linear):
        def backward(self, delta, *, input_grad=True):
            self.input_grad = input_grad
            return super().backward(delta, input_grad=input_grad)

    mlp = build(num_bn_layers=0)
    mlp.linear_layers = [RecordingLinear(layer.in_feature, layer.out_feature, make_weight_init(rng),
                                         make_bias_init(rng)) for layer in mlp.linear_layers]
    train(mlp, steps=1)
    assert [layer.input_grad for layer in mlp.linear_layers] == [False] + [True] * (len(mlp.linear_layers) - 1)


def test_step_updates_weights_in_place_but_never_the_array_weight_init_fn_returned():
    given = np.ones((6, 5))
    mlp = MLP(6, 4, [5], [Sigmoid(), Identity()], lambda n_in, n_out: given if n_in == 6 else np.ones((n_in, n_out)),
              lambda n: np.zeros((1, n)), SoftmaxCrossEntropy(), lr=0.1, momentum=0.5)
    train(mlp, steps=2)
    np.testing.assert_array_equal(given, np.ones((6, 5)))
    assert not np.array_equal(mlp.linear_layers[0].W, given)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_linear_names_a_non_finite_input_found_through_its_output(bad, rng):
    layer = Linear(784, 2, make_weight_init(rng), make_bias_init(rng))
    x = rng.standard_normal((3, 784))
    x[2, 700] = bad
    with pytest.raises(ValueError, match=r"Linear\(784 -> 2\)\.forward: x contains .* at index \(2, 700\)"):
        layer.forward(x)


def test_linear_lets_finite_inputs_through_even_when_the_output_overflows(rng):
    layer = Linear(2, 1, lambda n_in, n_out: np.full((n_in, n_out), 1e308), lambda n: np.zeros((1, n)))
    with np.errstate(over="ignore"):
        out = layer.forward(np.array([[10.0, 10.0]]))
    assert np.isinf(out).all()  # not an input error; the activation after it reports the divergence
