"""Homework 1: a multi-layer perceptron built from mytorch layers, its training loop, and BatchNorm folding.

    mlp = MLP(784, 10, [64, 32], [Sigmoid(), Sigmoid(), Identity()], weight_init_fn, bias_init_fn,
              SoftmaxCrossEntropy(), lr=0.008, momentum=0.9, num_bn_layers=1)
    mlp.forward(x); mlp.backward(labels); mlp.step()
"""

import copy
import os
import sys

import numpy as np

# The handout's flat imports (sys.path.append('mytorch')), made independent of the working directory: the layers
# come from the mytorch/ beside this hw1/, so a grader tests these files and never an installed copy.
_MYTORCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mytorch")
if _MYTORCH_DIR not in sys.path:
    sys.path.insert(0, _MYTORCH_DIR)

from activation import Identity, ReLU, Sigmoid, Tanh  # noqa: E402,F401  (re-exported for the handout's scripts)
from batchnorm import BatchNorm  # noqa: E402
from linear import Linear  # noqa: E402
from loss import SoftmaxCrossEntropy  # noqa: E402,F401


class MLP:
    """Linear -> BatchNorm (first num_bn_layers layers only) -> activation, for every layer.

    Sizes run over [input_size] + hiddens + [output_size]; activations[i] follows linear_layers[i], so there is
    one more activation than hidden layers (the last is usually Identity, as the criterion applies softmax).

    dtype (keyword only, default float64, the graded behaviour): np.float32 stores every parameter, gradient and
    statistic in float32 and casts inputs and labels to it, which roughly halves the time of a large step.
    """

    def __init__(self, input_size, output_size, hiddens, activations, weight_init_fn, bias_init_fn, criterion,
                 lr, momentum=0.0, num_bn_layers=0, *, dtype=np.float64):
        hiddens, activations = list(hiddens), list(activations)
        _check_architecture(hiddens, activations, num_bn_layers)
        self.train_mode = True
        self.num_bn_layers = num_bn_layers
        self.bn = num_bn_layers > 0
        self.nlayers = len(hiddens) + 1
        self.input_size = input_size
        self.output_size = output_size
        self.activations = activations
        self.criterion = criterion
        self.lr = lr
        self.momentum = momentum
        self.output = None
        self.dtype = np.dtype(dtype)
        # BEGIN SOLUTION task 3.5: MLP.__init__ (layers)
        sizes = [input_size] + hiddens + [output_size]
        self.linear_layers = [Linear(n_in, n_out, weight_init_fn, bias_init_fn) for n_in, n_out in zip(sizes, sizes[1:])]
        self.bn_layers = [BatchNorm(n_out) for n_out in sizes[1:num_bn_layers + 1]]
        # END SOLUTION
        if self.dtype != np.float64:
            _cast_arrays(self.linear_layers + self.bn_layers, self.dtype)

    def forward(self, x):
        """x: (batch, input_size)  ->  (batch, output_size), the last activation's output (the logits).

        Keeps that output in self.output: backward, total_loss and error read it.
        """
        if self.dtype != np.float64 and isinstance(x, np.ndarray):
            x = x.astype(self.dtype, copy=False)
        # BEGIN SOLUTION task 3.5: MLP.forward
        for i, linear in enumerate(self.linear_layers):
            x = linear.forward(x)
            if i < self.num_bn_layers:
                x = self.bn_layers[i].forward(x, eval=not self.train_mode)
            x = self.activations[i].forward(x)
        self.output = x
        return x
        # END SOLUTION

    def backward(self, labels):
        """labels: (batch, output_size) one-hot.  Fills every dW, db, dgamma, dbeta from the last forward."""
        if self.output is None:
            raise ValueError("MLP.backward: call forward first; backward uses the output it stores.")
        if self.dtype != np.float64 and isinstance(labels, np.ndarray):
            labels = labels.astype(self.dtype, copy=False)  # float64 labels would turn every gradient float64
        # BEGIN SOLUTION task 3.5: MLP.backward
        self.criterion.forward(self.output, labels)
        delta = self.criterion.derivative()
        for i in reversed(range(self.nlayers)):
            delta = delta * self.activations[i].derivative()
            if i < self.num_bn_layers:
                delta = self.bn_layers[i].backward(delta)
            # The first layer's dL/dx would be the gradient with respect to the data, which nobody uses: skip it.
            delta = self.linear_layers[i].backward(delta, input_grad=i > 0)
        # END SOLUTION

    def zero_grads(self):
        # BEGIN SOLUTION task 3.5: MLP.zero_grads
        # New arrays, not in-place zeroing: a caller may still hold the previous gradients.  np.zeros asks for
        # memory that is already zero, where np.zeros_like writes every zero: several times faster for W.
        for layer in self.linear_layers:
            layer.dW = np.zeros(layer.W.shape, layer.W.dtype)
            layer.db = np.zeros(layer.b.shape, layer.b.dtype)
        for bn in self.bn_layers:
            bn.dgamma = np.zeros(bn.gamma.shape, bn.gamma.dtype)
            bn.dbeta = np.zeros(bn.beta.shape, bn.beta.dtype)
        # END SOLUTION

    def step(self):
        """Momentum SGD on W and b:  v = momentum * v - lr * grad;  param += v.  Plain SGD on gamma and beta."""
        # BEGIN SOLUTION task 3.5.3: MLP.step (momentum)
        for layer in self.linear_layers:
            layer.momentum_W = self.momentum * layer.momentum_W - self.lr * layer.dW
            layer.momentum_b = self.momentum * layer.momentum_b - self.lr * layer.db
            layer.W += layer.momentum_W  # in place: no new (in, out) array; Linear copied what weight_init_fn gave
            layer.b += layer.momentum_b
        for bn in self.bn_layers:
            bn.gamma = bn.gamma - self.lr * bn.dgamma
            bn.beta = bn.beta - self.lr * bn.dbeta
        # END SOLUTION

    def __call__(self, x):
        return self.forward(x)

    def train(self):
        self.train_mode = True

    def eval(self):
        self.train_mode = False

    def total_loss(self, labels):
        """Sum over the batch of the per-example loss of the last forward's output."""
        return self.criterion(self.output, labels).sum()

    def error(self, labels):
        """Number of examples whose largest output is not at the label's class."""
        return int((np.argmax(self.output, axis=1) != np.argmax(labels, axis=1)).sum())


