"""compare.assert_close checks type -> dtype -> shape -> values, and every diagnosis hypothesis earns its place:
it fires on an answer with its planted mistake and stays silent on a correct answer and on an unrelated wrong one.

The planted answers are computed here with closed-form numpy (a summed dW, y - softmax, ddof=1 ...), never by
running mytorch.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "autograder", "hw1_autograder")
)

import compare
from compare import HYPOTHESES, assert_close, diagnose

BATCH = 8
_rng = np.random.default_rng(785)
X = _rng.standard_normal((BATCH, 3))
DELTA = _rng.standard_normal((BATCH, 4))
LOGITS = _rng.standard_normal((BATCH, 4)) * 3
LABELS = np.eye(4)[_rng.integers(0, 4, BATCH)]
SMALL_VAR = _rng.standard_normal((BATCH, 4)) * 1e-3  # a tiny variance, where BatchNorm's eps matters


def softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def normalise(x, eps=1e-8, ddof=0, axis=0):
    return (x - x.mean(axis=axis, keepdims=True)) / np.sqrt(x.var(axis=axis, ddof=ddof, keepdims=True) + eps)


def momentum_walk(grads, lr=0.1, mu=0.9, form="classical"):
    """Parameter after steps of momentum SGD from 0, under the handout's form or a wrong one."""
    w, v = np.zeros_like(grads[0]), np.zeros_like(grads[0])
    for g in grads:
        if form == "stale":  # W moved by the old velocity, which is updated afterwards
            w, v = w + v, mu * v - lr * g
            continue
        if form == "classical":
            v = mu * v - lr * g
        elif form == "ignored":
            v = -lr * g
        elif form == "dampened":
            v = mu * v - (1 - mu) * lr * g
        elif form == "nesterov":
            v = mu * v - lr * g
            w = w + mu * v - lr * g - v  # the look-ahead correction; W += v below completes the step
        w = w + v
    return w


def naive_cross_entropy(x, y):
    """Softmax without the max-shift: exp overflows for large logits."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(x)
        return -(y * np.log(e / e.sum(axis=1, keepdims=True))).sum(axis=1)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def three_layer_dW0(skip=None):
    """dW of the first layer of X -> W[0] -> sigmoid -> W[1] -> tanh -> W[2] -> identity with upstream gradient
    DELTA[:, :2] (batch means), by the chain rule; skip=i leaves activation i's derivative out."""
    h1 = sigmoid(X @ W3[0])
    h2 = np.tanh(h1 @ W3[1])
    derivatives = [h1 * (1 - h1), 1 - h2**2]
    delta = DELTA[:, :2] @ W3[2].T * (derivatives[1] if skip != 1 else 1)
    delta = delta @ W3[1].T * (derivatives[0] if skip != 0 else 1)
    return X.T @ delta / BATCH


def sgd_line(x, t, orders, lr=0.2, batch=2):
    """Fit t = w * x by minibatch SGD from w = 0 over the epochs' orders. Returns the per-epoch mean loss
    (w * x - t)^2 / 2 accumulated over the batches before each step (as get_training_stats measures it), and the
    mean loss of the whole set after each epoch (as it should not)."""
    w, during, after = 0.0, [], []
    for order in orders:
        total = 0.0
        for start in range(0, len(order), batch):
            i = order[start : start + batch]
            residual = w * x[i] - t[i]
            total += (residual**2 / 2).sum()
            w -= lr * (residual * x[i]).mean()
        during.append(total / len(x))
        after.append(((w * x - t) ** 2 / 2).mean())
    return np.array(during), np.array(after)


GRADS = [_rng.standard_normal((3, 2)) for _ in range(5)]
BN_TRAINED_MEAN = SMALL_VAR.mean(axis=0, keepdims=True)
W3 = [_rng.standard_normal((3, 4)), _rng.standard_normal((4, 3)), _rng.standard_normal((3, 2))]
LINE_X, LINE_T = _rng.standard_normal(6), _rng.standard_normal(6)
ORDERS = [_rng.permutation(6), _rng.permutation(6)]
IN_ORDER = [np.arange(6)] * 2
# Validation features after a BatchNorm: normalised with the running statistics (eval mode) or their own (train).
VAL = _rng.standard_normal((BATCH, 4)) + 2
RUNNING_MEAN, RUNNING_VAR = 0.1 * VAL.mean(axis=0), 0.9 + 0.1 * VAL.var(axis=0)
ERRORS = np.mean(np.argmax(LOGITS, axis=1) != np.argmax(LABELS, axis=1))

