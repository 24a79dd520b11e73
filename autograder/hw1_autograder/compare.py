"""assert_close: compare a student's array with the oracle's, and say what is wrong and why it probably is.

Checks run in order type -> dtype -> shape -> values (|student - reference| <= atol + rtol * |reference|). On a
mismatch the AssertionError names the quantity, the worst index, both values there and the max abs error, and
ends with a diagnosis: every hypothesis in HYPOTHESES whose predicate holds.

    assert_close(mlp.linear_layers[0].dW, ref["dW0"], "mlp.linear_layers[0].dW",
                 context={"batch": 20, "alternatives": {"dW_not_averaged": ref["dW0.alt.dW_not_averaged"]}})

HYPOTHESES is the one list of likely mistakes. A hypothesis is either a *transform* of the reference computed
here (transposed, times the batch size, sign flipped, ...) or an *oracle alternative*: the reference recomputed by
the oracle under a known wrong convention, passed by the test as context["alternatives"][name]. Some alternatives
come one per layer, "activation_derivative_skipped[i]": their hypothesis says which layers explain the array.
"""

from collections import namedtuple

import numpy as np

RTOL = 1e-4
ATOL = 1e-8

Hypothesis = namedtuple("Hypothesis", "name cause predicate supersedes", defaults=((),))
Hypothesis.__doc__ = """name: short id; cause: the likely mistake and its fix, in plain words, or a function
cause(student, reference, context) -> str when the words depend on the arrays (which layer);
predicate(student, reference, context) -> bool, True when the student's array is explained by the mistake;
supersedes: names of vaguer hypotheses this one makes redundant when both hold (e.g. a summed dW is also
"times the batch size"). The student's array reaches the predicates with its own dtype (float32 stays float32)."""


def _close(a, b):
    """Same-shape closeness under the grading tolerance, for the hypotheses."""
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _batch(context):
    batch = (context or {}).get("batch")
    return batch if batch and batch > 1 else None


def _transposed(student, reference, context):
    return (
        reference.ndim == 2
        and reference.shape[0] != 1
        and reference.shape[1] != 1
        and _close(student.T, reference)
        and not _close(student, reference)
    )


def _times_batch(student, reference, context):
    batch = _batch(context)
    return batch is not None and _close(student, reference * batch)


def _over_batch(student, reference, context):
    batch = _batch(context)
    return batch is not None and _close(student, reference / batch)


def _sign_flipped(student, reference, context):
    return bool(np.any(np.abs(reference) > ATOL)) and _close(student, -reference)


def _variance_ratio(student, reference, context):
    """The ratio m/(m-1) between unbiased and biased variance, or its square root (in a normalised output)."""
    batch = _batch(context)
    if batch is None:
        return False
    ratio = batch / (batch - 1)
    return any(_close(student, reference * factor) for factor in (ratio, 1 / ratio, ratio**0.5, ratio**-0.5))


def _not_finite(student, reference, context):
    return bool(np.any(~np.isfinite(student) & np.isfinite(reference)))


def _reshaped(compare_ndim):
    """Right values in another shape of the same size, with more / fewer / as many axes as the reference."""

    def predicate(student, reference, context):
        return (
            student.shape != reference.shape
            and student.size == reference.size
            and compare_ndim(student.ndim, reference.ndim)
            and bool(np.allclose(student.reshape(reference.shape), reference, rtol=RTOL, atol=ATOL))
        )

    return predicate


def _low_precision(student, reference, context):
    """float32 or float16 where the reference is float64: rounding of ~1e-7 relative, which shows where values
    cancel to about zero (and anywhere, compounded over many steps)."""
    return student.dtype.kind == "f" and student.dtype.itemsize < 8 and reference.dtype.itemsize >= 8


def _wrong_axis_shape(student, reference, context):
    """A reduction over the other axis of a (batch, features) array: (batch, 1) or (batch,) instead of (1, n)."""
    batch = _batch(context)
    if batch is None or student.size == reference.size:
        return False
    return reference.shape in ((1, reference.size), (reference.size,)) and student.shape in ((batch, 1), (batch,))


def _alternative(name):
    def predicate(student, reference, context):
        alternative = ((context or {}).get("alternatives") or {}).get(name)
        return alternative is not None and _close(student, np.asarray(alternative))

    predicate.__name__ = f"matches_alternative_{name}"
    return predicate


