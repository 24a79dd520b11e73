"""Both import styles work from the repository root, and objects cross between them (duck typing, no isinstance).

The handout's flat style runs in fresh interpreters (python3 -c and python3 script.py), as a student or the local
autograder would run it: importing it here would mix its module names ('hw1', 'loss', ...) into this process.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
from helpers import make_bias_init, make_weight_init, one_hot

# Trains a small MLP with BatchNorm and momentum on a separable problem, using only the handout's flat imports.
FLAT_TRAINING = textwrap.dedent("""
    import sys
    sys.path.append('mytorch'); sys.path.append('hw1')
    import numpy as np
    import activation, loss, linear, batchnorm, hw1, mc
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4))
    y = np.eye(3)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0)]
    mlp = hw1.MLP(4, 3, [8], [activation.Sigmoid(), activation.Identity()],
                  lambda n_in, n_out: rng.standard_normal((n_in, n_out)), lambda n: np.zeros((1, n)),
                  loss.SoftmaxCrossEntropy(), lr=0.5, momentum=0.5, num_bn_layers=1)
    losses = []
    for _ in range(30):
        mlp.zero_grads(); mlp.forward(x); mlp.backward(y); mlp.step()
        losses.append(mlp.total_loss(y))
    assert losses[-1] < 0.5 * losses[0], losses
    assert linear.Linear(2, 3, lambda n_in, n_out: np.ones((n_in, n_out)), np.zeros).b.shape == (1, 3)
    assert batchnorm.BatchNorm(3).running_var.shape == (1, 3)
    print('flat import trained', losses[0], '->', losses[-1], 'mc', mc.question_1(), 'hw1 from', hw1.__file__)
""")

# The flat hw1.MLP (hw1/hw1.py as a module) fed objects from the mytorch package, and the package's gradcheck and
# the flat fold_batchnorm run on the result.
CROSS_PATHS = textwrap.dedent("""
    import os, sys
    sys.path.append('mytorch'); sys.path.append('hw1'); sys.path.append('.')
    import numpy as np
    import activation, hw1, mytorch
    assert os.path.join('hw1', 'hw1.py') in hw1.__file__, hw1.__file__  # the flat module, not the package
    assert mytorch.Sigmoid is not activation.Sigmoid  # two distinct classes: this really crosses import paths
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4))
    y = np.eye(3)[rng.integers(0, 3, 8)]
    mlp = hw1.MLP(4, 3, [5, 4], [mytorch.Sigmoid(), mytorch.activation.Tanh(), mytorch.Identity()],
                  lambda n_in, n_out: rng.standard_normal((n_in, n_out)), lambda n: np.zeros((1, n)),
                  mytorch.SoftmaxCrossEntropy(), lr=0.1, momentum=0.9, num_bn_layers=2)
    mytorch.gradcheck(mlp, x, y)
    for _ in range(3):
        mlp.zero_grads(); mlp.forward(x); mlp.backward(y); mlp.step()
    mytorch.gradcheck(activation.Tanh(), x)  # a flat object checked by the package's checker
    mlp.eval()
    folded = hw1.fold_batchnorm(mlp)
    assert np.allclose(folded.forward(x), mlp.forward(x), rtol=1e-9, atol=1e-12)
    print('cross import OK')
""")


def run_python(args, cwd):
    """Run a fresh python3 (this interpreter) with RuntimeWarnings as errors; returns the completed process."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_ran(process, marker):
    assert process.returncode == 0, f"stdout:\n{process.stdout}\nstderr:\n{process.stderr}"
    assert marker in process.stdout


def test_flat_imports_build_and_train_an_mlp_with_python_dash_c(root):
    assert_ran(run_python(["-c", FLAT_TRAINING], cwd=root), "flat import trained")


def test_flat_imports_build_and_train_an_mlp_from_a_script_file(root, tmp_path):
    script = tmp_path / "script.py"  # outside the repository: only the working directory makes 'mytorch' resolve
    script.write_text(FLAT_TRAINING)
    process = run_python([str(script)], cwd=root)
    assert_ran(process, "flat import trained")
    assert os.path.join("hw1", "hw1.py") in process.stdout  # here 'import hw1' found the flat module


def test_objects_from_the_package_work_in_the_flat_mlp_and_back(root, tmp_path):
    script = tmp_path / "cross.py"
    script.write_text(CROSS_PATHS)
    assert_ran(run_python([str(script)], cwd=root), "cross import OK")


def test_package_imports_expose_the_whole_api():
    import hw1
    import mytorch
    from hw1 import MLP, fold_batchnorm, get_training_stats, mc
    from mytorch.activation import Sigmoid
    from mytorch.batchnorm import BatchNorm
    from mytorch.linear import Linear
    from mytorch.loss import SoftmaxCrossEntropy

    for name in (
        "Activation",
        "Identity",
        "Sigmoid",
        "Tanh",
        "ReLU",
        "Criterion",
        "SoftmaxCrossEntropy",
        "Linear",
        "BatchNorm",
        "gradcheck",
        "GradcheckError",
    ):
        assert hasattr(mytorch, name), name
    assert mytorch.Sigmoid is Sigmoid and mytorch.Linear is Linear and mytorch.BatchNorm is BatchNorm
    assert callable(fold_batchnorm) and callable(get_training_stats) and hw1.MLP is MLP
    assert mc.question_5() in "abcd"
    assert SoftmaxCrossEntropy()(np.zeros((1, 2)), np.array([[1.0, 0.0]])).shape == (1,)


def test_package_style_mlp_trains_with_package_objects(rng):
    import mytorch
    from hw1 import MLP

    x = rng.standard_normal((16, 3))
    y = np.eye(2)[(x.sum(axis=1) > 0).astype(int)]
    mlp = MLP(
        3,
        2,
        [4],
        [mytorch.ReLU(), mytorch.Identity()],
        make_weight_init(rng),
        make_bias_init(rng),
        mytorch.SoftmaxCrossEntropy(),
        lr=0.5,
        momentum=0.5,
        num_bn_layers=1,
    )
    losses = []
    for _ in range(30):
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(y)
        mlp.step()
        losses.append(mlp.total_loss(y))
    assert losses[-1] < 0.5 * losses[0], losses
    mytorch.gradcheck(mlp, x[:5], one_hot(rng, 5, 2))
