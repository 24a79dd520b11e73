"""Input checks shared by every layer, so that a mistake is reported where it is made.

Each check raises ValueError with a message that names the layer, the argument, what was expected and what
arrived, e.g. ``Linear(784 -> 10).forward: x has shape (20, 785); expected (batch, 784).``
Arrays of integers or booleans are accepted wherever numbers are, and converted to float64.
"""

import functools
import math
import numbers

import numpy as np

# Kinds of numpy dtype that hold real numbers: float; signed, unsigned and boolean integers (converted to float64).
_INTEGER_KINDS = "iub"


def check_batch(x, where, features=None, name="x", finite=True):
    """Require a finite 2-D array of real numbers of shape (batch, features), batch >= 1 (any width if features is
    None).

    x: (batch, features); where: the layer and method, for the message.
    Returns x, or for integer or boolean input x converted to float64 (as numpy's arithmetic would anyway).
    finite=False skips the NaN/infinity test, for a caller that tests something cheaper (Linear tests its output).
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{where}: {name} must be a numpy array; got {type(x).__name__}.")
    if features is None and x.ndim == 2:
        features = x.shape[1]
    if x.ndim != 2 or x.shape[1] != features or 0 in x.shape:
        features = "features" if features is None or features == 0 else features
        hint = ""
        if x.ndim == 1 and x.shape[0] == features:
            hint = f" For a single example use {name}[None, :], which has shape (1, {features})."
        elif x.ndim == 2 and x.shape[0] == features and x.shape[1] != features:
            hint = f" It looks transposed: use {name}.T."
        elif x.ndim == 2 and x.shape[0] == 0:
            hint = " The batch is empty."
        elif x.ndim == 2 and x.shape[1] == 0:
            hint = " Its examples have no features."
        raise ValueError(f"{where}: {name} has shape {x.shape}; expected (batch, {features}).{hint}")
    x = check_real(x, where, name)
    if finite:
        check_finite(x, where, name)
    return x


def check_real(x, where, name="x"):
    """Require an array of real numbers: float is returned as it is, integer or boolean converted to float64."""
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in _INTEGER_KINDS:
        return x.astype(np.float64)
    raise ValueError(f"{where}: {name} must hold real numbers; got dtype {x.dtype}.")


def check_finite(x, where, name="x"):
    """Raise ValueError naming the first NaN or infinity in x.

    One vectorised pass, no warnings to silence: cheaper than summing x under np.errstate (which a layer would
    pay on every call), and huge but finite values never raise a false alarm.
    """
    finite = np.isfinite(x)
    if finite.all():
        return
    bad = ~finite
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{where}: {name} contains {x[index]} at index {index} ({int(bad.sum())} non-finite in all). "
        "If this appeared during training, the loss diverged: lower the learning rate."
    )


@functools.lru_cache
def square_limit(dtype):
    """The largest power of ten whose square, summed over a batch of up to 1e7 examples, stays finite in dtype:
    1e150 for float64, 1e15 for float32."""
    return 10.0 ** (math.floor(math.log10(np.finfo(dtype).max) / 2) - 4)


@functools.lru_cache
def difference_limit(dtype):
    """The largest power of ten whose difference with its negative stays finite in dtype: 1e307 for float64."""
    return 10.0 ** math.floor(math.log10(np.finfo(dtype).max / 2))


def check_magnitude(x, where, limit, reason, name="x"):
    """Raise ValueError naming the first NaN, infinity or value beyond +-limit in x; reason says what would
    overflow beyond the limit (the message adds the dtype's range)."""
    if -limit <= float(x.min()) and float(x.max()) <= limit:  # NaN fails both comparisons; float: x may be float32
        return
    check_finite(x, where, name)
    bad = np.abs(x.astype(np.float64)) > limit
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{where}: {name} holds {x[index]:g} at index {index} ({int(bad.sum())} beyond +-{limit:g} in all); beyond "
        f"that, {reason} could overflow {x.dtype} (largest {np.finfo(x.dtype).max:.2g}). If this appeared during "
        "training, the loss diverged: lower the learning rate."
    )


