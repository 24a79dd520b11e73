"""MLP: construction order, whole-network gradients (finite differences, PyTorch), update rules, error, total_loss."""

import numpy as np
import pytest
from helpers import (
    cross_entropy_reference,
    make_bias_init,
    make_weight_init,
    one_hot,
    snapshot,
    tensor,
    torch_float64,
    zeros_bias,
)
from hypothesis import given
from hypothesis import strategies as st

from hw1 import MLP
from mytorch import Identity, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh, gradcheck


def build_mlp(rng, hiddens, activations, num_bn_layers=0, momentum=0.0, lr=0.1, input_size=4, output_size=3):
    """An MLP with random weights and biases, and random gamma and beta in its BatchNorm layers."""
    mlp = MLP(
        input_size,
        output_size,
        hiddens,
        activations,
        make_weight_init(rng),
        make_bias_init(rng),
        SoftmaxCrossEntropy(),
        lr,
        momentum,
        num_bn_layers,
    )
    for bn in mlp.bn_layers:
        bn.gamma = rng.uniform(0.5, 2.0, bn.gamma.shape)
        bn.beta = rng.standard_normal(bn.beta.shape) * 0.5
    return mlp


ARCHITECTURES = {
    "no hidden layer": ([], lambda: [Identity()], 0),
    "one hidden sigmoid": ([5], lambda: [Sigmoid(), Identity()], 0),
    "two hidden, no batchnorm": ([6, 5], lambda: [Tanh(), ReLU(), Identity()], 0),
    "batchnorm after the first layer": ([6, 5], lambda: [Sigmoid(), Tanh(), Identity()], 1),
    # Layer 1's W sits before BatchNorm 1, so its gradient passes through BatchNorm's input gradient.
    "batchnorm after both hidden layers": ([6, 5], lambda: [Tanh(), Sigmoid(), Identity()], 2),
}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_mlp_gradients_match_finite_differences(name, rng):
    hiddens, activations, num_bn_layers = ARCHITECTURES[name]
    mlp = build_mlp(rng, hiddens, activations(), num_bn_layers)
    x, labels = rng.standard_normal((6, 4)), one_hot(rng, 6, 3)
    checks = gradcheck(mlp, x, labels)
    expected = 2 * (len(hiddens) + 1) + 2 * num_bn_layers
    assert len(checks) == expected, [c.quantity for c in checks]


def test_mlp_builds_layers_in_order_calling_weight_then_bias_init_and_nothing_else_random():
    calls = []

    def weight_init(n_in, n_out):
        calls.append(("weight", n_in, n_out))
        return np.ones((n_in, n_out))

    def bias_init(n):
        calls.append(("bias", n))
        return np.zeros((1, n))

    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    mlp = MLP(
        3,
        2,
        [5, 4],
        [Sigmoid(), Sigmoid(), Identity()],
        weight_init,
        bias_init,
        SoftmaxCrossEntropy(),
        lr=0.1,
        num_bn_layers=2,
    )
    assert calls == [("weight", 3, 5), ("bias", 5), ("weight", 5, 4), ("bias", 4), ("weight", 4, 2), ("bias", 2)]
    assert np.array_equal(np.random.get_state()[1], before), "MLP construction drew from np.random"
    assert [layer.W.shape for layer in mlp.linear_layers] == [(3, 5), (5, 4), (4, 2)]
    assert [bn.gamma.shape for bn in mlp.bn_layers] == [(1, 5), (1, 4)]


def test_mlp_forward_returns_the_last_activation_output(rng):
    mlp = build_mlp(rng, [5], [Tanh(), Sigmoid()])
    out = mlp.forward(rng.standard_normal((7, 4)))
    assert out.shape == (7, 3)
    assert np.array_equal(out, mlp.activations[-1].state)
    assert ((out > 0) & (out < 1)).all()  # it went through the final Sigmoid


def identity_network():
    """MLP(3, 3, [], [Identity()]) with W = I and b = 0: its output is its input, so logits can be chosen."""
    return MLP(
        3, 3, [], [Identity()], lambda n_in, n_out: np.eye(n_in, n_out), zeros_bias, SoftmaxCrossEntropy(), lr=0.1
    )


def test_mlp_error_counts_misclassified_examples():
    mlp = identity_network()
    logits = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 5.0], [2.0, 2.5, 0.0], [0.0, 0.0, 1.0]])
    labels = np.eye(3)[[0, 0, 2, 0, 2]]  # rows 1 and 3 have their largest logit elsewhere
    mlp.forward(logits)
    assert mlp.error(labels) == 2


def test_mlp_total_loss_is_the_sum_of_per_example_losses(rng):
    mlp = identity_network()
    logits, labels = rng.standard_normal((5, 3)), one_hot(rng, 5, 3)
    mlp.forward(logits)
    np.testing.assert_allclose(mlp.total_loss(labels), cross_entropy_reference(logits, labels).sum(), rtol=1e-13)


