"""Batch normalisation over the batch axis, one mean and variance per feature.  x: (batch, in_feature)."""

import numpy as np

try:
    from .input_checks import (
        check_batch,
        check_magnitude,
        check_number,
        check_same_shape,
        check_size,
        require_forward,
        square_limit,
    )
except ImportError:  # flat import: sys.path.append('mytorch'); import batchnorm
    from input_checks import (
        check_batch,
        check_magnitude,
        check_number,
        check_same_shape,
        check_size,
        require_forward,
        square_limit,
    )


class BatchNorm:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, with the handout's conventions:

    - training uses the batch mean and the *biased* batch variance (divide by m, not m - 1);
    - running statistics: running = alpha * running + (1 - alpha) * batch statistic (biased variance too);
    - eval mode normalises with the running statistics and updates nothing;
    - eps = 1e-8;  dgamma and dbeta are *sums* over the batch (Linear's dW is a mean).
    All parameters and statistics have shape (1, in_feature).  x must be finite and within +-1e150 (+-1e15 in
    float32): beyond, the variance, a mean of squares, could overflow.
    """

    def __init__(self, in_feature, alpha=0.9):
        self.in_feature = in_feature
        check_size(in_feature, repr(self), "in_feature")
        check_number(alpha, repr(self), "alpha", 0, 1)
        self.alpha = alpha
        self.eps = 1e-8
        self.gamma = np.ones((1, in_feature))
        self.beta = np.zeros((1, in_feature))
        self.dgamma = np.zeros((1, in_feature))
        self.dbeta = np.zeros((1, in_feature))
        self.running_mean = np.zeros((1, in_feature))
        self.running_var = np.ones((1, in_feature))
        # Stored by forward for backward: the normalised input and 1 / sqrt(var + eps) it was divided by.
        self.norm = None
        self.inv_std = None
        self.eval_mode = False

    def __repr__(self):
        return f"BatchNorm({self.in_feature!r})"

    def __call__(self, x, eval=False):
        return self.forward(x, eval)

    def forward(self, x, eval=False):
        """x: (batch, in_feature) -> (batch, in_feature).  eval=True: use running statistics, update nothing."""
        where = f"{self!r}.forward"
        x = check_batch(x, where, self.in_feature, finite=False)
        check_magnitude(x, where, square_limit(x.dtype), "the variance (a mean of squares)")
        if not eval and x.shape[0] == 1:
            raise ValueError(
                f"{where}: a training batch of one example has zero variance, so it cannot be "
                "normalised. Train with batches of 2 or more, or call forward(x, eval=True) (mlp.eval()) "
                "to use the running statistics."
            )
        self.eval_mode = eval
        # BEGIN SOLUTION task 3.3: BatchNorm.forward
        if eval:
            mean, var = self.running_mean, self.running_var
        else:
            mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)  # biased variance
            self.running_mean = self.alpha * self.running_mean + (1 - self.alpha) * mean
            self.running_var = self.alpha * self.running_var + (1 - self.alpha) * var
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.norm = (x - mean) * self.inv_std
        return self.gamma * self.norm + self.beta
        # END SOLUTION

    def backward(self, delta):
        """delta = dL/dy: (batch, in_feature).  Sets dgamma, dbeta (sums); returns dL/dx: (batch, in_feature)."""
        require_forward(self.norm, f"{self!r}.backward")
        delta = check_same_shape(delta, self.norm.shape, f"{self!r}.backward", "delta")
        # BEGIN SOLUTION task 3.3: BatchNorm.backward
        self.dbeta = delta.sum(axis=0, keepdims=True)
        self.dgamma = (delta * self.norm).sum(axis=0, keepdims=True)
        if self.eval_mode:  # the statistics were constants
            return self.gamma * self.inv_std * delta
        # The appendix's chain rule through the batch mean and variance collapses, since sum(x - mean) = 0 and
        # (x - mean) * inv_std = norm, to  dx = gamma * inv_std * (delta - mean(delta) - norm * mean(delta * norm)),
        # and those two means are dbeta / m and dgamma / m:
        m = delta.shape[0]
        return self.gamma * self.inv_std * (delta - self.dbeta / m - self.norm * (self.dgamma / m))
        # END SOLUTION
