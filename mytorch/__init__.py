"""MyTorch: a numpy-only deep-learning library with hand-written forward and backward passes.

    import numpy as np
    from mytorch import Linear, Sigmoid, SoftmaxCrossEntropy, gradcheck

Every module also imports flat, as the handout does: sys.path.append('mytorch'); import linear.
"""

from . import data
from .activation import Activation, Identity, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .gradcheck import GradcheckError, gradcheck
from .linear import Linear
from .loss import Criterion, SoftmaxCrossEntropy

__version__ = "1.0.0"
__all__ = [
    "data",
    "Activation",
    "Identity",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Criterion",
    "SoftmaxCrossEntropy",
    "Linear",
    "BatchNorm",
    "gradcheck",
    "GradcheckError",
]
