"""tools/oracle_training.py: the reference run is the bundled solution's run to rounding, and the extra check's case
catches each listed mistake of a get_training_stats.

The oracle needs PyTorch (torch==2.13.0, CPU): without it those tests skip with a message, except in CI (the
environment variable CI is set), where a missing PyTorch is a failure. The wrong training loops are written here, in
numpy, one deliberate mistake each; the MLP they drive is the bundled solution's.
"""

import ast
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import GRADED_CODE_MODULES, require_torch

from hw1 import MLP, get_training_stats
from mytorch import Identity, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh
from mytorch.data import load_mnist_5k

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
TRAIN_SCRIPT = os.path.join(AUTOGRADER, "train.py")
STORED_CURVES = os.path.join(AUTOGRADER, "references", "public", "training_curves.npz")
for folder in (TOOLS, AUTOGRADER):  # appended: the graded code and the standard library keep their names
    if folder not in sys.path:
        sys.path.append(folder)

import oracle_training
from compare import HYPOTHESES, assert_close, cause_text
from oracle_training import MISTAKES, STATISTICS
from reference_sets import dataset_fingerprint

CURVES_RTOL = 1e-6  # the claim: the reference curves are the solution's to 1e-6 relative, over every epoch


def test_the_oracle_never_imports_graded_code():
    """An oracle that imported mytorch or hw1 could copy their bugs into the references."""
    with open(os.path.join(TOOLS, "oracle_training.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").partition(".")[0])
    assert not imported & GRADED_CODE_MODULES, imported & GRADED_CODE_MODULES


def test_the_bundled_data_loads_as_mytorch_data_loads_it():
    ours, theirs = oracle_training.load_bundled_dataset(), load_mnist_5k()
    for (x, y), (x_expected, y_expected) in zip(ours, theirs):
        assert x.dtype == x_expected.dtype == y.dtype == y_expected.dtype == np.float64
        assert np.array_equal(x, x_expected) and np.array_equal(y, y_expected)


