"""BatchNorm: the handout's conventions (biased variance, eps 1e-8, summed dgamma/dbeta, running statistics), checked
against closed forms, finite differences and PyTorch's F.batch_norm in float64."""

import copy

import numpy as np
import pytest
from helpers import central_difference, tensor, torch_float64
from hypothesis import given
from hypothesis import strategies as st

from mytorch import BatchNorm, gradcheck


def random_bn(rng, features, alpha=0.9):
    """A BatchNorm with non-trivial gamma, beta and running statistics (so no term can hide behind 1 or 0)."""
    bn = BatchNorm(features, alpha)
    bn.gamma = rng.uniform(0.5, 2.0, (1, features))
    bn.beta = rng.standard_normal((1, features))
    bn.running_mean = rng.standard_normal((1, features))
    bn.running_var = rng.uniform(0.5, 2.0, (1, features))
    return bn


def biased_stats(x):
    """Per-feature batch mean and biased (1/m) variance, written out: (1, features) each."""
    m = x.shape[0]
    mean = x.sum(axis=0, keepdims=True) / m
    return mean, ((x - mean) ** 2).sum(axis=0, keepdims=True) / m


def test_batchnorm_starts_with_the_handout_parameters():
    bn = BatchNorm(3)
    assert bn.eps == 1e-8 and bn.alpha == 0.9
    starts = {"gamma": 1, "beta": 0, "dgamma": 0, "dbeta": 0, "running_mean": 0, "running_var": 1}
    for name, value in starts.items():
        array = getattr(bn, name)
        assert array.shape == (1, 3) and (array == value).all(), name


@given(st.integers(0, 2**32 - 1), st.integers(2, 12), st.integers(1, 4), st.floats(1e-2, 1e2), st.floats(-1e3, 1e3))
def test_batchnorm_train_output_has_per_feature_mean_zero_and_variance_one(seed, batch, features, scale, offset):
    rng = np.random.default_rng(seed)
    x = offset + scale * rng.standard_normal((batch, features))
    out = BatchNorm(features)(x)
    _, var = biased_stats(x)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    # With the biased variance the output variance is exactly var / (var + eps): 1 up to eps.
    np.testing.assert_allclose(out.var(axis=0), (var / (var + 1e-8))[0], rtol=1e-9)


