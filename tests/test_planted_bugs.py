"""A catalogue of student bugs, planted one at a time into a copy of the solution and graded by the real runner,
worker and references: each bug costs the points of the tests that exercise it, leaves the points of unaffected
areas alone, and the diagnosis names the cause wherever compare.HYPOTHESES covers it.

Each bug names the solution block it replaces by its task marker (`# BEGIN SOLUTION task 3.4.2: Linear.backward`)
and gives that block's whole buggy body, so a refactor of the solution's lines cannot make it stale: only renaming
a task does, and then plant() fails naming the marker. A few bugs act on the whole file instead (an import that
crashes, a torch import). The runs are independent, so they start together in a few worker threads when the first
test asks for its result.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "autograder", "hw1_autograder", "runner.py")
sys.path.insert(0, os.path.dirname(RUNNER))

import course  # noqa: E402

pytestmark = pytest.mark.slow

GRADED = {test.name for test in course.GRADED}


def graded_tests_of(*cases, programs=None):
    """The graded tests that read these cases (and, if given, run these programs)."""
    return {t.name for t in course.GRADED if t.case in cases and (programs is None or t.program in programs)}


ACTIVATIONS = graded_tests_of("activations")
LOSS = graded_tests_of("loss")
LINEAR = graded_tests_of("linear")
MCQ = graded_tests_of("mc")
MLP_CASES = ("linear_classifier", "single_hidden", "mystery_1", "mystery_2", "mystery_3")
MLP_FORWARD = graded_tests_of(*MLP_CASES, programs={"mlp_forward"})
MLP_BACKWARD = graded_tests_of(*MLP_CASES, programs={"mlp_backward"})
BATCHNORM = graded_tests_of("batchnorm_train", "batchnorm_inference")
ALL_MLP = graded_tests_of(*MLP_CASES, "momentum") | BATCHNORM
NOT_BATCHNORM = GRADED - BATCHNORM

# id; file; the task marker of the block it replaces ("3.4.2: Linear.backward"), or None to prepend to the file;
# the replacement (the block's body, dedented); tests that must score 0; tests that must keep full points;
# (test whose message must carry the diagnosis, the text or texts it must contain) or None; runner arguments.
Bug = namedtuple("Bug", "id path block body loses keeps diagnosis args", defaults=((),))

LINEAR_BACKWARD = "3.4.2: Linear.backward"
BN_FORWARD = "3.3: BatchNorm.forward"
BN_BACKWARD = "3.3: BatchNorm.backward"
STEP = "3.5.3: MLP.step (momentum)"
SOFTMAX = "3.2.1: SoftmaxCrossEntropy.forward"
BN_FORWARD_BODY = """
    if eval:
        mean, var = self.running_mean, self.running_var
    else:
        mean, var = {statistics}
        self.running_mean = {running_mean}
        self.running_var = {running_var}
    self.inv_std = 1.0 / np.sqrt(var + {eps})
    self.norm = (x - mean) * self.inv_std
    return self.gamma * self.norm + self.beta
