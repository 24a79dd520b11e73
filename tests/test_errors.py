"""Mistakes a student makes raise ValueError with a message naming the layer, what arrived and what was expected."""

import re

import numpy as np
import pytest
from helpers import make_bias_init, make_weight_init, one_hot, zeros_bias

from hw1 import MLP
from mytorch import BatchNorm, Identity, Linear, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh


def message(*fragments):
    """A pytest.raises(match=...) pattern requiring every fragment, literally and in this order."""
    return ".*".join(re.escape(fragment) for fragment in fragments)


@pytest.fixture
def layer(rng):
    return Linear(4, 3, make_weight_init(rng), zeros_bias)


def build_mlp(rng, hiddens, activations, num_bn_layers=0):
    return MLP(4, 3, hiddens, activations, make_weight_init(rng), make_bias_init(rng), SoftmaxCrossEntropy(),
               lr=0.1, num_bn_layers=num_bn_layers)


# Shapes.

def test_linear_forward_with_the_wrong_feature_count_names_the_layer_and_both_shapes(layer):
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).forward", "(5, 6)", "expected (batch, 4)")):
        layer.forward(np.zeros((5, 6)))


def test_linear_forward_with_a_1d_input_suggests_adding_the_batch_axis(layer):
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).forward", "(4,)", "(batch, 4)", "x[None, :]")):
        layer.forward(np.zeros(4))


def test_linear_forward_with_a_transposed_input_says_so(layer):
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).forward", "(4, 5)", "(batch, 4)", "transposed")):
        layer.forward(np.zeros((4, 5)))


def test_linear_backward_with_a_mismatched_delta_names_both_shapes(layer):
    layer.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).backward", "delta", "(5, 2)", "(5, 3)")):
        layer.backward(np.zeros((5, 2)))


def test_batchnorm_forward_and_backward_with_wrong_shapes_name_the_layer_and_both_shapes():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match=message("BatchNorm(3).forward", "(5, 4)", "(batch, 3)")):
        bn.forward(np.zeros((5, 4)))
    bn.forward(np.arange(15.0).reshape(5, 3))
    with pytest.raises(ValueError, match=message("BatchNorm(3).backward", "delta", "(3, 5)", "(5, 3)")):
        bn.backward(np.zeros((3, 5)))


def test_cross_entropy_with_labels_of_another_shape_names_both_shapes():
    with pytest.raises(ValueError, match=message("SoftmaxCrossEntropy", "labels", "(2, 4)", "(2, 3)")):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), np.eye(4)[[0, 1]])


def test_mlp_forward_with_the_wrong_input_size_names_the_first_layer(rng):
    mlp = build_mlp(rng, [6], [Tanh(), Identity()])
    with pytest.raises(ValueError, match=message("Linear(4 -> 6).forward", "(2, 5)", "(batch, 4)")):
        mlp.forward(np.zeros((2, 5)))


# Labels that are not one-hot.

def test_labels_whose_row_sums_to_two_are_rejected_naming_the_row():
    y = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match=message("SoftmaxCrossEntropy", "one-hot", "row 1 sums to 2")):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), y)


def test_labels_with_fractional_entries_are_rejected_naming_the_row():
    y = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match=message("SoftmaxCrossEntropy", "one-hot", "row 0", "0.5")):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), y)


def test_class_index_labels_are_rejected_with_the_conversion_to_one_hot():
    with pytest.raises(ValueError, match=message("SoftmaxCrossEntropy", "class indices", "(3, 4)", "np.eye(4)")):
        SoftmaxCrossEntropy()(np.zeros((3, 4)), np.array([0, 3, 1]))


def test_mlp_backward_with_non_one_hot_labels_is_rejected(rng):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    mlp.forward(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match=message("one-hot", "row 0 sums to 0")):
        mlp.backward(np.zeros((2, 3)))


# Non-finite numbers.

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_inputs_are_rejected_naming_the_layer_and_the_index(bad, layer):
    x, labels = np.ones((3, 4)), np.eye(4)[[0, 1, 2]]
    x[1, 2] = bad
    for where, call in [("Linear(4 -> 3).forward", lambda: layer.forward(x)),
                        ("BatchNorm(4).forward", lambda: BatchNorm(4).forward(x)),
                        ("Sigmoid().forward", lambda: Sigmoid()(x)),
                        ("ReLU().forward", lambda: ReLU()(x)),
                        ("SoftmaxCrossEntropy().forward", lambda: SoftmaxCrossEntropy()(x, labels))]:
        with pytest.raises(ValueError, match=message(where, f"contains {bad}", "(1, 2)")):
            call()


def test_a_non_finite_delta_is_rejected(layer):
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).backward", "delta contains nan")):
        layer.backward(np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]]))


# BatchNorm with one example.

def test_batchnorm_training_batch_of_one_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match=message("BatchNorm(3).forward", "batch of one", "eval")):
        BatchNorm(3).forward(np.ones((1, 3)))


def test_mlp_with_batchnorm_training_on_one_example_is_rejected(rng):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()], num_bn_layers=1)
    with pytest.raises(ValueError, match=message("BatchNorm(5).forward", "batch of one")):
        mlp.forward(np.ones((1, 4)))
    mlp.eval()
    assert mlp.forward(np.ones((1, 4))).shape == (1, 3)  # eval mode uses the running statistics: fine


# MLP architecture.

@pytest.mark.parametrize("hiddens, count", [([5, 4], 2), ([5], 3), ([], 2), ([], 0)])
def test_mlp_needs_one_activation_per_layer(hiddens, count, rng):
    activations = [Sigmoid() for _ in range(count)]
    with pytest.raises(ValueError, match=message(f"got {count} activations for {len(hiddens)} hidden layers",
                                                 f"len(hiddens) + 1 = {len(hiddens) + 1}")):
        build_mlp(rng, hiddens, activations)


@pytest.mark.parametrize("num_bn_layers", [3, -1])
def test_mlp_rejects_num_bn_layers_outside_zero_to_len_hiddens(num_bn_layers, rng):
    with pytest.raises(ValueError, match=message(f"num_bn_layers={num_bn_layers}", "2",
                                                                "0 <= num_bn_layers <= len(hiddens)")):
        build_mlp(rng, [5, 4], [Sigmoid(), Sigmoid(), Identity()], num_bn_layers)


def test_mlp_rejects_the_same_activation_object_in_two_layers(rng):
    shared = Sigmoid()
    with pytest.raises(ValueError, match=message("activations[0] and activations[1]", "same Sigmoid() object",
                                                 "for _ in range(n)")):
        build_mlp(rng, [5, 4], [shared, shared, Identity()])


# Backward before forward.

def test_backward_before_forward_says_to_call_forward_first(rng, layer):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    for where, call in [("MLP.backward", lambda: mlp.backward(one_hot(rng, 2, 3))),
                        ("Linear(4 -> 3).backward", lambda: layer.backward(np.zeros((2, 3)))),
                        ("BatchNorm(3).backward", lambda: BatchNorm(3).backward(np.zeros((2, 3)))),
                        ("Sigmoid().derivative", lambda: Sigmoid().derivative()),
                        ("SoftmaxCrossEntropy().derivative", lambda: SoftmaxCrossEntropy().derivative())]:
        with pytest.raises(ValueError, match=message(where, "call forward first")):
            call()
