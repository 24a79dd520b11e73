"""Train a small MLP with BatchNorm and momentum on a synthetic 3-class problem, then fold its BatchNorm.

    python3 examples/train_synthetic.py

Prints the training loss falling epoch by epoch, and the largest difference between the eval outputs of the
trained network and of its folded copy (float64 rounding, about 1e-15).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
from hw1 import MLP, fold_batchnorm, get_training_stats  # noqa: E402
from mytorch import Identity, ReLU, SoftmaxCrossEntropy  # noqa: E402


def make_spirals(n_per_class, classes=3, seed=0):
    """Interleaved spirals: not linearly separable, so the hidden layers must do the work."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), classes)
    label = np.repeat(np.arange(classes), n_per_class)
    angle = label * 2 * np.pi / classes + radius * 4 + rng.normal(0, 0.15, radius.size)
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return x, np.eye(classes)[label]


def main(epochs=30, batch_size=32, seed=0):
    np.random.seed(seed)
    x, y = make_spirals(200)
    mlp = MLP(
        2,
        3,
        [64, 64],
        [ReLU(), ReLU(), Identity()],
        lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(2 / n_in),
        lambda n: np.zeros((1, n)),
        SoftmaxCrossEntropy(),
        lr=0.05,
        momentum=0.9,
        num_bn_layers=1,
    )
    # The homework's own training loop; the "validation" set is the training set, evaluated in eval mode per epoch.
    _, _, losses, errors = get_training_stats(mlp, ((x, y), (x, y), None), epochs, batch_size)
    for epoch in sorted({*range(0, epochs, 5), epochs - 1}):
        print(f"epoch {epoch + 1:3d}  loss {losses[epoch]:.4f}  error {errors[epoch]:.3f}")
    mlp.eval()
    folded = fold_batchnorm(mlp)
    difference = np.abs(folded.forward(x) - mlp.forward(x)).max()
    print(f"folded vs unfolded eval outputs: max |difference| = {difference:.2e}")
    return losses, difference


if __name__ == "__main__":
    main()
