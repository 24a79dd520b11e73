#!/usr/bin/env python3
"""Generate the autograder's reference outputs with an independent oracle: PyTorch autograd in float64.

    python3 tools/make_references.py                    # write every reference set of course.py
    python3 tools/make_references.py --set server       # one set: references/server/*.npz + MANIFEST.json
    python3 tools/make_references.py --check            # regenerate in memory; exit 1 if a stored array differs
    python3 tools/make_references.py --set public --out DIR   # write somewhere else

What to generate comes from autograder/hw1_autograder/course.py: its CASES (one reference file each, computed by
the recipe of that name in RECIPES below), its SEEDS (one base seed per set: the weight seed, and each case's data
seed RandomState([base, case offset])) and which sets each case ships in. MANIFEST.json records every file's
SHA-256 and each case as generated; the runner refuses a set whose files or seeds no longer match.

The oracle never imports mytorch or hw1: every forward pass is written here in torch, and every gradient comes
from torch.autograd (never from the appendix's hand formulas), so a reference cannot inherit a bug of the code it
grades. The oracle does follow the handout's conventions, which differ from PyTorch's defaults:

    loss            per-example softmax cross-entropy; the gradient fed back is that of the SUM over the batch
                    (softmax - y per example, not divided by the batch size)
    Linear          dW, db = d(summed loss)/dW / batch, i.e. batch means
    BatchNorm       eps 1e-8, alpha 0.9, biased (1/m) batch variance for normalising and for running_var,
                    running = alpha * running + (1 - alpha) * batch statistic; eval mode uses running statistics;
                    dgamma, dbeta = d(summed loss)/dgamma, dbeta (sums)
    step            v = momentum * v - lr * dW;  W += v  (same for b); gamma, beta: plain SGD on their sums

Initial weights are drawn with numpy exactly as the graded code draws them: np.random.seed(set's base seed),
then for each layer, input to output, W = np.random.randn(in, out) and b = zeros((1, out)) (the graded
bias_init_fn draws nothing), so the student's model and the oracle start from identical weights. Inputs come from
the case's own seed and are stored next to the outputs, so the student's code sees exactly the oracle's inputs.

Next to a reference `key`, an array `key.alt.NAME` holds the same quantity recomputed under a known WRONG
convention NAME (see ALTERNATIVES): the grading tests hand these to compare.assert_close, whose diagnosis then
names the mistake ("would match with BatchNorm eps 1e-5").

Files are written deterministically (fixed zip timestamps, sorted keys), so regenerating unchanged references
leaves the working tree clean. They load with np.load(path, allow_pickle=False).
"""

import argparse
import dataclasses
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
REFERENCE_DIR = os.path.join(AUTOGRADER, "references")
sys.path.insert(0, AUTOGRADER)  # course.py (the cases and seeds) and programs.answer_hash; never student code

import course  # noqa: E402
from programs import LETTERS, answer_hash  # noqa: E402
from reference_sets import dataset_fingerprint  # noqa: E402

LR, MOMENTUM, BATCH = course.LR, course.MOMENTUM, course.BATCH
INPUT_SIZE, CLASSES = course.INPUT_SIZE, course.CLASSES
GRADING_RTOL, GRADING_ATOL = 1e-4, 1e-8  # compare.assert_close's defaults
CHECK_RTOL = 1e-12  # --check: allowed difference relative to the array's largest magnitude
CHECK_ATOL = 1e-12  # ... plus this much absolute: some arrays are rounding noise (~1e-13) around an exact zero,
#                     e.g. db of a Linear layer before BatchNorm, and noise differs between CPUs' BLAS kernels

DTYPE = torch.float64


# --- conventions ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Conventions:
    """How the oracle computes. The defaults are the handout's; each ALTERNATIVE changes one thing."""

    eps: float = 1e-8
    alpha: float = 0.9
    alpha_swapped: bool = False  # running = (1 - alpha) * running + alpha * batch_stat
    unbiased_normalise: bool = False  # normalise with the m/(m-1) variance
    unbiased_running: bool = False  # keep running_var with the m/(m-1) variance (PyTorch's choice)
    stats_axis: int = 0  # BatchNorm statistics over this axis (1 = over the features: wrong)
    softmax_axis: int = 1  # softmax over this axis (0 = over the batch: wrong)
    momentum_form: str = "handout"  # "handout" | "ignored" | "dampened" | "nesterov" | "stale"
    skip_derivative_layer: int = -1  # this layer's activation derivative left out of backward (-1: none)
    bn_params_momentum: bool = False  # gamma/beta stepped with momentum instead of plain SGD
    average_dW: bool = True  # Linear dW/db as batch means (False: sums)


HANDOUT = Conventions()

