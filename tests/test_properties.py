"""Every public entry point, fed generated bad input, either returns a correct result or raises a ValueError whose
message names the entry point: never another exception type, never a warning, never NaN out of finite input.

The entry points: Linear, BatchNorm, each activation, SoftmaxCrossEntropy, MLP, get_training_stats, fold_batchnorm,
load_dataset and gradcheck.  The inputs: arrays of the right and wrong shapes (0-d, 1-d, transposed, empty, 3-d),
dtypes (float64, float32, integers, bool, complex, object, text), values (moderate, huge, NaN, infinities), things
that are not arrays at all, mismatched lengths, labels that are not one-hot, and out-of-range hyperparameters.
A correct result is checked against an independent computation (numpy formulas in float64, helpers'
cross-entropy written with logaddexp) or, for the composite entry points, against the laws it must obey.

Hypothesis runs derandomised (the same examples every run) with enough examples that every strategy below is
drawn many times; the whole file takes under 10 s.
"""

import math
import os
import struct
import tempfile
import warnings

import numpy as np
import pytest
from helpers import cross_entropy_reference, one_hot
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hw1 import MLP, fold_batchnorm, get_training_stats
from mytorch import BatchNorm, Identity, Linear, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh, gradcheck
from mytorch.data import load_dataset

ACTIVATIONS = [Identity, Sigmoid, Tanh, ReLU]
REJECTED = object()  # what run() returns when the call raised a ValueError naming the entry point


def examples(n):
    """Settings for a property test: n derandomised examples (the same every run), no deadline."""
    return settings(max_examples=n, derandomize=True, deadline=None, database=None)


def run(call, *names):
    """call() with every warning an error: returns its result, or REJECTED if it raised a ValueError whose message
    names one of names.  Anything else fails the test, saying what happened."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return call()
        except ValueError as error:
            assert any(name in str(error) for name in names), f"message names none of {names}: {error}"
            return REJECTED
        except Exception as error:  # noqa: BLE001  (a warning turned error lands here too)
            pytest.fail(f"{type(error).__name__} instead of a named ValueError: {error}")


def assert_finite(result, what):
    assert np.isfinite(np.asarray(result, dtype=np.float64)).all(), f"{what} is not finite: {result}"


def close(actual, expected, dtype=np.float64):
    """actual == expected up to a few units in the last place of dtype, relative to the size of expected."""
    tolerance = 64 * float(np.finfo(dtype).eps)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=tolerance, atol=tolerance * scale)


# --------------------------------------------------------------------------------------------------- strategies
# Each example breaks at most one argument (flaw), so that the valid path is walked as often as the invalid ones.
MODERATE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
HUGE = st.sampled_from([1e150, -1e150, 1e200, -1e300, 1e308, 5e-324])
# Linear multiplies x by W in forward and by delta in backward: for x beyond +-1e150 the product can overflow.
# Forward then raises a named error (tests/test_errors.py); backward is not asked to handle such inputs.
HUGE_FOR_PRODUCTS = st.sampled_from([1e150, -1e150, 5e-324])
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_ARRAYS = st.sampled_from([None, 0.5, 3, "x", [[0.5, 1.0]], [[1.0], [1.0, 2.0]], {"x": 1}])


def cast(values, dtype):
    """float64 values as dtype, the way a student's array of that dtype would hold them."""
    if dtype == "float32":
        return np.where(np.isfinite(values), np.clip(values, -1e30, 1e30), values).astype(np.float32)  # no 1e300
    if dtype == "int64":
        return np.nan_to_num(values, posinf=7, neginf=-7).clip(-1000, 1000).astype(np.int64)
    if dtype == "bool":
        return values > 0
    if dtype == "complex128":
        return values + 1j
    return values.astype(dtype)


