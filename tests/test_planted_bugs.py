"""A catalogue of student bugs, planted one at a time into a copy of the solution and graded by the real runner
with the real grading tests: each bug costs the points of the tests that exercise it, leaves the points of
unaffected areas alone, and the diagnosis names the cause wherever compare.HYPOTHESES covers it.

Each bug replaces whole lines, found by a regular expression that must match exactly one line (so a change to
the solution that makes a bug stale fails here loudly, naming the pattern). The runs are independent, so they
start together in a few worker threads when the first test asks for its result; the file takes well under two
minutes on two busy cores.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "autograder", "hw1_autograder", "runner.py")
sys.path.insert(0, os.path.dirname(RUNNER))

from points import GRADED  # noqa: E402

ACTIVATIONS = {"test_sigmoid_forward", "test_sigmoid_derivative", "test_tanh_forward", "test_tanh_derivative",
               "test_relu_forward", "test_relu_derivative"}
LOSS = {"test_softmax_cross_entropy_forward", "test_softmax_cross_entropy_derivative"}
LINEAR = {"test_linear_forward", "test_linear_backward"}
MLP_FORWARD = {"test_linear_classifier_forward", "test_single_hidden_forward", "test_mystery_hidden_forward1",
               "test_mystery_hidden_forward2", "test_mystery_hidden_forward3"}
MLP_BACKWARD = {"test_linear_classifier_backward", "test_single_hidden_backward", "test_mystery_hidden_backward1",
                "test_mystery_hidden_backward2", "test_mystery_hidden_backward3"}
BATCHNORM = {"test_batch_norm_train", "test_batch_norm_inference"}
MCQ = {"test_mcq"}
ALL_MLP = MLP_FORWARD | MLP_BACKWARD | {"test_linear_classifier_step", "test_momentum"} | BATCHNORM
NOT_BATCHNORM = set(GRADED) - BATCHNORM

# id; file; edits: (regex matching one whole line after its indentation, replacement lines, indented like it);
# tests that must score 0; tests that must keep full points; (test whose message must carry the diagnosis, the
# text or texts it must contain) or None; extra runner arguments.
Bug = namedtuple("Bug", "id path edits loses keeps diagnosis args", defaults=((),))
GRAD_W = r"self\.dW = (?!np\.zeros).*"  # Linear.backward's dW, not the constructor's zeros
GRAD_B = r"self\.db = (?!np\.zeros).*"

BUGS = [
    Bug("dW_transposed", "mytorch/linear.py", [(GRAD_W, "self.dW = delta.T @ self.x / delta.shape[0]")],
        {"test_linear_backward", "test_linear_classifier_backward", "test_momentum"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_forward"},
        ("test_linear_backward", "the result is the reference transposed")),
    Bug("dW_summed", "mytorch/linear.py", [(GRAD_W, "self.dW = self.x.T @ delta")],
        {"test_linear_backward", "test_single_hidden_backward", "test_linear_classifier_step"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_forward"},
        ("test_linear_backward", "summed over the batch instead of averaged")),
    Bug("db_without_keepdims", "mytorch/linear.py", [(GRAD_B, "self.db = delta.mean(axis=0)")],
        {"test_linear_backward", "test_linear_classifier_backward"},
        ACTIVATIONS | LOSS | MCQ | MLP_FORWARD | {"test_linear_forward"},
        ("test_linear_backward", "keep the reduced axis")),
    Bug("bias_forgotten", "mytorch/linear.py", [(r"return self\.x @ self\.W \+ self\.b", "return self.x @ self.W")],
        {"test_linear_forward"}, ACTIVATIONS | LOSS | MCQ | MLP_FORWARD, None),
    Bug("loss_derivative_sign", "mytorch/loss.py",
        [(r"return self\.softmax - self\.labels", "return self.labels - self.softmax")],
        {"test_softmax_cross_entropy_derivative"} | MLP_BACKWARD,
        ACTIVATIONS | LINEAR | MCQ | MLP_FORWARD | {"test_softmax_cross_entropy_forward"},
        ("test_softmax_cross_entropy_derivative", "the sign is flipped")),
    Bug("softmax_without_max_shift", "mytorch/loss.py", [(r"shifted = x - .*", "shifted = x")],
        {"test_softmax_cross_entropy_forward"}, ACTIVATIONS | LINEAR | MCQ | MLP_FORWARD,
        ("test_softmax_cross_entropy_forward", "NaN or inf")),
    Bug("softmax_over_the_batch", "mytorch/loss.py",
        [(r"shifted = x - .*", "shifted = x - x.max(axis=0, keepdims=True)"),
         (r"log_softmax = shifted - .*", "log_softmax = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))")],
        {"test_softmax_cross_entropy_forward", "test_softmax_cross_entropy_derivative"},
        ACTIVATIONS | LINEAR | MCQ | MLP_FORWARD,
        ("test_softmax_cross_entropy_forward", "softmax is normalised over the batch")),
    Bug("batchnorm_unbiased_variance", "mytorch/batchnorm.py",
        [(r"mean, var = x\..*", "mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, ddof=1, keepdims=True)")],
        BATCHNORM, NOT_BATCHNORM, ("test_batch_norm_train", "unbiased variance")),
    Bug("batchnorm_eps_1e-5", "mytorch/batchnorm.py", [(r"self\.eps = .*", "self.eps = 1e-5")],
        {"test_batch_norm_train"}, NOT_BATCHNORM, ("test_batch_norm_train", "eps = 1e-5")),
    Bug("batchnorm_alpha_swapped", "mytorch/batchnorm.py",
        [(r"self\.running_mean = self\.alpha .*",
          "self.running_mean = (1 - self.alpha) * self.running_mean + self.alpha * mean"),
         (r"self\.running_var = self\.alpha .*",
          "self.running_var = (1 - self.alpha) * self.running_var + self.alpha * var")],
        {"test_batch_norm_inference"}, NOT_BATCHNORM | {"test_batch_norm_train"},
        ("test_batch_norm_inference", "swap alpha and 1 - alpha")),
    Bug("batchnorm_stats_over_features", "mytorch/batchnorm.py",
        [(r"mean, var = x\..*", "mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)")],
        {"test_batch_norm_train"}, NOT_BATCHNORM, ("test_batch_norm_train", "taken over the features (axis=1)")),
    Bug("batchnorm_dgamma_averaged", "mytorch/batchnorm.py",
        [(r"self\.dgamma = \(delta.*", "self.dgamma = (delta * self.norm).mean(axis=0, keepdims=True)")],
        {"test_batch_norm_train"}, NOT_BATCHNORM, ("test_batch_norm_train", "the batch size times too small")),
    Bug("batchnorm_infinite_loop", "mytorch/batchnorm.py",
        [(r"# BEGIN SOLUTION task 3\.3: BatchNorm\.forward", "while True:\n    pass")], BATCHNORM, NOT_BATCHNORM,
        ("test_batch_norm_train", "timed out: did not finish within 2 s"), ("--time-limit", "2")),
    Bug("batchnorm_aborts_at_import", "mytorch/batchnorm.py", [(r"import numpy as np", "import os\nos.abort()")],
        ALL_MLP, ACTIVATIONS | LOSS | LINEAR | MCQ,
        ("test_batch_norm_train", ("importing mytorch/batchnorm.py crashed the grading process (signal 6, SIGABRT, "
                                   "at mytorch/batchnorm.py:", "in <module>)"))),
    Bug("momentum_ignored", "hw1/hw1.py",
        [(r"layer\.momentum_W = .*", "layer.momentum_W = -self.lr * layer.dW"),
         (r"layer\.momentum_b = .*", "layer.momentum_b = -self.lr * layer.db")],
        {"test_momentum"}, set(GRADED) - {"test_momentum"}, ("test_momentum", "plain SGD although momentum was given")),
    Bug("momentum_dampened", "hw1/hw1.py",
        [(r"layer\.momentum_W = .*",
          "layer.momentum_W = self.momentum * layer.momentum_W - (1 - self.momentum) * self.lr * layer.dW"),
         (r"layer\.momentum_b = .*",
          "layer.momentum_b = self.momentum * layer.momentum_b - (1 - self.momentum) * self.lr * layer.db")],
        {"test_momentum"}, set(GRADED) - {"test_momentum"}, ("test_momentum", "(1 - mu) * lr * g")),
    Bug("batchnorm_params_with_momentum", "hw1/hw1.py",
        [(r"bn\.gamma\b.*", "bn.momentum_gamma = self.momentum * getattr(bn, 'momentum_gamma', 0) - self.lr * bn.dgamma"
                             "\nbn.gamma = bn.gamma + bn.momentum_gamma"),
         (r"bn\.beta\b.*", "bn.momentum_beta = self.momentum * getattr(bn, 'momentum_beta', 0) - self.lr * bn.dbeta"
                            "\nbn.beta = bn.beta + bn.momentum_beta")],
        {"test_extra_batchnorm_params_plain_sgd_with_momentum"}, set(GRADED),
        ("test_extra_batchnorm_params_plain_sgd_with_momentum", "gamma and beta are updated with momentum")),
    Bug("relu_derivative_one_at_zero", "mytorch/activation.py",
        [(r"return \(s > 0\)\.astype\(s\.dtype\)", "return (s >= 0).astype(s.dtype)")],
        {"test_relu_derivative", "test_mystery_hidden_backward3", "test_extra_relu_derivative_at_zero"},
        LOSS | LINEAR | MCQ | MLP_FORWARD | {"test_sigmoid_derivative", "test_tanh_derivative", "test_relu_forward",
                                             "test_mystery_hidden_backward1", "test_single_hidden_backward"}, None),
    Bug("tanh_derivative_wrong", "mytorch/activation.py", [(r"return 1\.0 - s\*\*2", "return 1.0 - s")],
        {"test_tanh_derivative", "test_mystery_hidden_backward1"},
        LOSS | LINEAR | MCQ | MLP_FORWARD | {"test_sigmoid_derivative", "test_relu_derivative",
                                             "test_mystery_hidden_backward3", "test_single_hidden_backward"}, None),
    Bug("torch_imported", "mytorch/activation.py", [(r"import numpy as np", "import numpy as np\nimport torch")],
        ACTIVATIONS | ALL_MLP, LOSS | LINEAR | MCQ,
        ("test_sigmoid_forward", ("mytorch/activation.py:", "imports torch, but graded code may import only numpy"))),
    Bug("import_raises", "mytorch/loss.py",
        [(r"import numpy as np", "import numpy as np\nfrom input_checks import check_logits")],
        LOSS | ALL_MLP, ACTIVATIONS | LINEAR | MCQ,
        ("test_softmax_cross_entropy_forward", "importing mytorch/loss.py failed: ImportError: cannot import name "
                                               "'check_logits'")),
    Bug("mc_wrong_answer", "hw1/mc.py", [(r'return "b".*', 'return "a"')], MCQ, set(GRADED) - MCQ,
        ("test_mcq", "question_1() returned 'a'")),
]


def plant(bug, folder):
    """A copy of the solution's mytorch/ and hw1/ in folder with the bug planted."""
    for package in ("mytorch", "hw1"):
        shutil.copytree(os.path.join(ROOT, package), os.path.join(folder, package),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.png", "*.csv"))
    path = os.path.join(folder, bug.path)
    with open(path) as stream:
        text = stream.read()
    for pattern, replacement in bug.edits:
        line = re.compile(rf"^(?P<indent>[ \t]*)(?:{pattern})[ \t]*$", re.MULTILINE)
        found = len(line.findall(text))
        assert found == 1, f"{bug.id}: {pattern!r} matches {found} lines of {bug.path}; it must match exactly one"
        text = line.sub(lambda match: "\n".join(match["indent"] + new for new in replacement.split("\n")), text)
    with open(path, "w") as stream:
        stream.write(text)


def grade(bug, folder):
    """Plant the bug and grade it: {test name: (score, max_score, output)} from the runner's results.json."""
    plant(bug, folder)
    results = os.path.join(folder, "results.json")
    completed = subprocess.run([sys.executable, RUNNER, "--json", "--gradescope", results, *bug.args],
                               cwd=folder, capture_output=True, text=True, timeout=300)
    scores = json.loads(completed.stdout.strip().splitlines()[-1])["scores"]
    titles = {title: name for name, (title, _) in GRADED.items()}
    graded = {}
    for test in json.load(open(results))["tests"]:
        title = test["name"].removesuffix(" (extra check)")
        name = titles.get(title) or "test_extra_" + title.lower().replace(" ", "_")
        graded[name] = (test["score"], test["max_score"], test["output"])
    assert scores == {name: graded[name][0] for name in GRADED}, "--json and --gradescope disagree"
    return graded, completed


@pytest.fixture(scope="module")
def planted_runs(request, tmp_path_factory):
    """bug id -> future of grade(bug): every selected bug's run starts at once, three at a time."""
    selected = {item.callspec.params["bug"].id for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec") and "bug" in item.callspec.params}
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {bug.id: pool.submit(grade, bug, str(tmp_path_factory.mktemp(bug.id))) for bug in BUGS
               if bug.id in selected}


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
