"""Zero initialisation: train the handout's MLP with every weight and bias 0 and find out what trains, and why.

    python3 -m experiments.zero_init          # prints the tables and the explanation (a few seconds)

    from experiments import zero_init
    runs = zero_init.analyse()                # one Run per (activation, initialisation)
    print(zero_init.report(runs))

The network is the handout's MLP(784, 10, [64, 64, 32]): three hidden layers of one activation (Tanh, ReLU or
Sigmoid) and an Identity output, trained by hw1.get_training_stats with momentum SGD (LR, MOMENTUM, BATCH_SIZE,
EPOCHS below: enough steps for the output bias to settle, a few seconds per run).

Why it goes the way it goes.  Write f for the hidden activation, h = f(z) for a layer's output and delta for the
error signal arriving at a layer's output.  Backward through Linear gives dW = h_in.T @ delta / batch,
db = mean(delta) and passes delta @ W.T on to the layer below.
- Every weight and bias is 0, so every pre-activation is z = x @ 0 + 0 = 0 and every hidden unit outputs f(0).
- The output layer's delta is softmax(0) - y = 1/10 - y, never 0, so the output bias always trains.
- Tanh and ReLU have f(0) = 0: the last hidden layer outputs 0, so the output weights get dW = 0.T @ delta = 0
  and stay 0, so the signal passed down, delta @ 0.T, is 0 too, at every step. (ReLU's derivative at 0 is 0 as
  well, which would block the signal anyway.)  Only the output bias ever trains: the output is the same b for
  every input, the network ignores its input, and the best it can do is softmax(b) = the training class
  frequencies, whose cross-entropy is the entropy of the labels (a class-prior model).
- Sigmoid has f(0) = 1/2: the output weights get a gradient at step 1 and become non-zero, so at step 2 the last
  hidden layer receives a signal, at step 3 the one below, and so on: the hidden layers start training.  But every
  unit of a layer started equal to its neighbours, sees the same inputs, and gets the same error signal (its
  outgoing weights are equal too), so it gets the same update: the units stay identical forever, and each layer
  behaves like a single unit.  Symmetry is never broken.
- The fix is one line: weight_init_fn = np.random.randn (the handout's) instead of zeros.  Units start different,
  so they learn different features.  How large the random weights should be is a second question (see report).

"Distinct units": two units of a layer are the same when their incoming parameters, the weight column W[:, j]
and the bias b[0, j], are exactly equal, bit for bit.  Exact equality is the right test here because the claim
is exact: equal units go through the same floating-point operations on the same numbers (numpy's matrix product
computes every output column the same way), so no rounding error can ever tell them apart.  A tolerance could
only hide a unit that had started to differ; a single differing bit counts as a distinct unit.

The training set.  The embedded split is balanced (300 images per digit), so its class prior is uniform: exactly
what a zero-initialised network predicts before any training, and the experiment could not tell "learned the
prior" from "learned nothing".  skewed_training_set keeps 30 * (d + 1) images of digit d (30 zeros ... 300
nines; frequencies 1.8% ... 18.2%), so learning the prior is a visible change.  Validation and test stay balanced.
"""

import textwrap
from dataclasses import dataclass, field

import numpy as np

from hw1 import MLP, get_training_stats
from mytorch import Identity, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh
from mytorch.data import load_mnist_5k

HIDDENS = (64, 64, 32)  # the handout's example MLP
LR, MOMENTUM = 0.02, 0.9  # momentum SGD; lr small enough that the output bias settles within 1e-2 of the prior
BATCH_SIZE, EPOCHS = 50, 20  # 33 steps an epoch on the skewed set: 660 steps, well under a second a run
SEED = 0

ACTIVATIONS = {"Tanh": Tanh, "ReLU": ReLU, "Sigmoid": Sigmoid}


def zeros_weight(d0, d1):
    """weight_init_fn of the exercise: (d0, d1) zeros."""
    return np.zeros((d0, d1))