@st.composite
def valid(draw, shape, moderate=MODERATE, huge=HUGE):
    """An array the entry point must accept: float64 (mostly), float32, int64 or bool, finite; one in five
    holds huge (or tiny) values, which it must also handle or refuse by name (huge=None: never)."""
    extreme = huge is not None and draw(st.integers(0, 4)) == 0
    values = draw(arrays(np.float64, shape, elements=st.one_of(moderate, huge) if extreme else moderate))
    return cast(values, draw(st.sampled_from(["float64", "float64", "float64", "float32", "int64", "bool"])))


def wrong_shapes(rows, columns):
    """0-d, 1-d, transposed, empty, too wide, 3-d, no features: never (any batch, columns)."""
    shapes = [(), (columns,), (columns, rows + 1), (0, columns), (rows, columns + 1), (rows, columns, 1), (rows, 0)]
    return st.sampled_from([s for s in shapes if not (len(s) == 2 and s[0] > 0 and s[1] == columns)])


@st.composite
def invalid(draw, shape, any_shape=False):
    """Something to refuse in place of an array of this shape: the wrong shape (unless any shape is fine), a dtype
    holding no real numbers (complex, object, text), a NaN or an infinity, or not an array at all."""
    flaw = draw(st.sampled_from(["dtype", "value", "not an array"] + ([] if any_shape else ["shape", "shape"])))
    if flaw == "not an array":
        return draw(NOT_ARRAYS)
    if flaw == "shape":
        return draw(valid(draw(wrong_shapes(*shape))))
    values = draw(arrays(np.float64, shape, elements=MODERATE))
    if flaw == "dtype":
        return cast(values, draw(st.sampled_from(["complex128", "object", "str"])))
    if values.size:
        values.flat[draw(st.integers(0, values.size - 1))] = draw(NON_FINITE)
    return cast(values, draw(st.sampled_from(["float64", "float32"])))


def argument(name, flaw, good, bad):
    """The strategy for argument name: bad if it is this example's flaw, else good."""
    return bad if flaw == name else good


def finite_float(array):
    """True if array is a real float or integer array whose values are all finite (the input is valid)."""
    return (
        isinstance(array, np.ndarray)
        and array.dtype.kind in "fiub"
        and bool(np.isfinite(array.astype(np.float64)).all())
    )


def moderate(array):
    """True for a valid array whose values stay within +-1e3 (no huge ones): every entry point must accept it."""
    return finite_float(array) and float(np.max(np.abs(as_float(array)), initial=0.0)) <= 1e3


def as_array(value):
    """np.asarray(value), or None where numpy cannot make an array of it (a ragged list)."""
    try:
        return np.asarray(value)
    except ValueError:
        return None


def as_float(array):
    return np.asarray(array, dtype=np.float64)


def precision(*inputs):
    """The dtype a result computed from these inputs is exact to: float32 if any of them is float32."""
    return np.float32 if any(getattr(a, "dtype", None) == np.float32 for a in inputs) else np.float64


SIZES = st.integers(1, 4)
BAD_SIZES = st.sampled_from([0, -2, 2.5, True, "3", None])


def weight_init(kind):
    """A weight_init_fn: right, or returning NaN, the wrong shape or complex numbers, or not a function."""
    rng = np.random.default_rng(0)
    return {
        "normal": lambda n_in, n_out: rng.standard_normal((n_in, n_out)),
        "nan": lambda n_in, n_out: np.full((n_in, n_out), np.nan),
        "transposed": lambda n_in, n_out: np.ones((n_out, n_in + 1)),
        "complex": lambda n_in, n_out: np.ones((n_in, n_out)) * 1j,
        "not a function": np.ones((2, 2)),
    }[kind]


BAD_WEIGHT_INITS = st.sampled_from(["nan", "transposed", "complex", "not a function"])


def bias_init(n):
    return np.zeros((1, n))


