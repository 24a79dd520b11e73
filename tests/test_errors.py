"""Mistakes a student makes raise ValueError with a message naming the layer, what arrived and what was expected.

The cases tried the way a student's notebook would (issue 12) each have a test below; tests/test_properties.py
feeds generated bad input to every public entry point.  The dataset loaders' cases are in tests/test_data.py.
"""

import math
import re

import numpy as np
import pytest
from helpers import make_bias_init, make_weight_init, one_hot, zeros_bias

from hw1 import MLP, fold_batchnorm, get_training_stats
from mytorch import BatchNorm, Identity, Linear, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh, gradcheck


def message(*fragments):
    """A pytest.raises(match=...) pattern requiring every fragment, literally and in this order."""
    return ".*".join(re.escape(fragment) for fragment in fragments)


@pytest.fixture
def layer(rng):
    return Linear(4, 3, make_weight_init(rng), zeros_bias)


def build_mlp(rng, hiddens, activations, num_bn_layers=0):
    return MLP(
        4,
        3,
        hiddens,
        activations,
        make_weight_init(rng),
        make_bias_init(rng),
        SoftmaxCrossEntropy(),
        lr=0.1,
        num_bn_layers=num_bn_layers,
    )


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
    for where, call in [
        ("Linear(4 -> 3).forward", lambda: layer.forward(x)),
        ("BatchNorm(4).forward", lambda: BatchNorm(4).forward(x)),
        ("Sigmoid().forward", lambda: Sigmoid()(x)),
        ("ReLU().forward", lambda: ReLU()(x)),
        ("SoftmaxCrossEntropy().forward", lambda: SoftmaxCrossEntropy()(x, labels)),
    ]:
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
    with pytest.raises(
        ValueError,
        match=message(
            f"got {count} activations for {len(hiddens)} hidden layers", f"len(hiddens) + 1 = {len(hiddens) + 1}"
        ),
    ):
        build_mlp(rng, hiddens, activations)


@pytest.mark.parametrize("num_bn_layers", [3, -1])
def test_mlp_rejects_num_bn_layers_outside_zero_to_len_hiddens(num_bn_layers, rng):
    with pytest.raises(
        ValueError, match=message(f"num_bn_layers={num_bn_layers}", "2", "0 <= num_bn_layers <= len(hiddens)")
    ):
        build_mlp(rng, [5, 4], [Sigmoid(), Sigmoid(), Identity()], num_bn_layers)


def test_mlp_rejects_the_same_activation_object_in_two_layers(rng):
    shared = Sigmoid()
    with pytest.raises(
        ValueError, match=message("activations[0] and activations[1]", "same Sigmoid() object", "for _ in range(n)")
    ):
        build_mlp(rng, [5, 4], [shared, shared, Identity()])


# Backward before forward.


def test_backward_before_forward_says_to_call_forward_first(rng, layer):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    for where, call in [
        ("MLP.backward", lambda: mlp.backward(one_hot(rng, 2, 3))),
        ("Linear(4 -> 3).backward", lambda: layer.backward(np.zeros((2, 3)))),
        ("BatchNorm(3).backward", lambda: BatchNorm(3).backward(np.zeros((2, 3)))),
        ("Sigmoid().derivative", lambda: Sigmoid().derivative()),
        ("SoftmaxCrossEntropy().derivative", lambda: SoftmaxCrossEntropy().derivative()),
    ]:
        with pytest.raises(ValueError, match=message(where, "call forward first")):
            call()


# Linear's NaN test runs on its output (far smaller than a 784-wide x); it still names the input element.


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_linear_names_a_non_finite_input_found_through_its_output(bad, rng):
    layer = Linear(784, 2, make_weight_init(rng), make_bias_init(rng))
    x = rng.standard_normal((3, 784))
    x[2, 700] = bad
    with pytest.raises(ValueError, match=message("Linear(784 -> 2).forward: x contains", "at index (2, 700)")):
        layer.forward(x)


def test_linear_reports_an_output_that_overflows_from_finite_inputs(rng):
    layer = Linear(2, 1, lambda n_in, n_out: np.full((n_in, n_out), 1e308), zeros_bias)
    with pytest.raises(
        ValueError,
        match=message(
            "Linear(2 -> 1).forward: the output overflowed to inf at index (0, 0)",
            "x, W and b are finite",
            "lower the learning rate",
        ),
    ):
        layer.forward(np.array([[10.0, 10.0]]))


