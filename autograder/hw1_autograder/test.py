"""Training statistics (handout Task 6): train the MLP through hw1.get_training_stats and plot the curves.

    python3 autograder/hw1_autograder/test.py --outpath hw1          # the handout's network on the embedded data
    python3 autograder/hw1_autograder/test.py --data /usr/share/datasets/fashion-mnist --hiddens 256,128,100 \\
        --activation relu --init he --bn 2 --lr 0.01 --momentum 0.9 --epochs 20 --test

Default network (the handout's): MLP(784, 10, [32, 32, 32], Sigmoid x3 + Identity, np.random.randn weights,
zero biases, SoftmaxCrossEntropy, lr 1e-3, momentum 0.856), batch 100. The graded code is imported flat from
mytorch/ and hw1/ beside this autograder folder, exactly as the handout does, so it runs a student's solution.
Writes train_loss.png, train_error.png, val_loss.png, val_error.png, training_curves.png (all four) and
training_stats.csv into --outpath.
"""

import argparse
import os
import sys
import time

# One BLAS thread unless the caller says otherwise (set before numpy loads BLAS): these matrices are small, and on
# a shared machine a second OpenBLAS thread mostly spins, costing 2-4x the CPU time for no gain in speed.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for folder in ("hw1", "mytorch"):  # mytorch ends up first, as with the handout's sys.path.append order
    sys.path.insert(0, os.path.join(ROOT, folder))

import activation  # noqa: E402
import hw1  # noqa: E402
import loss  # noqa: E402

try:
    from data import load_dataset  # mytorch/data.py, the dataset loaders
except ImportError:
    sys.exit(f"test.py: {os.path.join(ROOT, 'mytorch', 'data.py')} is missing; it ships with the handout "
             "(the dataset loaders). Copy it back into mytorch/.")