# Wrong conventions, named as in compare.HYPOTHESES. "nesterov" is PyTorch's form of Nesterov momentum written in
# the handout's variables: v = mu * v - lr * g;  W += mu * v - lr * g.
ALTERNATIVES = {
    "bn_eps_1e-5": Conventions(eps=1e-5),
    "bn_unbiased_var": Conventions(unbiased_normalise=True, unbiased_running=True),
    "bn_alpha_swapped": Conventions(alpha_swapped=True),
    "bn_stats_wrong_axis": Conventions(stats_axis=1),
    "softmax_wrong_axis": Conventions(softmax_axis=0),
    "momentum_ignored": Conventions(momentum_form="ignored"),
    "momentum_dampened": Conventions(momentum_form="dampened"),
    "momentum_nesterov": Conventions(momentum_form="nesterov"),
    "momentum_stale_velocity": Conventions(momentum_form="stale"),
    "bn_params_momentum": Conventions(bn_params_momentum=True),
    "dW_not_averaged": Conventions(average_dW=False),
}
# After training, a model that normalised with the unbiased variance has different weights too, so its eval
# outputs are explained by either flavour; at inference we test PyTorch's flavour, the one that passes training:
# normalise with the biased variance, keep running_var with the unbiased one.
PYTORCH_RUNNING_VAR = Conventions(unbiased_running=True)


def tensor(array):
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=DTYPE)


def numpy(t):
    return t.detach().cpu().numpy().astype(np.float64, copy=True)


# --- inputs --------------------------------------------------------------------------------------------------------


class Draw:
    """Every input of one case from one stream: RandomState([base seed of the set, the case's offset])."""

    def __init__(self, base, offset):
        self.rng = np.random.RandomState([base, offset])

    def mnist_like(self, batch, density=0.06):
        """(batch, 784) images shaped like MNIST digits: values k/255 in [0, 1], non-zero only in the central
        20 x 20 box (MNIST centres each digit there). density 0.06 (about 24 lit pixels) keeps x @ W with
        W ~ randn of order a few units, so sigmoid and tanh are not saturated and their gradients carry
        information."""
        images = np.zeros((batch, 28, 28))
        lit = self.rng.rand(batch, 20, 20) < density
        images[:, 4:24, 4:24] = lit * self.rng.randint(1, 256, size=(batch, 20, 20)) / 255.0
        return images.reshape(batch, INPUT_SIZE)

    def near_duplicates(self, batch):
        """(batch, 784) copies of one MNIST-like image, each with a few pixels changed by 1 or 2 levels (of 255).

        The first layer's outputs then vary over the batch by ~1e-2, a batch variance ~1e-4: small enough that
        BatchNorm's eps (1e-8 vs PyTorch's 1e-5) and the variance's divisor (m vs m - 1) visibly change the
        result."""
        base = self.mnist_like(1, density=0.25)[0]
        box = [r * 28 + c for r in range(4, 24) for c in range(4, 24)]
        images = np.tile(base, (batch, 1))
        for row in images:
            pixels = self.rng.choice(box, size=6, replace=False)
            row[pixels] = np.clip(row[pixels] + self.rng.choice([-2, -1, 1, 2], size=6) / 255.0, 0.0, 1.0)
        return images

    def one_hot(self, batch, classes=CLASSES):
        return np.eye(classes)[self.rng.randint(0, classes, size=batch)]


