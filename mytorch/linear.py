"""Fully connected layer  out = x @ W + b.

x: (batch, in_feature),  W: (in_feature, out_feature),  b: (1, out_feature),  out: (batch, out_feature).
"""

import numpy as np

try:
    from .input_checks import (
        check_batch,
        check_finite_via_output,
        check_real,
        check_same_shape,
        check_size,
        require_forward,
    )
except ImportError:  # flat import: sys.path.append('mytorch'); import linear
    from input_checks import (
        check_batch,
        check_finite_via_output,
        check_real,
        check_same_shape,
        check_size,
        require_forward,
    )


class Linear:
    """Gradients follow the handout: dW and db are averaged over the batch; the returned dx is not.

    The constructor calls weight_init_fn(in_feature, out_feature) and then bias_init_fn(out_feature), and draws
    nothing else at random, so a seeded run gives the same weights as the reference.
    """

    def __init__(self, in_feature, out_feature, weight_init_fn, bias_init_fn):
        self.in_feature, self.out_feature = in_feature, out_feature
        check_size(in_feature, repr(self), "in_feature")
        check_size(out_feature, repr(self), "out_feature")
        self.W = _init_array(weight_init_fn, (in_feature, out_feature), (in_feature, out_feature), self)
        self.b = _init_array(bias_init_fn, (out_feature,), (1, out_feature), self)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.momentum_W = np.zeros_like(self.W)
        self.momentum_b = np.zeros_like(self.b)
        self.x = None

    def __repr__(self):
        return f"Linear({self.in_feature!r} -> {self.out_feature!r})"

    def __call__(self, x):
        return self.forward(x)

    @check_finite_via_output  # a NaN in x reaches every output of its row: testing the smaller output suffices
    def forward(self, x):
        """x: (batch, in_feature)  ->  (batch, out_feature).  Keeps x for backward."""
        self.x = check_batch(x, f"{self!r}.forward", self.in_feature, finite=False)
        # BEGIN SOLUTION task 3.4.1: Linear.forward
        return self.x @ self.W + self.b
        # END SOLUTION

    def backward(self, delta, *, input_grad=True):
        """delta = dL/dout: (batch, out_feature).  Sets dW, db (batch means); returns dL/dx: (batch, in_feature).

        input_grad=False skips dL/dx and returns None: the MLP's first layer has nobody to pass it to, and for
        784 inputs that product costs as much as computing dW.
        """
        require_forward(self.x, f"{self!r}.backward")
        delta = check_same_shape(delta, (self.x.shape[0], self.out_feature), f"{self!r}.backward", "delta")
        # BEGIN SOLUTION task 3.4.2: Linear.backward
        batch = delta.shape[0]
        self.dW = self.x.T @ delta / batch
        self.db = delta.sum(axis=0, keepdims=True) / batch
        return delta @ self.W.T if input_grad else None
        # END SOLUTION


def _init_array(init_fn, arguments, shape, layer):
    """init_fn(*arguments), checked: a finite real array of the given shape (a bias of shape (out,) is accepted and
    kept as (1, out)).  Always a new float array: MLP.step must never reach an array the caller still holds."""
    name = "weight_init_fn" if len(arguments) == 2 else "bias_init_fn"
    if not callable(init_fn):
        raise ValueError(f"{layer!r}: {name} must be a function; got {type(init_fn).__name__}.")
    returned = init_fn(*arguments)
    try:
        value = np.array(returned)
    except ValueError:  # e.g. a ragged list
        raise ValueError(
            f"{layer!r}: {name} returned {type(returned).__name__}, not an array of shape {shape}."
        ) from None
    if value.shape != shape and value.shape == shape[1:]:
        value = value.reshape(shape)
    if value.shape != shape:
        raise ValueError(f"{layer!r}: {name} returned shape {value.shape}; expected {shape}.")
    value = check_real(value, repr(layer), f"what {name} returned")
    if not np.isfinite(value).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError(
            f"{layer!r}: {name} returned {value[index]} at index {index}; initial weights and biases must be finite."
        )
    return value