# ------------------------------------------------------------------------------------------------------ layers
@examples(300)
@given(st.data())
def test_linear_returns_x_at_W_plus_b_and_its_gradients_or_a_named_error(data):
    flaw = data.draw(st.sampled_from([None, None, "in_feature", "out_feature", "weight_init_fn", "x", "delta"]))
    in_feature = data.draw(argument("in_feature", flaw, SIZES, BAD_SIZES))
    out_feature = data.draw(argument("out_feature", flaw, SIZES, BAD_SIZES))
    init = data.draw(argument("weight_init_fn", flaw, st.just("normal"), BAD_WEIGHT_INITS))
    layer = run(lambda: Linear(in_feature, out_feature, weight_init(init), bias_init), "Linear(")
    if layer is REJECTED:
        assert flaw in ("in_feature", "out_feature", "weight_init_fn"), "refused valid sizes and weights"
        return
    batch = data.draw(st.integers(1, 3))
    x = data.draw(argument("x", flaw, valid((batch, in_feature), huge=HUGE_FOR_PRODUCTS), invalid((batch, in_feature))))
    out = run(lambda: layer.forward(x), "Linear(")
    if out is REJECTED:
        assert not moderate(x) or np.shape(x) != (batch, in_feature), "refused a valid x"
        return
    close(out, as_float(x) @ layer.W + layer.b, precision(x))
    assert_finite(out, "Linear.forward's output")
    delta = data.draw(argument("delta", flaw, valid(out.shape, huge=None), invalid(out.shape)))
    dx = run(lambda: layer.backward(delta), "Linear(")
    if dx is REJECTED:
        assert flaw == "delta", "refused a valid delta"
        return
    close(layer.dW, as_float(x).T @ as_float(delta) / batch, precision(x, delta))
    close(layer.db, as_float(delta).mean(axis=0, keepdims=True), precision(delta))
    close(dx, as_float(delta) @ layer.W.T, precision(delta))


@examples(300)
@given(st.data())
def test_batchnorm_normalises_or_names_the_problem(data):
    flaw = data.draw(st.sampled_from([None, None, "in_feature", "alpha", "x", "delta"]))
    in_feature = data.draw(argument("in_feature", flaw, SIZES, BAD_SIZES))
    alpha = data.draw(argument("alpha", flaw, st.floats(0, 1), st.sampled_from([1.5, -0.1, math.nan, "0.9"])))
    bn = run(lambda: BatchNorm(in_feature, alpha), "BatchNorm(")
    if bn is REJECTED:
        assert flaw in ("in_feature", "alpha"), "refused a valid size and alpha"
        return
    batch, evaluate = data.draw(st.integers(1, 4)), data.draw(st.booleans())
    x = data.draw(argument("x", flaw, valid((batch, in_feature)), invalid((batch, in_feature))))
    out = run(lambda: bn.forward(x, eval=evaluate), "BatchNorm(")
    if out is REJECTED:
        assert not moderate(x) or np.shape(x) != (batch, in_feature) or (batch == 1 and not evaluate)
        return
    values = as_float(x)
    mean, var = (
        (bn.running_mean, bn.running_var)
        if evaluate
        else (values.mean(axis=0, keepdims=True), ((values - values.mean(axis=0)) ** 2).mean(axis=0))
    )
    expected = (values - mean) / np.sqrt(var + 1e-8)
    # Normalising cancels: the error of x - mean, relative to the spread, grows as |x| / std.
    condition = 1.0 + float(np.max(np.abs(values) / np.sqrt(var + 1e-8)))
    np.testing.assert_allclose(out, expected, rtol=0, atol=64 * float(np.finfo(precision(x)).eps) * condition)
    assert_finite(out, "BatchNorm.forward's output")
    delta = data.draw(argument("delta", flaw, valid(out.shape, huge=None), invalid(out.shape)))
    dx = run(lambda: bn.backward(delta), "BatchNorm(")
    if dx is REJECTED:
        assert flaw == "delta", "refused a valid delta"
        return
    assert dx.shape == out.shape
    assert_finite(dx, "BatchNorm.backward's output")
    close(bn.dbeta, as_float(delta).sum(axis=0, keepdims=True), precision(delta))