def _matching_layers(family):
    """The layers i whose alternative "family[i]" explains the student's array, in order."""

    def layers(student, reference, context):
        found = []
        for name, alternative in ((context or {}).get("alternatives") or {}).items():
            index = name[len(family) + 1 : -1]
            if (
                name.startswith(family + "[")
                and name.endswith("]")
                and index.isdigit()
                and _close(student, np.asarray(alternative))
            ):
                found.append(int(index))
        return sorted(found)

    return layers


_skipped_derivative_layers = _matching_layers("activation_derivative_skipped")


def _skipped_derivative_cause(student, reference, context):
    layers = _skipped_derivative_layers(student, reference, context)
    if len(layers) == 1:
        i = layers[0]
        return (
            f"the derivative of mlp.activations[{i}] is left out of the backward pass: in MLP.backward "
            f"multiply delta by self.activations[{i}].derivative() before linear_layers[{i}].backward (and "
            f"before bn_layers[{i}].backward if that layer has BatchNorm)"
        )
    which = " or ".join(f"mlp.activations[{i}]" for i in layers)
    return (
        f"the derivative of {which} is left out of the backward pass: in MLP.backward multiply delta by "
        "self.activations[i].derivative() before layer i's backward, for every layer i"
    )


def _low_precision_cause(student, reference, context):
    return (
        f"the result is {student.dtype}, but the handout computes in float64, whose rounding is ~1e-16 "
        f"instead of ~{np.finfo(student.dtype).eps:.0e}: look for an .astype(np.{student.dtype}), a "
        f"np.{student.dtype}(...) constant or an array created with dtype=np.{student.dtype} on the way"
    )


