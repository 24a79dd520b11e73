"""Momentum: hw1.MLP(784, 10, [64, 32], [Sigmoid, Sigmoid, Identity], lr 0.008, momentum 0.856), weights from
np.random.seed(11785), 5 steps (zero_grads, forward, backward, step) on one batch of 20. The handout's form:
momentum_W = momentum * momentum_W - lr * dW;  W += momentum_W  (same for b). Then every W and b, output layer
first, and the forward output."""

from reference_data import Reference, train_steps


def test_momentum(hw1, activation, loss):
    ref = Reference("momentum")
    mlp = ref.build_mlp(hw1, activation, loss)
    train_steps(mlp, [(ref["x"], ref["y"])] * 5)
    ref.check_layers(mlp, ("W", "b"), ("gamma", "beta"), prefix="step.")
    ref.check(mlp.forward(ref["x"]), "forward", "mlp.forward(x) after the 5 steps")
