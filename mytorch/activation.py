"""Element-wise activations.  z: an array of any shape; forward returns the same shape and keeps it in `state`.

A 0-d array or a numpy scalar is accepted, and gives a 0-d result; integer and boolean arrays are converted to
float64.  derivative() takes no argument: it returns d(output)/d(input) element-wise, computed from `state` alone,
which is why every forward stores its output there.
"""

import numpy as np

try:
    from .input_checks import check_finite, check_real, require_forward
except ImportError:  # flat import, as in the handout: sys.path.append('mytorch'); import activation
    from input_checks import check_finite, check_real, require_forward


class Activation:
    """Base class.  act(z) is act.forward(z)."""

    def __init__(self):
        self.state = None

    def __call__(self, z):
        return self.forward(z)

    def __repr__(self):
        return type(self).__name__ + "()"

    def _check_input(self, z):
        where = f"{self!r}.forward"
        if not isinstance(z, (np.ndarray, np.generic)):
            raise ValueError(f"{where}: z must be a numpy array; got {type(z).__name__}.")
        z = check_real(np.asarray(z), where, "z")
        check_finite(z, where, "z")
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

    Computed as 0.5 * (1 + tanh(z / 2)), which never overflows.
    """

    def forward(self, z):
        z = self._check_input(z)
        # BEGIN SOLUTION task 3.1.1: Sigmoid.forward
        self.state = 0.5 * (1.0 + np.tanh(0.5 * z))
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
