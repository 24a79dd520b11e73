"""Training statistics (handout Task 6): train the MLP through hw1.get_training_stats, plot the curves beside the
oracle's reference run, and say how the final numbers compare with it.

    python3 autograder/hw1_autograder/train.py --outpath hw1     # the handout's network on the bundled data
    python3 autograder/hw1_autograder/test.py --outpath hw1      # the same: the writeup's name for this script
    python3 autograder/hw1_autograder/train.py --data /usr/share/datasets/fashion-mnist --hiddens 256,128,100 \\
        --activation relu --init he --bn 2 --lr 0.01 --momentum 0.9 --epochs 20 --test

Default network (the handout's): MLP(784, 10, [32, 32, 32], Sigmoid x3 + Identity, np.random.randn weights,
zero biases, SoftmaxCrossEntropy, lr 1e-3, momentum 0.856), batch 100, 500 epochs, np.random.seed(0). The graded
code is imported flat from mytorch/ and hw1/ beside this autograder folder, exactly as the handout does, so it
runs a student's solution. Writes train_loss.png, train_error.png, val_loss.png, val_error.png,
training_curves.png (all four) and training_stats.csv into --outpath.

The reference run: references/public/training_curves.npz holds the four curves of the same network trained by the
PyTorch oracle (the instructors' reference generator) from the same initial weights, with the same shuffles. A correct
get_training_stats reproduces them to rounding, so they are drawn dashed in every plot, written as the ref_* columns
of the CSV, and compared at the end. With other settings (--hiddens, --data, --lr, ...) there is no reference run,
and the script says which setting differs.

What to expect: on the bundled 3,000 training digits the handout network ends, after 500 epochs, at training loss
0.90 and error 28%, validation loss 1.03 and error 33%; not the writeup's "loss around 0.3, error around 0.1",
which the course reached with 55,000 training digits, 18 times more steps per epoch. With randn weights the
sigmoids start saturated and lr 1e-3 moves slowly, so this network is still improving when it stops.
"""

import argparse
import os
import sys
import time

# One BLAS thread unless the caller says otherwise (set before numpy loads BLAS): these matrices are small, and on
# a shared machine a second OpenBLAS thread mostly spins, costing 2-4x the CPU time for no gain in speed.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE_PATH = os.path.join(HERE, "references", "public", "training_curves.npz")
PROG = os.path.basename(sys.argv[0]) if sys.argv[0].endswith(".py") else "train.py"  # test.py when run as it
for folder in ("hw1", "mytorch"):  # mytorch ends up first, as with the handout's sys.path.append order
    sys.path.insert(0, os.path.join(ROOT, folder))
if HERE not in sys.path:  # compare.py, beside this file (already first on the path when this runs as a script)
    sys.path.append(HERE)

import activation
import loss
from compare import ATOL, RTOL  # a correct run matches the reference run within the grading tolerance
from reference_sets import dataset_fingerprint, regenerate_hint

import hw1

try:
    from data import load_dataset  # mytorch/data.py, the dataset loaders
except ImportError:
    sys.exit(
        f"{PROG}: {os.path.join(ROOT, 'mytorch', 'data.py')} is missing; it ships with the handout "
        "(the dataset loaders). Copy it back into mytorch/."
    )