def test_training_never_modifies_the_arrays_the_init_functions_returned():
    weights, bias = np.ones((4, 5)), np.zeros((1, 5))
    mlp = MLP(
        4,
        3,
        [5],
        [Sigmoid(), Identity()],
        lambda n_in, n_out: weights if n_in == 4 else np.ones((n_in, n_out)),
        lambda n: bias if n == 5 else np.zeros((1, n)),
        SoftmaxCrossEntropy(),
        lr=0.1,
        momentum=0.5,
    )
    rng = np.random.default_rng(0)
    for _ in range(2):
        train_step(mlp, rng.standard_normal((6, 4)), one_hot(rng, 6, 3))
    np.testing.assert_array_equal(weights, np.ones((4, 5)))
    np.testing.assert_array_equal(bias, np.zeros((1, 5)))
    assert not np.array_equal(mlp.linear_layers[0].W, weights)  # the layer's own copy did train


def test_mlp_zero_grads_zeros_every_gradient(rng):
    mlp = build_mlp(rng, [6, 5], [Tanh(), Tanh(), Identity()], num_bn_layers=1)
    mlp.forward(rng.standard_normal((5, 4)))
    mlp.backward(one_hot(rng, 5, 3))
    mlp.zero_grads()
    for key, value in snapshot(mlp).items():
        if key.split(".")[-1] in ("dW", "db", "dgamma", "dbeta"):
            assert not value.any(), key


def train_step(mlp, x, labels):
    """One batch: returns the gradients the step used, read before the step."""
    mlp.zero_grads()
    mlp.forward(x)
    mlp.backward(labels)
    grads = snapshot(mlp)
    mlp.step()
    return grads


@given(st.integers(0, 2**32 - 1), st.floats(1e-3, 1.0))
def test_momentum_zero_is_plain_sgd(seed, lr):
    rng = np.random.default_rng(seed)
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()], num_bn_layers=1, momentum=0.0, lr=lr)
    for _ in range(2):
        before = snapshot(mlp)
        grads = train_step(mlp, rng.standard_normal((4, 4)), one_hot(rng, 4, 3))
        for i, layer in enumerate(mlp.linear_layers):
            np.testing.assert_allclose(
                layer.W, before[f"linear_layers[{i}].W"] - lr * grads[f"linear_layers[{i}].dW"], rtol=1e-14, atol=1e-15
            )
            np.testing.assert_allclose(
                layer.b, before[f"linear_layers[{i}].b"] - lr * grads[f"linear_layers[{i}].db"], rtol=1e-14, atol=1e-15
            )


