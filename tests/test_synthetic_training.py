"""End to end: training on small synthetic problems makes the loss fall, and folding the trained BatchNorm changes
nothing (the README's main job, examples/train_synthetic.py, and hw1.get_training_stats)."""

import importlib.util
import os

import numpy as np
from helpers import make_weight_init, zeros_bias

from hw1 import MLP, get_training_stats
from mytorch import Identity, ReLU, SoftmaxCrossEntropy


def load_example(root):
    path = os.path.join(root, "examples", "train_synthetic.py")
    spec = importlib.util.spec_from_file_location("train_synthetic_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_example_loss_falls_and_folding_changes_nothing(root, capsys):
    losses, difference = load_example(root).main()
    assert len(losses) > 1 and np.isfinite(losses).all()
    # losses[0] is measured after the first epoch; the spirals are learnable far below a fifth of it.
    assert losses[-1] < losses[0] / 5, losses
    assert difference < 1e-12
    assert "folded vs unfolded" in capsys.readouterr().out


def test_get_training_stats_loss_and_error_fall_on_a_separable_problem(rng):
    def split(n):
        x = rng.standard_normal((n, 2))
        return x, np.eye(2)[(x[:, 0] + x[:, 1] > 0).astype(int)]  # a linear boundary

    dataset = (split(200), split(100), split(50))
    mlp = MLP(
        2,
        2,
        [16],
        [ReLU(), Identity()],
        make_weight_init(rng),
        zeros_bias,
        SoftmaxCrossEntropy(),
        lr=0.05,
        momentum=0.9,
        num_bn_layers=1,
    )
    np.random.seed(0)
    losses, errors, val_losses, val_errors = get_training_stats(mlp, dataset, nepochs=8, batch_size=20)
    assert losses[-1] < losses[0] / 2, losses
    assert val_losses[-1] < val_losses[0], val_losses
    assert val_errors[-1] <= 0.1, val_errors
    assert errors[-1] < errors[0], errors