def test_batchnorm_train_output_is_gamma_times_normalised_plus_beta(rng):
    bn = random_bn(rng, 3)
    x = rng.standard_normal((6, 3)) * 4 + 2
    mean, var = biased_stats(x)
    np.testing.assert_allclose(bn(x), bn.gamma * (x - mean) / np.sqrt(var + 1e-8) + bn.beta, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("alpha", [0.9, 0.5])
def test_batchnorm_running_stats_follow_alpha_running_plus_one_minus_alpha_biased_batch_stats(alpha, rng):
    bn = BatchNorm(3, alpha=alpha)
    running_mean, running_var = np.zeros((1, 3)), np.ones((1, 3))
    for _ in range(3):
        x = rng.standard_normal((4, 3)) * 3 + 1  # m = 4: the unbiased variance would be 4/3 times larger
        bn(x)
        mean, var = biased_stats(x)
        running_mean = alpha * running_mean + (1 - alpha) * mean
        running_var = alpha * running_var + (1 - alpha) * var
        np.testing.assert_allclose(bn.running_mean, running_mean, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(bn.running_var, running_var, rtol=1e-13)


def test_batchnorm_eval_uses_running_stats_and_updates_nothing(rng):
    bn = random_bn(rng, 3)
    before = copy.deepcopy(bn.__dict__)
    x = rng.standard_normal((5, 3))
    expected = bn.gamma * (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-8) + bn.beta
    np.testing.assert_allclose(bn(x, eval=True), expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(bn.forward(x[:1], eval=True), expected[:1], rtol=1e-13, atol=1e-14)  # batch of one
    for name in ("gamma", "beta", "running_mean", "running_var"):
        assert np.array_equal(getattr(bn, name), before[name]), name


def test_batchnorm_eps_is_1e_minus_8():
    bn = BatchNorm(1)
    bn.running_var = np.zeros((1, 1))  # eval divides by sqrt(0 + eps) = 1e-4 exactly
    np.testing.assert_allclose(bn(np.array([[3.0]]), eval=True), [[3e4]], rtol=1e-12)


def test_batchnorm_dgamma_and_dbeta_are_sums_over_the_batch(rng):
    bn = random_bn(rng, 3)
    x = rng.standard_normal((5, 3)) * 2
    delta = rng.standard_normal((5, 3))
    bn(x)
    bn.backward(delta)
    mean, var = biased_stats(x)
    norm = (x - mean) / np.sqrt(var + 1e-8)
    np.testing.assert_allclose(bn.dbeta, sum(delta[i] for i in range(5))[None, :], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(bn.dgamma, sum(delta[i] * norm[i] for i in range(5))[None, :], rtol=1e-12, atol=1e-14)


def test_batchnorm_train_backward_matches_finite_differences(rng):
    checks = gradcheck(random_bn(rng, 3), rng.standard_normal((5, 3)) * 2)
    assert {c.quantity.split()[-1] for c in checks} == {"dx", "dgamma", "dbeta"}


def test_batchnorm_train_backward_matches_independent_finite_differences(rng):
    bn = random_bn(rng, 3)
    x = rng.standard_normal((5, 3)) * 2
    upstream = rng.standard_normal((5, 3))
    bn(x)
    dx = bn.backward(upstream)
    probe = copy.deepcopy(bn)

    def loss():  # L = sum(out * upstream); train mode, so each call renormalises with the batch statistics
        return float(np.sum(probe.forward(x) * upstream))

    np.testing.assert_allclose(dx, central_difference(loss, x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(bn.dgamma, central_difference(loss, probe.gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(bn.dbeta, central_difference(loss, probe.beta), rtol=1e-6, atol=1e-8)


def test_batchnorm_eval_backward_matches_independent_finite_differences(rng):
    bn = random_bn(rng, 3)
    x = rng.standard_normal((4, 3))
    upstream = rng.standard_normal((4, 3))
    bn(x, eval=True)
    dx = bn.backward(upstream)
    probe = copy.deepcopy(bn)

    def loss():  # eval mode: the running statistics are constants
        return float(np.sum(probe.forward(x, eval=True) * upstream))

    np.testing.assert_allclose(dx, central_difference(loss, x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bn.dgamma, central_difference(loss, probe.gamma), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bn.dbeta, central_difference(loss, probe.beta), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_matches_torch_float64(training, rng):
    torch = torch_float64()
    F = torch.nn.functional
    bn = random_bn(rng, 4, alpha=0.8)
    x = rng.standard_normal((6, 4)) * 3 + 1
    upstream = rng.standard_normal((6, 4))
    xt, gamma_t, beta_t = (tensor(torch, a, requires_grad=True) for a in (x, bn.gamma[0], bn.beta[0]))
    mean_t, var_t = tensor(torch, bn.running_mean[0]), tensor(torch, bn.running_var[0])
    # torch normalises with the biased variance in training, like the handout; its running_var uses the unbiased
    # one, so the running update is checked against torch's own biased batch variance instead.
    out_t = F.batch_norm(
        xt, None if training else mean_t, None if training else var_t, gamma_t, beta_t, training=training, eps=1e-8
    )
    (out_t * tensor(torch, upstream)).sum().backward()
    if training:
        batch_mean, batch_var = xt.detach().mean(0), xt.detach().var(0, unbiased=False)
        mean_t, var_t = 0.8 * mean_t + 0.2 * batch_mean, 0.8 * var_t + 0.2 * batch_var

    out = bn(x, eval=not training)
    dx = bn.backward(upstream)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.dgamma[0], gamma_t.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(bn.dbeta[0], beta_t.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(bn.running_mean[0], mean_t.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(bn.running_var[0], var_t.numpy(), rtol=1e-13)