def zeros_bias(d):
    """bias_init_fn for every run, as in the handout: (1, d) zeros."""
    return np.zeros((1, d))


def scaled_randn(d0, d1):
    """np.random.randn scaled by sqrt(2 / d0) (He et al., 2015), which keeps ReLU activations of order 1."""
    return np.random.randn(d0, d1) * np.sqrt(2.0 / d0)


INITS = {"zeros": zeros_weight, "randn": np.random.randn, "randn*sqrt(2/d0)": scaled_randn}

# (activation, weight initialisation): the exercise, then the fix.
ZERO_RUNS = (("Tanh", "zeros"), ("ReLU", "zeros"), ("Sigmoid", "zeros"))
FIX_RUNS = (("Tanh", "randn"), ("ReLU", "randn"), ("Sigmoid", "randn"), ("ReLU", "randn*sqrt(2/d0)"))


@dataclass
class ParameterReport:
    """One weight matrix or bias: its gradient at the first step, the first step it was non-zero, whether it moved."""

    name: str  # "W1" ... "b4": layer 1 is the first Linear, the last is the output layer
    shape: tuple
    first_gradient_norm: float  # Frobenius norm of dW or db at step 1
    first_nonzero_step: int  # 1-based; 0 if the gradient was exactly 0 at every step
    changed: bool  # final value differs from the initial value (exact comparison)


@dataclass
class Run:
    """What one training run measured.  Losses are per-example means (nats); errors are fractions."""

    activation: str
    init: str
    parameters: list  # ParameterReport per parameter, W1, b1, W2, b2, ...
    widths: tuple  # units per hidden layer
    distinct_units: tuple  # distinct units per hidden layer (exact equality of incoming weights and bias)
    live_units: tuple  # per hidden layer: units whose output is non-zero for at least one training image
    distinct_outputs: int  # distinct output rows over the test split, eval mode (1 = the input is ignored)
    initial_logit_scale: float  # largest |output| over the training set before training
    test_size: int
    final_loss: float  # the trained model's mean loss over the whole training set
    label_entropy: float  # entropy of the training labels' class frequencies (closed form, from the labels)
    class_frequencies: np.ndarray  # (classes,), from the training labels
    mean_softmax: np.ndarray  # (classes,), the trained model's softmax averaged over the training set
    training_error: float
    validation_error: float
    epoch_losses: np.ndarray  # (epochs,) training loss per epoch, from get_training_stats
    steps: int  # training steps taken (batches over all epochs)
    lr: float
    momentum: float
    model: object = field(repr=False, default=None)  # the trained MLP (eval mode), to look inside

    @property
    def trained(self):
        """Names of the parameters that moved."""
        return [p.name for p in self.parameters if p.changed]


def skewed_training_set(dset, seed=SEED):
    """dset with its training split cut to 30 * (d + 1) examples of digit d, shuffled; the rest unchanged.

    dset = ((train_x, train_y), (val_x, val_y), (test_x, test_y)), labels one-hot (n, 10).
    """
    (train_x, train_y), validation, test = dset
    digits = train_y.argmax(axis=1)
    keep = np.concatenate([np.flatnonzero(digits == d)[: 30 * (d + 1)] for d in range(train_y.shape[1])])
    keep = np.random.default_rng(seed).permutation(keep)  # mixed batches from the first step on
    return (train_x[keep], train_y[keep]), validation, test


def class_frequencies(labels):
    """labels: (n, classes) one-hot  ->  (classes,) fraction of examples in each class."""
    return labels.sum(axis=0) / labels.shape[0]


def label_entropy(labels):
    """Entropy in nats of the class frequencies: the loss of the best model that ignores its input."""
    p = class_frequencies(labels)
    p = p[p > 0]  # 0 log 0 = 0
    return float(-(p * np.log(p)).sum())