def logistic(z):
    """1 / (1 + e^-z) as e^z / (1 + e^z) for z < 0: never overflows (float64)."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, e) / (1.0 + e)


REFERENCES = {  # activation: (f(z), f'(z)) in float64, written independently of mytorch
    "Identity": (lambda z: z, lambda z: np.ones_like(z)),
    "Sigmoid": (logistic, lambda z: logistic(z) * logistic(-z)),
    "Tanh": (np.tanh, lambda z: 1.0 / np.cosh(np.clip(z, -300, 300)) ** 2),
    "ReLU": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
}


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
@examples(100)
@given(data=st.data())
def test_activation_returns_its_value_and_derivative_or_a_named_error(cls, data):
    shape = data.draw(st.sampled_from([(2, 3), (2, 3), (), (4,), (2, 2, 2), (0, 3)]))
    z = data.draw(st.one_of(valid(shape), valid(shape), invalid(shape, any_shape=True)))
    act = cls()
    out = run(lambda: act.forward(z), f"{cls.__name__}()")
    if out is REJECTED:
        assert not finite_float(z), "refused a valid z"
        return
    value, slope = REFERENCES[cls.__name__]
    dtype = precision(z)
    assert np.shape(out) == np.shape(z)
    with np.errstate(over="ignore", under="ignore"):
        close(out, value(as_float(z)), dtype)
        close(act.derivative(), slope(as_float(z)), dtype)
    assert_finite(out, f"{cls.__name__}.forward's output")


def one_hot_rows(batch, classes):
    return st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch).map(lambda k: np.eye(classes)[k])


def bad_labels(batch, classes):
    """Labels that are not one-hot rows of (batch, classes): class indices, other values, shapes, dtypes."""
    return st.one_of(
        st.lists(st.integers(0, classes - 1), min_size=batch, max_size=batch).map(np.array),
        arrays(np.float64, (batch, classes), elements=st.sampled_from([0.0, 1.0, 0.5, 2.0, -1.0])).filter(
            lambda y: not (((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all())
        ),
        one_hot_rows(batch, classes + 1),
        one_hot_rows(batch + 1, classes),
        invalid((batch, classes)),
    )


@examples(300)
@given(st.data())
def test_softmax_cross_entropy_matches_the_logaddexp_reference_or_names_the_problem(data):
    batch, classes = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    flaw = data.draw(st.sampled_from([None, None, "x", "labels"]))
    x = data.draw(argument("x", flaw, valid((batch, classes)), invalid((batch, classes))))
    labels = data.draw(argument("labels", flaw, one_hot_rows(batch, classes), bad_labels(batch, classes)))
    ce = SoftmaxCrossEntropy()
    loss = run(lambda: ce.forward(x, labels), "SoftmaxCrossEntropy()")
    if loss is REJECTED:
        assert flaw or not moderate(x), "refused valid logits and labels"
        return
    y = as_float(labels)
    assert y.shape == (batch, classes) and ((y == 0) | (y == 1)).all() and (y.sum(axis=1) == 1).all(), (
        "accepted labels that are not one-hot"
    )
    dtype = precision(x)
    logits = as_float(x)
    scale = 1.0 + np.abs(logits).max()
    np.testing.assert_allclose(loss, cross_entropy_reference(logits, y), rtol=0, atol=64 * np.finfo(dtype).eps * scale)
    assert_finite(loss, "the loss")
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    close(ce.derivative(), exponentials / exponentials.sum(axis=1, keepdims=True) - y, dtype)


# ---------------------------------------------------------------------------------------------------- the MLP
MLP_NAMES = ("MLP", "Linear(", "BatchNorm(", "SoftmaxCrossEntropy()", "Identity()", "Sigmoid()", "Tanh()", "ReLU()")
MLP_FLAWS = [
    "input_size",
    "output_size",
    "hiddens",
    "activations",
    "weight_init_fn",
    "criterion",
    "lr",
    "momentum",
    "num_bn_layers",
]


@st.composite
def mlp_arguments(draw, flaw):
    """MLP(...)'s arguments, all valid but the flaw (if any), which is out of range or of the wrong kind."""
    hiddens = draw(
        argument(
            "hiddens",
            flaw,
            st.lists(st.integers(1, 4), max_size=2),
            st.sampled_from([5, [0], [2.5], "4", [True], None]),
        )
    )
    count = len(hiddens) + 1 if isinstance(hiddens, list) else 2
    activations = [draw(st.sampled_from(ACTIVATIONS))() for _ in range(count)]
    if flaw == "activations":
        activations = draw(
            st.sampled_from(
                [
                    activations[1:],
                    activations + [Identity()],
                    ["sigmoid"] + activations[1:],
                    [Sigmoid] + activations[1:],
                    activations[:1] * count,
                    "sigmoid",
                ]
            )
        )
    valid_bn = st.integers(0, len(hiddens) if isinstance(hiddens, list) else 0)
    return dict(
        input_size=draw(argument("input_size", flaw, SIZES, BAD_SIZES)),
        output_size=draw(argument("output_size", flaw, st.integers(2, 4), BAD_SIZES)),
        hiddens=hiddens,
        activations=activations,
        weight_init_fn=weight_init(draw(argument("weight_init_fn", flaw, st.just("normal"), BAD_WEIGHT_INITS))),
        bias_init_fn=bias_init,
        criterion=draw(argument("criterion", flaw, st.builds(SoftmaxCrossEntropy), st.sampled_from(["ce", None]))),
        lr=draw(argument("lr", flaw, st.floats(0, 1), st.sampled_from([math.nan, math.inf, -0.1, "0.1"]))),
        momentum=draw(argument("momentum", flaw, st.floats(0, 0.99), st.sampled_from([1.0, 1.5, -0.5, math.nan]))),
        num_bn_layers=draw(argument("num_bn_layers", flaw, valid_bn, st.sampled_from([-1, 3, 0.5, True]))),
    )


