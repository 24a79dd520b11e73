"""Fully connected layer  out = x @ W + b.   x: (batch, in_feature), W: (in_feature, out_feature), b: (1, out_feature)."""

import numpy as np

try:
    from .input_checks import check_batch, check_finite_via, check_same_shape, require_forward
except ImportError:  # flat import: sys.path.append('mytorch'); import linear
    from input_checks import check_batch, check_finite_via, check_same_shape, require_forward


class Linear:
    """Gradients follow the handout: dW and db are averaged over the batch; the returned dx is not.

    The constructor calls weight_init_fn(in_feature, out_feature) and then bias_init_fn(out_feature), and draws
    nothing else at random, so a seeded run gives the same weights as the reference.
    """

    def __init__(self, in_feature, out_feature, weight_init_fn, bias_init_fn):
        self.in_feature, self.out_feature = in_feature, out_feature
        self.W = _init_array(weight_init_fn(in_feature, out_feature), (in_feature, out_feature), self, "weight_init_fn")
        self.b = _init_array(bias_init_fn(out_feature), (1, out_feature), self, "bias_init_fn")
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.momentum_W = np.zeros_like(self.W)
        self.momentum_b = np.zeros_like(self.b)
        self.x = None

    def __repr__(self):
        return f"Linear({self.in_feature} -> {self.out_feature})"

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        """x: (batch, in_feature)  ->  out: (batch, out_feature), computed into the variable out."""
        where = f"{self!r}.forward"
        self.x = check_batch(x, where, self.in_feature, finite=False)  # kept for backward
        # BEGIN SOLUTION task 3.4.1: Linear.forward
        out = self.x @ self.W + self.b
        # END SOLUTION
        return check_finite_via(out, self.x, where)  # NaN/inf in x shows in out, which is far smaller to scan

    def backward(self, delta, *, input_grad=True):
        """delta = dL/dout: (batch, out_feature).  Sets dW, db (batch means); returns dL/dx: (batch, in_feature).

        input_grad=False skips dL/dx and returns None: the MLP's first layer has nobody to pass it to, and for
        784 inputs that product costs as much as computing dW.
        """
        require_forward(self.x, f"{self!r}.backward")
        check_same_shape(delta, (self.x.shape[0], self.out_feature), f"{self!r}.backward", "delta")
        # BEGIN SOLUTION task 3.4.2: Linear.backward
        batch = delta.shape[0]
        self.dW = self.x.T @ delta / batch
        self.db = delta.sum(axis=0, keepdims=True) / batch
        return delta @ self.W.T if input_grad else None
        # END SOLUTION


def _init_array(value, shape, layer, fn_name):
    """Check what an init function returned; a bias of shape (out,) is accepted and kept as (1, out)."""
    value = np.array(value)  # a copy: MLP.step updates W and b in place, which must not reach the caller's array
    if value.dtype.kind != "f":
        value = value.astype(np.float64)
    if value.shape != shape and value.size == np.prod(shape) and value.ndim == 1 and shape[0] == 1:
        value = value.reshape(shape)
    if value.shape != shape:
        raise ValueError(f"{layer!r}: {fn_name} returned shape {value.shape}; expected {shape}.")
    return value
