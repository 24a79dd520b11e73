"""The zero-initialisation experiment (experiments/zero_init.py) shows what its report claims.

Expected values are closed forms computed here from the labels (class frequencies, label entropy) or from the
network's depth (the error signal needs one step per layer to reach a layer), never from the tool's output.
"""

import numpy as np
import pytest

from experiments import zero_init
from hw1 import MLP
from mytorch import Identity, ReLU, SoftmaxCrossEntropy, Tanh
from mytorch.data import load_mnist_5k


@pytest.fixture(scope="module")
def dset():
    return zero_init.skewed_training_set(load_mnist_5k())


@pytest.fixture(scope="module")
def runs(dset):
    runs = zero_init.ZERO_RUNS + (("Tanh", "randn"), ("Sigmoid", "randn"), ("ReLU", "randn*sqrt(2/d0)"))
    return {(r.activation, r.init): r for r in zero_init.analyse(runs, dset)}


def frequencies_from_labels(labels):
    digits = labels.argmax(axis=1)
    return np.bincount(digits, minlength=labels.shape[1]) / len(digits)


def entropy_from_labels(labels):
    p = frequencies_from_labels(labels)
    return -sum(q * np.log(q) for q in p if q > 0)


def test_skewed_training_set_keeps_30_times_d_plus_1_images_of_digit_d(dset):
    counts = np.bincount(dset[0][1].argmax(axis=1), minlength=10)
    assert counts.tolist() == [30 * (d + 1) for d in range(10)]
    # Shuffled: the first batch already mixes digits (sorted order would start with 30 zeros).
    assert len(set(dset[0][1][:50].argmax(axis=1))) > 5


@pytest.mark.parametrize("activation", ["Tanh", "ReLU"])
def test_zero_init_gives_every_weight_and_hidden_bias_exactly_zero_gradient(runs, activation):
    run = runs[activation, "zeros"]
    *frozen, output_bias = run.parameters
    for parameter in frozen:
        assert parameter.first_gradient_norm == 0.0, parameter
        assert parameter.first_nonzero_step == 0, parameter  # exactly 0 at every one of the steps
        assert not parameter.changed, parameter
    assert output_bias.name == "b4" and output_bias.first_gradient_norm > 0 and output_bias.changed
    assert run.trained == ["b4"]


@pytest.mark.parametrize("activation", [Tanh, ReLU])
def test_zero_init_backward_is_exactly_zero_for_weights_and_hidden_biases(dset, activation):
    """The same fact straight from one backward pass, without the tool's bookkeeping."""
    (x, y), _, _ = dset
    mlp = MLP(
        784,
        10,
        [16, 8],
        [activation(), activation(), Identity()],
        zero_init.zeros_weight,
        zero_init.zeros_bias,
        SoftmaxCrossEntropy(),
        lr=0.1,
    )
    mlp.zero_grads()
    mlp.forward(x[:100])
    mlp.backward(y[:100])
    for layer in mlp.linear_layers:
        assert not layer.dW.any()
    for layer in mlp.linear_layers[:-1]:
        assert not layer.db.any()
    # The output bias's gradient is mean(softmax(0) - y) = 1/10 - (class frequencies of the batch).
    np.testing.assert_allclose(mlp.linear_layers[-1].db[0], 0.1 - frequencies_from_labels(y[:100]), atol=1e-15)


@pytest.mark.parametrize("activation", ["Tanh", "ReLU"])
def test_zero_init_network_ignores_its_input_and_learns_the_class_prior(runs, dset, activation):
    run = runs[activation, "zeros"]
    frequencies = frequencies_from_labels(dset[0][1])
    assert run.distinct_outputs == 1  # one output row for all 1000 test images
    assert np.abs(1 / 10 - frequencies).max() > 0.05  # the uniform start is far from the prior ...
    assert np.abs(run.mean_softmax - frequencies).max() < 1e-2  # ... and training reached it
    np.testing.assert_allclose(run.class_frequencies, frequencies, rtol=0, atol=1e-15)


@pytest.mark.parametrize("activation", ["Tanh", "ReLU"])
def test_zero_init_loss_converges_to_the_label_entropy(runs, dset, activation):
    run = runs[activation, "zeros"]
    entropy = entropy_from_labels(dset[0][1])
    assert run.label_entropy == pytest.approx(entropy, abs=1e-12)
    # Gibbs: a model that ignores its input cannot beat the entropy; training brought it within 1e-3 of it.
    assert entropy - 1e-12 <= run.final_loss < entropy + 1e-3
    assert run.final_loss < np.log(10) - 0.1  # uniform guessing, where it started, is far above


def test_sigmoid_zero_init_trains_every_layer_but_every_layer_stays_one_unit(runs):
    run = runs["Sigmoid", "zeros"]
    assert all(parameter.changed for parameter in run.parameters)
    steps = {parameter.name: parameter.first_nonzero_step for parameter in run.parameters}
    # The error signal reaches one layer deeper per step: layer k of 4 first gets a gradient at step 5 - k.
    assert steps == {"W4": 1, "b4": 1, "W3": 2, "b3": 2, "W2": 3, "b2": 3, "W1": 4, "b1": 4}
    assert run.parameters[-2].first_gradient_norm > 0  # the output weights: sigmoid(0) = 1/2 is not 0
    assert run.distinct_units == (1, 1, 1)  # symmetry never broken, to the last bit
    assert run.distinct_outputs > 1  # unlike Tanh and ReLU, the output does depend on the input


@pytest.mark.parametrize("activation, init", [("Tanh", "randn"), ("Sigmoid", "randn"), ("ReLU", "randn*sqrt(2/d0)")])
def test_random_init_breaks_the_symmetry_and_trains(runs, activation, init):
    run = runs[activation, init]
    assert run.distinct_units == run.widths == zero_init.HIDDENS
    assert run.final_loss < 0.5 * run.label_entropy
    assert run.training_error < 0.25  # predicting the most frequent digit would be wrong 81.8% of the time


def test_distinct_units_compares_columns_exactly():
    layer = type("Layer", (), {})()
    layer.W = np.ones((3, 4))
    layer.b = np.zeros((1, 4))
    assert zero_init.distinct_units(layer) == 1
    layer.W[1, 2] = np.nextafter(1.0, 2.0)  # one bit apart
    assert zero_init.distinct_units(layer) == 2
    layer.b[0, 0] = 1e-300  # the bias is part of a unit's incoming parameters
    assert zero_init.distinct_units(layer) == 3


def test_report_prints_both_tables_and_the_explanation(runs):
    text = zero_init.report(list(runs.values()))
    for expected in (
        "Tanh, zeros",
        "ReLU, zeros",
        "Sigmoid, zeros",
        "first != 0",
        "distinct units",
        "label entropy",
        "symmetry never breaks",
        "np.random.randn",
    ):
        assert expected in text, expected
    entropy = runs["Tanh", "zeros"].label_entropy
    assert f"{entropy:.4f}" in text


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
