"""Linear(64, 16) on a (20, 64) batch: W from np.random.seed(11785) + randn, a non-zero bias (so a missing `+ b`
shows), upstream gradient delta (20, 16). dW and db are batch means; the returned dx is not averaged.
Reference: torch autograd of sum(out * delta)."""

import numpy as np

from reference_data import WEIGHT_SEED, Reference, weight_init_fn


def make_layer(linear, ref):
    np.random.seed(WEIGHT_SEED)
    return linear.Linear(64, 16, weight_init_fn, lambda out_feature: ref["b"])


def test_linear_forward(linear):
    ref = Reference("linear")
    layer = make_layer(linear, ref)
    ref.check(layer.forward(ref["x"]), "forward", "Linear.forward(x)")


def test_linear_backward(linear):
    ref = Reference("linear")
    layer = make_layer(linear, ref)
    layer.forward(ref["x"])
    dx = layer.backward(ref["delta"])
    ref.check(layer.dW, "dW", "Linear.dW")
    ref.check(layer.db, "db", "Linear.db")
    ref.check(dx, "dx", "Linear.backward return value (dx)")
