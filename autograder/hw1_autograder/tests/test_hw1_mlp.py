"""hw1.MLP without BatchNorm or momentum, built as the oracle built it (np.random.seed(11785), randn weights, zero
biases, lr 0.008), on a batch of 20 MNIST-like images (784 pixels) with one-hot labels over 10 classes.

    linear classifier   MLP(784, 10, [], [Identity])
    single hidden       MLP(784, 10, [32], [Sigmoid, Identity])
    mystery 1           MLP(784, 10, [64, 32], [Sigmoid, Tanh, Identity])
    mystery 2           MLP(784, 10, [32] * 5, [Tanh, Sigmoid, ReLU, Sigmoid, Tanh, Identity])
    mystery 3           MLP(784, 10, [32], [ReLU, Identity])

forward: mlp.forward(x). backward: every dW and db after mlp.forward(x); mlp.backward(y), output layer first.
(The architectures are stored with the references: references/MANIFEST.md.)
"""

from reference_data import Reference, train_steps


def check_forward(case, hw1, activation, loss):
    ref = Reference(case)
    mlp = ref.build_mlp(hw1, activation, loss)
    ref.check(mlp.forward(ref["x"]), "forward", "mlp.forward(x)")


def check_backward(case, hw1, activation, loss):
    ref = Reference(case)
    mlp = ref.build_mlp(hw1, activation, loss)
    mlp.forward(ref["x"])
    mlp.backward(ref["y"])
    ref.check_layers(mlp, ("dW", "db"), ("dgamma", "dbeta"))


def test_linear_classifier_forward(hw1, activation, loss):
    check_forward("linear_classifier", hw1, activation, loss)


def test_linear_classifier_backward(hw1, activation, loss):
    check_backward("linear_classifier", hw1, activation, loss)


def test_linear_classifier_step(hw1, activation, loss):
    """Five plain SGD steps (zero_grads, forward, backward, step) on the same batch, then W and b."""
    ref = Reference("linear_classifier")
    mlp = ref.build_mlp(hw1, activation, loss)
    train_steps(mlp, [(ref["x"], ref["y"])] * 5)
    ref.check_layers(mlp, ("W", "b"), ("gamma", "beta"), prefix="step.")


def test_single_hidden_forward(hw1, activation, loss):
    check_forward("single_hidden", hw1, activation, loss)


def test_single_hidden_backward(hw1, activation, loss):
    check_backward("single_hidden", hw1, activation, loss)


def test_mystery_hidden_forward1(hw1, activation, loss):
    check_forward("mystery_1", hw1, activation, loss)


def test_mystery_hidden_forward2(hw1, activation, loss):
    check_forward("mystery_2", hw1, activation, loss)


def test_mystery_hidden_forward3(hw1, activation, loss):
    check_forward("mystery_3", hw1, activation, loss)


def test_mystery_hidden_backward1(hw1, activation, loss):
    check_backward("mystery_1", hw1, activation, loss)


def test_mystery_hidden_backward2(hw1, activation, loss):
    check_backward("mystery_2", hw1, activation, loss)


def test_mystery_hidden_backward3(hw1, activation, loss):
    check_backward("mystery_3", hw1, activation, loss)
