"""Check a hand-written backward against central finite differences, in float64.

    from mytorch import gradcheck, Linear
    gradcheck(Linear(4, 3, np.random.randn, lambda n: np.zeros((1, n))), np.random.randn(5, 4))

Works on a Linear, a BatchNorm, an activation, a SoftmaxCrossEntropy (pass the labels) or a whole MLP (pass the
labels).  For a layer it checks the input gradient and every parameter gradient; for an MLP, every parameter
gradient of every layer.  The semantics are PyTorch's: an element passes when
|analytic - numeric| <= atol + rtol * |numeric|.

The scalar being differentiated is L = sum(out * R) for a layer (R: a fixed random array, so every output
element matters) and the summed per-example loss for a criterion or an MLP.  Numeric gradients are scaled to the
handout's conventions before comparing: Linear's dW and db are batch means, BatchNorm's dgamma and dbeta sums.
The model you pass is never modified: the checker works on copies.
"""

import copy
from collections import namedtuple

import numpy as np

try:
    from .input_checks import check_number
except ImportError:  # flat import: sys.path.append('mytorch'); import gradcheck
    from input_checks import check_number

Check = namedtuple("Check", "quantity ok index analytic numeric tolerance max_abs_error")


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytic gradient disagrees with the finite differences."""


def gradcheck(model, x, labels=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Returns a list of Check, one per gradient checked; raises GradcheckError listing the failures.

    x: (batch, in_feature) real numbers (any array-like; checked in float64);  labels: (batch, classes) one-hot,
    for a criterion or an MLP (and only for those).  eps > 0, atol >= 0, rtol >= 0.
    """
    x = _check_arguments(model, x, labels, eps, atol, rtol, seed)
    if hasattr(model, "linear_layers"):
        checks = _check_mlp(model, x, labels, eps, atol, rtol)
    elif _is_criterion(model):
        checks = _check_criterion(model, x, labels, eps, atol, rtol)
    else:
        checks = _check_layer(model, x, eps, atol, rtol, np.random.default_rng(seed))
    failures = [c for c in checks if not c.ok]
    if failures and raise_exception:
        raise GradcheckError(f"gradcheck of {model!r} failed:\n" + "\n".join(describe(c) for c in failures))
    return checks


def _is_criterion(model):
    return hasattr(model, "labels") and hasattr(model, "derivative")  # a loss: forward(x, labels)


def _check_arguments(model, x, labels, eps, atol, rtol, seed):
    """gradcheck's arguments, checked; returns x as a new float64 array (it is perturbed in place)."""
    if not callable(getattr(model, "forward", None)):
        raise ValueError(
            f"gradcheck: model must be a layer, an activation, a criterion or an MLP; got {type(model).__name__}."
        )
    if _is_criterion(model) and labels is None:
        raise ValueError(f"gradcheck of a criterion needs labels: gradcheck({model!r}, x, labels).")
    if labels is not None and not (hasattr(model, "linear_layers") or _is_criterion(model)):
        raise ValueError(f"gradcheck: labels are for a criterion or an MLP; {model!r} takes none.")
    check_number(eps, "gradcheck", "eps", 0, low_included=False)
    check_number(atol, "gradcheck", "atol", 0)
    check_number(rtol, "gradcheck", "rtol", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"gradcheck: seed must be a non-negative integer; got {seed!r}.")
    try:
        array = np.asarray(x)
    except ValueError:  # e.g. a ragged list
        array = np.asarray(None)
    if array.dtype.kind not in "iubf":
        raise ValueError(
            f"gradcheck: x must be an array of real numbers; got {type(x).__name__} of dtype {array.dtype}."
        )
    return np.array(array, dtype=np.float64)


def describe(check):
    """One line a student can read: which quantity, which element, both values, the tolerance."""
    verdict = "ok  " if check.ok else "FAIL"
    return (
        f"{verdict} {check.quantity}{list(check.index)}: analytic {check.analytic:.8g}, numeric {check.numeric:.8g}, "
        f"|difference| {abs(check.analytic - check.numeric):.3g} vs tolerance {check.tolerance:.3g}"
    )