def handout_weights(sizes, weight_seed):
    """The graded code's initial weights: np.random.seed(weight_seed), then W = randn(in, out) per layer."""
    draw = np.random.RandomState(weight_seed)  # the same Mersenne Twister stream as np.random.seed(weight_seed)
    return [draw.randn(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]


# --- the oracle ----------------------------------------------------------------------------------------------------

ACTIVATIONS = {"Identity": lambda z: z, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "ReLU": torch.relu}


def cross_entropy(logits, labels, conv=HANDOUT):
    """Per-example loss -sum_j y_ij log softmax(x_i)_j, shape (batch,), softmax over conv.softmax_axis.
    The gradient of its SUM w.r.t. the logits is softmax - y per example: the handout's criterion.derivative()."""
    return -(labels * torch.log_softmax(logits, dim=conv.softmax_axis)).sum(dim=1)


class OracleMLP:
    """The handout's MLP in torch: Linear -> BatchNorm (first num_bn_layers) -> activation, per layer."""

    def __init__(
        self,
        input_size,
        output_size,
        hiddens,
        activations,
        weight_seed,
        lr=LR,
        momentum=0.0,
        num_bn_layers=0,
        conv=HANDOUT,
    ):
        sizes = [input_size] + list(hiddens) + [output_size]
        assert len(activations) == len(sizes) - 1
        self.activations, self.lr, self.momentum, self.conv = activations, lr, momentum, conv
        # How the grading worker builds the same model with the student's hw1.MLP (programs.build_mlp).
        self.architecture = {
            "mlp.input_size": np.array(input_size),
            "mlp.output_size": np.array(output_size),
            "mlp.hiddens": np.array(list(hiddens), dtype=np.int64),
            "mlp.activations": np.array(activations, dtype="<U8"),
            "mlp.lr": np.array(lr),
            "mlp.momentum": np.array(momentum),
            "mlp.num_bn_layers": np.array(num_bn_layers),
            "mlp.weight_seed": np.array(weight_seed),
        }
        self.W = [tensor(w) for w in handout_weights(sizes, weight_seed)]
        self.b = [torch.zeros(1, n, dtype=DTYPE) for n in sizes[1:]]
        bn_sizes = sizes[1 : num_bn_layers + 1]
        self.gamma = [torch.ones(1, n, dtype=DTYPE) for n in bn_sizes]
        self.beta = [torch.zeros(1, n, dtype=DTYPE) for n in bn_sizes]
        self.running_mean = [torch.zeros(1, n, dtype=DTYPE) for n in bn_sizes]
        self.running_var = [torch.ones(1, n, dtype=DTYPE) for n in bn_sizes]
        self.velocity = {name: [torch.zeros_like(p) for p in params] for name, params in self.parameters().items()}

    def parameters(self):
        return {"W": self.W, "b": self.b, "gamma": self.gamma, "beta": self.beta}

    def forward(self, x, train=True):
        """x: (batch, input_size) -> (batch, output_size). Training mode updates the running statistics."""
        h = x
        for i, activation in enumerate(self.activations):
            z = h @ self.W[i] + self.b[i]
            if i < len(self.gamma):
                z = self.batchnorm(i, z, train)
            h = ACTIVATIONS[activation](z)
            if i == self.conv.skip_derivative_layer:  # forward unchanged, derivative 1: the mistake's gradient
                h = z + (h - z).detach()
        return h

    def batchnorm(self, i, z, train):
        """BatchNorm number i on z: (batch, features); training mode also updates its running statistics."""
        conv = self.conv
        if train:
            m = z.shape[conv.stats_axis]
            mean = z.mean(dim=conv.stats_axis, keepdim=True)
            var = ((z - mean) ** 2).mean(dim=conv.stats_axis, keepdim=True)  # biased: divide by m
            unbiased = var * m / (m - 1)
            keep, new = (1 - conv.alpha, conv.alpha) if conv.alpha_swapped else (conv.alpha, 1 - conv.alpha)
            with torch.no_grad():  # running statistics are bookkeeping, not part of the graph
                running_var = unbiased if conv.unbiased_running else var
                self.running_mean[i] = keep * self.running_mean[i] + new * mean
                self.running_var[i] = keep * self.running_var[i] + new * running_var
            if conv.unbiased_normalise:
                var = unbiased
        else:
            mean, var = self.running_mean[i], self.running_var[i]
        return self.gamma[i] * (z - mean) / torch.sqrt(var + conv.eps) + self.beta[i]

    def gradients(self, x, y):
        """One training forward and backward: (output, {"W": [dW...], "b": [...], "gamma": [...], "beta": [...]})
        with the handout's scaling: Linear gradients are batch means, BatchNorm gradients are sums."""
        params = self.parameters()
        for group in params.values():
            for p in group:
                p.requires_grad_(True)
        output = self.forward(tensor(x), train=True)
        flat = [p for group in params.values() for p in group]
        summed = torch.autograd.grad(cross_entropy(output, tensor(y), self.conv).sum(), flat)
        for p in flat:
            p.requires_grad_(False)
        batch = x.shape[0]
        grads, position = {}, 0
        for name, group in params.items():
            scale = batch if name in ("W", "b") and self.conv.average_dW else 1
            grads[name] = [g / scale for g in summed[position : position + len(group)]]
            position += len(group)
        return output.detach(), grads

    def step(self, grads):
        """Update every parameter from grads (as returned by gradients)."""
        conv, mu, lr = self.conv, self.momentum, self.lr
        with torch.no_grad():
            for name, group in self.parameters().items():
                is_bn = name in ("gamma", "beta")
                for i, (p, g) in enumerate(zip(group, grads[name])):
                    if is_bn and not conv.bn_params_momentum:
                        group[i] = p - lr * g  # the handout: BatchNorm parameters take plain SGD steps
                        continue
                    v = self.velocity[name][i]
                    if conv.momentum_form == "ignored":
                        group[i] = p - lr * g
                    elif conv.momentum_form == "dampened":
                        self.velocity[name][i] = mu * v - (1 - mu) * lr * g
                        group[i] = p + self.velocity[name][i]
                    elif conv.momentum_form == "stale":  # W moves by the old velocity, then v is updated
                        group[i] = p + v
                        self.velocity[name][i] = mu * v - lr * g
                    elif conv.momentum_form == "nesterov":
                        self.velocity[name][i] = mu * v - lr * g
                        group[i] = p + mu * self.velocity[name][i] - lr * g
                    else:
                        self.velocity[name][i] = mu * v - lr * g
                        group[i] = p + self.velocity[name][i]

    def train_steps(self, batches):
        """zero_grads, forward, backward, step for each (x, y), as the grading tests drive hw1.MLP."""
        for x, y in batches:
            self.step(self.gradients(x, y)[1])


# --- the recipes: one function per course.py recipe, returning {key: array} -----------------------------------------


def with_alternatives(arrays, compute, names, only=None, overrides=None):
    """Add compute(conv) under each wrong convention NAME as "key.alt.NAME" (for keys in `only`, if given).

    conv is ALTERNATIVES[NAME] unless overrides gives another. Alternatives that the grader's tolerance cannot tell
    from the reference, or of another shape, are left out: they would diagnose nothing."""
    for name in names:
        conv = (overrides or {}).get(name, ALTERNATIVES.get(name))
        for key, value in compute(conv).items():
            reference = arrays[key]
            if only is not None and key not in only or value.shape != reference.shape:
                continue
            if not np.allclose(value, reference, rtol=GRADING_RTOL, atol=GRADING_ATOL):
                arrays[f"{key}.alt.{name}"] = value
    return arrays


def skipped_derivatives(case):
    """{"activation_derivative_skipped[i]": conventions} for every layer whose activation has a derivative != 1."""
    return {
        f"activation_derivative_skipped[{i}]": Conventions(skip_derivative_layer=i)
        for i, name in enumerate(case.activations)
        if name != "Identity"
    }


def multiple_choice(case, base, draw):
    """Multiple-choice answers, stored as salted hashes (local feedback, not secrecy: four letters are easy to try).
    Question 1 is worked out by numpy itself; 2-5 are the handout's answer key."""
    a = np.arange(60.0).reshape(3, 4, 5)
    shapes = (np.sum(a, axis=0, keepdims=True).shape, np.sum(a, axis=0).shape)
    options = {
        "a": ((3, 4, 5), (4, 5)),
        "b": ((1, 4, 5), (4, 5)),
        "c": ((3, 4, 5), (1, 4, 5)),
        "d": ((3, 4, 5), (3, 4, 5)),
    }
    (question_1,) = [letter for letter, option in options.items() if option == shapes]
    # 2: statistics per neuron over the batch; 3: running statistics are needed at inference; 4: "Yes";
    # 5: z = f(x @ w + b) is the only form where the shapes work and the bias is inside the activation.
    answers = [question_1, "a", "a", "a", "c"]
    assert all(answer in LETTERS for answer in answers)
    salt = f"hw1-{base}"
    return {
        "questions": np.array(len(answers)),
        "salt": np.array(salt),
        "hashes": np.array([answer_hash(salt, number, letter) for number, letter in enumerate(answers, 1)]),
    }


def activations(case, base, draw):
    """Element-wise activations on moderate inputs (graded) and on extremes including exact zeros (extra)."""
    z = draw.rng.randn(BATCH, 32) * 3
    extreme = np.array([[-1000.0, -710.0, -40.0, -1.0, -1e-300, 0.0, 1e-300, 1.0, 40.0, 710.0, 1000.0]])
    arrays = {"z": z, "extreme.z": extreme}
    for prefix, inputs in (("", z), ("extreme.", extreme)):
        for name in ("Sigmoid", "Tanh", "ReLU"):
            zt = tensor(inputs).requires_grad_(True)
            out = ACTIVATIONS[name](zt)
            # d out / d z element-wise: the Jacobian is diagonal, so the gradient of out.sum() is its diagonal
            (derivative,) = torch.autograd.grad(out.sum(), zt)
            arrays[f"{prefix}{name.lower()}.forward"] = numpy(out)
            arrays[f"{prefix}{name.lower()}.derivative"] = numpy(derivative)
    return arrays


def loss(case, base, draw):
    """Softmax cross-entropy: per-example loss and d(summed loss)/d logits = softmax - y. The graded logits are
    randn x 3, as in the course's tests; the extra check's logits are +-1e4 (exp overflows past 709: the
    appendix's log-sum-exp trick is needed)."""
    logits = draw.rng.randn(BATCH, CLASSES) * 3
    labels = draw.one_hot(BATCH)
    extreme_logits = draw.rng.choice([-1e4, 0.0, 1e4], size=(4, CLASSES))
    extreme_labels = np.eye(CLASSES)[[0, 3, 5, 9]]

    def compute(x, y, conv):
        xt = tensor(x).requires_grad_(True)
        losses = cross_entropy(xt, tensor(y), conv)
        (derivative,) = torch.autograd.grad(losses.sum(), xt)
        return numpy(losses), numpy(derivative)

    forward, derivative = compute(logits, labels, HANDOUT)
    extreme_forward, extreme_derivative = compute(extreme_logits, extreme_labels, HANDOUT)
    arrays = {
        "logits": logits,
        "labels": labels,
        "forward": forward,
        "derivative": derivative,
        "extreme.logits": extreme_logits,
        "extreme.labels": extreme_labels,
        "extreme.forward": extreme_forward,
        "extreme.derivative": extreme_derivative,
    }
    return with_alternatives(
        arrays, lambda conv: dict(zip(("forward", "derivative"), compute(logits, labels, conv))), ["softmax_wrong_axis"]
    )


def linear(case, base, draw):
    """Linear(64, 16) alone: W from the set's weight seed, a non-zero bias (so a forgotten `+ b` shows), a random
    upstream gradient delta. The oracle's loss is sum(out * delta), whose gradient w.r.t. out is delta."""
    in_feature, out_feature = 64, 16
    (W,) = handout_weights([in_feature, out_feature], base)
    b = draw.rng.randn(1, out_feature)
    x = draw.rng.randn(BATCH, in_feature)
    delta = draw.rng.randn(BATCH, out_feature)

    def compute(conv):
        xt, Wt, bt = (tensor(a).requires_grad_(True) for a in (x, W, b))
        out = xt @ Wt + bt
        dx, dW, db = torch.autograd.grad((out * tensor(delta)).sum(), (xt, Wt, bt))
        scale = BATCH if conv.average_dW else 1
        return {"forward": numpy(out), "dW": numpy(dW / scale), "db": numpy(db / scale), "dx": numpy(dx)}

    arrays = {"x": x, "b": b, "delta": delta, "weight_seed": np.array(base), **compute(HANDOUT)}
    return with_alternatives(arrays, compute, ["dW_not_averaged"], only=("dW", "db"))


GRADIENT_NAMES = {"W": "dW", "b": "db", "gamma": "dgamma", "beta": "dbeta"}


def layer_arrays(prefix, groups, gradients=False):
    """{PREFIX + "linear_layers[i].W": array, ..., PREFIX + "bn_layers[i].gamma": ...} from groups as returned by
    OracleMLP.parameters() or .gradients() (then named dW, db, dgamma, dbeta, like the graded attributes)."""
    arrays = {}
    for name, group in groups.items():
        layers = "bn_layers" if name in ("gamma", "beta") else "linear_layers"
        for i, value in enumerate(group):
            arrays[f"{prefix}{layers}[{i}].{GRADIENT_NAMES[name] if gradients else name}"] = numpy(value)
    return arrays


def mlp(case, base, conv=HANDOUT, input_size=INPUT_SIZE):
    """The case's network as course.py declares it, weights from the set's base seed."""
    return OracleMLP(
        input_size,
        CLASSES,
        case.hiddens,
        case.activations,
        base,
        momentum=case.options.get("momentum", 0.0),
        num_bn_layers=case.options.get("num_bn_layers", 0),
        conv=conv,
    )


def mlp_forward_backward(case, base, draw):
    """forward(x) and the gradients of one backward, from the initial weights (momentum 0, no BatchNorm)."""
    x, y = draw.mnist_like(BATCH), draw.one_hot(BATCH)

    def compute(conv):
        output, grads = mlp(case, base, conv).gradients(x, y)
        return {"forward": numpy(output), **layer_arrays("", grads, gradients=True)}

    arrays = {**mlp(case, base).architecture, "x": x, "y": y, **compute(HANDOUT)}
    derivative_alternatives = skipped_derivatives(case)
    return with_alternatives(arrays, compute, list(derivative_alternatives), overrides=derivative_alternatives)


def mlp_classifier(case, base, draw):
    """MLP(784, 10, [], [Identity]): forward, one backward, and the weights after 5 plain SGD steps on (x, y)."""
    arrays = mlp_forward_backward(case, base, draw)
    x, y = arrays["x"], arrays["y"]

    def compute(conv):
        model = mlp(case, base, conv)
        _, grads = model.gradients(x, y)
        model.train_steps([(x, y)] * 5)
        return {**layer_arrays("", grads, gradients=True), **layer_arrays("step.", model.parameters())}

    arrays.update(compute(HANDOUT))
    return with_alternatives(arrays, compute, ["dW_not_averaged"])


def batchnorm_train(case, base, draw):
    """The BatchNorm MLP. First a near-duplicate batch (x, y): the training-mode forward, the gradients of one
    backward, gamma/beta after one step (plain SGD). Then, with gamma != 1 and beta != 0 (which hide a forgotten
    gamma or beta), a second MNIST-like batch: the forward and the gradients again (keys "second.*")."""
    x, y = draw.near_duplicates(BATCH), draw.one_hot(BATCH)
    x2, y2 = draw.mnist_like(BATCH), draw.one_hot(BATCH)

    def compute(conv):
        model = mlp(case, base, conv)
        output, grads = model.gradients(x, y)
        model.step(grads)
        arrays = {
            "forward": numpy(output),
            **layer_arrays("", grads, gradients=True),
            **layer_arrays("step.", {"gamma": model.gamma, "beta": model.beta}),
        }
        output, grads = model.gradients(x2, y2)
        return {**arrays, "second.forward": numpy(output), **layer_arrays("second.", grads, gradients=True)}

    arrays = {**mlp(case, base).architecture, "x": x, "y": y, "second.x": x2, "second.y": y2, **compute(HANDOUT)}
    # dW of the first layer is 784 x 64: its alternatives would triple the file; the checks compare the later
    # layers first (backprop order), which already carry every diagnosis.
    large = ("linear_layers[0].dW", "second.linear_layers[0].dW")
    return with_alternatives(
        arrays,
        compute,
        ["bn_eps_1e-5", "bn_unbiased_var", "bn_stats_wrong_axis"],
        only=[key for key in arrays if key not in large],
    )


def batchnorm_inference(case, base, draw):
    """The BatchNorm MLP trained 3 steps (3 different batches of 20), then evaluated in eval mode on 40 new
    examples: running statistics and eval outputs. Alternatives: swapped alpha, PyTorch's unbiased running_var."""
    x, y = draw.mnist_like(3 * BATCH), draw.one_hot(3 * BATCH)
    x_eval = draw.mnist_like(2 * BATCH)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]

    def compute(conv):
        model = mlp(case, base, conv)
        model.train_steps(batches)
        return {
            "bn_layers[0].running_mean": numpy(model.running_mean[0]),
            "bn_layers[0].running_var": numpy(model.running_var[0]),
            "eval.forward": numpy(model.forward(tensor(x_eval), train=False)),
        }

    arrays = {
        **mlp(case, base).architecture,
        "x": x,
        "y": y,
        "x_eval": x_eval,
        "batch": np.array(BATCH),
        **compute(HANDOUT),
    }
    return with_alternatives(
        arrays,
        compute,
        ["bn_alpha_swapped", "bn_unbiased_var", "bn_eps_1e-5"],
        overrides={"bn_unbiased_var": PYTORCH_RUNNING_VAR},
    )


