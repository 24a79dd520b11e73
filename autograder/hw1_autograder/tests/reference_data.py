"""The oracle's reference outputs (../references/*.npz, made by tools/make_references.py) and the handout's set-up.

    ref = Reference("mystery_1")                  # references/mystery_1.npz
    mlp = ref.build_mlp(hw1, activation, loss)    # the architecture the oracle used, weights from seed 11785
    mlp.forward(ref["x"])
    ref.check(mlp.output, "forward", "mlp.forward(x)")

check() hands compare.assert_close the batch size and every stored alternative "KEY.alt.NAME" of the key, so a
mismatch is diagnosed ("would match with BatchNorm eps 1e-5"). Arrays are handed out as fresh copies: a student's
code that writes into its input cannot change what later tests see.
"""

import os

import numpy as np

from compare import assert_close

REFERENCE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "references")
WEIGHT_SEED = 11785  # the handout's seed, drawn before the model is built


def weight_init_fn(in_feature, out_feature):
    """The handout's weights: (in_feature, out_feature) from np.random.randn (seeded by the caller)."""
    return np.random.randn(in_feature, out_feature)


def bias_init_fn(out_feature):
    """The handout's biases: (1, out_feature) zeros; draws nothing at random."""
    return np.zeros((1, out_feature))


class Reference:
    """The arrays of one reference file, loaded without pickles."""

    _cache = {}

    def __init__(self, name):
        path = os.path.join(REFERENCE_DIR, name + ".npz")
        if path not in self._cache:
            if not os.path.isfile(path):
                raise AssertionError(f"reference file {path} is missing: the autograder is incomplete. "
                                     "Regenerate it with `python3 tools/make_references.py`.")
            with np.load(path, allow_pickle=False) as stored:
                self._cache[path] = {key: stored[key] for key in stored.files}
        self.name, self.arrays = name, self._cache[path]

    def __getitem__(self, key):
        return self.arrays[key].copy()

    def __contains__(self, key):
        return key in self.arrays

    def alternatives(self, key):
        """{hypothesis name: array} of the stored "KEY.alt.NAME" arrays."""
        prefix = key + ".alt."
        return {name[len(prefix):]: value for name, value in self.arrays.items() if name.startswith(prefix)}

    def check(self, student, key, quantity, batch=None, rtol=1e-4, atol=1e-8):
        """assert_close(student, self[key]) with the diagnosis context; batch defaults to the rows of x."""
        if batch is None and "x" in self.arrays:
            batch = len(self.arrays["x"])
        context = {"batch": batch, "alternatives": self.alternatives(key)}
        assert_close(student, self[key], quantity, rtol=rtol, atol=atol, context=context)

    def build_mlp(self, hw1, activation, loss):
        """hw1.MLP as the oracle built it: the stored architecture, np.random.seed(11785), randn weights, zero
        biases, SoftmaxCrossEntropy, the stored lr, momentum and num_bn_layers."""
        activations = [getattr(activation, name)() for name in self.arrays["mlp.activations"]]
        np.random.seed(WEIGHT_SEED)
        return hw1.MLP(int(self.arrays["mlp.input_size"]), int(self.arrays["mlp.output_size"]),
                       [int(size) for size in self.arrays["mlp.hiddens"]], activations, weight_init_fn,
                       bias_init_fn, loss.SoftmaxCrossEntropy(), float(self.arrays["mlp.lr"]),
                       momentum=float(self.arrays["mlp.momentum"]),
                       num_bn_layers=int(self.arrays["mlp.num_bn_layers"]))

    def check_layers(self, mlp, linear_names, bn_names, prefix=""):
        """Compare mlp.linear_layers[i].NAME (and bn_layers[i].NAME) with the keys PREFIX + "linear_layers[i].NAME",
        output layer first and each BatchNorm before the Linear it follows: in backprop order, so the first
        mismatch reported is where a wrong gradient starts.

            ref.check_layers(mlp, ("dW", "db"), ("dgamma", "dbeta"))            # after a backward
            ref.check_layers(mlp, ("W", "b"), ("gamma", "beta"), "step.")       # after the steps
        """
        hiddens, num_bn_layers = self.arrays["mlp.hiddens"].tolist(), int(self.arrays["mlp.num_bn_layers"])
        count = len(hiddens) + 1
        for layers, expected in (("linear_layers", count), ("bn_layers", num_bn_layers)):
            found = len(getattr(mlp, layers, None) or [])  # the handout allows bn_layers = None without BatchNorm
            assert found == expected, (f"mlp.{layers} has {found} layers; expected {expected} for "
                                       f"MLP(hiddens={hiddens}, num_bn_layers={num_bn_layers}).")
        for i in reversed(range(count)):
            names = [("bn_layers", name) for name in bn_names if f"{prefix}bn_layers[{i}].{name}" in self]
            for layers, name in names + [("linear_layers", name) for name in linear_names]:
                self.check(getattr(getattr(mlp, layers)[i], name), f"{prefix}{layers}[{i}].{name}",
                           f"mlp.{layers}[{i}].{name}")


def batches(x, y, size):
    """Consecutive mini-batches [(x[0:size], y[0:size]), ...], in order (the oracle's, unshuffled)."""
    return [(x[start:start + size], y[start:start + size]) for start in range(0, len(x), size)]


def train_steps(mlp, batches):
    """The handout's training loop body for each (x, y): zero_grads, forward, backward, step."""
    for x, y in batches:
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(y)
        mlp.step()