def test_linear_names_a_weight_that_training_made_nan(rng):
    layer = Linear(4, 3, make_weight_init(rng), zeros_bias)
    layer.W[1, 2] = np.nan
    with pytest.raises(ValueError, match=message("Linear(4 -> 3).forward: W contains nan at index (1, 2)")):
        layer.forward(np.ones((2, 4)))


# Silent wrong answers, now reported (issue 12).


@pytest.fixture
def classifier(rng):
    """MLP(4, 3, [5]) after a forward of 4 examples."""
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    mlp.forward(rng.standard_normal((4, 4)))
    return mlp


@pytest.mark.parametrize(
    "labels, fragments",
    [
        (np.eye(3)[[1]], ["labels has shape (1, 3); expected (4, 3)"]),
        (np.eye(5)[[0, 1, 2, 3]], ["labels has shape (4, 5); expected (4, 3)"]),
        (np.zeros((4, 3)), ["one-hot", "row 0 sums to 0"]),
        (np.array([0, 2, 1, 1]), ["class indices", "np.eye(3)[labels]"]),
    ],
    ids=["one row for four examples", "five classes", "all zero", "class indices"],
)
def test_mlp_error_checks_its_labels_like_total_loss(classifier, labels, fragments):
    with pytest.raises(ValueError, match=message("MLP.error: ", *fragments)):
        classifier.error(labels)


def test_mlp_error_and_total_loss_before_forward_say_to_call_forward_first(rng):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    for name in ("error", "total_loss"):
        with pytest.raises(ValueError, match=message(f"MLP.{name}: call forward first")):
            getattr(mlp, name)(one_hot(rng, 2, 3))


def training_set(rng, train=8, val=4):
    return (
        (rng.standard_normal((train, 4)), one_hot(rng, train, 3)),
        (rng.standard_normal((val, 4)), one_hot(rng, val, 3)),
        (None, None),
    )


@pytest.mark.parametrize(
    "nepochs, batch_size, fragment",
    [
        (2, -5, "batch_size must be a positive integer; got -5"),
        (2, 0, "batch_size must be a positive integer; got 0"),
        (2, 2.0, "batch_size must be a positive integer; got 2.0"),
        (2.5, 4, "nepochs must be a whole number of epochs, 0 or more; got 2.5"),
        (-1, 4, "nepochs must be a whole number of epochs, 0 or more; got -1"),
    ],
)
def test_get_training_stats_rejects_epoch_counts_and_batch_sizes_that_are_not_counts(
    rng, nepochs, batch_size, fragment
):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    with pytest.raises(ValueError, match=message("get_training_stats: " + fragment)):
        get_training_stats(mlp, training_set(rng), nepochs, batch_size)


def test_get_training_stats_rejects_inputs_and_labels_of_different_lengths(rng):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    (train_x, train_y), validation, test = training_set(rng)
    with pytest.raises(ValueError, match=message("get_training_stats: train_x has 8 examples but train_y has 6")):
        get_training_stats(mlp, ((train_x, train_y[:6]), validation, test), 1, 4)
    (val_x, val_y) = validation
    with pytest.raises(ValueError, match=message("get_training_stats: val_y", "(4, 2)", "(4, 3)")):
        get_training_stats(mlp, ((train_x, train_y), (val_x, val_y[:, :2]), test), 1, 4)


def test_get_training_stats_checks_the_inputs_width_and_the_shape_of_dset(rng):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()])
    (train_x, train_y), validation, test = training_set(rng)
    with pytest.raises(ValueError, match=message("get_training_stats: train_x has shape (8, 3); expected (batch, 4)")):
        get_training_stats(mlp, ((train_x[:, :3], train_y), validation, test), 1, 4)
    with pytest.raises(
        ValueError,
        match=message("get_training_stats: dset must be ((train_x, train_y), (val_x, val_y), (test_x, test_y))"),
    ):
        get_training_stats(mlp, (train_x, train_y), 1, 4)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_get_training_stats_with_batchnorm_refuses_batches_of_one_example(rng, batch_size):
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()], num_bn_layers=1)
    with pytest.raises(
        ValueError,
        match=message(
            f"get_training_stats: 7 training examples in batches of {batch_size} "
            "leave a batch of one example, which BatchNorm cannot normalise"
        ),
    ):
        get_training_stats(mlp, training_set(rng, train=7), 1, batch_size)


