"""Training statistics on the bundled data: hw1.get_training_stats and autograder/hw1_autograder/train.py (which
test.py, the writeup's name for it, runs): plots with the reference run dashed beside the student's curves, the CSV
with its ref_* columns, the final comparison, and what it says when there is no reference run to compare with.

Tests that look at the plots skip, saying why, when matplotlib is not installed.
"""

import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from hw1 import MLP, get_training_stats
from mytorch import Identity, Sigmoid, SoftmaxCrossEntropy
from mytorch.data import load_mnist_5k

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
TRAIN_SCRIPT = os.path.join(AUTOGRADER, "train.py")
ALIAS = os.path.join(AUTOGRADER, "test.py")
REFERENCE = os.path.join(AUTOGRADER, "references", "public", "training_curves.npz")
STATISTICS = ["train_loss", "train_error", "val_loss", "val_error"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def require_matplotlib():
    pytest.importorskip("matplotlib", reason="the training plots need matplotlib (pip install -e '.[plot]')")


def require_reference():
    assert os.path.isfile(REFERENCE), f"{REFERENCE} is missing: python3 tools/make_references.py writes it"


def run(script, *args, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False
    )


def read_csv(path):
    with open(path) as handle:
        return list(csv.reader(handle))


def student_copy(tmp_path, edit=None):
    """A student's folder: mytorch/, hw1/, data/ and the autograder's train.py and the modules it imports
    (test.py, compare.py, reference_sets.py, course.py), and the public reference run; edit(hw1_source) -> the
    source of its hw1.py."""
    student = tmp_path / "student"
    for folder in ("mytorch", "hw1", "data"):
        shutil.copytree(os.path.join(ROOT, folder), student / folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = student / "autograder" / "hw1_autograder"
    (target / "references" / "public").mkdir(parents=True)
    for name in ("train.py", "test.py", "compare.py", "reference_sets.py", "course.py"):
        shutil.copy(os.path.join(AUTOGRADER, name), target)
    if os.path.isfile(REFERENCE):
        shutil.copy(REFERENCE, target / "references" / "public")
    if edit is not None:
        path = student / "hw1" / "hw1.py"
        source = path.read_text()
        edited = edit(source)
        assert edited != source, "the edit changed nothing: the solution's get_training_stats changed?"
        path.write_text(edited)
    return student, target


def test_get_training_stats_learns_the_embedded_digits_in_two_epochs():
    np.random.seed(0)
    dset = load_mnist_5k()
    # A fan-in-scaled initialisation and a larger step than the handout's, so that two epochs suffice.
    mlp = MLP(
        784,
        10,
        [32],
        [Sigmoid(), Identity()],
        lambda n_in, n_out: np.random.randn(n_in, n_out) / np.sqrt(n_in),
        lambda n: np.zeros((1, n)),
        SoftmaxCrossEntropy(),
        lr=0.5,
        momentum=0.9,
    )
    stats = get_training_stats(mlp, dset, 2, 100)
    assert len(stats) == 4
    for values in stats:
        assert np.shape(values) == (2,) and np.all(np.isfinite(values))
    train_loss, train_error, val_loss, val_error = stats
    assert np.all((0 <= train_error) & (train_error <= 1)) and np.all((0 <= val_error) & (val_error <= 1))
    assert train_loss[1] < train_loss[0]
    assert val_loss[1] < np.log(10)  # the loss of a uniform guess over 10 classes
    assert val_error[1] < 0.5  # chance is 0.9 on these balanced classes


def test_the_writeups_command_writes_plots_csv_with_the_reference_run_and_the_comparison(tmp_path):
    require_matplotlib()
    require_reference()
    result = run(ALIAS, "--outpath", str(tmp_path), "--epochs", "2", "--test")
    assert result.returncode == 0, result.stderr
    assert "epoch   1/2" in result.stdout and "epoch   2/2" in result.stdout and "s left" in result.stdout
    assert "test accuracy" in result.stdout
    assert "reference run: the oracle's run of this network (500 epochs), dashed in the plots" in result.stdout
    for name in STATISTICS + ["training_curves"]:
        with open(tmp_path / f"{name}.png", "rb") as handle:
            assert handle.read(8) == PNG_MAGIC, name
    rows = read_csv(tmp_path / "training_stats.csv")
    assert rows[0] == ["epoch", *STATISTICS, *("ref_" + name for name in STATISTICS)]
    assert [row[0] for row in rows[1:]] == ["1", "2"]
    values = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    with np.load(REFERENCE, allow_pickle=False) as stored:
        assert np.array_equal(values[:, 4:], np.stack([stored[name][:2] for name in STATISTICS], axis=1))
    assert np.all((0 <= values[:, [1, 3]]) & (values[:, [1, 3]] <= 1))
    lines = result.stdout.splitlines()
    table = lines.index(next(line for line in lines if line.startswith("final numbers after epoch 2")))
    assert lines[table].split()[-3:] == ["yours", "oracle", "(PyTorch)"]
    assert [line.split()[:2] for line in lines[table + 1 : table + 5]] == [
        ["training", "loss"],
        ["training", "error"],
        ["validation", "loss"],
        ["validation", "error"],
    ]
    assert lines[table + 5].startswith(
        "verdict: matches the reference run (all four curves, every epoch, within rtol 1e-04"
    )


def test_the_plots_show_the_reference_run(tmp_path):
    """The dashed reference run adds dark pixels to each plot: with it the images differ from the plots without."""
    require_matplotlib()
    require_reference()
    student, target = student_copy(tmp_path)
    assert run(target / "train.py", "--outpath", str(tmp_path / "with"), "--epochs", "3", cwd=student).returncode == 0
    os.remove(target / "references" / "public" / "training_curves.npz")
    assert (
        run(target / "train.py", "--outpath", str(tmp_path / "without"), "--epochs", "3", cwd=student).returncode == 0
    )
    for name in STATISTICS + ["training_curves"]:
        assert (tmp_path / "with" / f"{name}.png").read_bytes() != (tmp_path / "without" / f"{name}.png").read_bytes()


@pytest.mark.parametrize(
    "options, why",
    [
        (["--hiddens", "16"], "--hiddens 16 (reference: 32,32,32)"),
        (["--lr", "0.01", "--init", "xavier"], "--init xavier (reference: randn); --lr 0.01 (reference: 0.001)"),
        (
            ["--activation", "tanh"],
            "--activation Tanh Tanh Tanh Identity (reference: Sigmoid Sigmoid Sigmoid Identity)",
        ),
    ],
)
def test_a_run_unlike_the_reference_run_says_which_setting_differs_and_leaves_ref_columns_empty(tmp_path, options, why):
    require_reference()
    result = run(TRAIN_SCRIPT, "--outpath", str(tmp_path), "--epochs", "1", *options)
    assert result.returncode == 0, result.stderr
    assert (
        "reference run: none to compare with: this run's settings differ from the reference run's: " + why
        in result.stdout
    ), result.stdout
    assert "verdict" not in result.stdout
    rows = read_csv(tmp_path / "training_stats.csv")
    assert rows[0][5:] == ["ref_" + name for name in STATISTICS] and rows[1][5:] == ["", "", "", ""]


def test_other_data_has_no_reference_run(tmp_path):
    require_reference()
    with np.load(os.path.join(ROOT, "data", "mnist_5k.npz"), allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["train_images"] = arrays["train_images"][::-1].copy()  # the same digits in another order
    arrays["train_labels"] = arrays["train_labels"][::-1].copy()
    np.savez(tmp_path / "reversed.npz", **arrays)
    result = run(TRAIN_SCRIPT, "--outpath", str(tmp_path), "--epochs", "1", "--data", str(tmp_path / "reversed.npz"))
    assert result.returncode == 0, result.stderr
    assert "not the bundled digits it was trained on" in result.stdout


def test_a_missing_reference_file_is_named(tmp_path):
    student, target = student_copy(tmp_path)
    os.remove(target / "references" / "public" / "training_curves.npz")
    result = run(target / "train.py", "--outpath", str(tmp_path / "out"), "--epochs", "1", cwd=student)
    assert result.returncode == 0, result.stderr
    assert (
        "reference run: none to compare with: " in result.stdout and "training_curves.npz is missing" in result.stdout
    )


SHUFFLE = "        np.random.shuffle(order)\n"
VALIDATION_AVERAGE = "        validation_losses[epoch] = mlp.total_loss(val_y) / len(val_x)\n"


@pytest.mark.parametrize(
    "edit, first, check",
    [
        (lambda source: source.replace(SHUFFLE, ""), "from epoch 1 on (training loss", "check the training itself"),
        (
            lambda source: source.replace(VALIDATION_AVERAGE, VALIDATION_AVERAGE.replace(" / len(val_x)", "")),
            "from epoch 1 on (validation loss",
            "check the validation pass",
        ),
    ],
)
def test_a_wrong_get_training_stats_differs_from_the_reference_run_and_is_told_where_to_look(
    tmp_path, edit, first, check
):
    require_reference()
    student, target = student_copy(tmp_path, edit)
    result = run(target / "test.py", "--outpath", str(tmp_path / "out"), "--epochs", "2", cwd=student)
    assert result.returncode == 0, result.stderr
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith("verdict: differs from the reference run " + first), verdict
    assert check in verdict, verdict


def test_without_matplotlib_the_csv_is_written_and_the_script_says_plots_need_it(tmp_path):
    blocker = tmp_path / "no_matplotlib"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text('raise ImportError("matplotlib is blocked for this test")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    result = run(TRAIN_SCRIPT, "--outpath", str(tmp_path / "out"), "--epochs", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "train.py: plots need matplotlib: pip install -e '.[plot]' (the CSV was written)." in result.stderr
    assert os.path.isfile(tmp_path / "out" / "training_stats.csv")
    assert not any(name.endswith(".png") for name in os.listdir(tmp_path / "out"))


def test_weight_initialisations_have_their_named_scales():
    """lecun: sqrt(1 / n_in); xavier (Glorot): sqrt(2 / (n_in + n_out)); he: sqrt(2 / n_in); randn: 1."""
    program = (
        "import sys; sys.argv = ['train.py']; import numpy as np, train; np.random.seed(0); "
        "print(' '.join(str(train.INITS[name](784, 216).std()) for name in "
        "('randn', 'lecun', 'xavier', 'he')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=AUTOGRADER, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    scales = [float(value) for value in result.stdout.split()]
    np.testing.assert_allclose(scales, [1, np.sqrt(1 / 784), np.sqrt(2 / 1000), np.sqrt(2 / 784)], rtol=0.01)


def test_training_script_reports_a_bad_data_path(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,3\n")
    result = run(TRAIN_SCRIPT, "--outpath", str(tmp_path), "--data", str(tmp_path / "d.csv"))
    assert result.returncode != 0
    assert "d.csv: rows have 3 columns; expected 785" in result.stderr


def test_training_script_runs_the_code_beside_it_and_names_an_unfinished_task(tmp_path):
    # A student's copy: the script must train *its* hw1 (flat imports from its own root), and a stub that raises
    # NotImplementedError must come back as one line naming the task, under the name it was run by.
    def stub(source):  # a later definition replaces the solution's
        return source + (
            "\n\ndef get_training_stats(mlp, dset, nepochs, batch_size):\n"
            '    raise NotImplementedError("Task 3.6: get_training_stats")\n'
        )

    student, target = student_copy(tmp_path, stub)
    for script in ("test.py", "train.py"):
        result = run(target / script, "--outpath", str(tmp_path / "out"), "--epochs", "1", cwd=student)
        assert result.returncode != 0
        assert result.stderr.strip() == f"{script}: not implemented yet: Task 3.6: get_training_stats"


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