@examples(300)
@given(st.data())
def test_mlp_builds_trains_and_scores_or_names_the_problem(data):
    flaw = data.draw(st.sampled_from([None] * 6 + MLP_FLAWS + ["x", "labels"]))
    mlp = run(lambda: MLP(**data.draw(mlp_arguments(flaw))), *MLP_NAMES)
    if mlp is REJECTED:
        assert flaw in MLP_FLAWS, "refused valid arguments"
        return
    assert 0 <= mlp.lr and 0 <= mlp.momentum < 1 and math.isfinite(mlp.lr)
    batch = data.draw(st.integers(2, 4) if mlp.num_bn_layers else st.integers(1, 4))
    shape, labels_shape = (batch, mlp.input_size), (batch, mlp.output_size)
    x = data.draw(argument("x", flaw, valid(shape, huge=HUGE_FOR_PRODUCTS), invalid(shape)))
    out = run(lambda: mlp.forward(x), *MLP_NAMES)
    if out is REJECTED:
        assert not moderate(x) or np.shape(x) != shape, "refused a valid x"
        return
    assert out.shape == labels_shape
    assert_finite(out, "MLP.forward's output")
    labels = data.draw(argument("labels", flaw, one_hot_rows(*labels_shape), bad_labels(*labels_shape)))
    for method in ("error", "total_loss"):
        value = run(lambda: getattr(mlp, method)(labels), *MLP_NAMES)
        assert (value is REJECTED) == (flaw == "labels"), f"MLP.{method} with labels {labels}"
        if value is not REJECTED:
            assert_finite(value, f"MLP.{method}")
            if method == "error":
                assert value == int((out.argmax(axis=1) != as_float(labels).argmax(axis=1)).sum())
    mlp.zero_grads()
    if run(lambda: mlp.backward(labels), *MLP_NAMES) is not REJECTED:
        run(mlp.step, *MLP_NAMES)
        for layer in mlp.linear_layers:
            assert_finite(layer.W, "W after a step")


DSET_FLAWS = ["lengths", "width", "labels", "structure", "values"]