def _cast_arrays(layers, dtype):
    """Store every parameter, gradient, momentum and running statistic of these layers in dtype."""
    for layer in layers:
        for name, value in vars(layer).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                setattr(layer, name, value.astype(dtype))


def _check_architecture(hiddens, activations, num_bn_layers):
    if any(not isinstance(size, (int, np.integer)) or size < 1 for size in hiddens):
        raise ValueError(f"MLP: hiddens must be positive layer sizes; got {hiddens}.")
    if len(activations) != len(hiddens) + 1:
        raise ValueError(
            f"MLP: got {len(activations)} activations for {len(hiddens)} hidden layers; need len(hiddens) + 1 = "
            f"{len(hiddens) + 1}, one per hidden layer and one for the output layer (usually Identity())."
        )
    for i, act in enumerate(activations):
        for j in range(i):
            if activations[j] is act:
                raise ValueError(
                    f"MLP: activations[{j}] and activations[{i}] are the same {act!r} object, but each layer "
                    f"needs its own (its state holds that layer's output). Write [{act!r} for _ in range(n)] "
                    f"instead of [{act!r}] * n."
                )
    if not 0 <= num_bn_layers <= len(hiddens):
        raise ValueError(
            f"MLP: num_bn_layers={num_bn_layers}, but BatchNorm can only follow hidden layers and hiddens has "
            f"{len(hiddens)}: use 0 <= num_bn_layers <= len(hiddens)."
        )


def get_training_stats(mlp, dset, nepochs, batch_size):
    """Train for nepochs, shuffling every epoch; returns four arrays of length nepochs:

    training losses and errors (per-example averages over each epoch's batches, measured in train mode as the
    batches go by) and validation losses and errors (per-example averages in eval mode after each epoch).
    dset = ((train_x, train_y), (val_x, val_y), (test_x, test_y)), labels one-hot.  The test set is not used.
    """
    (train_x, train_y), (val_x, val_y), _ = dset
    training_losses, training_errors = np.zeros(nepochs), np.zeros(nepochs)
    validation_losses, validation_errors = np.zeros(nepochs), np.zeros(nepochs)
    # BEGIN SOLUTION task 3.6: get_training_stats
    order = np.arange(len(train_x))
    for epoch in range(nepochs):
        np.random.shuffle(order)
        mlp.train()
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            x, y = train_x[batch], train_y[batch]
            mlp.zero_grads()
            mlp.forward(x)
            mlp.backward(y)
            mlp.step()
            training_losses[epoch] += mlp.total_loss(y)
            training_errors[epoch] += mlp.error(y)
        mlp.eval()
        mlp.forward(val_x)
        validation_losses[epoch] = mlp.total_loss(val_y) / len(val_x)
        validation_errors[epoch] = mlp.error(val_y) / len(val_x)
        mlp.train()
    training_losses /= len(train_x)
    training_errors /= len(train_x)
    # END SOLUTION
    return training_losses, training_errors, validation_losses, validation_errors


def fold_batchnorm(mlp):
    """A new MLP without BatchNorm whose eval-mode forward equals mlp's eval-mode forward.

    In eval mode BatchNorm is affine: y = (z - running_mean) * s + beta with s = gamma / sqrt(running_var + eps),
    and z = x @ W + b, so  y = x @ (W * s) + ((b - running_mean) * s + beta):  W' = W * s, b' = (b - mean) * s + beta.

    mlp is left untouched.  The folded copy is in eval mode with zeroed gradients and momentum.  A model never
    trained in train mode folds its initial running statistics (mean 0, variance 1), which is exactly what its
    eval forward uses; a model without BatchNorm comes back as an independent copy.
    """
    # BEGIN SOLUTION task E02: fold_batchnorm
    folded = copy.deepcopy(mlp)
    for linear, bn in zip(folded.linear_layers, folded.bn_layers):
        scale = bn.gamma / np.sqrt(bn.running_var + bn.eps)
        linear.W = linear.W * scale
        linear.b = (linear.b - bn.running_mean) * scale + bn.beta
    folded.bn_layers = []
    folded.num_bn_layers = 0
    folded.bn = False
    for linear in folded.linear_layers:
        linear.dW, linear.db = np.zeros_like(linear.W), np.zeros_like(linear.b)
        linear.momentum_W, linear.momentum_b = np.zeros_like(linear.W), np.zeros_like(linear.b)
    folded.eval()
    return folded
    # END SOLUTION