DEFAULT_EPOCHS = 500  # ~13 s on one core of a 2-core machine, plotting included
ACTIVATIONS = {"sigmoid": activation.Sigmoid, "relu": activation.ReLU, "tanh": activation.Tanh}
# Weight initialisations: the handout's plain randn, and randn scaled so that deeper or ReLU networks keep
# activations (and so gradients) of order one from layer to layer: LeCun's sqrt(1 / n_in), Glorot's (Xavier's)
# sqrt(2 / (n_in + n_out)), He's sqrt(2 / n_in).
INITS = {
    "randn": lambda n_in, n_out: np.random.randn(n_in, n_out),
    "lecun": lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(1.0 / n_in),
    "xavier": lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(2.0 / (n_in + n_out)),
    "he": lambda n_in, n_out: np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in),
}
STATISTICS = ("train_loss", "train_error", "val_loss", "val_error")
TITLES = {
    "train_loss": "Training loss",
    "train_error": "Training error",
    "val_loss": "Validation loss",
    "val_error": "Validation error",
}
REFERENCE_LABEL = "oracle (PyTorch)"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train the homework MLP, plot its training statistics "
        "and compare them with the oracle's reference run.",
    )
    parser.add_argument("--outpath", default="hw1", help="folder for the plots and the CSV (default: hw1)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help=f"default {DEFAULT_EPOCHS}: the handout network learns slowly on 3000 examples (about 13 s of CPU)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--data", default=None, help="an .npz, a folder of IDX files or a CSV (default: the bundled MNIST subset)"
    )
    parser.add_argument("--hiddens", default="32,32,32", help="hidden layer sizes, comma-separated")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid")
    parser.add_argument(
        "--init",
        choices=sorted(INITS),
        default="randn",
        help="weight initialisation: randn (the handout's), randn scaled by sqrt(1/n_in) (lecun), "
        "sqrt(2/(n_in+n_out)) (xavier, Glorot's) or sqrt(2/n_in) (he)",
    )
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


def activation_names(args):
    """The class names of the network's activations, hidden layers then output: e.g. Sigmoid x3, Identity."""
    return [ACTIVATIONS[args.activation].__name__] * len(args.hiddens) + ["Identity"]


def build_mlp(args, input_size, output_size):
    """The handout's network, with the hidden sizes, activation, initialisation and BatchNorm of args."""
    hidden_activations = [ACTIVATIONS[args.activation]() for _ in args.hiddens]
    return hw1.MLP(
        input_size,
        output_size,
        args.hiddens,
        hidden_activations + [activation.Identity()],
        INITS[args.init],
        lambda n: np.zeros((1, n)),
        loss.SoftmaxCrossEntropy(),
        args.lr,
        momentum=args.momentum,
        num_bn_layers=args.bn,
    )


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
        print(
            f"epoch {epoch + 1:3d}/{epochs}  train loss {stats['train_loss'][epoch]:.4f} "
            f"error {stats['train_error'][epoch]:6.2%}  |  val loss {stats['val_loss'][epoch]:.4f} "
            f"error {stats['val_error'][epoch]:6.2%}  |  {elapsed:6.1f} s, ~{remaining:.0f} s left"
        )
    return stats


def accuracy(mlp, test_x, test_y):
    """Fraction of the test split classified correctly, in eval mode (BatchNorm uses running statistics)."""
    mlp.eval()
    predictions = np.argmax(mlp.forward(test_x), axis=1)
    mlp.train()
    return float(np.mean(predictions == np.argmax(test_y, axis=1)))


# --- the reference run -----------------------------------------------------------------------------------------------


def load_reference(args, dset, path=REFERENCE_PATH):
    """(curves, None) with the reference run's {statistic: array} if it was trained as this run is, else
    (None, why not). The reference may be longer or shorter than this run: the first epochs of a run are the
    same whatever the number of epochs."""
    if not os.path.isfile(path):
        return None, f"{path} is missing ({regenerate_hint('public')})"
    try:
        with np.load(path, allow_pickle=False) as stored:
            reference = {key: stored[key] for key in stored.files}
        ours = {
            "--hiddens": (",".join(map(str, args.hiddens)), ",".join(map(str, reference["config.hiddens"]))),
            "--activation": (" ".join(activation_names(args)), " ".join(reference["config.activations"])),
            "--init": (args.init, str(reference["config.init"])),
            "--bn": (args.bn, int(reference["config.num_bn_layers"])),
            "--lr": (args.lr, float(reference["config.lr"])),
            "--momentum": (args.momentum, float(reference["config.momentum"])),
            "--batch-size": (args.batch_size, int(reference["config.batch_size"])),
            "--seed": (args.seed, int(reference["config.seed"])),
        }
        same_data = dataset_fingerprint(dset) == str(reference["config.dataset_sha256"])
        curves = {name: reference[name] for name in STATISTICS}
    except (KeyError, ValueError, OSError) as error:
        return None, f"{path} is unreadable or incomplete ({error}): {regenerate_hint('public')}"
    differences = [
        f"{option} {mine} (reference: {theirs})" for option, (mine, theirs) in ours.items() if mine != theirs
    ]
    if not same_data:
        differences.insert(
            0,
            f"--data {args.data}: not the bundled digits it was trained on"
            if args.data
            else f"the bundled data differ from those it was trained on ({regenerate_hint('public')})",
        )
    if differences:
        return None, "this run's settings differ from the reference run's: " + "; ".join(differences)
    return curves, None