def dataset(rng, flaw, input_size=3, output_size=2):
    """get_training_stats' dset, valid but for the flaw: lengths, widths, labels, values or structure."""
    n_train, n_val = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    (train_x, train_y), (val_x, val_y) = [
        (rng.standard_normal((n, input_size)), one_hot(rng, n, output_size)) for n in (n_train, n_val)
    ]
    if flaw == "lengths":
        train_y = train_y[:-1]
    elif flaw == "width":
        val_x = val_x[:, :-1]
    elif flaw == "labels":
        train_y = train_y * 2
    elif flaw == "values":
        train_x[0, 0] = np.nan
    elif flaw == "structure":
        return [(train_x, train_y), [train_x, train_y, val_x], None, ((train_x,), (val_x,), ())][int(rng.integers(4))]
    return (train_x, train_y), (val_x, val_y), (None, None)


@examples(120)
@given(st.data())
def test_get_training_stats_returns_four_finite_curves_or_names_the_problem(data):
    flaw = data.draw(st.sampled_from([None] * 8 + ["mlp", "nepochs", "batch_size"] + DSET_FLAWS))
    rng = np.random.default_rng(data.draw(st.integers(0, 3)))
    mlp = MLP(
        3,
        2,
        [3],
        [data.draw(st.sampled_from([Sigmoid, Tanh, ReLU]))(), Identity()],
        lambda n_in, n_out: rng.standard_normal((n_in, n_out)),
        bias_init,
        SoftmaxCrossEntropy(),
        lr=0.1,
        momentum=0.5,
        num_bn_layers=data.draw(st.integers(0, 1)),
    )
    model = data.draw(argument("mlp", flaw, st.just(mlp), st.sampled_from(["mlp", None, mlp.linear_layers[0]])))
    nepochs = data.draw(argument("nepochs", flaw, st.integers(0, 2), st.sampled_from([2.5, -1, "2", True])))
    batch_size = data.draw(argument("batch_size", flaw, st.integers(1, 4), st.sampled_from([0, -5, 2.0, None])))
    dset = dataset(rng, flaw)
    # BatchNorm cannot train on a last batch of one example: get_training_stats refuses such a batch size.
    last_batch_of_one = flaw is None and bool(mlp.bn_layers) and (len(dset[0][0]) % batch_size or batch_size) == 1
    stats = run(lambda: get_training_stats(model, dset, nepochs, batch_size), "get_training_stats")
    if stats is REJECTED:
        assert flaw or last_batch_of_one, "refused valid arguments"
        return
    assert flaw is None and not last_batch_of_one, f"trained although {flaw or 'the last batch held one example'}"
    assert len(stats) == 4 and all(curve.shape == (nepochs,) for curve in stats)
    for curve in stats:
        assert_finite(curve, "a training curve")
    assert all(((0 <= errors) & (errors <= 1)).all() for errors in (stats[1], stats[3]))


@examples(80)
@given(st.data())
def test_fold_batchnorm_agrees_with_the_model_in_eval_mode_or_names_the_problem(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 3)))
    mlp = MLP(
        3,
        2,
        [4, 3],
        [Tanh(), Sigmoid(), Identity()],
        lambda n_in, n_out: rng.standard_normal((n_in, n_out)),
        bias_init,
        SoftmaxCrossEntropy(),
        lr=0.1,
        num_bn_layers=data.draw(st.integers(1, 2)),
    )
    for bn in mlp.bn_layers:
        bn.gamma = rng.uniform(-2, 2, bn.gamma.shape)
        bn.running_mean = rng.standard_normal(bn.running_mean.shape)
        bn.running_var = rng.uniform(0, 3, bn.running_var.shape)
    flaw = data.draw(st.sampled_from([None] * 4 + ["nan gamma", "infinite mean", "negative variance", "not an MLP"]))
    if flaw == "nan gamma":
        mlp.bn_layers[0].gamma[0, 0] = np.nan
    elif flaw == "infinite mean":
        mlp.bn_layers[-1].running_mean[0, 1] = -np.inf
    elif flaw == "negative variance":
        mlp.bn_layers[-1].running_var[0, -1] = -1.0
    model = data.draw(st.sampled_from([mlp.linear_layers[0], "mlp", None])) if flaw == "not an MLP" else mlp
    folded = run(lambda: fold_batchnorm(model), "fold_batchnorm")
    if folded is REJECTED:
        assert flaw, "refused a valid MLP"
        return
    assert flaw is None, f"folded although {flaw}"
    x = rng.standard_normal((4, 3))
    mlp.eval()
    close(folded.forward(x), mlp.forward(x), np.float32)  # folding reorders a few roundings: 1e-5 relative
    assert not folded.bn_layers