"""


def bn_forward(
    statistics="x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)",
    running_mean="self.alpha * self.running_mean + (1 - self.alpha) * mean",
    running_var="self.alpha * self.running_var + (1 - self.alpha) * var",
    eps="self.eps",
):
    return BN_FORWARD_BODY.format(statistics=statistics, running_mean=running_mean, running_var=running_var, eps=eps)


def linear_backward(dW, db):
    return f"""
    self.dW = {dW}
    self.db = {db}
    return delta @ self.W.T if input_grad else None
    """


def step(
    update_W, update_b, bn=("bn.gamma = bn.gamma - self.lr * bn.dgamma", "bn.beta = bn.beta - self.lr * bn.dbeta")
):
    body = "for layer in self.linear_layers:\n" + "".join(f"    {line}\n" for line in update_W + update_b)
    return body + "for bn in self.bn_layers:\n" + "".join(f"    {line}\n" for line in bn)


HANDOUT_W = (
    "layer.momentum_W = self.momentum * layer.momentum_W - self.lr * layer.dW",
    "layer.W = layer.W + layer.momentum_W",
)
HANDOUT_B = (
    "layer.momentum_b = self.momentum * layer.momentum_b - self.lr * layer.db",
    "layer.b = layer.b + layer.momentum_b",
)

BUGS = [
    Bug(
        "dW_transposed",
        "mytorch/linear.py",
        LINEAR_BACKWARD,
        linear_backward("delta.T @ self.x / delta.shape[0]", "delta.mean(axis=0, keepdims=True)"),
        {"test_linear_layer_backward", "test_linear_classifier_backward", "test_momentum"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_layer_forward"},
        ("test_linear_layer_backward", "the result is the reference transposed"),
    ),
    Bug(
        "dW_summed",
        "mytorch/linear.py",
        LINEAR_BACKWARD,
        linear_backward("self.x.T @ delta", "delta.sum(axis=0, keepdims=True)"),
        {"test_linear_layer_backward", "test_single_hidden_backward", "test_linear_classifier_step"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_layer_forward"},
        ("test_linear_layer_backward", "summed over the batch instead of averaged"),
    ),
    Bug(
        "db_without_keepdims",
        "mytorch/linear.py",
        LINEAR_BACKWARD,
        linear_backward("self.x.T @ delta / delta.shape[0]", "delta.mean(axis=0)"),
        {"test_linear_layer_backward", "test_linear_classifier_backward"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_layer_forward"},
        ("test_linear_layer_backward", "keep the reduced axis"),
    ),
    Bug(
        "bias_forgotten",
        "mytorch/linear.py",
        "3.4.1: Linear.forward",
        "return self.x @ self.W",
        {"test_linear_layer_forward"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD,
        None,
    ),
    Bug(
        "float32_forward",
        "mytorch/linear.py",
        "3.4.1: Linear.forward",
        "return (self.x @ self.W + self.b).astype(np.float32)",
        {"test_batch_norm_train"},
        ACTIVATIONS | LOSS | MCQ | {"test_linear_layer_forward"},  # within rtol alone
        ("test_batch_norm_train", "the result is float32"),
    ),
    Bug(
        "loss_derivative_sign",
        "mytorch/loss.py",
        "3.2.2: SoftmaxCrossEntropy.derivative",
        "return self.labels - self.softmax",
        {"test_softmax_cross_entropy_derivative"} | MLP_BACKWARD,
        ACTIVATIONS | LINEAR | MCQ | MLP_FORWARD | {"test_softmax_cross_entropy_forward"},
        ("test_softmax_cross_entropy_derivative", "the sign is flipped"),
    ),
    Bug(
        "softmax_without_max_shift",
        "mytorch/loss.py",
        SOFTMAX,
        """
        self.softmax = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        self.loss = -(y * np.log(self.softmax)).sum(axis=1)
        return self.loss
        """,
        {"test_extra_softmax_cross_entropy_extreme_logits"},
        GRADED,  # the graded logits are randn x 3: no overflow
        ("test_extra_softmax_cross_entropy_extreme_logits", "Subtract each row's maximum"),
    ),
    Bug(
        "softmax_over_the_batch",
        "mytorch/loss.py",
        SOFTMAX,
        """
        shifted = x - x.max(axis=0, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        self.softmax = np.exp(log_softmax)
        self.loss = -(y * log_softmax).sum(axis=1)
        return self.loss
        """,
        {"test_softmax_cross_entropy_forward", "test_softmax_cross_entropy_derivative"},
        ACTIVATIONS | LINEAR | MCQ | MLP_FORWARD,
        ("test_softmax_cross_entropy_forward", "softmax is normalised over the batch"),
    ),
    Bug(
        "batchnorm_unbiased_variance",
        "mytorch/batchnorm.py",
        BN_FORWARD,
        bn_forward(statistics="x.mean(axis=0, keepdims=True), x.var(axis=0, ddof=1, keepdims=True)"),
        BATCHNORM,
        NOT_BATCHNORM,
        ("test_batch_norm_train", "unbiased variance"),
    ),
    Bug(
        "batchnorm_eps_1e-5",
        "mytorch/batchnorm.py",
        BN_FORWARD,
        bn_forward(eps="1e-5"),
        {"test_batch_norm_train"},
        NOT_BATCHNORM,
        ("test_batch_norm_train", "eps = 1e-5"),
    ),
    Bug(
        "batchnorm_alpha_swapped",
        "mytorch/batchnorm.py",
        BN_FORWARD,
        bn_forward(
            running_mean="(1 - self.alpha) * self.running_mean + self.alpha * mean",
            running_var="(1 - self.alpha) * self.running_var + self.alpha * var",
        ),
        {"test_batch_norm_inference"},
        NOT_BATCHNORM | {"test_batch_norm_train"},
        ("test_batch_norm_inference", "swap alpha and 1 - alpha"),
    ),
    Bug(
        "batchnorm_stats_over_features",
        "mytorch/batchnorm.py",
        BN_FORWARD,
        bn_forward(statistics="x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)"),
        {"test_batch_norm_train"},
        NOT_BATCHNORM,
        ("test_batch_norm_train", "taken over the features (axis=1)"),
    ),
    Bug(
        "batchnorm_dgamma_averaged",
        "mytorch/batchnorm.py",
        BN_BACKWARD,
        """
        self.dbeta = delta.sum(axis=0, keepdims=True)
        self.dgamma = (delta * self.norm).mean(axis=0, keepdims=True)
        m = delta.shape[0]
        return self.gamma * self.inv_std * (delta - self.dbeta / m - self.norm * self.dgamma)
        """,
        {"test_batch_norm_train"},
        NOT_BATCHNORM,
        ("test_batch_norm_train", "the batch size times too small"),
    ),
    Bug(
        "batchnorm_infinite_loop",
        "mytorch/batchnorm.py",
        BN_FORWARD,
        "while True:\n    pass",
        BATCHNORM,
        NOT_BATCHNORM,
        ("test_batch_norm_train", "timed out: did not finish within 2 s"),
        ("--time-limit", "2"),
    ),
    Bug(
        "batchnorm_aborts_at_import",
        "mytorch/batchnorm.py",
        None,
        "import os\nos.abort()",
        ALL_MLP,
        ACTIVATIONS | LOSS | LINEAR | MCQ,
        (
            "test_batch_norm_train",
            (
                "importing mytorch/batchnorm.py crashed the grading process (signal 6, SIGABRT, "
                "at mytorch/batchnorm.py:2",
                "in <module>)",
            ),
        ),
    ),
    Bug(
        "momentum_ignored",
        "hw1/hw1.py",
        STEP,
        step(("layer.W = layer.W - self.lr * layer.dW",), ("layer.b = layer.b - self.lr * layer.db",)),
        {"test_momentum"},
        GRADED - {"test_momentum"},
        ("test_momentum", "plain SGD although momentum was given"),
    ),
    Bug(
        "momentum_dampened",
        "hw1/hw1.py",
        STEP,
        step(
            (
                "layer.momentum_W = self.momentum * layer.momentum_W - (1 - self.momentum) * self.lr * layer.dW",
                "layer.W = layer.W + layer.momentum_W",
            ),
            (
                "layer.momentum_b = self.momentum * layer.momentum_b - (1 - self.momentum) * self.lr * layer.db",
                "layer.b = layer.b + layer.momentum_b",
            ),
        ),
        {"test_momentum"},
        GRADED - {"test_momentum"},
        ("test_momentum", "(1 - mu) * lr * g"),
    ),
    Bug(
        "momentum_W_before_velocity",
        "hw1/hw1.py",
        STEP,
        step(HANDOUT_W[::-1], HANDOUT_B[::-1]),
        {"test_momentum", "test_linear_classifier_step"} | BATCHNORM,  # every test that takes a step
        ACTIVATIONS | LOSS | LINEAR | MCQ | MLP_FORWARD | MLP_BACKWARD,
        ("test_momentum", "moved by the previous step's velocity"),
    ),
    Bug(
        "batchnorm_params_with_momentum",
        "hw1/hw1.py",
        STEP,
        step(
            HANDOUT_W,
            HANDOUT_B,
            bn=(
                "bn.momentum_gamma = self.momentum * getattr(bn, 'momentum_gamma', 0) - self.lr * bn.dgamma",
                "bn.gamma = bn.gamma + bn.momentum_gamma",
                "bn.momentum_beta = self.momentum * getattr(bn, 'momentum_beta', 0) - self.lr * bn.dbeta",
                "bn.beta = bn.beta + bn.momentum_beta",
            ),
        ),
        {"test_extra_batchnorm_params_plain_sgd_with_momentum"},
        GRADED,
        ("test_extra_batchnorm_params_plain_sgd_with_momentum", "gamma and beta are updated with momentum"),
    ),
    Bug(
        "activation_derivative_left_out_of_one_layer",
        "hw1/hw1.py",
        "3.5: MLP.backward",
        """
        self.criterion.forward(self.output, labels)
        delta = self.criterion.derivative()
        for i in reversed(range(self.nlayers)):
            if i != self.nlayers - 2:  # the last hidden layer's derivative is forgotten
                delta = delta * self.activations[i].derivative()
            if i < self.num_bn_layers:
                delta = self.bn_layers[i].backward(delta)
            delta = self.linear_layers[i].backward(delta, input_grad=i > 0)
        """,
        {"test_single_hidden_backward", "test_mystery_hidden_backward1", "test_mystery_hidden_backward2"},
        ACTIVATIONS | LOSS | LINEAR | MCQ | MLP_FORWARD | {"test_linear_classifier_backward"},
        ("test_mystery_hidden_backward1", "the derivative of mlp.activations[1] is left out of the backward pass"),
    ),
    Bug(
        "relu_derivative_one_at_zero",
        "mytorch/activation.py",
        "3.1.6: ReLU.derivative",
        "return (s >= 0).astype(s.dtype)",  # s is ReLU's output, so s >= 0 holds everywhere: all ones
        {"test_relu_derivative", "test_mystery_hidden_backward3", "test_extra_relu_derivative_at_zero"},
        LOSS
        | LINEAR
        | MCQ
        | MLP_FORWARD
        | {
            "test_sigmoid_derivative",
            "test_tanh_derivative",
            "test_relu_forward",
            "test_mystery_hidden_backward1",
            "test_single_hidden_backward",
        },
        ("test_extra_relu_derivative_at_zero", "use z > 0, not z >= 0"),
    ),
    Bug(
        "tanh_derivative_wrong",
        "mytorch/activation.py",
        "3.1.4: Tanh.derivative",
        "return 1.0 - s",
        {"test_tanh_derivative", "test_mystery_hidden_backward1"},
        LOSS
        | LINEAR
        | MCQ
        | MLP_FORWARD
        | {
            "test_sigmoid_derivative",
            "test_relu_derivative",
            "test_mystery_hidden_backward3",
            "test_single_hidden_backward",
        },
        None,
    ),
    Bug(
        "torch_imported",
        "mytorch/activation.py",
        None,
        "import torch",
        ACTIVATIONS | ALL_MLP,
        LOSS | LINEAR | MCQ,
        ("test_sigmoid_forward", ("mytorch/activation.py:1", "imports torch, but graded code may import only numpy")),
    ),
    Bug(
        "import_raises",
        "mytorch/loss.py",
        None,
        "from input_checks import check_logits",
        LOSS | ALL_MLP,
        ACTIVATIONS | LINEAR | MCQ,
        (
            "test_softmax_cross_entropy_forward",
            "importing mytorch/loss.py failed: ImportError: cannot import name 'check_logits'",
        ),
    ),
    Bug(
        "no_shuffle",
        "hw1/hw1.py",
        "3.6: get_training_stats",
        """
        for epoch in range(nepochs):
            mlp.train()
            for start in range(0, len(train_x), batch_size):
                x, y = train_x[start:start + batch_size], train_y[start:start + batch_size]
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
        """,
        {"test_extra_training_statistics"},
        GRADED,
        ("test_extra_training_statistics", "in the stored order"),
    ),
    Bug(
        "mc_wrong_answer",
        "hw1/mc.py",
        "2.1: multiple choice question 1",
        'return "a"',
        MCQ,
        GRADED - MCQ,
        ("test_mcq", "question_1() returned 'a'"),
    ),
    Bug(
        "mc_malformed_answer",
        "hw1/mc.py",
        "2.1: multiple choice question 1",
        'return "(B)"',
        MCQ,
        GRADED - MCQ,
        ("test_mcq", "malformed"),
    ),
]


def plant(bug, folder):
    """A copy of the solution's mytorch/ and hw1/ in folder with the bug planted."""
    for package in course.SUBMISSION_FOLDERS:
        shutil.copytree(
            os.path.join(ROOT, package),
            os.path.join(folder, package),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.png", "*.csv"),
        )
    path = os.path.join(folder, bug.path)
    with open(path) as stream:
        lines = stream.read().splitlines()
    body = textwrap.dedent(bug.body).strip("\n").splitlines()
    if bug.block is None:
        lines = body + lines
    else:
        marker = f"# BEGIN SOLUTION task {bug.block}"
        starts = [i for i, line in enumerate(lines) if line.strip() == marker]
        assert len(starts) == 1, f"{bug.id}: {marker!r} marks {len(starts)} blocks of {bug.path}; it must mark one"
        start = starts[0]
        end = next(i for i in range(start, len(lines)) if lines[i].strip() == "# END SOLUTION")
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        lines[start : end + 1] = [indent + line if line else line for line in body]
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")


def grade(bug, folder):
    """Plant the bug and grade it: {test name: (score, max_score, output)} from the runner's results.json."""
    plant(bug, folder)
    results = os.path.join(folder, "results.json")
    completed = subprocess.run(
        [sys.executable, RUNNER, "--json", "--gradescope", results, *bug.args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    scores = json.loads(completed.stdout.strip().splitlines()[-1])["scores"]
    names = {test.problem: test.name for test in course.GRADED}
    names.update({test.title + " (extra check)": test.name for test in course.EXTRAS})
    graded = {
        names[test["name"]]: (test["score"], test["max_score"], test["output"])
        for test in json.load(open(results))["tests"]
    }
    assert scores == {test.problem: graded[test.name][0] for test in course.GRADED}, "--json and --gradescope disagree"
    return graded, completed


@pytest.fixture(scope="module")
def planted_runs(request, tmp_path_factory):
    """bug id -> future of grade(bug): every selected bug's run starts at once, three at a time."""
    selected = {
        item.callspec.params["bug"].id
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec") and "bug" in item.callspec.params
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {
            bug.id: pool.submit(grade, bug, str(tmp_path_factory.mktemp(bug.id))) for bug in BUGS if bug.id in selected
        }


def test_catalogue_has_at_least_15_bugs_with_distinct_ids():
    assert len(BUGS) >= 15 and len({bug.id for bug in BUGS}) == len(BUGS)


@pytest.mark.parametrize("bug", BUGS, ids=[bug.id for bug in BUGS])
def test_planted_bug_loses_points_in_the_right_tests(bug, planted_runs):
    graded, completed = planted_runs[bug.id].result()
    report = f"\n--- runner output ---\n{completed.stdout[-4000:]}"
    for name in bug.loses:
        assert name in graded, f"{name} is missing from the results{report}"
        assert graded[name][0] == 0 and graded[name][2] != "passed", f"{bug.id} did not fail {name}{report}"
    for name in bug.keeps:
        assert graded[name][0] == graded[name][1], f"{bug.id} cost points in unrelated {name}: {graded[name][2]}"
    if bug.diagnosis:
        name, texts = bug.diagnosis
        for text in (texts,) if isinstance(texts, str) else texts:
            assert text in graded[name][2], f"{name}'s message does not say {text!r}:\n{graded[name][2]}{report}"
    assert "Traceback" not in completed.stdout
    assert completed.returncode == (0 if all(graded[n][0] == graded[n][1] for n in GRADED) else 1)


def test_every_bug_names_a_block_that_exists_exactly_once(tmp_path):
    """A renamed task makes its bugs stale: this fails first, naming the marker."""
    for bug in BUGS:
        plant(bug, str(tmp_path / bug.id))