def momentum(case, base, draw):
    """The momentum MLP: 5 steps on (x, y), then every W and b and the forward output ("step.forward")."""
    x, y = draw.mnist_like(BATCH), draw.one_hot(BATCH)

    def compute(conv):
        model = mlp(case, base, conv)
        model.train_steps([(x, y)] * 5)
        return {**layer_arrays("step.", model.parameters()), "step.forward": numpy(model.forward(tensor(x)))}

    arrays = {**mlp(case, base).architecture, "x": x, "y": y, **compute(HANDOUT)}
    small = [key for key in arrays if key.startswith("step.") and key != "step.linear_layers[0].W"]
    return with_alternatives(
        arrays,
        compute,
        ["momentum_ignored", "momentum_dampened", "momentum_nesterov", "momentum_stale_velocity", "dW_not_averaged"],
        only=small,
    )


def batchnorm_layer(case, base, draw):
    """Linear(12, 8) -> BatchNorm(8) alone, with a non-trivial gamma and beta (so a forgotten gamma in backward
    shows) and features of very different scales: columns 0-3 of the Linear output vary by ~1e-3 across the batch,
    so eps matters. Loss sum(out * delta). Then an eval forward on x_eval."""
    rng = draw.rng
    batch, in_feature, out_feature = 16, 12, 8
    x = rng.randn(batch, in_feature)
    x[:, :3] *= 1e-3
    (W,) = handout_weights([in_feature, out_feature], base)
    W[3:, :4] = 0.0  # outputs 0-3 see only the small inputs 0-2
    b = rng.randn(1, out_feature)
    gamma, beta = 1 + 0.5 * rng.randn(1, out_feature), rng.randn(1, out_feature)
    delta = rng.randn(batch, out_feature)
    x_eval = rng.randn(5, in_feature)

    def compute(conv):
        model = OracleMLP(in_feature, out_feature, [], ["Identity"], base, num_bn_layers=1, conv=conv)
        params = [tensor(a).requires_grad_(True) for a in (x, W, b, gamma, beta)]
        xt, Wt, bt, gt, bet = params
        model.W[0], model.b[0], model.gamma[0], model.beta[0] = Wt, bt, gt, bet
        z = xt @ Wt + bt
        out = model.batchnorm(0, z, train=True)
        dz, dx, dW, db, dgamma, dbeta = torch.autograd.grad((out * tensor(delta)).sum(), [z] + params)
        scale = batch if conv.average_dW else 1
        arrays = {
            "bn.forward": numpy(out),
            "bn.dx": numpy(dz),
            "bn.dgamma": numpy(dgamma),
            "bn.dbeta": numpy(dbeta),
            "linear.dW": numpy(dW / scale),
            "linear.db": numpy(db / scale),
            "linear.dx": numpy(dx),
            "bn.running_mean": numpy(model.running_mean[0]),
            "bn.running_var": numpy(model.running_var[0]),
        }
        if model.running_mean[0].shape == (1, out_feature):  # statistics over the wrong axis do not broadcast
            arrays["bn.eval_forward"] = numpy(model.batchnorm(0, tensor(x_eval) @ Wt + bt, train=False))
        return arrays

    arrays = {
        "x": x,
        "W": W,
        "b": b,
        "gamma": gamma,
        "beta": beta,
        "delta": delta,
        "x_eval": x_eval,
        **compute(HANDOUT),
    }
    return with_alternatives(
        arrays, compute, ["bn_eps_1e-5", "bn_unbiased_var", "bn_alpha_swapped", "bn_stats_wrong_axis"]
    )