# --------------------------------------------------------------------------------------------------- datasets
def idx_bytes(array, declared_shape=None):
    shape = array.shape if declared_shape is None else declared_shape
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + array.astype(np.uint8).tobytes()


@st.composite
def dataset_files(draw, folder):
    """(path, damaged): a path in folder to what load_dataset may be given, a .npz, a CSV file or an IDX folder,
    valid or with one thing wrong (damaged is True then); or a file that is no dataset, or not a path at all."""
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    kind = draw(st.sampled_from(["npz", "csv", "idx"] * 3 + ["junk npz", "npy as npz", "path"]))
    damaged = kind not in ("npz", "csv", "idx") or draw(st.booleans())
    labels = np.tile(np.arange(10), 2)
    images = rng.integers(0, 256, (20, 12))
    if kind == "path":
        return draw(st.sampled_from([5, 1.5, b"\xff", ["data.npz"]])), True
    path = os.path.join(folder, "d.csv" if kind == "csv" else "d.npz")
    if kind == "junk npz":
        with open(path, "wb") as handle:
            handle.write(draw(st.binary(max_size=20)))
    elif kind == "npy as npz":
        with open(path, "wb") as handle:
            np.save(handle, images)
    elif kind == "npz":
        arrays_ = {
            f"{split}_{name}": value
            for split in ("train", "val", "test")
            for name, value in (("images", images), ("labels", labels))
        }
        if damaged:
            name = draw(st.sampled_from(sorted(arrays_)))
            arrays_[name] = draw(
                st.sampled_from(
                    [
                        arrays_[name][:, :5] if arrays_[name].ndim == 2 else arrays_[name][:5],
                        arrays_[name] / 255.0,
                        arrays_[name] + 300,
                        arrays_[name].astype(np.complex128),
                        arrays_[name].astype(bool),
                        arrays_[name][:0],
                        -arrays_[name] - 1,
                        arrays_[name].astype(float) * np.nan,
                    ]
                )
            )
        np.savez(path, **arrays_)
    elif kind == "csv":
        rows = [",".join(str(v) for v in [label, *rng.integers(0, 256, 784)]) for label in np.tile(np.arange(10), 3)]
        if damaged:  # never the first row, which when not numeric is a header, and skipped
            row = draw(st.integers(1, len(rows) - 1))
            rows[row] = draw(
                st.sampled_from(
                    [prefix + rows[row][1:] for prefix in ("inf", "1e30", "nan", "x", "0.5", "-3")] + [rows[row] + ",0"]
                )
            )
        with open(path, "w") as handle:
            handle.write("\n".join(rows) + "\n")
    else:
        idx = {
            "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (60, 3, 4))),
            "train-labels-idx1-ubyte": idx_bytes(np.tile(np.arange(10), 6)),
            "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (10, 3, 4))),
            "t10k-labels-idx1-ubyte": idx_bytes(np.arange(10)),
        }
        if damaged:
            name = draw(st.sampled_from(sorted(idx)))
            idx[name] = draw(
                st.sampled_from(
                    [
                        idx[name][:-1],
                        idx[name][:6],
                        b"PK\x03\x04" + idx[name][4:],
                        idx[name] + b"\0",
                        idx_bytes(np.zeros(0), (2**31, 2**31, 4)),
                        idx_bytes(np.zeros((10, 2, 2))),
                        idx_bytes(np.full(10, 11)),
                    ]
                )
            )
        for filename, content in idx.items():
            with open(os.path.join(folder, filename), "wb") as handle:
                handle.write(content)
        path = folder
    return path, damaged


