"""Training statistics on the embedded data: hw1.get_training_stats and autograder/hw1_autograder/test.py."""

import csv
import os
import shutil
import subprocess
import sys

import numpy as np

from hw1 import MLP, get_training_stats
from mytorch import Identity, Sigmoid, SoftmaxCrossEntropy
from mytorch.data import load_mnist_5k


def test_get_training_stats_learns_the_embedded_digits_in_two_epochs():
    np.random.seed(0)
    dset = load_mnist_5k()
    # A fan-in-scaled initialisation and a larger step than the handout's, so that two epochs suffice.
    mlp = MLP(784, 10, [32], [Sigmoid(), Identity()], lambda n_in, n_out: np.random.randn(n_in, n_out) / np.sqrt(n_in),
              lambda n: np.zeros((1, n)), SoftmaxCrossEntropy(), lr=0.5, momentum=0.9)
    stats = get_training_stats(mlp, dset, 2, 100)
    assert len(stats) == 4
    for values in stats:
        assert np.shape(values) == (2,) and np.all(np.isfinite(values))
    train_loss, train_error, val_loss, val_error = stats
    assert np.all((0 <= train_error) & (train_error <= 1)) and np.all((0 <= val_error) & (val_error <= 1))
    assert train_loss[1] < train_loss[0]
    assert val_loss[1] < np.log(10)  # the loss of a uniform guess over 10 classes
    assert val_error[1] < 0.5  # chance is 0.9 on these balanced classes


def read_rows(path):
    with open(path) as handle:
        return list(csv.reader(handle))


def test_training_script_writes_plots_and_csv(root, tmp_path):
    script = os.path.join(root, "autograder", "hw1_autograder", "test.py")
    result = subprocess.run([sys.executable, script, "--outpath", str(tmp_path), "--epochs", "2", "--test"],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "epoch   1/2" in result.stdout and "epoch   2/2" in result.stdout and "s left" in result.stdout
    assert "test accuracy" in result.stdout
    for name in ("train_loss", "train_error", "val_loss", "val_error", "training_curves"):
        with open(tmp_path / f"{name}.png", "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n", name
    rows = read_rows(tmp_path / "training_stats.csv")
    assert rows[0] == ["epoch", "train_loss", "train_error", "val_loss", "val_error"]
    assert [row[0] for row in rows[1:]] == ["1", "2"]
    values = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert np.all(np.isfinite(values))
    assert np.all((0 <= values[:, [1, 3]]) & (values[:, [1, 3]] <= 1))


def test_training_script_reports_a_bad_data_path(root, tmp_path):
    script = os.path.join(root, "autograder", "hw1_autograder", "test.py")
    (tmp_path / "d.csv").write_text("1,2,3\n")
    result = subprocess.run([sys.executable, script, "--outpath", str(tmp_path), "--data", str(tmp_path / "d.csv")],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "d.csv: rows have 3 columns; expected 785" in result.stderr


def test_training_script_runs_the_code_beside_it_and_names_an_unfinished_task(root, tmp_path):
    # A student's copy: the script must train *its* hw1 (flat imports from its own root), and a stub that raises
    # NotImplementedError must come back as one line naming the task.
    student = tmp_path / "student"
    for folder in ("mytorch", "hw1", "data"):
        shutil.copytree(os.path.join(root, folder), student / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (student / "autograder" / "hw1_autograder").mkdir(parents=True)
    shutil.copy(os.path.join(root, "autograder", "hw1_autograder", "test.py"), student / "autograder" / "hw1_autograder")
    with open(student / "hw1" / "hw1.py", "a") as handle:  # a later definition replaces the solution's
        handle.write('\n\ndef get_training_stats(mlp, dset, nepochs, batch_size):\n'
                     '    raise NotImplementedError("Task 3.6: get_training_stats")\n')
    result = subprocess.run([sys.executable, str(student / "autograder" / "hw1_autograder" / "test.py"),
                             "--outpath", str(tmp_path / "out"), "--epochs", "1"],
                            cwd=student, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip() == "test.py: not implemented yet: Task 3.6: get_training_stats"