# hypothesis name -> (student with the planted mistake, reference, context)
PLANTED = {
    "not_finite": (
        naive_cross_entropy(LOGITS * 1e3, LABELS),
        -(LABELS * np.log(softmax(LOGITS * 1e3) + 1e-300)).sum(axis=1),
        None,
    ),
    "transposed": ((X.T @ DELTA[:, :3] / BATCH).T, X.T @ DELTA[:, :3] / BATCH, {"batch": BATCH}),
    "missing_keepdims": (DELTA.mean(axis=0), DELTA.mean(axis=0, keepdims=True), {"batch": BATCH}),
    "extra_axis": (naive_cross_entropy(LOGITS, LABELS)[:, None], naive_cross_entropy(LOGITS, LABELS), None),
    "reshaped": (DELTA.mean(axis=0).reshape(-1, 1), DELTA.mean(axis=0, keepdims=True), {"batch": BATCH}),
    # Centred features summed over the batch: exactly 0, ~1e-16 in float64 rounding, ~1e-7 in float32 rounding.
    "low_precision": (
        (X.astype(np.float32) * 1000 - (X.astype(np.float32) * 1000).mean(axis=0)).sum(axis=0),
        (X * 1000 - (X * 1000).mean(axis=0)).sum(axis=0),
        {"batch": BATCH},
    ),
    "wrong_axis_shape": (DELTA.mean(axis=1, keepdims=True), DELTA.mean(axis=0, keepdims=True), {"batch": BATCH}),
    "times_batch": (X.T @ DELTA, X.T @ DELTA / BATCH, {"batch": BATCH}),
    "over_batch": (DELTA.mean(axis=0, keepdims=True), DELTA.sum(axis=0, keepdims=True), {"batch": BATCH}),
    "sign_flipped": (LABELS - softmax(LOGITS), softmax(LOGITS) - LABELS, None),
    "variance_ratio": (normalise(X, ddof=1), normalise(X), {"batch": BATCH}),
}
ALTERNATIVES = {
    "bn_eps_1e-5": (normalise(SMALL_VAR, eps=1e-5), normalise(SMALL_VAR)),
    "bn_unbiased_var": (0.9 + 0.1 * X.var(axis=0, ddof=1, keepdims=True), 0.9 + 0.1 * X.var(axis=0, keepdims=True)),
    "bn_alpha_swapped": (0.1 * 0 + 0.9 * BN_TRAINED_MEAN, 0.9 * 0 + 0.1 * BN_TRAINED_MEAN),
    "bn_stats_wrong_axis": (normalise(SMALL_VAR, axis=1), normalise(SMALL_VAR)),
    "softmax_wrong_axis": (softmax(LOGITS, axis=0) - LABELS, softmax(LOGITS) - LABELS),
    "momentum_ignored": (momentum_walk(GRADS, form="ignored"), momentum_walk(GRADS)),
    "momentum_dampened": (momentum_walk(GRADS, form="dampened"), momentum_walk(GRADS)),
    "momentum_nesterov": (momentum_walk(GRADS, form="nesterov"), momentum_walk(GRADS)),
    "bn_params_momentum": (1 - momentum_walk(GRADS)[:1], 1 - 0.1 * sum(GRADS)[:1]),
    "dW_not_averaged": (X.T @ DELTA, X.T @ DELTA / BATCH),
    "momentum_stale_velocity": (momentum_walk(GRADS, form="stale"), momentum_walk(GRADS)),
    # Training statistics: curves of a line fitted by SGD stand in for get_training_stats's.
    "no_shuffle": (sgd_line(LINE_X, LINE_T, IN_ORDER)[0], sgd_line(LINE_X, LINE_T, ORDERS)[0]),
    "shuffled_data_not_index": (
        sgd_line(LINE_X[ORDERS[0]], LINE_T[ORDERS[1]], IN_ORDER)[0],
        sgd_line(LINE_X, LINE_T, ORDERS)[0],
    ),
    "validation_in_train_mode": (
        (normalise(VAL) ** 2 / 2).sum(axis=1).mean(keepdims=True),
        (((VAL - RUNNING_MEAN) / np.sqrt(RUNNING_VAR + 1e-8)) ** 2 / 2).sum(axis=1).mean(keepdims=True),
    ),
    "train_stats_after_epoch": (sgd_line(LINE_X, LINE_T, ORDERS)[1], sgd_line(LINE_X, LINE_T, ORDERS)[0]),
    "losses_summed": (sgd_line(LINE_X, LINE_T, ORDERS)[0] * 6, sgd_line(LINE_X, LINE_T, ORDERS)[0]),
    "accuracy_not_error": (np.array([1 - ERRORS]), np.array([ERRORS])),
}
for _name, (_student, _reference) in ALTERNATIVES.items():
    # The test passes the oracle's wrong-convention array as context["alternatives"][name]; the student made it.
    PLANTED[_name] = (_student, _reference, {"batch": BATCH, "alternatives": {_name: _student.copy()}})
# One alternative per layer: the student left out the derivative of activations[1] (tanh); the oracle also offers
# layer 0's, which the student did not do.
PLANTED["activation_derivative_skipped"] = (
    three_layer_dW0(skip=1),
    three_layer_dW0(),
    {
        "batch": BATCH,
        "alternatives": {
            "activation_derivative_skipped[0]": three_layer_dW0(skip=0),
            "activation_derivative_skipped[1]": three_layer_dW0(skip=1),
        },
    },
)

BY_NAME = {hypothesis.name: hypothesis for hypothesis in HYPOTHESES}