def test_batchnorm_rejects_inputs_whose_variance_would_overflow_naming_the_value():
    x = np.array([[1e160, 1.0], [-1e160, 2.0]])
    with pytest.raises(
        ValueError, match=message("BatchNorm(2).forward: x holds 1e+160 at index (0, 0)", "beyond +-1e+150", "overflow")
    ):
        BatchNorm(2).forward(x)


def test_batchnorm_normalises_inputs_up_to_its_limit_exactly():
    # Two examples +-a: mean 0, biased variance a^2, so (x - mean) / sqrt(var + eps) is +-1 (eps is negligible).
    bn = BatchNorm(1)
    with np.errstate(all="raise"):
        out = bn.forward(np.array([[1e150], [-1e150]]))
    np.testing.assert_allclose(out, [[1.0], [-1.0]], rtol=1e-15)
    np.testing.assert_allclose(bn.running_var, [[0.9 + 0.1 * 1e300]], rtol=1e-15)


def test_weight_init_returning_nan_is_rejected_when_the_layer_is_built():
    def weights(n_in, n_out):
        w = np.ones((n_in, n_out))
        w[2, 1] = np.nan
        return w

    with pytest.raises(
        ValueError, match=message("Linear(4 -> 3): weight_init_fn returned nan at index (2, 1)", "must be finite")
    ):
        Linear(4, 3, weights, zeros_bias)
    with pytest.raises(ValueError, match=message("Linear(4 -> 3): bias_init_fn returned inf at index (0, 0)")):
        Linear(4, 3, lambda n_in, n_out: np.ones((n_in, n_out)), lambda n: np.full((1, n), np.inf))


@pytest.mark.parametrize("cls", [Identity, Sigmoid, Tanh, ReLU], ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.complex128, object, str])
def test_activations_reject_complex_object_and_text_input_naming_the_dtype(cls, dtype):
    z = np.array([[1, 2]], dtype=dtype)
    with pytest.raises(ValueError, match=message(f"{cls.__name__}().forward: z must hold real numbers; got dtype")):
        cls().forward(z)


def test_mlp_rejects_a_learning_rate_that_is_not_a_finite_non_negative_number(rng):
    for lr in (math.nan, math.inf, -0.1, "0.1"):
        with pytest.raises(ValueError, match=message("MLP: lr must be a finite number with 0 <= lr; got", repr(lr))):
            MLP(4, 3, [], [Identity()], make_weight_init(rng), zeros_bias, SoftmaxCrossEntropy(), lr)


@pytest.mark.parametrize("momentum", [1.5, 1.0, -0.1, math.nan])
def test_mlp_rejects_momentum_outside_zero_to_one(momentum, rng):
    with pytest.raises(
        ValueError, match=message("MLP: momentum must be a finite number with 0 <= momentum < 1; got", repr(momentum))
    ):
        MLP(4, 3, [], [Identity()], make_weight_init(rng), zeros_bias, SoftmaxCrossEntropy(), 0.1, momentum)


# numpy's messages, now the library's (issue 12).


@pytest.mark.parametrize(
    "in_feature, out_feature, name, value",
    [
        (4.5, 3, "in_feature", "4.5"),
        (4, 0, "out_feature", "0"),
        (True, 3, "in_feature", "True"),
        ("4", 3, "in_feature", "'4'"),
    ],
)
def test_linear_sizes_must_be_positive_integers(in_feature, out_feature, name, value):
    with pytest.raises(ValueError, match=message(f"{name} must be a positive integer; got {value}.")):
        Linear(in_feature, out_feature, lambda n_in, n_out: np.ones((2, 2)), zeros_bias)


def test_linear_rejects_an_init_function_that_is_not_a_function():
    with pytest.raises(ValueError, match=message("Linear(4 -> 3): weight_init_fn must be a function; got ndarray")):
        Linear(4, 3, np.ones((4, 3)), zeros_bias)


