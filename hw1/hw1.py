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
from input_checks import check_batch, check_finite, check_labels, check_number, check_size, require_forward  # noqa: E402
from linear import Linear  # noqa: E402
from loss import SoftmaxCrossEntropy  # noqa: E402,F401


class MLP:
    """Linear -> BatchNorm (first num_bn_layers layers only) -> activation, for every layer.

    Sizes run over [input_size] + hiddens + [output_size]; activations[i] follows linear_layers[i], so there is
    one more activation than hidden layers (the last is usually Identity, as the criterion applies softmax).
    lr >= 0 and 0 <= momentum < 1.
    """

    def __init__(
        self,
        input_size,
        output_size,
        hiddens,
        activations,
        weight_init_fn,
        bias_init_fn,
        criterion,
        lr,
        momentum=0.0,
        num_bn_layers=0,
    ):
        hiddens, activations = _check_architecture(
            input_size, output_size, hiddens, activations, criterion, num_bn_layers
        )
        check_number(lr, "MLP", "lr", 0)
        check_number(momentum, "MLP", "momentum", 0, 1, high_included=False)
        self.train_mode = True
        self.num_bn_layers = num_bn_layers
        self.nlayers = len(hiddens) + 1
        self.input_size = input_size
        self.output_size = output_size
        self.activations = activations
        self.criterion = criterion
        self.lr = lr
        self.momentum = momentum
        self.output = None
        # BEGIN SOLUTION task 3.5: MLP.__init__ (layers)
        sizes = [input_size] + hiddens + [output_size]
        self.linear_layers = [
            Linear(n_in, n_out, weight_init_fn, bias_init_fn) for n_in, n_out in zip(sizes, sizes[1:])
        ]
        self.bn_layers = [BatchNorm(n_out) for n_out in sizes[1 : num_bn_layers + 1]]
        # END SOLUTION

    def forward(self, x):
        """x: (batch, input_size)  ->  (batch, output_size), the last activation's output (the logits).

        Keeps that output in self.output: backward, total_loss and error read it.
        """
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
        require_forward(self.output, "MLP.backward")
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
        for layer in self.linear_layers:
            layer.dW = np.zeros_like(layer.W)
            layer.db = np.zeros_like(layer.b)
        for bn in self.bn_layers:
            bn.dgamma = np.zeros_like(bn.gamma)
            bn.dbeta = np.zeros_like(bn.beta)
        # END SOLUTION

    def step(self):
        """Momentum SGD on W and b:  v = momentum * v - lr * grad;  param = param + v.  Plain SGD on gamma, beta."""
        # BEGIN SOLUTION task 3.5.3: MLP.step (momentum)
        for layer in self.linear_layers:
            layer.momentum_W = self.momentum * layer.momentum_W - self.lr * layer.dW
            layer.momentum_b = self.momentum * layer.momentum_b - self.lr * layer.db
            layer.W = layer.W + layer.momentum_W
            layer.b = layer.b + layer.momentum_b
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
        """Sum over the batch of the per-example loss of the last forward's output.  labels: (batch, output_size)."""
        require_forward(self.output, "MLP.total_loss")
        return self.criterion(self.output, labels).sum()

    def error(self, labels):
        """Number of examples whose largest output is not at the label's class.  labels: (batch, output_size)."""
        require_forward(self.output, "MLP.error")
        labels = check_labels(labels, self.output.shape, "MLP.error")
        return int((np.argmax(self.output, axis=1) != np.argmax(labels, axis=1)).sum())


def _check_architecture(input_size, output_size, hiddens, activations, criterion, num_bn_layers):
    """The MLP's structural arguments, checked; returns hiddens and activations as lists."""
    check_size(input_size, "MLP", "input_size")
    check_size(output_size, "MLP", "output_size")
    sequence = isinstance(hiddens, (list, tuple, range)) or (isinstance(hiddens, np.ndarray) and hiddens.ndim == 1)
    sizes = list(hiddens) if sequence else None
    if sizes is None or any(
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 for size in sizes
    ):
        raise ValueError(f"MLP: hiddens must be a list of positive layer sizes; got {hiddens!r}.")
    if not isinstance(activations, (list, tuple)):
        raise ValueError(f"MLP: activations must be a list of activation objects; got {type(activations).__name__}.")
    hiddens, activations = sizes, list(activations)
    for i, act in enumerate(activations):
        _check_object(act, f"activations[{i}]", "an activation", "Sigmoid()")
    _check_object(criterion, "criterion", "a loss", "SoftmaxCrossEntropy()")
    if isinstance(num_bn_layers, bool) or not isinstance(num_bn_layers, (int, np.integer)):
        raise ValueError(f"MLP: num_bn_layers must be an integer; got {num_bn_layers!r}.")
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
    return hiddens, activations


def _check_object(value, name, kind, example):
    """Require an object with forward and derivative methods (an activation or a loss), not its class."""
    if isinstance(value, type):
        raise ValueError(f"MLP: {name} is the class {value.__name__}; pass an object: {value.__name__}().")
    if not (callable(getattr(value, "forward", None)) and callable(getattr(value, "derivative", None))):
        raise ValueError(f"MLP: {name} is {value!r}, not {kind}: use an object such as {example}.")


