"""BatchNorm folding: train an MLP with BatchNorm, fold every BatchNorm into the Linear layer before it, and
check that inference is unchanged — then measure what dropping the BatchNorm layers saves.

    python3 -m experiments.fold_demo          # trains for a few seconds, prints the report

    from experiments import fold_demo
    result = fold_demo.run()
    print(fold_demo.report(result))

The maths (solution only):
    In eval mode a BatchNorm normalises with constants, its running statistics, so it is affine:

        y = gamma * (z - running_mean) / sqrt(running_var + eps) + beta = (z - running_mean) * s + beta,
        s = gamma / sqrt(running_var + eps)                        (per feature, shape (1, out))

    and z = x @ W + b is the Linear layer before it.  Substituting,

        y = x @ (W * s) + ((b - running_mean) * s + beta)  =  x @ W' + b'
        W' = W ⊙ gamma / sqrt(running_var + eps)   (each column j of W scaled by s_j)
        b' = (b - running_mean) ⊙ gamma / sqrt(running_var + eps) + beta

    so Linear + BatchNorm is one Linear layer with W', b'; hw1.fold_batchnorm builds that network.

The folded forward does the same arithmetic in a different order, so the outputs agree to float64 rounding
(~1e-16 relative), not bit for bit.

Caveats.
- Fold a *trained* model for *inference*: the folded network reproduces the eval-mode forward (running
  statistics).  In train mode BatchNorm uses each batch's own mean and variance, which no fixed W', b' can do:
  the report measures how far the train-mode outputs are from the folded ones.  Keep training the unfolded model.
- eps is the handout's 1e-8 (PyTorch uses 1e-5); fold with the eps the model was trained with.
- A model folded before any training folds the initial statistics, mean 0 and variance 1, which is exactly what
  that model's eval forward computes, but not what you want to deploy.
- Timing is noisy on a shared machine: the speed-up is the ratio of medians of REPEATS timed forwards each,
  interleaved so that both see the same load.  Expect it to vary from run to run.
"""

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from hw1 import MLP, fold_batchnorm, get_training_stats
from mytorch import Identity, Sigmoid, SoftmaxCrossEntropy
from mytorch.data import load_mnist_5k

HIDDENS = (64, 64, 32)  # the handout's example MLP, with a BatchNorm after every hidden Linear layer
NUM_BN_LAYERS = 3
LR, MOMENTUM = 0.1, 0.9  # lr above the handout's 0.008, so that 5 epochs reach ~18% validation error
BATCH_SIZE, EPOCHS = 100, 5  # the handout's batch size; 150 steps, a few seconds
REPEATS = 50  # timed eval forwards of each network
SEED = 0


@dataclass
class FoldResult:
    """Measured on the whole test split, eval mode, float64."""

    test_size: int
    max_abs_difference: float  # max |folded - original| over all test outputs
    max_relative_difference: float  # max_abs_difference / max |original|
    disagreements: int  # test images whose predicted class differs
    test_error: float  # fraction misclassified, original (the folded model's is the same when disagreements == 0)
    train_mode_difference: float  # max |train-mode original - folded| over the test split (the caveat)
    seconds_original: float  # median time of one eval forward over the test split, with BatchNorm
    seconds_folded: float  # the same without BatchNorm
    repeats: int
    epoch_losses: np.ndarray  # (epochs,) training loss per epoch
    validation_errors: np.ndarray  # (epochs,)
    num_bn_layers: int
    model: object = field(repr=False, default=None)  # the trained MLP, eval mode (run leaves it unchanged)
    folded_model: object = field(repr=False, default=None)  # hw1.fold_batchnorm(model)

    @property
    def speedup(self):
        """How many times faster the folded forward is (median over median; > 1 means faster)."""
        return self.seconds_original / self.seconds_folded


def train_model(
    dset, hiddens=HIDDENS, num_bn_layers=NUM_BN_LAYERS, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, momentum=MOMENTUM
):
    """The handout's MLP (Sigmoid hidden layers, np.random.randn weights, zero biases) trained with BatchNorm.

    Returns (mlp, epoch_losses, validation_errors); mlp is left in eval mode.
    """
    hiddens = list(hiddens)
    mlp = MLP(
        dset[0][0].shape[1],
        dset[0][1].shape[1],
        hiddens,
        [Sigmoid() for _ in hiddens] + [Identity()],
        np.random.randn,
        lambda d: np.zeros((1, d)),
        SoftmaxCrossEntropy(),
        lr,
        momentum,
        num_bn_layers,
    )
    epoch_losses, _, _, validation_errors = get_training_stats(mlp, dset, epochs, batch_size)
    mlp.eval()
    return mlp, epoch_losses, validation_errors