def named_parameters(mlp):
    """[(name, value, gradient)] for every Linear layer: W1, b1, W2, b2, ... (read afresh: step replaces W)."""
    named = []
    for i, layer in enumerate(mlp.linear_layers, start=1):
        named += [(f"W{i}", layer.W, layer.dW), (f"b{i}", layer.b, layer.db)]
    return named


def distinct_units(layer):
    """Number of different units in a Linear layer: distinct (W[:, j], b[0, j]) columns, compared exactly."""
    incoming = np.vstack([layer.W, layer.b]).T  # one row per unit
    return len(np.unique(incoming, axis=0))


def watch_gradients(mlp):
    """Wrap mlp.step so that each step first records every parameter's gradient norm; returns the record.

    record[k][name] is the norm at step k + 1.  get_training_stats then trains exactly as usual; `del mlp.step`
    removes the wrapper.
    """
    record = []
    step = mlp.step

    def recording_step():
        record.append({name: float(np.linalg.norm(grad)) for name, _, grad in named_parameters(mlp)})
        step()

    mlp.step = recording_step
    return record


def train(
    activation="Tanh",
    init="zeros",
    dset=None,
    hiddens=HIDDENS,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    lr=LR,
    momentum=MOMENTUM,
    seed=SEED,
):
    """Train one MLP with the given hidden activation and weight initialisation (biases 0); returns a Run.

    dset: the training triple; None -> skewed_training_set(load_mnist_5k()).
    """
    np.random.seed(seed)  # the random initialisations and get_training_stats' shuffling
    if dset is None:
        dset = skewed_training_set(load_mnist_5k(), seed)
    (train_x, train_y), _, (test_x, _) = dset
    hiddens = list(hiddens)
    act = ACTIVATIONS[activation]
    mlp = MLP(
        train_x.shape[1],
        train_y.shape[1],
        hiddens,
        [act() for _ in hiddens] + [Identity()],
        INITS[init],
        zeros_bias,
        SoftmaxCrossEntropy(),
        lr,
        momentum,
    )
    initial = {name: value.copy() for name, value, _ in named_parameters(mlp)}
    initial_logit_scale = float(np.abs(mlp.forward(train_x)).max())

    record = watch_gradients(mlp)
    epoch_losses, _, _, validation_errors = get_training_stats(mlp, dset, epochs, batch_size)
    del mlp.step

    parameters = []
    for name, value, _ in named_parameters(mlp):
        norms = [step[name] for step in record]
        nonzero = [k for k, norm in enumerate(norms, start=1) if norm > 0]
        parameters.append(
            ParameterReport(
                name, value.shape, norms[0], nonzero[0] if nonzero else 0, not np.array_equal(value, initial[name])
            )
        )

    mlp.eval()
    test_outputs = mlp.forward(test_x)
    mlp.forward(train_x)
    live_units = tuple(int((act.state != 0).any(axis=0).sum()) for act in mlp.activations[:-1])
    final_loss = mlp.total_loss(train_y) / len(train_x)
    mean_softmax = mlp.criterion.softmax.mean(axis=0)  # stored by the criterion's forward inside total_loss
    return Run(
        activation=activation,
        init=init,
        parameters=parameters,
        widths=tuple(hiddens),
        distinct_units=tuple(distinct_units(layer) for layer in mlp.linear_layers[:-1]),
        live_units=live_units,
        distinct_outputs=len(np.unique(test_outputs, axis=0)),
        initial_logit_scale=initial_logit_scale,
        test_size=len(test_x),
        final_loss=float(final_loss),
        label_entropy=label_entropy(train_y),
        class_frequencies=class_frequencies(train_y),
        mean_softmax=mean_softmax,
        training_error=mlp.error(train_y) / len(train_x),
        validation_error=float(validation_errors[-1]),
        epoch_losses=epoch_losses,
        steps=len(record),
        lr=lr,
        momentum=momentum,
        model=mlp,
    )