def test_train_script_defaults_and_fingerprint_are_the_reference_runs():
    """train.py and the oracle cannot share code (tools/ is not in the handout): its defaults, its activation names
    and its digest of the bundled data must be the ones the reference run is stored with."""
    program = (
        "import json, sys; sys.argv = ['train.py']; import train; args = train.parse_args([]); "
        "print(json.dumps({'hiddens': args.hiddens, 'activations': train.activation_names(args), "
        "'init': args.init, 'num_bn_layers': args.bn, 'lr': args.lr, 'momentum': args.momentum, "
        "'batch_size': args.batch_size, 'seed': args.seed, 'epochs': args.epochs, 'data': args.data, "
        "'sha256': train.dataset_fingerprint(train.load_dataset(None))}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=AUTOGRADER, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    defaults = json.loads(result.stdout)
    assert defaults.pop("sha256") == dataset_fingerprint(oracle_training.load_bundled_dataset())
    assert defaults.pop("data") is None  # the bundled data
    expected = {
        key: list(value) if isinstance(value, tuple) else value for key, value in oracle_training.HANDOUT_RUN.items()
    }
    assert defaults == expected


def test_the_stored_reference_run_is_the_handout_run_on_the_bundled_data():
    assert os.path.isfile(STORED_CURVES), f"{STORED_CURVES} is missing: python3 tools/make_references.py writes it"
    with np.load(STORED_CURVES, allow_pickle=False) as stored:
        curves = {key: stored[key] for key in stored.files}
    run = oracle_training.HANDOUT_RUN
    assert curves["config.hiddens"].tolist() == list(run["hiddens"])
    assert curves["config.activations"].tolist() == list(run["activations"])
    assert [
        str(curves["config.init"]),
        int(curves["config.num_bn_layers"]),
        float(curves["config.lr"]),
        float(curves["config.momentum"]),
        int(curves["config.batch_size"]),
        int(curves["config.seed"]),
        int(curves["config.epochs"]),
    ] == [run[key] for key in ("init", "num_bn_layers", "lr", "momentum", "batch_size", "seed", "epochs")]
    assert str(curves["config.dataset_sha256"]) == dataset_fingerprint(oracle_training.load_bundled_dataset())
    for name in STATISTICS:
        assert curves[name].shape == (run["epochs"],) and np.all(np.isfinite(curves[name]))


@pytest.mark.slow
def test_reference_curves_match_a_run_of_the_bundled_solution_to_1e_6_over_the_default_epochs(tmp_path):
    """The oracle trains the same maths: PyTorch autograd in float64 against the bundled solution run by train.py
    (flat imports of hw1/ and mytorch/, as a student runs it), every epoch of all four curves."""
    require_torch("compute the oracle's training runs")
    solution = subprocess.Popen(
        [sys.executable, TRAIN_SCRIPT, "--outpath", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # runs meanwhile
    reference = oracle_training.reference_curves(oracle_training.load_bundled_dataset())
    _, stderr = solution.communicate(timeout=600)
    assert solution.returncode == 0, stderr
    with open(tmp_path / "training_stats.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == oracle_training.HANDOUT_RUN["epochs"]
    for name in STATISTICS:
        run = np.array([float(row[name]) for row in rows])
        np.testing.assert_allclose(run, reference[name], rtol=CURVES_RTOL, atol=0, err_msg=name)


# --- the extra check ---------------------------------------------------------------------------------------------


def get_training_stats_with(mistake, mlp, dset, nepochs, batch_size):
    """get_training_stats written again here with one deliberate mistake (see oracle_training.MISTAKES), or one of
    two correct variants: "fresh_index" (a new np.random.permutation every epoch) and None (the solution's way)."""
    (train_x, train_y), (val_x, val_y), _ = dset
    n, n_val = len(train_x), len(val_x)
    losses, errors, val_losses, val_errors = (np.zeros(nepochs) for _ in range(4))
    order = np.arange(n)
    for epoch in range(nepochs):
        if mistake == "shuffled_data_not_index":
            np.random.shuffle(train_x)  # in place, in the caller's arrays: two different permutations
            np.random.shuffle(train_y)
        elif mistake == "fresh_index":
            order = np.random.permutation(n)
        elif mistake != "no_shuffle":
            np.random.shuffle(order)
        mlp.train()
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            x, y = train_x[batch], train_y[batch]
            if mistake != "no_zero_grads":
                mlp.zero_grads()
            mlp.forward(x)
            mlp.backward(y)
            mlp.step()
            losses[epoch] += mlp.total_loss(y)
            errors[epoch] += mlp.error(y)
        if mistake != "validation_in_train_mode":
            mlp.eval()
        if mistake == "train_stats_after_epoch":
            mlp.forward(train_x)
            losses[epoch], errors[epoch] = mlp.total_loss(train_y), mlp.error(train_y)
        mlp.forward(val_x)
        val_losses[epoch], val_errors[epoch] = mlp.total_loss(val_y), mlp.error(val_y)
        mlp.train()
    if mistake != "losses_summed":
        losses, errors, val_losses, val_errors = losses / n, errors / n, val_losses / n_val, val_errors / n_val
    if mistake == "accuracy_not_error":
        errors, val_errors = 1 - errors, 1 - val_errors
    return losses, errors, val_losses, val_errors


@pytest.fixture(scope="module")
def case():
    """The public set's case, as tools/make_references.py generates it."""
    require_torch("compute the oracle's training runs")
    import make_references

    course_case = next(c for c in make_references.course.CASES if c.recipe == "training_stats")
    base = make_references.course.SEEDS["public"]
    return oracle_training.training_stats_case(course_case, base, make_references.Draw(base, course_case.offset))


def run_case(case, get_training_stats_function):
    """The grading protocol: np.random.seed(weight seed), the MLP of the case, then one
    get_training_stats(mlp, dset, 1, batch_size) call per epoch on one dset; {statistic: (epochs,)}."""
    activations = {"Sigmoid": Sigmoid, "Tanh": Tanh, "ReLU": ReLU, "Identity": Identity}
    np.random.seed(int(case["mlp.weight_seed"]))
    mlp = MLP(
        int(case["mlp.input_size"]),
        int(case["mlp.output_size"]),
        case["mlp.hiddens"].tolist(),
        [activations[str(name)]() for name in case["mlp.activations"]],
        lambda n_in, n_out: np.random.randn(n_in, n_out),
        lambda n: np.zeros((1, n)),
        SoftmaxCrossEntropy(),
        float(case["mlp.lr"]),
        momentum=float(case["mlp.momentum"]),
        num_bn_layers=int(case["mlp.num_bn_layers"]),
    )
    dset = (
        (case["train_x"].copy(), case["train_y"].copy()),
        (case["val_x"].copy(), case["val_y"].copy()),
        (case["val_x"].copy(), case["val_y"].copy()),
    )
    results = [get_training_stats_function(mlp, dset, 1, int(case["batch_size"])) for _ in range(int(case["epochs"]))]
    return {name: np.concatenate([np.ravel(result[i]) for result in results]) for i, name in enumerate(STATISTICS)}


def check(case, statistics):
    """The extra check as the grader makes it: assert_close with the stored alternatives, statistic by statistic."""
    for name in STATISTICS:
        prefix = name + ".alt."
        alternatives = {key[len(prefix) :]: value for key, value in case.items() if key.startswith(prefix)}
        assert_close(
            statistics[name],
            case[name],
            f"get_training_stats(...) {name}",
            context={"batch": int(case["batch_size"]), "alternatives": alternatives},
        )


def test_the_bundled_solution_passes_the_extra_check(case):
    check(case, run_case(case, get_training_stats))


@pytest.mark.parametrize("variant", [None, "fresh_index"])
def test_both_correct_ways_of_shuffling_an_index_pass_the_extra_check(case, variant):
    """Shuffling one index again every epoch, or a fresh one: the same batches when each call trains one epoch."""
    check(case, run_case(case, lambda *args: get_training_stats_with(variant, *args)))


def test_every_listed_mistake_has_an_alternative_the_grader_can_tell_apart(case):
    for mistake in MISTAKES:
        assert any(key.endswith(".alt." + mistake) for key in case), mistake


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_reproduced_by_a_wrong_loop_and_diagnosed(case, mistake):
    """The alternative is what a loop with that mistake computes; it differs from the reference beyond the grading
    tolerance, and the grader's message names the mistake."""
    statistics = run_case(case, lambda *args: get_training_stats_with(mistake, *args))
    for name in STATISTICS:
        key = f"{name}.alt.{mistake}"
        expected = case[key] if key in case else case[name]  # no alternative: the mistake does not show there
        np.testing.assert_allclose(statistics[name], expected, rtol=1e-9, atol=1e-12, err_msg=f"{mistake}: {name}")
    with pytest.raises(AssertionError) as failure:
        check(case, statistics)
    hypothesis = next(h for h in HYPOTHESES if h.name == mistake)
    first = next(name for name in STATISTICS if f"{name}.alt.{mistake}" in case)
    assert cause_text(hypothesis, statistics[first], case[first]) in str(failure.value), str(failure.value)


def test_a_missing_zero_grads_cannot_be_diagnosed_because_backward_assigns_the_gradients(case):
    """Linear.backward and BatchNorm.backward set dW, db, dgamma, dbeta with =, so nothing accumulates between
    batches and a loop without zero_grads trains exactly like one with it: no alternative could tell them apart."""
    without = run_case(case, lambda *args: get_training_stats_with("no_zero_grads", *args))
    for name in STATISTICS:
        np.testing.assert_allclose(without[name], case[name], rtol=1e-12, atol=0, err_msg=name)