def median_seconds(forwards, x, repeats=REPEATS):
    """Median wall time of f(x) for each f in forwards, timed in turn (interleaved) repeats times."""
    times = np.zeros((repeats, len(forwards)))
    for r in range(repeats):
        for k, forward in enumerate(forwards):
            start = time.perf_counter()
            forward(x)
            times[r, k] = time.perf_counter() - start
    return np.median(times, axis=0)


def run(dset=None, repeats=REPEATS, seed=SEED, **training):
    """Train, fold, compare and time; returns a FoldResult.  training: train_model's options (epochs, ...).

    dset: the training triple ((train_x, train_y), (val_x, val_y), (test_x, test_y)); None -> load_mnist_5k().
    """
    np.random.seed(seed)  # the weights and get_training_stats' shuffling
    dset = load_mnist_5k() if dset is None else dset
    test_x, test_y = dset[2]
    mlp, epoch_losses, validation_errors = train_model(dset, **training)

    folded = fold_batchnorm(mlp)
    original_out = mlp.forward(test_x).copy()
    folded_out = folded.forward(test_x).copy()
    max_abs = float(np.abs(folded_out - original_out).max())

    in_train_mode = copy.deepcopy(mlp)  # a copy: a train-mode forward would update the running statistics
    in_train_mode.train()
    train_mode_out = in_train_mode.forward(test_x)

    seconds_original, seconds_folded = median_seconds([mlp.forward, folded.forward], test_x, repeats)
    return FoldResult(
        test_size=len(test_x),
        max_abs_difference=max_abs,
        max_relative_difference=max_abs / float(np.abs(original_out).max()),
        disagreements=int((original_out.argmax(axis=1) != folded_out.argmax(axis=1)).sum()),
        test_error=float((original_out.argmax(axis=1) != test_y.argmax(axis=1)).mean()),
        train_mode_difference=float(np.abs(train_mode_out - folded_out).max()),
        seconds_original=float(seconds_original),
        seconds_folded=float(seconds_folded),
        repeats=repeats,
        epoch_losses=epoch_losses,
        validation_errors=validation_errors,
        num_bn_layers=len(mlp.bn_layers),
        model=mlp,
        folded_model=folded,
    )


def report(result):
    """The printed report: equivalence, predictions, timing, and what the numbers mean."""
    r = result
    return "\n".join(
        [
            f"BatchNorm folding: MLP(784, 10, {list(HIDDENS)}), Sigmoid, BatchNorm after {r.num_bn_layers} hidden "
            f"layers, trained {len(r.epoch_losses)} epochs (training loss {r.epoch_losses[0]:.3f} -> "
            f"{r.epoch_losses[-1]:.3f}, validation error {r.validation_errors[-1]:.3f}).",
            "",
            f"Eval outputs on the {r.test_size} test images, original vs folded (float64):",
            f"  max |difference|           {r.max_abs_difference:.2e}",
            f"  max |difference| / max |y| {r.max_relative_difference:.2e}   (float64 rounding: machine epsilon is "
            f"{np.finfo(np.float64).eps:.1e})",
            f"  predictions that differ    {r.disagreements} of {r.test_size}   "
            f"(test error {r.test_error:.3f} for both)"
            if r.disagreements == 0
            else f"  predictions that differ    {r.disagreements} of {r.test_size}",
            f"  train-mode outputs vs folded: max |difference| {r.train_mode_difference:.2e}  (folding reproduces eval "
            "mode only)",
            "",
            f"Inference time over the test split, median of {r.repeats} interleaved runs:",
            f"  with BatchNorm   {r.seconds_original * 1e3:8.3f} ms",
            f"  folded           {r.seconds_folded * 1e3:8.3f} ms",
            f"  speed-up         {r.speedup:8.2f}x   (timing on a shared machine is noisy; rerun to see the spread)",
        ]
    )


def main():
    print(report(run()))


if __name__ == "__main__":
    main()