def batchnorm_momentum(case, base, draw):
    """MLP(64, 10, [32], [Sigmoid, Identity], momentum, num_bn_layers=1), 3 steps on one batch: gamma and beta
    must take plain SGD steps while W and b use momentum."""
    x = draw.mnist_like(BATCH)[:, 300:364] * 3  # 64 features from the digit box, scaled to a useful range
    y = draw.one_hot(BATCH)

    def model(conv):
        return OracleMLP(
            64, CLASSES, [32], ["Sigmoid", "Identity"], base, momentum=MOMENTUM, num_bn_layers=1, conv=conv
        )

    def compute(conv):
        trained = model(conv)
        trained.train_steps([(x, y)] * 3)
        return layer_arrays("step.", trained.parameters())

    arrays = {**model(HANDOUT).architecture, "x": x, "y": y, **compute(HANDOUT)}
    return with_alternatives(arrays, compute, ["bn_params_momentum"])


def training_stats(case, base, draw):
    """get_training_stats on a small seeded subset for 2 epochs (tools/oracle_training.py)."""
    import oracle_training

    return oracle_training.training_stats_case(case, base, draw)


RECIPES = {
    function.__name__: function
    for function in (
        multiple_choice,
        activations,
        loss,
        linear,
        mlp_classifier,
        mlp_forward_backward,
        batchnorm_train,
        batchnorm_inference,
        momentum,
        batchnorm_layer,
        batchnorm_momentum,
        training_stats,
    )
}