def compare_with_reference(stats, reference):
    """Lines that set the final numbers beside the reference's and give a verdict over every common epoch."""
    epochs = min(len(stats["train_loss"]), len(reference["train_loss"]))
    mine = {name: stats[name][:epochs] for name in STATISTICS}
    ref = {name: reference[name][:epochs] for name in STATISTICS}
    rows = [
        ("training loss", "train_loss", "{:.4f}"),
        ("training error", "train_error", "{:.2%}"),
        ("validation loss", "val_loss", "{:.4f}"),
        ("validation error", "val_error", "{:.2%}"),
    ]
    lines = [f"{f'final numbers after epoch {epochs}':<34}{'yours':>10}{REFERENCE_LABEL:>20}"]
    if len(stats["train_loss"]) > epochs:
        lines[0] += f"  (the reference run has {epochs} epochs)"
    for title, name, number in rows:
        lines.append(f"  {title:<32}{number.format(mine[name][-1]):>10}{number.format(ref[name][-1]):>20}")
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = {name: ~np.isclose(mine[name], ref[name], rtol=RTOL, atol=ATOL) for name in STATISTICS}
        relative = max(
            float(np.max(np.abs(mine[name] - ref[name]) / np.maximum(np.abs(ref[name]), 1e-300))) for name in STATISTICS
        )
    if not any(flags.any() for flags in bad.values()):
        lines.append(
            f"verdict: matches the reference run (all four curves, every epoch, within rtol {RTOL:.0e}; "
            f"largest relative difference {relative:.1g})."
        )
        return lines
    first = min(int(np.argmax(flags)) for flags in bad.values() if flags.any())
    name = next(name for name in STATISTICS if bad[name][first])
    train_differs = bad["train_loss"].any() or bad["train_error"].any()
    val_differs = bad["val_loss"].any() or bad["val_error"].any()
    if train_differs and not val_differs:
        check = (
            "how the training statistics are measured: add each batch's mlp.total_loss and mlp.error right "
            "after its forward, in train mode, and divide the epoch's totals by the number of training examples"
        )
    elif val_differs and not train_differs:
        check = (
            "the validation pass: mlp.eval() before mlp.forward(val_x), its loss and error divided by "
            "len(val_x), then mlp.train() again"
        )
    else:
        check = (
            "the training itself: one np.random.shuffle of an index array at the start of each epoch and the "
            "batches gathered with it; zero_grads, forward, backward, step for each batch; and the graded "
            "parts (python3 autograder/hw1_autograder/runner.py)"
        )
    lines.append(
        f"verdict: differs from the reference run from epoch {first + 1} on ({TITLES[name].lower()} "
        f"{mine[name][first]:.6g}, reference {ref[name][first]:.6g}): check {check}. The runner's "
        "training-statistics extra check names the common mistakes."
    )
    return lines


# --- outputs ---------------------------------------------------------------------------------------------------------


def write_csv(stats, path, reference=None):
    """epoch, the four statistics, and the reference run's four as ref_* (empty where there is none)."""
    epochs = len(stats["train_loss"])
    columns = [stats[name] for name in STATISTICS]
    for name in STATISTICS:
        values = [] if reference is None else reference[name][:epochs]
        columns.append([repr(float(v)) for v in values] + [""] * (epochs - len(values)))
    with open(path, "w") as handle:
        handle.write("epoch," + ",".join(STATISTICS) + "," + ",".join("ref_" + name for name in STATISTICS) + "\n")
        for epoch in range(epochs):
            cells = [repr(float(column[epoch])) for column in columns[:4]] + [column[epoch] for column in columns[4:]]
            handle.write(f"{epoch + 1}," + ",".join(cells) + "\n")


