"""Helpers for the project's own tests: init functions, labels, and the oracles the tests trust.

The oracles are deliberately independent of the code under test: `central_difference` is a separate
finite-difference loop (so mytorch.gradcheck is not the only judge of a gradient), `cross_entropy_reference` is
written with np.logaddexp rather than mytorch's max-shift, and `torch_float64` gives PyTorch's float64 autograd.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every name the graded code can be imported as: the two packages and, through the handout's flat imports
# (sys.path.append('mytorch')), each of their modules.
GRADED_CODE_MODULES = {"mytorch", "hw1"} | {
    path.stem for folder in ("mytorch", "hw1") for path in (ROOT / folder).glob("*.py") if path.stem != "__init__"
}


def zeros_bias(n):
    """bias_init_fn: (1, n) zeros."""
    return np.zeros((1, n))


def make_weight_init(rng, scale=1.0):
    """weight_init_fn drawing from rng: (n_in, n_out) normal with standard deviation scale / sqrt(n_in)."""
    return lambda n_in, n_out: rng.standard_normal((n_in, n_out)) * scale / np.sqrt(n_in)


def make_bias_init(rng, scale=0.1):
    """bias_init_fn drawing from rng: (1, n) normal, so a wrong bias gradient cannot hide behind zeros."""
    return lambda n: rng.standard_normal((1, n)) * scale


def one_hot(rng, batch, classes):
    """(batch, classes) one-hot float64 labels with random classes."""
    return np.eye(classes)[rng.integers(0, classes, size=batch)]


def snapshot(mlp):
    """Copies of every parameter, gradient, momentum and running statistic, keyed by where they live."""
    values = {}
    for i, layer in enumerate(mlp.linear_layers):
        for name in ("W", "b", "dW", "db", "momentum_W", "momentum_b"):
            values[f"linear_layers[{i}].{name}"] = getattr(layer, name).copy()
    for i, bn in enumerate(mlp.bn_layers):
        for name in ("gamma", "beta", "dgamma", "dbeta", "running_mean", "running_var"):
            values[f"bn_layers[{i}].{name}"] = getattr(bn, name).copy()
    return values


def central_difference(f, array, h=1e-6):
    """d f() / d array, element by element, as (f(a + h) - f(a - h)) / 2h.

    f: a no-argument function returning a float and reading `array`, which is perturbed in place and restored.
    Truncation error O(h^2) plus rounding O(1e-16 / h): about 1e-10 for well-scaled float64 problems.
    """
    flat = array.reshape(-1)  # a view: writing to flat perturbs array
    assert np.shares_memory(flat, array), "central_difference needs a contiguous array it can perturb"
    grad = np.empty(flat.shape)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + h
        up = f()
        flat[k] = saved - h
        down = f()
        flat[k] = saved
        grad[k] = (up - down) / (2 * h)
    return grad.reshape(array.shape)


def cross_entropy_reference(x, y):
    """Per-example softmax cross-entropy, (batch,), as logsumexp(x_i) - x_i . y_i via np.logaddexp."""
    return np.logaddexp.reduce(x, axis=1) - np.sum(x * y, axis=1)


def relative_error(actual, expected):
    """max |actual - expected| / max |expected| (the scale of the whole array, so zeros do not divide)."""
    scale = max(np.max(np.abs(expected)), np.finfo(np.float64).tiny)
    return np.max(np.abs(np.asarray(actual) - expected)) / scale


def torch_float64():
    """The torch module for float64 parity tests (require_torch)."""
    return require_torch("run the float64 parity tests against PyTorch autograd")


def require_torch(needed_for):
    """Skip, saying why, when PyTorch (the reference oracle) is not installed, or when a quick release
    (tools/release.py --skip-oracle-check) leaves the oracle out; under CI a missing torch is a failure, since CI
    must run the oracle. needed_for completes "PyTorch is needed to ...". Returns torch, set to one thread."""
    if os.environ.get("MYTORCH_SKIP_ORACLE_CHECK"):
        pytest.skip("a quick release (tools/release.py --skip-oracle-check) leaves the oracle out")
    if importlib.util.find_spec("torch") is None:
        message = f"PyTorch is needed to {needed_for}: pip install torch==2.13.0 (CPU wheel; the reference oracle)."
        if os.environ.get("CI"):
            pytest.fail(f"{message} CI must run this check.")
        pytest.skip(message)
    import torch

    torch.set_num_threads(1)  # as make_references.generate: reductions add in one order; tiny tensors anyway
    return torch


def tensor(torch, array, requires_grad=False):
    """A float64 leaf tensor holding a copy of a numpy array."""
    return torch.tensor(np.array(array, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)