HYPOTHESES = [
    # Transforms computed from the student's and the reference's arrays.
    Hypothesis(
        "not_finite",
        "the result contains NaN or inf: an overflow such as softmax without subtracting each "
        "row's maximum first (exp of a large logit), or the log of 0",
        _not_finite,
    ),
    Hypothesis(
        "transposed",
        "the result is the reference transposed: check the order of the matrix product "
        "(dW = x.T @ delta has shape (in_feature, out_feature))",
        _transposed,
    ),
    Hypothesis(
        "missing_keepdims",
        "right values, but an axis of length 1 is missing: keep the reduced axis, e.g. "
        "np.sum(delta, axis=0, keepdims=True) has shape (1, n), np.sum(delta, axis=0) has shape (n,)",
        _reshaped(lambda student_ndim, reference_ndim: student_ndim < reference_ndim),
    ),
    Hypothesis(
        "extra_axis",
        "right values, but with an extra axis of length 1: drop keepdims=True from that "
        "reduction (np.sum(x, axis=1) has shape (n,), with keepdims=True (n, 1)) or reshape the result to "
        "the expected shape",
        _reshaped(lambda student_ndim, reference_ndim: student_ndim > reference_ndim),
    ),
    Hypothesis(
        "reshaped",
        "right values, laid out in another shape: a column (n, 1) where a row (1, n) is expected "
        "or the reverse; reduce over the axis the handout names with keepdims=True, or reshape",
        _reshaped(lambda student_ndim, reference_ndim: student_ndim == reference_ndim),
    ),
    Hypothesis("low_precision", _low_precision_cause, _low_precision),
    Hypothesis(
        "wrong_axis_shape",
        "the reduction runs over the wrong axis: statistics and gradients of parameters reduce over the batch, axis=0",
        _wrong_axis_shape,
    ),
    Hypothesis(
        "times_batch",
        "the result is the batch size times too large: it is summed over the batch instead "
        "of averaged (divide by the batch size; Linear's dW and db are batch means)",
        _times_batch,
    ),
    Hypothesis(
        "over_batch",
        "the result is the batch size times too small: it is averaged over the batch where "
        "the handout sums (BatchNorm's dgamma/dbeta are sums; the loss derivative is softmax - y, not "
        "divided by the batch size), or divided by the batch size twice",
        _over_batch,
    ),
    Hypothesis(
        "sign_flipped",
        "the sign is flipped: check the direction of the update (W -= lr * dW) or of the "
        "gradient (softmax - y, not y - softmax)",
        _sign_flipped,
    ),
    Hypothesis(
        "variance_ratio",
        "off by the factor m/(m-1) or its square root: the unbiased variance "
        "(np.var(..., ddof=1), divide by m - 1) is used where the handout uses the biased one (divide by m)",
        _variance_ratio,
    ),
    # Oracle alternatives: the reference recomputed under a known wrong convention (context["alternatives"]).
    Hypothesis(
        "bn_eps_1e-5",
        "BatchNorm uses eps = 1e-5 (PyTorch's default); the handout's eps is 1e-8",
        _alternative("bn_eps_1e-5"),
    ),
    Hypothesis(
        "bn_unbiased_var",
        "BatchNorm uses the unbiased variance (divide by m - 1); the handout normalises "
        "and keeps running_var with the biased one (divide by m, np.var's default)",
        _alternative("bn_unbiased_var"),
        ("variance_ratio",),
    ),
    Hypothesis(
        "bn_alpha_swapped",
        "BatchNorm's running statistics swap alpha and 1 - alpha: use running = alpha * "
        "running + (1 - alpha) * batch_statistic",
        _alternative("bn_alpha_swapped"),
    ),
    Hypothesis(
        "bn_stats_wrong_axis",
        "BatchNorm's mean and variance are taken over the features (axis=1); they "
        "are per feature, over the batch (axis=0)",
        _alternative("bn_stats_wrong_axis"),
    ),
    Hypothesis(
        "softmax_wrong_axis",
        "softmax is normalised over the batch (axis=0); normalise each row over the classes (axis=1)",
        _alternative("softmax_wrong_axis"),
    ),
    Hypothesis(
        "momentum_ignored",
        "the steps are plain SGD although momentum was given: keep momentum_W = "
        "momentum * momentum_W - lr * dW and add it to W",
        _alternative("momentum_ignored"),
    ),
    Hypothesis(
        "momentum_dampened",
        "momentum is applied as v = mu * v - (1 - mu) * lr * g; the handout's form is v = mu * v - lr * g, then W += v",
        _alternative("momentum_dampened"),
    ),
    Hypothesis(
        "momentum_nesterov",
        "a Nesterov look-ahead step is used; the handout's momentum is the classical v = mu * v - lr * g, then W += v",
        _alternative("momentum_nesterov"),
    ),
    Hypothesis(
        "bn_params_momentum",
        "BatchNorm's gamma and beta are updated with momentum; the handout updates "
        "them with plain SGD (gamma -= lr * dgamma)",
        _alternative("bn_params_momentum"),
    ),
    Hypothesis(
        "dW_not_averaged",
        "Linear's dW/db are summed over the batch instead of averaged: divide by the batch size",
        _alternative("dW_not_averaged"),
        ("times_batch",),
    ),
    Hypothesis(
        "momentum_stale_velocity",
        "W is moved by the previous step's velocity, and the velocity is updated "
        "afterwards: first momentum_W = momentum * momentum_W - lr * dW, then W += momentum_W",
        _alternative("momentum_stale_velocity"),
    ),
    Hypothesis(
        "activation_derivative_skipped",
        _skipped_derivative_cause,
        lambda student, reference, context: bool(_skipped_derivative_layers(student, reference, context)),
    ),
    # Training statistics: get_training_stats run by the oracle with a known wrong training loop (its MISTAKES).
    Hypothesis(
        "no_shuffle",
        "the training batches come in the stored order: at the start of every epoch, before "
        "the batches, shuffle an array of example indices with np.random.shuffle and take each batch's "
        "examples through it (a shuffle at the end of the epoch comes too late: train.py "
        "calls get_training_stats one epoch at a time)",
        _alternative("no_shuffle"),
    ),
    Hypothesis(
        "shuffled_data_not_index",
        "train_x and train_y are shuffled separately (np.random.shuffle(train_x); "
        "np.random.shuffle(train_y)), which draws two different permutations and separates every image from "
        "its label, and changes the caller's arrays: shuffle one index array and gather both with it",
        _alternative("shuffled_data_not_index"),
    ),
    Hypothesis(
        "validation_in_train_mode",
        "the validation forward runs in train mode, so BatchNorm normalises with "
        "the validation set's own statistics (and updates its running ones): call mlp.eval() before it and "
        "mlp.train() after it",
        _alternative("validation_in_train_mode"),
    ),
    Hypothesis(
        "train_stats_after_epoch",
        "the training loss and error are measured by a forward of the whole "
        "training set after the epoch; the handout accumulates them over the epoch's batches as they go by "
        "(the output of each batch's forward, before its step), then divides by the number of examples",
        _alternative("train_stats_after_epoch"),
    ),
    Hypothesis(
        "losses_summed",
        "the loss (or error) is summed over the examples instead of averaged: divide the "
        "epoch's total by the number of examples (len(train_x) for training, len(val_x) for validation)",
        _alternative("losses_summed"),
        ("times_batch",),
    ),
    Hypothesis(
        "accuracy_not_error",
        "this is the fraction classified correctly (accuracy); the error is the "
        "fraction classified wrongly, 1 - accuracy",
        _alternative("accuracy_not_error"),
    ),
]