def check_finite_via_output(forward):
    """Decorator for Linear.forward: a NaN or an infinity in x is found by testing the output, not x.

    Every output element of a row reads that whole row of x, so a NaN or an infinity in x reaches every output of
    its row (nan * w is nan, inf * w is +-inf or nan).  The output (batch x 32 in the handout network) is far
    smaller than x (batch x 784): testing it instead spares a pass over x, a fifth of the time the handout
    network takes to evaluate 10,000 examples.  x is scanned only when the output is not finite, to name the
    culprit; when x is finite, W or b is not (training diverged) or the product overflowed, and the message says
    which.  numpy's warnings about invalid or overflowing values are silenced meanwhile: this error replaces them.
    """

    @functools.wraps(forward)
    def checked_forward(layer, x):
        with np.errstate(invalid="ignore", over="ignore"):
            out = forward(layer, x)
        if isinstance(out, np.ndarray) and not np.isfinite(out).all():
            where = f"{layer!r}.forward"
            check_finite(x, where, "x")
            check_finite(layer.W, where, "W")
            check_finite(layer.b, where, "b")
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
            raise ValueError(
                f"{where}: the output overflowed to {out[index]} at index {index} although x, W and b are finite "
                f"(x ranges from {x.min():g} to {x.max():g}; W from {layer.W.min():g} to {layer.W.max():g}). "
                "If this appeared during training, the loss diverged: lower the learning rate."
            )
        return out

    return checked_forward


def check_same_shape(actual, expected_shape, where, name):
    """Require a finite array of real numbers of shape expected_shape (e.g. a backward delta matching the forward
    output).  Returns it, converted to float64 if it held integers or booleans."""
    if not isinstance(actual, np.ndarray):
        raise ValueError(f"{where}: {name} must be a numpy array; got {type(actual).__name__}.")
    if actual.shape != tuple(expected_shape):
        raise ValueError(f"{where}: {name} has shape {actual.shape}; expected {tuple(expected_shape)}.")
    actual = check_real(actual, where, name)
    check_finite(actual, where, name)
    return actual


def check_labels(y, logits_shape, where, name="labels"):
    """Require one-hot rows of the logits' shape: every entry 0 or 1, each row summing to exactly 1.

    y: (batch, classes).  Returns y, as float64 if it held integers or booleans.
    """
    batch, classes = logits_shape
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.shape[0] == batch and y.dtype.kind in "iu":
        raise ValueError(
            f"{where}: {name} has shape {y.shape}, which looks like class indices; expected one-hot rows of "
            f"shape ({batch}, {classes}). Convert with np.eye({classes})[{name}]."
        )
    y = check_same_shape(y, logits_shape, where, name)
    is_binary = (y == 0) | (y == 1)
    if not is_binary.all():
        row = int(np.argwhere(~is_binary)[0][0])
        raise ValueError(f"{where}: {name} must be one-hot rows (entries 0 or 1); row {row} is {y[row].tolist()}.")
    row_sums = y.sum(axis=1)
    if not (row_sums == 1).all():
        row = int(np.argmax(row_sums != 1))
        raise ValueError(
            f"{where}: {name} must be one-hot rows (each row sums to 1); row {row} sums to {row_sums[row]:g}."
        )
    return y


def require_forward(stored, where):
    """backward, derivative and the like read what forward stores: fail clearly if forward has not run."""
    if stored is None:
        raise ValueError(f"{where}: call forward first; this method uses the values forward stores.")


def check_size(value, where, name):
    """Require a positive integer (a layer size, a batch size); bool is not one."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer; got {value!r}.")
    return int(value)


def check_number(value, where, name, low, high=math.inf, high_included=True, low_included=True):
    """Require a finite real number with low <= value <= high (< where not included); bool is not one."""
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low <= value if low_included else low < value)
        and (value <= high if high_included else value < high)
    )
    if not ok:
        interval = f"{low} {'<=' if low_included else '<'} {name}" + (
            "" if high == math.inf else f" {'<=' if high_included else '<'} {high}"
        )
        raise ValueError(f"{where}: {name} must be a finite number with {interval}; got {value!r}.")
    return float(value)
