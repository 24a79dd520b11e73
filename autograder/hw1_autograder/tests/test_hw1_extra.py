"""Extra checks (0 points): stronger cases than the handout's, reported separately by the runner.

Extreme inputs (logits of +-1e4, activations at +-1000 and at exactly 0), a training batch of one, BatchNorm after
a Linear layer with gamma != 1 and tiny-variance features, BatchNorm parameters under momentum, and BatchNorm
folding (when hw1.fold_batchnorm exists).
"""

import numpy as np
import pytest

from compare import assert_close
from reference_data import Reference, batches, train_steps


def no_overflow(function, what):
    """Call function() with numpy's overflow/invalid/divide warnings turned into an AssertionError naming `what`."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return function()
    except FloatingPointError as error:
        raise AssertionError(
            f"{what}: numpy reported '{error}' on extreme inputs. Use a stable form: subtract each row's "
            "maximum before exp (log-sum-exp), and never take exp of a large positive number."
        ) from None


def test_extra_softmax_cross_entropy_extreme_logits(loss):
    """Logits of +-1e4: loss and derivative finite, warning-free and equal to the closed form."""
    ref = Reference("loss")
    ce = loss.SoftmaxCrossEntropy()
    forward = no_overflow(lambda: ce(ref["extreme.logits"], ref["extreme.labels"]), "SoftmaxCrossEntropy.forward")
    ref.check(forward, "extreme.forward", "SoftmaxCrossEntropy.forward on logits of +-1e4", batch=4)
    derivative = no_overflow(ce.derivative, "SoftmaxCrossEntropy.derivative")
    ref.check(derivative, "extreme.derivative", "SoftmaxCrossEntropy.derivative() on logits of +-1e4", batch=4)


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU"])
def test_extra_activation_extreme_inputs(activation, name):
    """z from -1000 to 1000 (and +-1e-300, 0): finite, warning-free outputs and derivatives."""
    ref = Reference("activations")
    act = getattr(activation, name)()
    out = no_overflow(lambda: act(ref["extreme.z"]), f"{name}.forward")
    ref.check(out, f"extreme.{name.lower()}.forward", f"{name}.forward(z) for z in [-1000, 1000]")
    ref.check(no_overflow(act.derivative, f"{name}.derivative"), f"extreme.{name.lower()}.derivative",
              f"{name}.derivative() for z in [-1000, 1000]")


def test_extra_relu_derivative_at_zero(activation):
    """The handout's choice: ReLU'(0) = 0."""
    relu = activation.ReLU()
    relu(np.array([[-1.0, 0.0, 1.0]]))
    derivative = relu.derivative()
    assert np.array_equal(np.asarray(derivative, dtype=float), [[0.0, 0.0, 1.0]]), (
        f"ReLU.derivative() at z = [-1, 0, 1] is {np.asarray(derivative).tolist()}; expected [[0, 0, 1]]: the "
        "handout's derivative is 0 at z = 0 (use z > 0, not z >= 0)."
    )


def test_extra_batchnorm_batch_of_one_raises(batchnorm):
    """A training batch of one has zero variance: BatchNorm.forward must refuse it with a ValueError."""
    layer = batchnorm.BatchNorm(4)
    try:
        out = layer.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    except ValueError:
        return
    raise AssertionError(
        f"BatchNorm.forward(x of shape (1, 4)) in training mode returned {np.asarray(out).tolist()} instead of "
        "raising ValueError: a batch of one has variance 0, so every output is beta and the gradients vanish. "
        "Raise ValueError with a message saying to use batches of 2 or more (or eval mode)."
    )


def make_linear_batchnorm(linear, batchnorm, ref):
    """Linear(12, 8) with the stored W and b, then BatchNorm(8) with the stored gamma and beta (not 1 and 0)."""
    layer = linear.Linear(12, 8, lambda n_in, n_out: ref["W"], lambda n_out: ref["b"])
    norm = batchnorm.BatchNorm(8)
    norm.gamma, norm.beta = ref["gamma"], ref["beta"]
    return layer, norm


def test_extra_batchnorm_layer_forward_and_running_statistics(linear, batchnorm):
    """BatchNorm(8) after Linear(12, 8); features 0-3 vary by ~1e-3 over the batch, so eps = 1e-8 matters."""
    ref = Reference("batchnorm_layer")
    layer, norm = make_linear_batchnorm(linear, batchnorm, ref)
    ref.check(norm.forward(layer.forward(ref["x"])), "bn.forward", "BatchNorm.forward(x) in training mode")
    ref.check(norm.running_mean, "bn.running_mean", "BatchNorm.running_mean after one forward")
    ref.check(norm.running_var, "bn.running_var", "BatchNorm.running_var after one forward")
    ref.check(norm.forward(layer.forward(ref["x_eval"]), eval=True), "bn.eval_forward",
              "BatchNorm.forward(x, eval=True)")


def test_extra_batchnorm_after_linear_gradients(linear, batchnorm):
    """Gradients through BatchNorm into the Linear layer before it, with gamma != 1 (a forgotten gamma shows)."""
    ref = Reference("batchnorm_layer")
    layer, norm = make_linear_batchnorm(linear, batchnorm, ref)
    norm.forward(layer.forward(ref["x"]))
    dz = norm.backward(ref["delta"])
    ref.check(norm.dgamma, "bn.dgamma", "BatchNorm.dgamma")
    ref.check(norm.dbeta, "bn.dbeta", "BatchNorm.dbeta")
    ref.check(dz, "bn.dx", "BatchNorm.backward return value (dx)")
    dx = layer.backward(dz)
    ref.check(layer.dW, "linear.dW", "Linear.dW (the layer before BatchNorm)")
    ref.check(layer.db, "linear.db", "Linear.db (the layer before BatchNorm)")
    ref.check(dx, "linear.dx", "Linear.backward return value (dx) before BatchNorm")


def test_extra_batchnorm_params_plain_sgd_with_momentum(hw1, activation, loss):
    """MLP(64, 10, [32], [Sigmoid, Identity], momentum 0.856, num_bn_layers=1), 3 steps: gamma and beta take
    plain SGD steps while W and b use momentum."""
    ref = Reference("batchnorm_momentum")
    mlp = ref.build_mlp(hw1, activation, loss)
    train_steps(mlp, [(ref["x"], ref["y"])] * 3)
    ref.check_layers(mlp, ("W", "b"), ("gamma", "beta"), prefix="step.")


def test_extra_fold_batchnorm_matches_eval_forward(hw1, activation, loss):
    """hw1.fold_batchnorm(mlp) after the inference test's training: the folded model (no BatchNorm) gives the
    eval-mode outputs of the original, and the original is left untouched."""
    if not hasattr(hw1, "fold_batchnorm"):
        pytest.skip("hw1.fold_batchnorm is not defined (an optional exercise)")
    ref = Reference("batchnorm_inference")
    x_eval = ref["x_eval"]
    mlp = ref.build_mlp(hw1, activation, loss)
    train_steps(mlp, batches(ref["x"], ref["y"], 20))
    mlp.eval()
    unfolded = np.array(mlp.forward(x_eval))
    ref.check(unfolded, "eval.forward", "mlp.forward(x_eval) in eval mode, before folding")
    folded = hw1.fold_batchnorm(mlp)
    assert not (getattr(folded, "bn_layers", None) or []), (
        "fold_batchnorm(mlp) returned a model that still has BatchNorm layers; fold each into the Linear layer "
        "before it (W' = W * s, b' = (b - running_mean) * s + beta, s = gamma / sqrt(running_var + eps)).")
    folded.eval()
    assert_close(folded.forward(x_eval), unfolded, "fold_batchnorm(mlp).forward(x_eval) vs mlp's eval forward",
                 rtol=1e-9, atol=1e-12)
    assert_close(mlp.forward(x_eval), unfolded, "mlp.forward(x_eval) after folding (the original must not change)",
                 rtol=1e-12, atol=0.0)
