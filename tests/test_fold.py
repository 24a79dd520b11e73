"""fold_batchnorm: a new MLP without BatchNorm whose eval forward equals the original's, the original untouched."""

import numpy as np
import pytest
from helpers import make_bias_init, make_weight_init, one_hot, relative_error, snapshot
from hypothesis import given
from hypothesis import strategies as st

from hw1 import MLP, fold_batchnorm
from mytorch import Identity, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh


def build_mlp(rng, num_bn_layers=2, hiddens=(6, 5)):
    activations = [Tanh(), ReLU(), Sigmoid(), Tanh()][: len(hiddens)] + [Identity()]
    return MLP(
        4,
        3,
        list(hiddens),
        activations,
        make_weight_init(rng),
        make_bias_init(rng),
        SoftmaxCrossEntropy(),
        lr=0.1,
        momentum=0.9,
        num_bn_layers=num_bn_layers,
    )


def train(mlp, rng, steps=5):
    """A few momentum steps in train mode: gamma, beta and the running statistics all move away from their starts."""
    mlp.train()
    for _ in range(steps):
        mlp.zero_grads()
        mlp.forward(rng.standard_normal((8, 4)) * 2 + 1)
        mlp.backward(one_hot(rng, 8, 3))
        mlp.step()


def state(mlp):
    """Everything folding could touch."""
    return {**snapshot(mlp), "num_bn_layers": mlp.num_bn_layers}


def assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(before[key], after[key]), key


def eval_forward(mlp, x):
    mlp.eval()
    return mlp.forward(x)


@pytest.mark.parametrize("num_bn_layers", [1, 2])
def test_folded_trained_model_gives_the_same_eval_outputs(num_bn_layers, rng):
    mlp = build_mlp(rng, num_bn_layers)
    train(mlp, rng)
    x = rng.standard_normal((10, 4)) * 2 + 1
    expected = eval_forward(mlp, x)
    folded = fold_batchnorm(mlp)
    assert len(folded.bn_layers) == 0 and folded.num_bn_layers == 0
    assert relative_error(eval_forward(folded, x), expected) <= 1e-9


def test_folded_weights_follow_the_folding_formula(rng):
    mlp = build_mlp(rng, 1)
    train(mlp, rng)
    layer, bn = mlp.linear_layers[0], mlp.bn_layers[0]
    scale = bn.gamma / np.sqrt(bn.running_var + 1e-8)
    folded = fold_batchnorm(mlp)
    np.testing.assert_allclose(folded.linear_layers[0].W, layer.W * scale, rtol=1e-15)
    np.testing.assert_allclose(folded.linear_layers[0].b, (layer.b - bn.running_mean) * scale + bn.beta, rtol=1e-15)
    for i in (1, 2):  # layers without BatchNorm are copied as they are
        np.testing.assert_array_equal(folded.linear_layers[i].W, mlp.linear_layers[i].W)
        np.testing.assert_array_equal(folded.linear_layers[i].b, mlp.linear_layers[i].b)


def test_folding_leaves_the_original_model_untouched_and_working(rng):
    mlp = build_mlp(rng)
    train(mlp, rng)
    x = rng.standard_normal((6, 4))
    expected = eval_forward(mlp, x)
    mlp.train()
    before = state(mlp)
    folded = fold_batchnorm(mlp)
    assert_same_state(before, state(mlp))
    np.testing.assert_array_equal(eval_forward(mlp, x), expected)
    # The folded copy shares no arrays: changing it cannot reach the original.
    for layer in folded.linear_layers:
        layer.W += 1.0
        layer.b += 1.0
    folded.forward(x)
    assert_same_state(before, state(mlp))
    train(mlp, rng, steps=1)  # and the original still trains, BatchNorm and all
    assert not np.array_equal(mlp.bn_layers[0].running_mean, before["bn_layers[0].running_mean"])


def test_folding_a_model_never_trained_in_train_mode_uses_the_initial_running_stats(rng):
    mlp = build_mlp(rng)
    x = rng.standard_normal((5, 4))
    expected = eval_forward(mlp, x)
    folded = fold_batchnorm(mlp)
    assert relative_error(eval_forward(folded, x), expected) <= 1e-9
    # running mean 0, variance 1, gamma 1, beta 0: the folded layer is the original scaled by 1 / sqrt(1 + eps).
    np.testing.assert_allclose(folded.linear_layers[0].W, mlp.linear_layers[0].W / np.sqrt(1 + 1e-8), rtol=1e-15)


def test_folding_a_model_without_batchnorm_returns_an_independent_copy(rng):
    mlp = build_mlp(rng, num_bn_layers=0)
    train(mlp, rng)
    x = rng.standard_normal((5, 4))
    before = state(mlp)
    folded = fold_batchnorm(mlp)
    assert folded is not mlp
    np.testing.assert_array_equal(eval_forward(folded, x), eval_forward(mlp, x))
    for original, copy in zip(mlp.linear_layers, folded.linear_layers):
        assert copy is not original
        assert not np.shares_memory(copy.W, original.W) and not np.shares_memory(copy.b, original.b)
    assert_same_state(before, state(mlp))


@given(st.integers(0, 2**32 - 1), st.floats(1e-4, 1e2), st.floats(-3, 3))
def test_folded_and_unfolded_networks_agree_in_eval_mode(seed, variance_scale, mean_shift):
    rng = np.random.default_rng(seed)
    mlp = build_mlp(rng, 2)
    for bn in mlp.bn_layers:  # any statistics and affine parameters training could have produced
        bn.running_mean = rng.standard_normal(bn.running_mean.shape) + mean_shift
        bn.running_var = rng.uniform(0.1, 1.0, bn.running_var.shape) * variance_scale
        bn.gamma = rng.uniform(-2, 2, bn.gamma.shape)
        bn.beta = rng.standard_normal(bn.beta.shape)
    x = rng.standard_normal((4, 4))
    assert relative_error(eval_forward(fold_batchnorm(mlp), x), eval_forward(mlp, x)) <= 1e-9