@examples(200)
@given(st.data())
def test_load_dataset_returns_scaled_one_hot_splits_or_names_the_problem(data):
    with tempfile.TemporaryDirectory() as folder:
        path, damaged = data.draw(dataset_files(folder))
        seed = data.draw(st.one_of(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5), st.sampled_from([-1, 1.5])))
        splits = run(lambda: load_dataset(path, seed), "load_dataset")
    assert (splits is REJECTED) == (damaged or seed in (-1, 1.5)), f"damaged: {damaged}, seed: {seed}"
    if splits is REJECTED:
        return
    assert len(splits) == 3 and len({x.shape[1] for x, _ in splits}) == 1
    for x, y in splits:
        assert x.dtype == np.float64 and 0 <= x.min() and x.max() <= 1 and len(x) == len(y) > 0
        np.testing.assert_array_equal(y, np.eye(10)[y.argmax(axis=1)])
        np.testing.assert_array_equal(x * 255, np.round(x * 255))  # whole pixels, scaled once


# -------------------------------------------------------------------------------------------------- gradcheck
@examples(150)
@given(st.data())
def test_gradcheck_passes_correct_layers_or_names_the_problem(data):
    rng = np.random.default_rng(0)
    flaw = data.draw(st.sampled_from([None] * 6 + ["model", "x", "labels", "eps", "atol", "rtol", "seed"]))
    kind = data.draw(st.sampled_from(["linear", "batchnorm", "sigmoid", "tanh", "loss", "mlp"]))
    model = {
        "linear": lambda: Linear(3, 2, lambda n_in, n_out: rng.standard_normal((n_in, n_out)), bias_init),
        "batchnorm": lambda: BatchNorm(3),
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "loss": SoftmaxCrossEntropy,
        "mlp": lambda: MLP(
            3,
            2,
            [2],
            [Tanh(), Identity()],
            lambda n_in, n_out: rng.standard_normal((n_in, n_out)),
            bias_init,
            SoftmaxCrossEntropy(),
            0.1,
        ),
    }[kind]()
    model = data.draw(argument("model", flaw, st.just(model), st.sampled_from(["linear", None, np.ones((2, 3))])))
    shape = (2, 2) if kind == "loss" else (2, 3)
    # Inputs spread out enough that BatchNorm's variance is not tiny: its finite differences stay meaningful.
    spread = st.sampled_from([-2.0, -1.0, 0.5, 1.5, 3.0])
    x = data.draw(
        argument(
            "x",
            flaw,
            valid(shape, moderate=spread, huge=None)
            .filter(lambda x: x.dtype != bool)
            .filter(lambda x: (np.ptp(as_float(x), axis=0) > 0.5).all()),
            invalid(shape, any_shape=kind in ("sigmoid", "tanh")),
        )
    )
    needs_labels = kind in ("loss", "mlp")
    labels = data.draw(
        argument(
            "labels",
            flaw,
            st.just(one_hot(rng, 2, 2) if needs_labels else None),
            st.just(None if needs_labels else one_hot(rng, 2, 2)) | bad_labels(2, 2),
        )
    )
    options = {
        name: data.draw(argument(name, flaw, st.nothing(), bad))
        for name, bad in (
            ("eps", st.sampled_from([0, -1e-6, math.nan, "1e-6"])),
            ("atol", st.sampled_from([-1, math.inf])),
            ("rtol", st.sampled_from([-1, math.nan])),
            ("seed", st.sampled_from([-1, 1.5, "0"])),
        )
        if name == flaw
    }
    checks = run(lambda: gradcheck(model, x, labels, **options), "gradcheck", *MLP_NAMES)  # GradcheckError fails
    if checks is REJECTED:
        assert flaw, "refused valid arguments"
        return
    # gradcheck takes any array-like x (a number, a list): a wrong x it accepted must have been one of those.
    assert flaw in (None, "labels") or (flaw == "x" and finite_float(as_array(x))), f"checked although {flaw} was wrong"
    assert checks and all(check.ok for check in checks)