ACTIVATIONS = {"sigmoid": activation.Sigmoid, "relu": activation.ReLU, "tanh": activation.Tanh}
# Weight initialisations: the handout's plain randn, and randn scaled by the fan-in, which deeper or ReLU
# networks need to keep activations (and so gradients) of order one from layer to layer.
INITS = {
    "randn": lambda n_in, n_out: np.random.randn(n_in, n_out),
    "he": lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in),
    "xavier": lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(1.0 / n_in),
}
STATISTICS = ("train_loss", "train_error", "val_loss", "val_error")
TITLES = {"train_loss": "Training loss", "train_error": "Training error", "val_loss": "Validation loss",
          "val_error": "Validation error"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train the homework MLP and plot its training statistics.")
    parser.add_argument("--outpath", default="hw1", help="folder for the plots and the CSV (default: hw1)")
    parser.add_argument("--epochs", type=int, default=500,
                        help="default 500: the handout network learns slowly on 3000 examples (about 8 s of CPU)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--data", default=None,
                        help="an .npz, a folder of IDX files or a CSV (default: the embedded MNIST subset)")
    parser.add_argument("--hiddens", default="32,32,32", help="hidden layer sizes, comma-separated")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid")
    parser.add_argument("--init", choices=sorted(INITS), default="randn", help="weight initialisation")
    parser.add_argument("--bn", type=int, default=0, help="number of BatchNorm layers (after the first hiddens)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--momentum", type=float, default=0.856)
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the shuffling")
    parser.add_argument("--test", action="store_true", help="also report the accuracy on the test split")
    args = parser.parse_args(argv)
    try:
        args.hiddens = [int(size) for size in args.hiddens.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--hiddens {args.hiddens!r}: expected comma-separated integers such as 32,32,32")
    if any(size < 1 for size in args.hiddens):
        parser.error(f"--hiddens: layer sizes must be positive; got {args.hiddens}")
    if not 0 <= args.bn <= len(args.hiddens):
        parser.error(f"--bn {args.bn}: BatchNorm can follow at most the {len(args.hiddens)} hidden layers")
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be at least 1")
    return args


def build_mlp(args, input_size, output_size):
    """The handout's network, with the hidden sizes, activation, initialisation and BatchNorm of args."""
    hidden_activations = [ACTIVATIONS[args.activation]() for _ in args.hiddens]
    return hw1.MLP(input_size, output_size, args.hiddens, hidden_activations + [activation.Identity()],
                   INITS[args.init], lambda n: np.zeros((1, n)), loss.SoftmaxCrossEntropy(),
                   args.lr, momentum=args.momentum, num_bn_layers=args.bn)


def train(mlp, dset, epochs, batch_size):
    """Run get_training_stats one epoch at a time (each call shuffles once, as a single call does every epoch),
    reporting progress after each; returns {statistic: array of length epochs}.
    """
    stats = {name: np.zeros(epochs) for name in STATISTICS}
    start = time.perf_counter()
    for epoch in range(epochs):
        results = hw1.get_training_stats(mlp, dset, 1, batch_size)
        for name, values in zip(STATISTICS, results):
            stats[name][epoch] = float(np.asarray(values).reshape(-1)[0])
        elapsed = time.perf_counter() - start
        remaining = elapsed / (epoch + 1) * (epochs - epoch - 1)
        print(f"epoch {epoch + 1:3d}/{epochs}  train loss {stats['train_loss'][epoch]:.4f} "
               f"error {stats['train_error'][epoch]:6.2%}  |  val loss {stats['val_loss'][epoch]:.4f} "
               f"error {stats['val_error'][epoch]:6.2%}  |  {elapsed:6.1f} s, ~{remaining:.0f} s left")
    return stats


def accuracy(mlp, test_x, test_y):
    """Fraction of the test split classified correctly, in eval mode (BatchNorm uses running statistics)."""
    mlp.eval()
    predictions = np.argmax(mlp.forward(test_x), axis=1)
    mlp.train()
    return float(np.mean(predictions == np.argmax(test_y, axis=1)))


def write_csv(stats, path):
    with open(path, "w") as handle:
        handle.write("epoch," + ",".join(STATISTICS) + "\n")
        for epoch in range(len(stats["train_loss"])):
            handle.write(f"{epoch + 1}," + ",".join(repr(float(stats[name][epoch])) for name in STATISTICS) + "\n")


def write_plots(stats, outpath):
    try:
        import matplotlib
    except ImportError:
        sys.exit("test.py: plotting needs matplotlib: pip install -e '.[plot]' (the CSV was written).")
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(stats["train_loss"]) + 1)
    for name in STATISTICS:
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot(epochs, stats[name], marker="." if len(epochs) < 50 else None)
        axes.set(xlabel="epoch", ylabel=name.split("_")[1], title=TITLES[name])
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figure.savefig(os.path.join(outpath, f"{name}.png"), dpi=100)
        plt.close(figure)
    figure, (loss_axes, error_axes) = plt.subplots(1, 2, figsize=(11, 4))
    for axes, kind in ((loss_axes, "loss"), (error_axes, "error")):
        axes.plot(epochs, stats[f"train_{kind}"], label="training")
        axes.plot(epochs, stats[f"val_{kind}"], label="validation")
        axes.set(xlabel="epoch", ylabel=kind, title=kind.capitalize())
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(outpath, "training_curves.png"), dpi=100)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    np.random.seed(args.seed)  # the handout's init and get_training_stats both draw from numpy's global RNG
    try:
        dset = load_dataset(args.data)
    except (ValueError, FileNotFoundError) as error:  # a bad data file: its message is the whole story
        sys.exit(f"test.py: {error}")
    (train_x, train_y), (val_x, _), (test_x, test_y) = dset
    print(f"data: {args.data or 'embedded MNIST subset'}: {len(train_x)} train / {len(val_x)} validation / "
          f"{len(test_x)} test examples")
    print(f"model: MLP({train_x.shape[1]}, {train_y.shape[1]}, {args.hiddens}, {args.activation}, init {args.init}, "
          f"bn {args.bn}), lr {args.lr}, momentum {args.momentum}, batch {args.batch_size}, seed {args.seed}")
    try:
        mlp = build_mlp(args, train_x.shape[1], train_y.shape[1])
        stats = train(mlp, dset, args.epochs, args.batch_size)
    except NotImplementedError as error:  # a handout stub: say which task, not a traceback
        sys.exit(f"test.py: not implemented yet: {error}")
    os.makedirs(args.outpath, exist_ok=True)
    write_csv(stats, os.path.join(args.outpath, "training_stats.csv"))
    write_plots(stats, args.outpath)
    print(f"final validation error {stats['val_error'][-1]:.2%} (best {stats['val_error'].min():.2%}); "
          f"plots and training_stats.csv in {args.outpath}")
    if args.test:
        print(f"test accuracy {accuracy(mlp, test_x, test_y):.2%} on {len(test_x)} examples")


if __name__ == "__main__":
    main()