def analyse(runs=ZERO_RUNS + FIX_RUNS, dset=None, **training):
    """Train every (activation, init) in runs on the same data; returns the list of Run.  training: train's options."""
    if dset is None:
        dset = skewed_training_set(load_mnist_5k(), training.get("seed", SEED))
    return [train(activation, init, dset, **training) for activation, init in runs]


def report(runs):
    """The printed report: the gradient table, the outcome table and a plain-language explanation."""
    zero = [r for r in runs if r.init == "zeros"]
    lines = []
    if zero:
        first = zero[0]
        lines += [
            f"Zero initialisation: MLP(784, 10, {list(first.widths)}), every weight and bias 0, momentum SGD "
            f"(lr {first.lr:g}, momentum {first.momentum:g}), {len(first.epoch_losses)} epochs = {first.steps} steps.",
            f"Training labels: class frequencies {_fmt_vector(first.class_frequencies)}, "
            f"entropy {first.label_entropy:.4f} nats.",
            "",
            _gradient_table(zero),
            "",
        ]
    lines += [_outcome_table(runs), "", explanation(runs)]
    return "\n".join(lines)


def _gradient_table(runs):
    cell = "| {:<11}{:<12}{:<6}"
    header = f"{'':<21}" + "".join(f"| {r.activation + ', zeros':<29}" for r in runs)
    sub = f"{'parameter':<10}{'shape':<11}" + cell.format("|grad| @1", "first != 0", "moved") * len(runs)
    rows = [header.rstrip(), sub.rstrip(), "-" * len(sub.rstrip())]
    for k, parameter in enumerate(runs[0].parameters):
        row = f"{parameter.name:<10}{str(parameter.shape):<11}"
        for r in runs:
            p = r.parameters[k]
            first = f"step {p.first_nonzero_step}" if p.first_nonzero_step else "never"
            row += cell.format(_fmt_norm(p.first_gradient_norm), first, "yes" if p.changed else "no")
        rows.append(row.rstrip())
    rows.append(
        "(|grad| @1: norm of the gradient at the first step; first != 0: first step with a non-zero "
        "gradient; moved: final value differs from the initial one)"
    )
    return "\n".join(rows)


def _outcome_table(runs):
    header = (
        f"{'activation, init':<28}{'distinct units':<16}{'distinct outputs':<18}{'loss':>8}{'entropy':>9}"
        f"{'max|softmax-freq|':>19}{'train err':>11}{'val err':>9}"
    )
    rows = [header, "-" * len(header)]
    for r in runs:
        units = "/".join(str(n) for n in r.distinct_units)
        rows.append(
            f"{r.activation + ', ' + r.init:<28}{units:<16}{f'{r.distinct_outputs} of {r.test_size}':<18}"
            f"{r.final_loss:>8.4f}{r.label_entropy:>9.4f}{_softmax_gap(r):>19.4f}"
            f"{r.training_error:>11.3f}{r.validation_error:>9.3f}"
        )
    widths = "/".join(str(w) for w in runs[0].widths)
    rows.append(
        f"(distinct units: per hidden layer, of {widths}; distinct outputs: different output rows over "
        "the test split; loss: final mean training loss, nats)"
    )
    return "\n".join(rows)