def write_plots(stats, outpath, reference=None):
    """The five PNGs, the reference run dashed beside the student's curves; False (and a note) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print(f"{PROG}: plots need matplotlib: pip install -e '.[plot]' (the CSV was written).", file=sys.stderr)
        return False
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(stats["train_loss"]) + 1)
    marker = "." if len(epochs) < 50 else None
    reference = reference or {}
    ref_epochs = np.arange(1, min(len(epochs), len(reference.get("train_loss", []))) + 1)

    def draw_reference(axes, name, style="--", label=REFERENCE_LABEL):
        if name in reference:
            axes.plot(ref_epochs, reference[name][: len(ref_epochs)], style, color="black", linewidth=1, label=label)

    for name in STATISTICS:
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot(epochs, stats[name], marker=marker, linewidth=2.5, label="yours (hw1.get_training_stats)")
        draw_reference(axes, name)
        axes.set(xlabel="epoch", ylabel=name.split("_")[1], title=TITLES[name])
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if reference:
            axes.legend()
        figure.tight_layout()
        figure.savefig(os.path.join(outpath, f"{name}.png"), dpi=100)
        plt.close(figure)
    figure, (loss_axes, error_axes) = plt.subplots(1, 2, figsize=(11, 4))
    for axes, kind in ((loss_axes, "loss"), (error_axes, "error")):
        axes.plot(epochs, stats[f"train_{kind}"], linewidth=2.5, label="training")
        axes.plot(epochs, stats[f"val_{kind}"], linewidth=2.5, label="validation")
        draw_reference(axes, f"train_{kind}", "--", f"training, {REFERENCE_LABEL}")
        draw_reference(axes, f"val_{kind}", ":", f"validation, {REFERENCE_LABEL}")
        axes.set(xlabel="epoch", ylabel=kind, title=kind.capitalize())
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(outpath, "training_curves.png"), dpi=100)
    plt.close(figure)
    return True


def main(argv=None):
    args = parse_args(argv)
    np.random.seed(args.seed)  # the handout's init and get_training_stats both draw from numpy's global RNG
    try:
        dset = load_dataset(args.data)
    except (ValueError, FileNotFoundError) as error:  # a bad data file: its message is the whole story
        sys.exit(f"{PROG}: {error}")
    (train_x, train_y), (val_x, _), (test_x, test_y) = dset
    print(
        f"data: {args.data or 'bundled MNIST subset'}: {len(train_x)} train / {len(val_x)} validation / "
        f"{len(test_x)} test examples"
    )
    print(
        f"model: MLP({train_x.shape[1]}, {train_y.shape[1]}, {args.hiddens}, {args.activation}, init {args.init}, "
        f"bn {args.bn}), lr {args.lr}, momentum {args.momentum}, batch {args.batch_size}, seed {args.seed}"
    )
    reference, why_not = load_reference(args, dset)
    if reference is None:
        print(f"reference run: none to compare with: {why_not}.")
    else:
        print(
            f"reference run: the oracle's run of this network ({len(reference['train_loss'])} epochs), dashed in "
            "the plots and compared at the end."
        )
    try:
        mlp = build_mlp(args, train_x.shape[1], train_y.shape[1])
        stats = train(mlp, dset, args.epochs, args.batch_size)
    except NotImplementedError as error:  # a handout stub: say which task, not a traceback
        sys.exit(f"{PROG}: not implemented yet: {error}")
    os.makedirs(args.outpath, exist_ok=True)
    write_csv(stats, os.path.join(args.outpath, "training_stats.csv"), reference)
    plotted = write_plots(stats, args.outpath, reference)
    print(
        f"final validation error {stats['val_error'][-1]:.2%} (best {stats['val_error'].min():.2%}); "
        f"{'plots and ' if plotted else ''}training_stats.csv in {args.outpath}"
    )
    if args.test:
        print(f"test accuracy {accuracy(mlp, test_x, test_y):.2%} on {len(test_x)} examples")
    if reference is not None:
        print("\n".join(compare_with_reference(stats, reference)))


if __name__ == "__main__":
    main()