def get_training_stats(mlp, dset, nepochs, batch_size):
    """Train for nepochs, shuffling every epoch; returns four arrays of length nepochs:

    training losses and errors (per-example averages over each epoch's batches, measured in train mode as the
    batches go by) and validation losses and errors (per-example averages in eval mode after each epoch).
    dset = ((train_x, train_y), (val_x, val_y), (test_x, test_y)), labels one-hot.  The test set is not used.
    """
    (train_x, train_y), (val_x, val_y) = _check_training_arguments(mlp, dset, nepochs, batch_size)
    training_losses, training_errors = np.zeros(nepochs), np.zeros(nepochs)
    validation_losses, validation_errors = np.zeros(nepochs), np.zeros(nepochs)
    # BEGIN SOLUTION task 3.6: get_training_stats
    order = np.arange(len(train_x))
    for epoch in range(nepochs):
        np.random.shuffle(order)
        mlp.train()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
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


def _check_training_arguments(mlp, dset, nepochs, batch_size):
    """get_training_stats' arguments, checked; returns the (x, y) pairs of the training and validation sets."""
    where = "get_training_stats"
    if not hasattr(mlp, "linear_layers"):
        raise ValueError(f"{where}: mlp must be an MLP; got {type(mlp).__name__}.")
    if isinstance(nepochs, bool) or not isinstance(nepochs, (int, np.integer)) or nepochs < 0:
        raise ValueError(f"{where}: nepochs must be a whole number of epochs, 0 or more; got {nepochs!r}.")
    check_size(batch_size, where, "batch_size")
    try:
        (train_x, train_y), (val_x, val_y), _ = dset
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: dset must be ((train_x, train_y), (val_x, val_y), (test_x, test_y)), as "
            f"mytorch.data.load_dataset returns it; got a {type(dset).__name__} of another "
            "shape."
        ) from None
    splits = []
    for split, x, y in (("train", train_x, train_y), ("val", val_x, val_y)):
        x = check_batch(x, where, mlp.input_size, f"{split}_x")
        if isinstance(y, np.ndarray) and y.ndim > 0 and len(y) != len(x):
            raise ValueError(
                f"{where}: {split}_x has {len(x)} examples but {split}_y has {len(y)} label rows; the two must match."
            )
        splits.append((x, check_labels(y, (len(x), mlp.output_size), where, f"{split}_y")))
    examples = len(splits[0][0])
    if getattr(mlp, "bn_layers", None) and (examples % batch_size or batch_size) == 1:
        raise ValueError(
            f"{where}: {examples} training examples in batches of {batch_size} leave a batch of one "
            "example, which BatchNorm cannot normalise in training; choose a batch_size that does not."
        )
    return splits


def fold_batchnorm(mlp):
    """A new MLP without BatchNorm whose eval-mode forward equals mlp's eval-mode forward.

    Derivation (solution only):
        In eval mode BatchNorm is affine: y = (z - running_mean) * s + beta with s = gamma / sqrt(running_var + eps),
        and z = x @ W + b, so  y = x @ (W * s) + ((b - running_mean) * s + beta):  W' = W * s,
        b' = (b - mean) * s + beta.

    mlp is left untouched.  The folded copy is in eval mode with zeroed gradients and momentum.  A model never
    trained in train mode folds its initial running statistics (mean 0, variance 1), which is exactly what its
    eval forward uses; a model without BatchNorm comes back as an independent copy.
    """
    _check_foldable(mlp)
    # BEGIN SOLUTION task E02: fold_batchnorm
    folded = copy.deepcopy(mlp)
    for linear, bn in zip(folded.linear_layers, folded.bn_layers):
        scale = bn.gamma / np.sqrt(bn.running_var + bn.eps)
        linear.W = linear.W * scale
        linear.b = (linear.b - bn.running_mean) * scale + bn.beta
    folded.bn_layers = []
    folded.num_bn_layers = 0
    for linear in folded.linear_layers:
        linear.dW, linear.db = np.zeros_like(linear.W), np.zeros_like(linear.b)
        linear.momentum_W, linear.momentum_b = np.zeros_like(linear.W), np.zeros_like(linear.b)
    folded.eval()
    return folded
    # END SOLUTION


def _check_foldable(mlp):
    """An MLP whose BatchNorm statistics and affine parameters can be folded: finite, with variances >= 0."""
    if not (hasattr(mlp, "linear_layers") and hasattr(mlp, "bn_layers")):
        raise ValueError(f"fold_batchnorm: mlp must be an MLP; got {type(mlp).__name__}.")
    for i, bn in enumerate(mlp.bn_layers):
        for name in ("gamma", "beta", "running_mean", "running_var"):
            check_finite(getattr(bn, name), "fold_batchnorm", f"mlp.bn_layers[{i}].{name}")
        if (bn.running_var < 0).any():
            index = tuple(int(k) for k in np.argwhere(bn.running_var < 0)[0])
            raise ValueError(
                f"fold_batchnorm: mlp.bn_layers[{i}].running_var holds {bn.running_var[index]:g} at "
                f"index {index}; a variance cannot be negative."
            )
