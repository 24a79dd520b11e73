"""Reference training runs for the training statistics (handout Task 6), computed by the PyTorch oracle.

    reference_curves(dataset)        the handout network trained as train.py trains it by default: four curves and
                                     the configuration they belong to (-> references/public/training_curves.npz;
                                     reference_curves_file(root) does it for the bundled data)
    training_stats_case(case, base, draw)
                                     the 0-point extra check: a small seeded subset, the oracle's four statistics and
                                     the same statistics under known WRONG training loops, "KEY.alt.NAME"
                                     (-> references/<set>/training_stats.npz)
    load_bundled_dataset(root)       data/mnist_5k.npz split as mytorch.data.load_mnist_5k splits it (numpy only)

    python3 tools/oracle_training.py    # print the reference run's final numbers and how long the oracle took

Like tools/make_references.py, whose OracleMLP it trains, this never imports mytorch or hw1: every gradient comes
from torch.autograd in float64 under the handout's conventions (loss gradient softmax - y per example, dW and db
batch means, v = momentum * v - lr * dW; W += v).

What is replicated exactly is the random-number stream: numpy's global generator is seeded once, the weights are
drawn from it layer by layer (W = randn(in, out); biases are zeros and draw nothing), and then every epoch takes one
np.random.shuffle of an index, as hw1.get_training_stats does. train.py calls get_training_stats one epoch at a
time, so each epoch shuffles a fresh np.arange(n) (a single call with nepochs > 1 shuffles its index again every
epoch instead; both follow the writeup, but they visit the batches in different orders from the second epoch on).
The statistics are the function's: training loss and error accumulated over the epoch's batches in train mode
(the output of each batch's forward, before its step) and divided by the number of examples; validation loss and
error after the epoch, in eval mode.
"""

import dataclasses
import os
import sys
import time

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
if AUTOGRADER not in sys.path:
    sys.path.insert(0, AUTOGRADER)  # reference_sets.py: how the stored curves name their data; never student code

from reference_sets import dataset_fingerprint  # noqa: E402

BUNDLED_DATA = os.path.join("data", "mnist_5k.npz")  # relative to the repository root
CLASSES = 10
STATISTICS = ("train_loss", "train_error", "val_loss", "val_error")  # train.py's names, the keys of the curves

# The handout network as train.py builds it by default (a test checks that train.py's defaults agree).
HANDOUT_RUN = {
    "hiddens": (32, 32, 32),
    "activations": ("Sigmoid", "Sigmoid", "Sigmoid", "Identity"),
    "init": "randn",
    "num_bn_layers": 0,
    "lr": 1e-3,
    "momentum": 0.856,
    "batch_size": 100,
    "seed": 0,
    "epochs": 500,
}

# The extra check's case: 2 epochs of 3 batches on 60 training and 20 validation digits of the bundled data. The
# step is large (lr 0.1, momentum 0.856) and a BatchNorm follows the first layer, so that the order of the batches
# and the mode of the validation forward visibly change the statistics (with lr 1e-3 a reordering moves them by
# less than the grader's tolerance, and without BatchNorm train and eval mode compute the same thing). A course.Case
# may override any of these: its hiddens and activations, and the other keys in its options.
CASE = {
    "hiddens": (32,),
    "activations": ("Sigmoid", "Identity"),
    "num_bn_layers": 1,
    "lr": 0.1,
    "momentum": 0.856,
    "batch_size": 20,
    "epochs": 2,
    "train_examples": 60,
    "val_examples": 20,
}


@dataclasses.dataclass(frozen=True)
class Procedure:
    """How a get_training_stats trains and measures. The defaults are the handout's; each MISTAKE changes one thing."""

    shuffle: str = "index"  # "index": np.random.shuffle(order) of order = np.arange(n), then gather;
    #                                    "none": batches in stored order; "data": np.random.shuffle(train_x) and then
    #                                    np.random.shuffle(train_y), in place (two different permutations)
    validation_eval_mode: bool = True  # False: the validation forward runs in train mode (batch statistics)
    train_stats: str = "batches"  # "batches": accumulated over the epoch's batches, as they go by;
    #                                    "after_epoch": one eval-mode forward of the whole training set after the epoch
    average: bool = True  # False: losses and errors summed over the examples, never divided
    report_error: bool = True  # False: the fraction classified correctly (accuracy) reported as the error