def numerical_gradient(f, array, eps=1e-6):
    """Central differences (f(a + eps) - f(a - eps)) / (2 eps) of scalar f() w.r.t. each element of array.

    array is perturbed in place and restored; f must read it.  Error is O(eps^2) from truncation plus
    O(machine epsilon / eps) from rounding, about 1e-10 in float64 with eps = 1e-6.
    """
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        f_plus = f()
        array[index] = original - eps
        f_minus = f()
        array[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def compare(quantity, analytic, numeric, atol, rtol):
    """Check element-wise, and report the element that exceeds its tolerance by the most."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        quantity = f"{quantity} (shape {analytic.shape}, expected {numeric.shape})"
        return Check(quantity, False, (), np.nan, np.nan, 0.0, np.inf)
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)  # NaN in analytic is always a failure
    index = np.unravel_index(np.argmax(excess), numeric.shape) if numeric.size else ()
    return Check(
        quantity,
        bool((excess <= 0).all()),
        tuple(int(i) for i in index),
        float(analytic[index]) if numeric.size else 0.0,
        float(numeric[index]) if numeric.size else 0.0,
        float(atol + rtol * np.abs(numeric[index])) if numeric.size else atol,
        float(np.nanmax(np.abs(analytic - numeric))) if numeric.size else 0.0,
    )


# Parameters each kind of layer has: (parameter, its gradient attribute, True if the gradient is a batch mean).
_PARAMETERS = {
    "W": ("dW", True),
    "b": ("db", True),
    "gamma": ("dgamma", False),
    "beta": ("dbeta", False),
}


def _layer_parameters(layer):
    return [(name, grad, is_mean) for name, (grad, is_mean) in _PARAMETERS.items() if hasattr(layer, name)]


def _check_layer(layer, x, eps, atol, rtol, rng):
    layer = copy.deepcopy(layer)
    probe = copy.deepcopy(layer)  # finite differences run on a twin, whose running statistics may drift
    upstream = rng.standard_normal(np.shape(layer.forward(x.copy())))

    def loss():
        return float(np.sum(probe.forward(x) * upstream))

    if hasattr(layer, "backward"):
        dx = layer.backward(upstream)
    else:  # an activation: dL/dz = dL/dout * f'(z)
        dx = upstream * layer.derivative()
    checks = [compare(f"{layer!r} dx", dx, numerical_gradient(loss, x, eps), atol, rtol)]
    batch = x.shape[0] if x.ndim else 1  # an activation also takes a single number
    for name, grad, is_mean in _layer_parameters(layer):
        numeric = numerical_gradient(loss, getattr(probe, name), eps)
        numeric = numeric / batch if is_mean else numeric
        checks.append(compare(f"{layer!r} {grad}", getattr(layer, grad), numeric, atol, rtol))
    return checks


def _check_criterion(criterion, x, labels, eps, atol, rtol):
    criterion = copy.deepcopy(criterion)
    criterion.forward(x.copy(), labels)
    analytic = criterion.derivative()
    numeric = numerical_gradient(lambda: float(np.sum(criterion.forward(x, labels))), x, eps)
    return [compare(f"{criterion!r} dx", analytic, numeric, atol, rtol)]


def _check_mlp(mlp, x, labels, eps, atol, rtol):
    if labels is None:
        raise ValueError("gradcheck of an MLP needs labels: gradcheck(mlp, x, labels).")
    mlp = copy.deepcopy(mlp)
    probe = copy.deepcopy(mlp)  # finite differences run on a twin, whose running statistics may drift

    def loss():
        probe.forward(x)
        return float(probe.total_loss(labels))

    mlp.zero_grads()
    mlp.forward(x)
    mlp.backward(labels)
    batch = x.shape[0]
    checks = []
    for kind in ("linear_layers", "bn_layers"):
        for position, (layer, probe_layer) in enumerate(zip(getattr(mlp, kind) or [], getattr(probe, kind) or [])):
            for name, grad, is_mean in _layer_parameters(layer):
                numeric = numerical_gradient(loss, getattr(probe_layer, name), eps)
                quantity = f"mlp.{kind}[{position}].{grad}"
                numeric = numeric / batch if is_mean else numeric
                checks.append(compare(quantity, getattr(layer, grad), numeric, atol, rtol))
    return checks