def planted_cause(name):
    """The words of hypothesis `name` for its planted arrays."""
    return compare.cause_text(BY_NAME[name], *PLANTED[name])


def test_every_hypothesis_has_a_planted_case():
    assert set(PLANTED) == set(BY_NAME), "each hypothesis in compare.HYPOTHESES needs a planted case here"


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_hypothesis_fires_on_its_planted_mistake(name):
    student, reference, context = PLANTED[name]
    with pytest.raises(AssertionError) as failure:
        assert_close(student, reference, "planted", context=context)
    assert planted_cause(name) in str(failure.value), str(failure.value)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_hypothesis_is_silent_on_a_correct_answer(name):
    _, reference, context = PLANTED[name]
    assert not BY_NAME[name].predicate(reference.copy(), reference, context)
    assert_close(reference.copy(), reference, "correct", context=context)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_hypothesis_is_silent_on_an_unrelated_wrong_answer(name):
    _, reference, context = PLANTED[name]
    noisy = reference * (1 + 0.3 * np.random.default_rng(0).standard_normal(reference.shape)) + 0.01
    assert planted_cause(name) not in diagnose(noisy, reference, context)


def test_a_skipped_activation_derivative_names_the_layer():
    student, reference, context = PLANTED["activation_derivative_skipped"]
    with pytest.raises(AssertionError) as failure:
        assert_close(student, reference, "mlp.linear_layers[0].dW", context=context)
    message = str(failure.value)
    assert "the derivative of mlp.activations[1] is left out of the backward pass" in message, message
    assert "mlp.activations[0]" not in message


@pytest.mark.parametrize(
    "student_shape, fix", [((8, 1), "drop keepdims=True"), ((1, 8), "extra axis of length 1"), ((8,), None)]
)
def test_a_per_example_loss_of_the_wrong_shape_gets_the_fix_in_the_right_direction(student_shape, fix):
    """The loss is (batch,): a (batch, 1) answer must hear "drop keepdims", never "keep the reduced axis"."""
    reference = naive_cross_entropy(LOGITS, LABELS)
    causes = diagnose(reference.reshape(student_shape), reference, {"batch": BATCH})
    if fix is None:
        assert causes == []
    else:
        assert len(causes) == 1 and fix in causes[0], causes
        assert "keep the reduced axis" not in causes[0]


def test_a_float32_answer_is_named_float32():
    reference = (X * 1000 - (X * 1000).mean(axis=0)).sum(axis=0)
    student = (X.astype(np.float32) * 1000 - (X.astype(np.float32) * 1000).mean(axis=0)).sum(axis=0)
    with pytest.raises(AssertionError, match=r"wrong values(.|\n)*the result is float32"):
        assert_close(student, reference, "bn.forward")
    assert_close(np.float32(1.5) * np.ones(3, np.float32), np.full(3, 1.5), "a float32 within tolerance passes")


def test_value_message_names_quantity_worst_index_values_and_error():
    reference = np.arange(12.0).reshape(3, 4)
    student = reference.copy()
    student[2, 1] += 0.5
    student[0, 3] += 0.1
    with pytest.raises(AssertionError) as failure:
        assert_close(student, reference, "mlp.linear_layers[0].dW")
    message = str(failure.value)
    assert message.startswith("mlp.linear_layers[0].dW: wrong values (2 of 12 elements")
    assert "worst at index (2, 1): student 9.5, reference 9" in message
    assert "max abs error 0.5" in message
    assert "likely cause" not in message  # nothing in the list explains a random slip


def test_type_is_checked_first():
    with pytest.raises(
        AssertionError,
        match=r"expected a numpy array of shape \(2, 2\); got NoneType \(did the "
        r"method forget to `return`\?\)",
    ):
        assert_close(None, np.zeros((2, 2)), "relu.derivative()")
    with pytest.raises(AssertionError, match="got list .convert it with np.array"):
        assert_close([[0.0, 0.0]], np.zeros((1, 2)), "out")


def test_dtype_is_checked_before_shape_and_values():
    with pytest.raises(AssertionError, match=r"relu.derivative\(\): dtype is bool; expected a float array"):
        assert_close(np.array([True, False]), np.array([1.0, 0.0]), "relu.derivative()")


def test_shape_is_checked_before_values():
    with pytest.raises(AssertionError, match=r"db: shape is \(3, 1\); expected \(1, 3\)"):
        assert_close(np.zeros((3, 1)), np.ones((1, 3)), "db")


def test_tolerance_is_relative_1e_4():
    reference = np.array([1000.0, 1e-3])
    assert_close(reference * (1 + 5e-5), reference, "within rtol")
    with pytest.raises(AssertionError):
        assert_close(reference * (1 + 5e-4), reference, "outside rtol")
    assert compare.RTOL == 1e-4 and compare.ATOL == 1e-8


def test_nan_where_reference_is_finite_is_the_worst_mismatch():
    with pytest.raises(AssertionError, match=r"worst at index \(1,\): student nan"):
        assert_close(np.array([1.0, np.nan, 3.5]), np.array([1.0, 2.0, 3.0]), "loss")