def test_momentum_update_is_v_equals_mu_v_minus_lr_g_then_W_plus_v(rng):
    lr, mu = 0.2, 0.9
    mlp = build_mlp(rng, [5], [Tanh(), Identity()], momentum=mu, lr=lr)
    W = [layer.W.copy() for layer in mlp.linear_layers]
    b = [layer.b.copy() for layer in mlp.linear_layers]
    v_W = [np.zeros_like(w) for w in W]
    v_b = [np.zeros_like(c) for c in b]
    for _ in range(3):
        grads = train_step(mlp, rng.standard_normal((4, 4)), one_hot(rng, 4, 3))
        for i, layer in enumerate(mlp.linear_layers):
            v_W[i] = mu * v_W[i] - lr * grads[f"linear_layers[{i}].dW"]
            v_b[i] = mu * v_b[i] - lr * grads[f"linear_layers[{i}].db"]
            W[i], b[i] = W[i] + v_W[i], b[i] + v_b[i]
            np.testing.assert_allclose(layer.momentum_W, v_W[i], rtol=1e-13, atol=1e-16)
            np.testing.assert_allclose(layer.momentum_b, v_b[i], rtol=1e-13, atol=1e-16)
            np.testing.assert_allclose(layer.W, W[i], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(layer.b, b[i], rtol=1e-13, atol=1e-15)


def test_batchnorm_gamma_and_beta_take_plain_sgd_steps_even_with_momentum(rng):
    lr = 0.3
    mlp = build_mlp(rng, [5], [Tanh(), Identity()], num_bn_layers=1, momentum=0.9, lr=lr)
    for _ in range(3):
        before = snapshot(mlp)
        grads = train_step(mlp, rng.standard_normal((4, 4)), one_hot(rng, 4, 3))
        bn = mlp.bn_layers[0]
        np.testing.assert_allclose(
            bn.gamma, before["bn_layers[0].gamma"] - lr * grads["bn_layers[0].dgamma"], rtol=1e-14
        )
        np.testing.assert_allclose(
            bn.beta, before["bn_layers[0].beta"] - lr * grads["bn_layers[0].dbeta"], rtol=1e-14, atol=1e-15
        )


def test_mlp_eval_mode_uses_running_stats_and_train_mode_updates_them(rng):
    mlp = build_mlp(rng, [5], [Tanh(), Identity()], num_bn_layers=1)
    x = rng.standard_normal((4, 4))
    mlp.eval()
    before = snapshot(mlp)
    single = mlp.forward(x[:1])  # a batch of one is fine in eval mode
    assert all(np.array_equal(value, snapshot(mlp)[key]) for key, value in before.items())
    np.testing.assert_allclose(single, mlp.forward(x)[:1], rtol=1e-14)  # examples do not interact in eval mode
    mlp.train()
    mlp.forward(x)
    assert not np.array_equal(mlp.bn_layers[0].running_mean, before["bn_layers[0].running_mean"])


def test_mlp_training_steps_with_batchnorm_and_momentum_match_torch_float64(rng):
    torch = torch_float64()
    F = torch.nn.functional
    lr, mu, alpha, batch = 0.1, 0.9, 0.9, 6
    mlp = build_mlp(rng, [6, 5], [Sigmoid(), ReLU(), Identity()], num_bn_layers=2, momentum=mu, lr=lr)
    # The same network in torch: its initial values are copied, everything after is torch's own arithmetic.
    W = [tensor(torch, layer.W, requires_grad=True) for layer in mlp.linear_layers]
    b = [tensor(torch, layer.b, requires_grad=True) for layer in mlp.linear_layers]
    gamma = [tensor(torch, bn.gamma[0], requires_grad=True) for bn in mlp.bn_layers]
    beta = [tensor(torch, bn.beta[0], requires_grad=True) for bn in mlp.bn_layers]
    running_mean = [torch.zeros(n, dtype=torch.float64) for n in (6, 5)]
    running_var = [torch.ones(n, dtype=torch.float64) for n in (6, 5)]
    # torch's SGD keeps buf = mu * buf + g and steps p -= lr * buf: with a constant lr, that is the handout's
    # v = mu * v - lr * g, p += v with v = -lr * buf.
    linear_optimizer = torch.optim.SGD(W + b, lr=lr, momentum=mu)
    bn_optimizer = torch.optim.SGD(gamma + beta, lr=lr)
    activations = [torch.sigmoid, torch.relu, lambda t: t]

    def torch_forward(x, training):
        h = tensor(torch, x)
        for i in range(3):
            h = h @ W[i] + b[i]
            if i < 2:
                if training:
                    with torch.no_grad():
                        running_mean[i] = alpha * running_mean[i] + (1 - alpha) * h.mean(0)
                        running_var[i] = alpha * running_var[i] + (1 - alpha) * h.var(0, unbiased=False)
                h = F.batch_norm(
                    h,
                    None if training else running_mean[i],
                    None if training else running_var[i],
                    gamma[i],
                    beta[i],
                    training=training,
                    eps=1e-8,
                )
            h = activations[i](h)
        return h

    for _ in range(3):
        x, labels = rng.standard_normal((batch, 4)) * 2, one_hot(rng, batch, 3)
        mlp.zero_grads()
        out = mlp.forward(x)
        mlp.backward(labels)
        total = mlp.total_loss(labels)
        mlp.step()

        linear_optimizer.zero_grad()
        bn_optimizer.zero_grad()
        out_t = torch_forward(x, training=True)
        loss_t = F.cross_entropy(out_t, tensor(torch, labels), reduction="sum")
        loss_t.backward()
        for p in W + b:  # the handout averages Linear gradients over the batch, and only those
            p.grad /= batch
        linear_optimizer.step()
        bn_optimizer.step()
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(total, loss_t.item(), rtol=1e-12)

    for i, layer in enumerate(mlp.linear_layers):
        np.testing.assert_allclose(layer.W, W[i].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.b, b[i].detach().numpy(), rtol=1e-10, atol=1e-12)
        buffer = linear_optimizer.state[W[i]]["momentum_buffer"].numpy()
        np.testing.assert_allclose(layer.momentum_W, -lr * buffer, rtol=1e-10, atol=1e-12)
    for i, bn in enumerate(mlp.bn_layers):
        np.testing.assert_allclose(bn.gamma[0], gamma[i].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.beta[0], beta[i].detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_mean[0], running_mean[i].numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bn.running_var[0], running_var[i].numpy(), rtol=1e-10, atol=1e-12)

    x = rng.standard_normal((5, 4))
    mlp.eval()
    with torch.no_grad():
        np.testing.assert_allclose(mlp.forward(x), torch_forward(x, training=False).numpy(), rtol=1e-10, atol=1e-12)
