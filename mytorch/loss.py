"""Loss functions.  x: (batch, classes) logits; y: (batch, classes) one-hot labels."""

import numpy as np

try:
    from .input_checks import check_batch, check_same_shape, require_forward
except ImportError:  # flat import: sys.path.append('mytorch'); import loss
    from input_checks import check_batch, check_same_shape, require_forward


class Criterion:
    """Base class.  ce(x, y) is ce.forward(x, y): the per-example loss, shape (batch,)."""

    def __init__(self):
        self.logits = None
        self.labels = None
        self.loss = None

    def __call__(self, x, y):
        return self.forward(x, y)

    def __repr__(self):
        return type(self).__name__ + "()"

    def forward(self, x, y):
        raise NotImplementedError

    def derivative(self):
        raise NotImplementedError


class SoftmaxCrossEntropy(Criterion):
    """Softmax followed by cross-entropy, per example:  L_i = -sum_j y_ij log softmax(x_i)_j.

    log softmax(x)_j = x_j - logsumexp(x), and logsumexp(x) = a + log sum_k exp(x_k - a) with a = max_k x_k,
    so every exponent is <= 0: exact and warning-free even for logits of +-1e4.
    dL_i/dx_i = softmax(x_i) - y_i  (per example: not divided by the batch size).
    """

    def __init__(self):
        super().__init__()
        self.softmax = None

    def forward(self, x, y):
        """x: (batch, classes) logits, y: (batch, classes) one-hot.  Returns loss: (batch,)."""
        where = f"{self!r}.forward"
        x = check_batch(x, where)
        y = check_labels(y, x.shape, where)
        self.logits, self.labels = x, y
        # BEGIN SOLUTION task 3.2.1: SoftmaxCrossEntropy.forward
        shifted = x - x.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):  # exp of very negative logits underflowing to 0 is the right answer
            log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            self.softmax = np.exp(log_softmax)
        self.loss = -(y * log_softmax).sum(axis=1)
        return self.loss
        # END SOLUTION

    def derivative(self):
        """Returns dL/dx: (batch, classes)."""
        require_forward(self.labels, f"{self!r}.derivative")
        # BEGIN SOLUTION task 3.2.2: SoftmaxCrossEntropy.derivative
        return self.softmax - self.labels
        # END SOLUTION


def check_labels(y, logits_shape, where):
    """Require one-hot rows of the logits' shape: every entry 0 or 1, each row summing to exactly 1."""
    batch, classes = logits_shape
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.shape[0] == batch and y.dtype.kind in "iu":
        raise ValueError(
            f"{where}: labels have shape {y.shape}, which looks like class indices; expected one-hot rows of "
            f"shape ({batch}, {classes}). Convert with np.eye({classes})[labels]."
        )
    check_same_shape(y, logits_shape, where, "labels")
    is_binary = (y == 0) | (y == 1)
    if not is_binary.all():
        row = int(np.argwhere(~is_binary)[0][0])
        raise ValueError(
            f"{where}: labels must be one-hot rows (entries 0 or 1); row {row} is {y[row].tolist()}."
        )
    row_sums = y @ np.ones(classes)  # exact for 0/1 entries, and much faster than y.sum(axis=1) for short rows
    if not (row_sums == 1).all():
        row = int(np.argmax(row_sums != 1))
        raise ValueError(
            f"{where}: labels must be one-hot rows (each row sums to 1); row {row} sums to {row_sums[row]:g}."
        )
    return y if y.dtype.kind == "f" else y.astype(np.float64)