def test_batchnorm_size_and_alpha_are_checked():
    with pytest.raises(ValueError, match=message("BatchNorm(0): in_feature must be a positive integer; got 0.")):
        BatchNorm(0)
    with pytest.raises(
        ValueError, match=message("BatchNorm(3): alpha must be a finite number with 0 <= alpha <= 1; got 1.5.")
    ):
        BatchNorm(3, alpha=1.5)


def test_mlp_arguments_of_the_wrong_kind_are_named(rng):
    def build(**changes):
        arguments = dict(
            input_size=4,
            output_size=3,
            hiddens=[5],
            activations=[Sigmoid(), Identity()],
            weight_init_fn=make_weight_init(rng),
            bias_init_fn=zeros_bias,
            criterion=SoftmaxCrossEntropy(),
            lr=0.1,
        )
        return MLP(**{**arguments, **changes})

    cases = [
        (dict(input_size=0), "MLP: input_size must be a positive integer; got 0."),
        (dict(hiddens=5), "MLP: hiddens must be a list of positive layer sizes; got 5."),
        (dict(hiddens=[5.0]), "MLP: hiddens must be a list of positive layer sizes; got [5.0]."),
        (dict(activations=["sigmoid", Identity()]), "MLP: activations[0] is 'sigmoid', not an activation"),
        (
            dict(activations=[Sigmoid, Identity()]),
            "MLP: activations[0] is the class Sigmoid; pass an object: Sigmoid().",
        ),
        (dict(criterion="cross-entropy"), "MLP: criterion is 'cross-entropy', not a loss"),
        (dict(criterion=SoftmaxCrossEntropy), "MLP: criterion is the class SoftmaxCrossEntropy; pass an object"),
        (dict(num_bn_layers=0.5), "MLP: num_bn_layers must be an integer; got 0.5."),
    ]
    for changes, expected in cases:
        with pytest.raises(ValueError, match=message(expected)):
            build(**changes)


def test_fold_batchnorm_names_what_it_cannot_fold(rng):
    with pytest.raises(ValueError, match=message("fold_batchnorm: mlp must be an MLP; got Linear.")):
        fold_batchnorm(Linear(2, 2, make_weight_init(rng), zeros_bias))
    mlp = build_mlp(rng, [5], [Sigmoid(), Identity()], num_bn_layers=1)
    mlp.bn_layers[0].running_var[0, 3] = -0.5
    with pytest.raises(
        ValueError,
        match=message(
            "fold_batchnorm: mlp.bn_layers[0].running_var holds -0.5 at index (0, 3); a variance cannot be negative."
        ),
    ):
        fold_batchnorm(mlp)
    mlp.bn_layers[0].gamma[0, 1] = np.nan
    with pytest.raises(
        ValueError, match=message("fold_batchnorm: mlp.bn_layers[0].gamma contains nan at index", "(0, 1)")
    ):
        fold_batchnorm(mlp)


def test_gradcheck_names_arguments_it_cannot_use(rng):
    layer = Linear(4, 3, make_weight_init(rng), zeros_bias)
    x = rng.standard_normal((2, 4))
    cases = [
        (lambda: gradcheck(3, x), "gradcheck: model must be a layer, an activation, a criterion or an MLP; got int."),
        (
            lambda: gradcheck(layer, x.astype(complex)),
            "gradcheck: x must be an array of real numbers; got ndarray of dtype complex128.",
        ),
        (lambda: gradcheck(layer, [[1, 2], [3]]), "gradcheck: x must be an array of real numbers; got list"),
        (lambda: gradcheck(layer, x, eps=0), "gradcheck: eps must be a finite number with 0 < eps; got 0."),
        (lambda: gradcheck(layer, x, rtol=-1), "gradcheck: rtol must be a finite number with 0 <= rtol; got -1."),
        (
            lambda: gradcheck(layer, x, one_hot(rng, 2, 3)),
            "gradcheck: labels are for a criterion or an MLP; Linear(4 -> 3) takes none.",
        ),
        (
            lambda: gradcheck(SoftmaxCrossEntropy(), x),
            "gradcheck of a criterion needs labels: gradcheck(SoftmaxCrossEntropy(), x, labels).",
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ValueError, match=message(expected)):
            call()