HANDOUT_LOOP = Procedure()

# Wrong training loops, named as in compare.HYPOTHESES. "Missing zero_grads" is not among them: the handout's
# Linear.backward and BatchNorm.backward assign dW, db, dgamma and dbeta (=) rather than accumulate (+=), so a loop
# that never calls zero_grads trains exactly like one that does, and nothing can tell them apart.
MISTAKES = {
    "no_shuffle": Procedure(shuffle="none"),
    "shuffled_data_not_index": Procedure(shuffle="data"),
    "validation_in_train_mode": Procedure(validation_eval_mode=False),
    "train_stats_after_epoch": Procedure(train_stats="after_epoch"),
    "losses_summed": Procedure(average=False),
    "accuracy_not_error": Procedure(report_error=False),
}


def _oracle():
    """tools/make_references.py, imported on first use rather than at the top: make_references imports this module
    too, and a top-level import each way would be circular."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    import make_references

    return make_references


# --- data ----------------------------------------------------------------------------------------------------------


def load_bundled_dataset(root=ROOT):
    """((train_x, train_y), (val_x, val_y), (test_x, test_y)) from root/data/mnist_5k.npz, as
    mytorch.data.load_mnist_5k returns them: x: (n, 784) float64 pixels / 255;  y: (n, 10) float64 one-hot."""
    with np.load(os.path.join(root, BUNDLED_DATA), allow_pickle=False) as stored:
        return tuple(
            (stored[f"{split}_images"] / 255.0, np.eye(CLASSES)[stored[f"{split}_labels"]])
            for split in ("train", "val", "test")
        )


# --- the training loop ---------------------------------------------------------------------------------------------


def _model(input_size, output_size, hiddens, activations, lr, momentum, num_bn_layers, weight_seed):
    """(the oracle's MLP, the generator that drew its weights): np.random.RandomState(weight_seed), the stream of
    np.random.seed(weight_seed), after W = randn(in, out) per layer, input to output, as the graded code draws them.
    The shuffles continue from that generator."""
    model = _oracle().OracleMLP(
        input_size,
        output_size,
        list(hiddens),
        list(activations),
        weight_seed=weight_seed,
        lr=lr,
        momentum=momentum,
        num_bn_layers=num_bn_layers,
    )
    rng = np.random.RandomState(weight_seed)
    sizes = [input_size, *hiddens, output_size]
    model.W[:] = [_oracle().tensor(rng.randn(sizes[i], sizes[i + 1])) for i in range(len(sizes) - 1)]
    return model, rng


def _measure(model, x, y, train):
    """(summed loss, number of errors) of one forward of x: (n, in) against one-hot y: (n, classes)."""
    mr = _oracle()
    output = model.forward(mr.tensor(x), train=train)
    return _statistics(output, y)


def _statistics(output, y):
    mr = _oracle()
    loss = float(mr.cross_entropy(output, mr.tensor(y)).sum())
    errors = int(np.sum(np.argmax(mr.numpy(output), axis=1) != np.argmax(y, axis=1)))
    return loss, errors


def train(model, rng, dataset, epochs, batch_size, procedure=HANDOUT_LOOP):
    """Train model for epochs, one get_training_stats(mlp, dset, 1, batch_size) call per epoch as train.py makes
    them, drawing every shuffle from rng; returns {statistic: (epochs,) float64}.

    dataset: ((train_x, train_y), (val_x, val_y), ...); it is copied, so procedure "data" shuffles the copy (and
    keeps it shuffled from one epoch to the next, as in-place shuffles of the caller's arrays do)."""
    (train_x, train_y), (val_x, val_y) = (np.array(a) for a in dataset[0]), dataset[1]
    n, n_val = len(train_x), len(val_x)
    curves = {name: np.zeros(epochs) for name in STATISTICS}
    for epoch in range(epochs):
        order = np.arange(n)
        if procedure.shuffle == "index":
            rng.shuffle(order)
        elif procedure.shuffle == "data":
            rng.shuffle(train_x)
            rng.shuffle(train_y)
        loss, errors = 0.0, 0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            x, y = train_x[batch], train_y[batch]
            output, grads = model.gradients(x, y)
            model.step(grads)
            batch_loss, batch_errors = _statistics(output, y)
            loss, errors = loss + batch_loss, errors + batch_errors
        if procedure.train_stats == "after_epoch":
            loss, errors = _measure(model, train_x, train_y, train=False)
        val_loss, val_errors = _measure(model, val_x, val_y, train=not procedure.validation_eval_mode)
        for name, total, count, size in (("train", loss, errors, n), ("val", val_loss, val_errors, n_val)):
            divisor = size if procedure.average else 1
            curves[f"{name}_loss"][epoch] = total / divisor
            curves[f"{name}_error"][epoch] = (count if procedure.report_error else size - count) / divisor
    return curves


# --- the reference run ---------------------------------------------------------------------------------------------


def reference_curves(
    dataset,
    *,
    epochs=HANDOUT_RUN["epochs"],
    batch_size=HANDOUT_RUN["batch_size"],
    hiddens=HANDOUT_RUN["hiddens"],
    activations=HANDOUT_RUN["activations"],
    lr=HANDOUT_RUN["lr"],
    momentum=HANDOUT_RUN["momentum"],
    seed=HANDOUT_RUN["seed"],
):
    """The handout network trained by the oracle exactly as `train.py` trains it with these settings (by default:
    `python3 autograder/hw1_autograder/train.py`): np.random.seed(seed), randn weights and zero biases, lr, momentum,
    batch_size, one shuffle of a fresh index per epoch.

    dataset: ((train_x, train_y), (val_x, val_y), ...), x: (n, 784), y: (n, 10) one-hot (load_bundled_dataset()).
    Returns {"train_loss", "train_error", "val_loss", "val_error": (epochs,) float64} and the configuration that
    train.py compares with its own before overlaying the curves: "config.epochs", "config.batch_size", "config.lr",
    "config.momentum", "config.hiddens" (int64), "config.activations" (str), "config.init" ("randn"),
    "config.num_bn_layers" (0), "config.seed", "config.dataset_sha256" (dataset_fingerprint(dataset)),
    "config.train_examples", "config.val_examples".
    """
    (train_x, train_y), (val_x, _) = dataset[0], dataset[1]
    model, rng = _model(train_x.shape[1], train_y.shape[1], hiddens, activations, lr, momentum, 0, seed)
    curves = train(model, rng, dataset, epochs, batch_size)
    config = {
        "epochs": np.int64(epochs),
        "batch_size": np.int64(batch_size),
        "lr": np.float64(lr),
        "momentum": np.float64(momentum),
        "hiddens": np.array(hiddens, dtype=np.int64),
        "activations": np.array(activations, dtype="<U8"),
        "init": np.array("randn"),
        "num_bn_layers": np.int64(0),
        "seed": np.int64(seed),
        "dataset_sha256": np.array(dataset_fingerprint(dataset)),
        "train_examples": np.int64(len(train_x)),
        "val_examples": np.int64(len(val_x)),
    }
    return {**curves, **{f"config.{key}": np.asarray(value) for key, value in config.items()}}


# --- the extra check -----------------------------------------------------------------------------------------------


def reference_curves_file(root=ROOT):
    """reference_curves of the bundled data at root with train.py's defaults: references/public/training_curves.npz."""
    return reference_curves(load_bundled_dataset(root))


def case_settings(case=None):
    """CASE with the overrides of a course.Case (non-empty hiddens and activations; any CASE key in its options)."""
    settings = dict(CASE)
    if case is not None:
        if case.hiddens or case.activations:
            settings["hiddens"], settings["activations"] = tuple(case.hiddens), tuple(case.activations)
        settings.update({key: value for key, value in case.options.items() if key in CASE})
    return settings


def training_stats_case(case, base, draw, dataset=None):
    """The extra check's case: by default MLP(784, 10, [32], [Sigmoid, Identity], num_bn_layers=1, lr 0.1,
    momentum 0.856) trained for 2 epochs of 3 batches of 20 on 60 training and 20 validation digits of dataset
    (default: the bundled data), through one get_training_stats(mlp, dset, 1, 20) call per epoch, as train.py
    calls it. Two correct loops then agree: one that shuffles a fresh np.arange(n) every epoch and one that keeps
    shuffling the same index (with a single 2-epoch call they would not, from the second epoch on).

    case: a course.Case or None (see case_settings); base: the weight seed, drawn with np.random.seed(base) before
    the model is built (the shuffles continue that stream); draw: anything with a numpy RandomState .rng (such as
    make_references.Draw(base, offset)), which picks the subset.
    Returns "train_x" (60, 784), "train_y" (60, 10), "val_x" (20, 784), "val_y" (20, 10); the architecture as
    OracleMLP.architecture gives it ("mlp.hiddens", "mlp.lr", "mlp.weight_seed", ...); "epochs" (the number of
    get_training_stats(mlp, dset, 1, batch_size) calls) and "batch_size"; "train_loss", "train_error",
    "val_loss", "val_error": (epochs,); and "KEY.alt.NAME" for every MISTAKES NAME that the grader's tolerance
    (rtol 1e-4, atol 1e-8) can tell from KEY.
    """
    mr, settings = _oracle(), case_settings(case)
    (train_x, train_y), (val_x, val_y) = (dataset or load_bundled_dataset())[:2]
    chosen = draw.rng.choice(len(train_x), settings["train_examples"], replace=False)
    chosen_val = draw.rng.choice(len(val_x), settings["val_examples"], replace=False)
    subset = ((train_x[chosen], train_y[chosen]), (val_x[chosen_val], val_y[chosen_val]))

    def compute(procedure):
        model, rng = _model(
            train_x.shape[1],
            train_y.shape[1],
            settings["hiddens"],
            settings["activations"],
            settings["lr"],
            settings["momentum"],
            settings["num_bn_layers"],
            base,
        )
        return train(model, rng, subset, settings["epochs"], settings["batch_size"], procedure), model.architecture

    curves, architecture = compute(HANDOUT_LOOP)
    arrays = {
        "train_x": subset[0][0],
        "train_y": subset[0][1],
        "val_x": subset[1][0],
        "val_y": subset[1][1],
        **architecture,
        "epochs": np.int64(settings["epochs"]),
        "batch_size": np.int64(settings["batch_size"]),
        **curves,
    }
    for name, procedure in MISTAKES.items():
        for key, value in compute(procedure)[0].items():
            if not np.allclose(value, curves[key], rtol=mr.GRADING_RTOL, atol=mr.GRADING_ATOL):
                arrays[f"{key}.alt.{name}"] = value
    return {key: np.asarray(value) for key, value in arrays.items()}


def main():
    import torch

    torch.set_num_threads(1)
    dataset = load_bundled_dataset()
    start = time.perf_counter()
    curves = reference_curves(dataset)
    elapsed = time.perf_counter() - start
    epochs = int(curves["config.epochs"])
    print(
        f"reference run: the handout network, {epochs} epochs of batch {int(curves['config.batch_size'])} on "
        f"{int(curves['config.train_examples'])} training examples ({elapsed:.1f} s in the oracle)"
    )
    for epoch in sorted({1, 10, 50, 100, 200, epochs} & set(range(1, epochs + 1))):
        print(f"  epoch {epoch:4d}: " + ", ".join(f"{name} {curves[name][epoch - 1]:.4f}" for name in STATISTICS))
    mr = _oracle()
    course_case = next(case for case in mr.course.CASES if case.recipe == "training_stats")
    base = mr.course.SEEDS["public"]
    case = training_stats_case(course_case, base, mr.Draw(base, course_case.offset))
    print("extra check: alternatives " + ", ".join(sorted(key for key in case if ".alt." in key)))


if __name__ == "__main__":
    main()