def generate(set_name, reuse_from=None):
    """{file name: {key: array}} for every case of course.py in the set, computed afresh (the training curves may
    be reused from reuse_from, see training_curves)."""
    torch.manual_seed(0)  # nothing here draws from torch; fixed anyway so that nothing could vary silently
    torch.set_num_threads(1)  # one thread: reductions always add in the same order
    torch.use_deterministic_algorithms(True)
    base = course.SEEDS[set_name]
    generated = {}
    for case in course.CASES:
        if set_name in case.sets:
            arrays = RECIPES[case.recipe](case, base, Draw(base, case.offset))
            generated[case.name + ".npz"] = {key: np.asarray(value) for key, value in arrays.items()}
    if set_name == "public":  # the reference run train.py draws beside the student's curves (not graded)
        generated["training_curves.npz"] = training_curves(reuse_from)
    return generated


def training_curves(reuse_from=None):
    """The oracle's run of train.py's defaults on the bundled data (17 s). When writing, the stored run in
    reuse_from is kept if it was made with the same settings and data: it depends on neither course.py's cases
    nor its seeds, so regenerating a semester's references need not retrain it. --check always retrains."""
    import oracle_training

    path = os.path.join(reuse_from, "training_curves.npz") if reuse_from else None
    if path and os.path.isfile(path):
        stored = read_npz(path)
        (train_x, _), (val_x, _) = oracle_training.load_bundled_dataset(ROOT)[:2]
        expected = {
            **{f"config.{key}": value for key, value in oracle_training.HANDOUT_RUN.items()},
            "config.dataset_sha256": dataset_fingerprint(oracle_training.load_bundled_dataset(ROOT)),
            "config.train_examples": len(train_x),
            "config.val_examples": len(val_x),
        }
        if all(
            key in stored and np.asarray(stored[key]).tolist() == np.asarray(value).tolist()
            for key, value in expected.items()
        ):
            return stored
    return oracle_training.reference_curves_file(ROOT)