def cause_text(hypothesis, student, reference, context=None):
    """The hypothesis's cause in words, for these arrays."""
    cause = hypothesis.cause
    return cause(student, reference, context) if callable(cause) else cause


def diagnose(student, reference, context=None):
    """The causes of every hypothesis that explains the student's array (usually zero or one)."""
    holding = []
    for hypothesis in HYPOTHESES:
        try:
            if hypothesis.predicate(student, reference, context):
                holding.append(hypothesis)
        except (ValueError, TypeError, FloatingPointError):  # a hypothesis that does not apply to these arrays
            continue
    redundant = {name for hypothesis in holding for name in hypothesis.supersedes}
    return [
        cause_text(hypothesis, student, reference, context)
        for hypothesis in holding
        if hypothesis.name not in redundant
    ]


def _with_diagnosis(message, student, reference, context):
    causes = diagnose(student, reference, context)
    if causes:
        message += "\n  likely cause: " + "\n  or: ".join(causes) + "."
    return message


def assert_close(student, reference, quantity, *, rtol=RTOL, atol=ATOL, context=None):
    """Raise AssertionError unless `student` is a float array of the reference's shape and values.

    student, reference: arrays of the same shape; quantity: what is compared, e.g. "mlp.linear_layers[0].dW";
    context: {"batch": int, "alternatives": {hypothesis name: array}} for the diagnosis (optional).
    """
    reference = np.asarray(reference)
    if isinstance(student, (float, np.floating)) and reference.ndim == 0:
        student = np.asarray(student)
    if not isinstance(student, np.ndarray):
        hint = " (did the method forget to `return`?)" if student is None else ""
        if isinstance(student, (list, tuple)):
            hint = " (convert it with np.array)"
        raise AssertionError(  # noqa: TRY004 (a grading failure, reported like every other)
            f"{quantity}: expected a numpy array of shape {reference.shape}; got {type(student).__name__}{hint}."
        )
    if student.dtype.kind != "f":
        raise AssertionError(
            f"{quantity}: dtype is {student.dtype}; expected a float array (float64). Integer or boolean arrays "
            f"lose values: convert with .astype(float) (e.g. (z > 0).astype(float))."
        )
    if student.shape != reference.shape:
        message = f"{quantity}: shape is {student.shape}; expected {reference.shape}."
        raise AssertionError(_with_diagnosis(message, student, reference.astype(np.float64), context))

    given, student, reference = student, student.astype(np.float64), reference.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.abs(student - reference) - (atol + rtol * np.abs(reference))
    bad = (
        (excess > 0)
        | (np.isfinite(reference) != np.isfinite(student))
        | (~np.isfinite(reference) & (student != reference))
    )  # e.g. -inf where the reference is +inf
    if not bad.any():
        return
    excess = np.where(bad, np.where(np.isnan(excess), np.inf, excess), -np.inf)  # a NaN is the worst mismatch
    index = np.unravel_index(int(np.argmax(excess)), student.shape) if student.ndim else ()
    where = f"index {tuple(int(i) for i in index)}" if student.ndim else "the value"
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(student - reference)
    finite = np.isfinite(error)
    max_error = f"max abs error {np.max(error[finite]):.3g}" if finite.any() else "no finite values"
    if not finite.all():
        max_error += f" ({int((~finite).sum())} NaN/inf)"
    worst = f"student {float(student[index]):.6g}, reference {float(reference[index]):.6g}"
    message = (
        f"{quantity}: wrong values ({int(bad.sum())} of {student.size} elements outside rtol={rtol:g}, "
        f"atol={atol:g}).\n  worst at {where}: {worst}; {max_error}."
    )
    raise AssertionError(_with_diagnosis(message, given, reference, context))  # the diagnosis sees the dtype