def explanation(runs):
    """Plain-language reading of the measured numbers."""
    by = {(r.activation, r.init): r for r in runs}
    text = []
    why_zero = {"Tanh": "tanh(0) = 0", "ReLU": "relu(0) = 0 (and its derivative at 0 is 0)"}
    for r in [by[activation, "zeros"] for activation in why_zero if (activation, "zeros") in by]:
        ever = [p.name for p in r.parameters if p.first_nonzero_step]
        still = [p.name for p in r.parameters if not p.changed]
        uniform_gap = np.abs(1 / len(r.class_frequencies) - r.class_frequencies).max()
        text.append(
            f"{r.activation}, zeros: {why_zero[r.activation]}, so every hidden unit outputs 0, the output "
            f"weights' gradient h.T @ delta is exactly 0 and so is the error signal delta @ W.T they pass down. "
            f"Of the {len(r.parameters)} parameters only {', '.join(ever) or 'none'} ever had a non-zero gradient "
            f"({_fmt_norm(r.parameters[-1].first_gradient_norm)} at step 1); {len(still)} kept their initial 0 "
            f"exactly. The network ignores its input: {r.distinct_outputs} distinct output over {r.test_size} "
            f"test images. Its softmax is the class prior, within {_softmax_gap(r):.4f} of the training class "
            f"frequencies (the uniform softmax it started from was {uniform_gap:.4f} away), and its loss "
            f"{r.final_loss:.4f} sits at the label entropy {r.label_entropy:.4f} (uniform guessing: "
            f"{np.log(len(r.class_frequencies)):.4f})."
        )
    if ("Sigmoid", "zeros") in by:
        r = by["Sigmoid", "zeros"]
        order = ", ".join(
            f"{p.name} at step {p.first_nonzero_step}" for p in reversed(r.parameters) if p.name.startswith("W")
        )
        units = "/".join(str(n) for n in r.distinct_units)
        symmetric = all(n == 1 for n in r.distinct_units)
        text.append(
            f"Sigmoid, zeros: sigmoid(0) = 1/2, so the output weights get a gradient at once and the error signal "
            f"reaches one layer deeper each step ({order}); {len(r.trained)} of {len(r.parameters)} parameters "
            f"moved. But the units of a layer start equal, see equal inputs and get equal error signals, so they "
            f"get equal updates: after {r.steps} steps the hidden layers have {units} distinct units out of "
            f"{'/'.join(str(w) for w in r.widths)}"
            + (
                ", identical to the last bit. The symmetry never breaks: the network is a chain of single units"
                if symmetric
                else " (the symmetry broke, which it should not: check the backward pass)"
            )
            + f" (loss {r.final_loss:.4f}, entropy {r.label_entropy:.4f}; training error {r.training_error:.3f}, "
            f"where always answering the most frequent digit gives {1 - r.class_frequencies.max():.3f})."
        )
    fixed = [r for r in runs if r.init != "zeros"]
    if fixed:
        summary = "; ".join(
            f"{r.activation} + {r.init}: distinct units "
            f"{'/'.join(str(n) for n in r.distinct_units)}, loss {r.final_loss:.3f}, "
            f"training error {r.training_error:.3f}"
            for r in fixed
        )
        text.append(
            "The fix is one line: weight_init_fn = np.random.randn (the handout's) instead of zeros. Every unit "
            f"starts different, so the symmetry is broken from the first step ({summary})."
        )
        relu = by.get(("ReLU", "randn"))
        if relu is not None:
            text.append(
                "How large the random weights are is a second, separate question. The handout's randn has "
                "standard deviation 1 whatever the fan-in, so with 784 inputs the pre-activations are of size ~10: "
                "Tanh and Sigmoid saturate (they still train, more slowly), and ReLU, which does not saturate, "
                f"multiplies the scale at every layer: the initial logits reach {relu.initial_logit_scale:.0f}, "
                "the first steps are huge, and afterwards "
                f"{'/'.join(str(n) for n in relu.live_units)} units per hidden layer still output anything but 0 "
                f"on the training set (of {'/'.join(str(w) for w in relu.widths)}): dead ReLUs, a network that "
                "again ignores its input. Scaling by sqrt(2 / fan-in) (He initialisation) keeps every layer of "
                "order 1 and trains."
            )
    return "\n\n".join(_wrap(paragraph) for paragraph in text)


def _softmax_gap(run):
    return float(np.abs(run.mean_softmax - run.class_frequencies).max())


def _fmt_norm(value):
    return "0" if value == 0 else f"{value:.2e}"


def _fmt_vector(values):
    return "[" + " ".join(f"{v:.3f}" for v in values) + "]"


def _wrap(paragraph, width=110):
    return textwrap.fill(paragraph, width)


def main():
    print(report(analyse()))


if __name__ == "__main__":
    main()