# --- files ---------------------------------------------------------------------------------------------------------


def npz_bytes(arrays):
    """np.savez_compressed's format, byte-for-byte reproducible: sorted keys and a fixed timestamp in the zip."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return stream.getvalue()


def read_npz(path):
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def manifest_json(set_name, files):
    """MANIFEST.json: the set, its base seed, every file's SHA-256 and every case as generated (the runner checks
    all of it against course.py before grading)."""
    from reference_sets import case_record

    base = course.SEEDS[set_name]
    return {
        "set": set_name,
        "seed": base,
        "generator": "tools/make_references.py (PyTorch autograd, float64)",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "cases": {case.name: case_record(case, base) for case in course.CASES if set_name in case.sets},
    }


def manifest_md(set_name, references):
    base = course.SEEDS[set_name]
    lines = [
        f"# Reference outputs: the {set_name} set",
        "",
        f"Generated by `python3 tools/make_references.py --set {set_name}` (PyTorch autograd in float64, or "
        "closed-form maths) from `autograder/hw1_autograder/course.py`; checked by `--check`. Do not edit: "
        "regenerate. MANIFEST.json holds every file's SHA-256; the runner refuses files that do not match.",
        "",
        f"- Initial weights: `np.random.seed({base})`, then `W = np.random.randn(in, out)` and "
        "`b = np.zeros((1, out))` per layer, input to output (the graded code's `weight_init_fn`/`bias_init_fn`).",
        f"- Inputs: each case draws from `np.random.RandomState([{base}, offset])` (offsets in course.py). "
        f"Training: lr {LR}; momentum {MOMENTUM} where stated, else 0; batch {BATCH} unless the shape says "
        "otherwise. MNIST-like inputs: 784 = 28 x 28 pixels, values k/255, lit only in the central 20 x 20 box; "
        "labels one-hot over 10 classes.",
        "- Conventions (the handout's): per-example loss, gradient softmax - y; Linear dW/db batch means; "
        "BatchNorm eps 1e-8, alpha 0.9, biased variance, dgamma/dbeta sums; "
        "`v = momentum * v - lr * dW; W += v`; gamma/beta plain SGD.",
        "- `KEY.alt.NAME`: KEY recomputed under the wrong convention NAME (compare.py's hypothesis of that name).",
        "",
    ]
    cases = {case.name + ".npz": case for case in course.CASES}
    for name, arrays in references.items():
        case = cases.get(name)
        title = case.describe() if case else "the reference run of train.py (not graded)"
        doc = " ".join((RECIPES[case.recipe].__doc__ or "").split()) if case else ""
        tests = ", ".join(test.name for test in course.TESTS if case and test.case == case.name)
        lines += [
            f"## {name}: {title}",
            "",
            doc,
            "",
            f"Read by: {tests or 'train.py'}.",
            "",
            "| key | shape and dtype |",
            "|---|---|",
        ]
        lines += [f"| `{key}` | {value.shape} {value.dtype} |" for key, value in sorted(arrays.items())]
        lines.append("")
    return "\n".join(lines)


def set_directory(out, set_name):
    return out or os.path.join(REFERENCE_DIR, set_name)


def write(set_name, directory):
    references = generate(set_name, reuse_from=directory)
    files = {name: npz_bytes(arrays) for name, arrays in references.items()}
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        if old.endswith(".npz") and old not in files:
            os.remove(os.path.join(directory, old))
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as stream:
            stream.write(data)
    with open(os.path.join(directory, "MANIFEST.json"), "w", encoding="utf-8") as stream:
        json.dump(manifest_json(set_name, files), stream, indent=1, sort_keys=True)
        stream.write("\n")
    with open(os.path.join(directory, "MANIFEST.md"), "w", encoding="utf-8") as stream:
        stream.write(manifest_md(set_name, references))
    total = sum(len(data) for data in files.values())
    print(
        f"wrote the {set_name} set: {len(files)} reference files ({total / 1e6:.2f} MB), MANIFEST.json and "
        f"MANIFEST.md to {directory}"
    )


def differences(stored, fresh):
    """Problems between two {key: array} dicts: missing/extra keys, dtype or shape changes, and values differing
    by more than CHECK_RTOL relative to the array's largest magnitude (+ CHECK_ATOL)."""
    problems = [f"key {key!r} is missing (regenerate)" for key in sorted(set(fresh) - set(stored))]
    problems += [f"key {key!r} is stored but no longer generated" for key in sorted(set(stored) - set(fresh))]
    for key in sorted(set(stored) & set(fresh)):
        old, new = stored[key], fresh[key]
        if old.dtype != new.dtype or old.shape != new.shape:
            problems.append(f"key {key!r}: stored {old.dtype}{old.shape}, generated {new.dtype}{new.shape}")
        elif old.dtype.kind != "f":
            if not np.array_equal(old, new):
                problems.append(f"key {key!r}: stored {old.tolist()}, generated {new.tolist()}")
        else:
            error = float(np.max(np.abs(old - new), initial=0.0))
            scale = float(np.max(np.abs(new), initial=0.0))
            if not error <= CHECK_RTOL * scale + CHECK_ATOL:  # `not <=` also catches NaN
                problems.append(
                    f"key {key!r}: max difference {error:.3g} (array scale {scale:.3g}, allowed "
                    f"{CHECK_RTOL:g} relative + {CHECK_ATOL:g})"
                )
    return problems


