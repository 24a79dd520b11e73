"""Element-wise activations.  z: any shape; forward returns the same shape and keeps it in `state`.

derivative() takes no argument: it returns d(output)/d(input) element-wise, computed from `state` alone, which is
why every forward stores its output there.
"""

import numpy as np

try:
    from .input_checks import check_finite, require_forward
except ImportError:  # flat import, as in the handout: sys.path.append('mytorch'); import activation
    from input_checks import check_finite, require_forward


class Activation:
    """Base class.  act(z) is act.forward(z)."""

    def __init__(self):
        self.state = None

    def __call__(self, z):
        return self.forward(z)

    def __repr__(self):
        return type(self).__name__ + "()"

    def _check_input(self, z):
        if not isinstance(z, np.ndarray):
            raise ValueError(f"{self!r}.forward: z must be a numpy array; got {type(z).__name__}.")
        if z.dtype.kind != "f":  # integers become floats
            z = z.astype(np.result_type(z.dtype, np.float32))
        check_finite(z, f"{self!r}.forward", "z")
        return z

    def _state(self):
        require_forward(self.state, f"{self!r}.derivative")
        return self.state

    def forward(self, z):
        raise NotImplementedError

    def derivative(self):
        raise NotImplementedError


class Identity(Activation):
    """f(z) = z,  f'(z) = 1."""

    def forward(self, z):
        self.state = self._check_input(z)
        return self.state

    def derivative(self):
        return np.ones_like(self._state())


class Sigmoid(Activation):
    """Logistic function  s(z) = 1 / (1 + exp(-z)),  s'(z) = s(z) * (1 - s(z)).

    Computed as written.  For z < -709, exp(-z) overflows to inf and 1 / (1 + inf) = 0, within 1e-308 of the
    true value, so that warning is silenced rather than avoided.  exp, + and / of positive numbers never cancel,
    so the relative precision stays full in the left tail (s(-30) ~ 9.4e-14 to a couple of ulp), unlike
    0.5 * (1 + tanh(z / 2)), which is only exact to 1e-17 absolute.  The derivative comes from state alone, so
    in the right tail 1 - s carries s's rounding: absolute error below 1.2e-16 (as in PyTorch).
    """

    def forward(self, z):
        z = self._check_input(z)
        # BEGIN SOLUTION task 3.1.1: Sigmoid.forward
        # One new array, then in place: a big batch would otherwise pay for three more (see bench/README.md).
        s = np.negative(z)
        with np.errstate(over="ignore", under="ignore"):  # exp(1000) = inf and exp(-1000) = 0 are right here
            np.exp(s, out=s)
        s += 1.0
        self.state = np.divide(1.0, s, out=s)
        return self.state
        # END SOLUTION

    def derivative(self):
        s = self._state()
        # BEGIN SOLUTION task 3.1.2: Sigmoid.derivative
        return s * (1.0 - s)
        # END SOLUTION


class Tanh(Activation):
    """tanh(z),  tanh'(z) = 1 - tanh(z)^2.  numpy's tanh saturates to +-1 without overflow."""

    def forward(self, z):
        z = self._check_input(z)
        # BEGIN SOLUTION task 3.1.3: Tanh.forward
        self.state = np.tanh(z)
        return self.state
        # END SOLUTION

    def derivative(self):
        s = self._state()
        # BEGIN SOLUTION task 3.1.4: Tanh.derivative
        return 1.0 - s**2
        # END SOLUTION


class ReLU(Activation):
    """max(z, 0);  derivative 1 where z > 0 and 0 where z <= 0 (the handout's choice at 0)."""

    def forward(self, z):
        z = self._check_input(z)
        # BEGIN SOLUTION task 3.1.5: ReLU.forward
        self.state = np.maximum(z, 0.0)
        return self.state
        # END SOLUTION

    def derivative(self):
        s = self._state()
        # BEGIN SOLUTION task 3.1.6: ReLU.derivative
        return (s > 0).astype(s.dtype)
        # END SOLUTION