def check(set_name, directory):
    """Regenerate in memory and compare with the stored set; returns the process exit code."""
    references, failures = generate(set_name), []
    for name, fresh in references.items():
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            failures.append(f"{path}: missing")
            continue
        failures += [f"{path}: {problem}" for problem in differences(read_npz(path), fresh)]
    extra = (
        sorted(set(f for f in os.listdir(directory) if f.endswith(".npz")) - set(references))
        if os.path.isdir(directory)
        else []
    )
    failures += [f"{os.path.join(directory, name)}: not generated by this script (delete it?)" for name in extra]
    stored_files = {}
    for name in references:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as stream:
                stored_files[name] = stream.read()
    manifest_path = os.path.join(directory, "MANIFEST.json")
    try:
        with open(manifest_path, encoding="utf-8") as stream:
            stored_manifest = json.load(stream)
    except (OSError, ValueError):
        stored_manifest = None
    if stored_manifest != manifest_json(set_name, stored_files):
        failures.append(f"{manifest_path}: out of date (hashes, seeds or cases differ from the files and course.py)")
    if failures:
        print(
            f"make_references --check FAILED: the stored {set_name} references differ from the oracle's:",
            file=sys.stderr,
        )
        for failure in failures:
            print("  " + failure, file=sys.stderr)
        print(
            f"If the change is intended, regenerate with `python3 tools/make_references.py --set {set_name}` and "
            "review the diff.",
            file=sys.stderr,
        )
        return 1
    print(
        f"make_references --check: all {len(references)} {set_name} reference files match the oracle "
        f"(torch {torch.__version__}, numpy {np.__version__})."
    )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set",
        choices=course.REFERENCE_SETS,
        action="append",
        help="the reference set(s) to write or check (default: all of course.SEEDS)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="the set's base seed; must equal course.SEEDS (the one place for seeds): change it there, then regenerate",
    )
    parser.add_argument("--check", action="store_true", help="regenerate in memory and compare with stored files")
    parser.add_argument("--out", default=None, help="directory of the set (default: references/SET)")
    args = parser.parse_args(argv)
    sets = args.set or list(course.REFERENCE_SETS)
    if args.out and len(sets) != 1:
        parser.error("--out needs exactly one --set")
    if args.seed is not None and any(args.seed != course.SEEDS[name] for name in sets):
        parser.error(
            f"--seed {args.seed}: course.py declares {[course.SEEDS[name] for name in sets]} for "
            f"{sets}. Seeds live in course.py only (SEEDS): change them there and regenerate, so that the "
            "grader, the references and the handout agree."
        )
    status = 0
    for set_name in sets:
        directory = set_directory(args.out, set_name)
        status |= check(set_name, directory) if args.check else (write(set_name, directory) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
