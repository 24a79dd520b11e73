"""get_training_stats: what it returns, and how it trains (shuffling, zero_grads, train and eval modes).

The MLP's methods are wrapped with spies that record every call, and the statistics are recomputed from what the
network actually produced, with a cross-entropy written independently of mytorch.
"""

import numpy as np
import pytest
from helpers import cross_entropy_reference, make_bias_init, make_weight_init, one_hot

from hw1 import MLP, get_training_stats
from mytorch import Identity, SoftmaxCrossEntropy, Tanh

TRAIN, VALIDATION, BATCH, EPOCHS = 24, 10, 8, 3


@pytest.fixture
def dataset(rng):
    def split(n):
        return rng.standard_normal((n, 4)), one_hot(rng, n, 3)

    return split(TRAIN), split(VALIDATION), split(6)


@pytest.fixture
def mlp(rng):
    return MLP(
        4,
        3,
        [6],
        [Tanh(), Identity()],
        make_weight_init(rng),
        make_bias_init(rng),
        SoftmaxCrossEntropy(),
        lr=0.05,
        momentum=0.5,
        num_bn_layers=1,
    )


class Recorder:
    """Wraps the MLP's methods; keeps the call sequence, each forward's input and output, and whether that forward
    changed the BatchNorm running statistics (it does in train mode, never in eval mode)."""

    def __init__(self, mlp):
        self.calls, self.forwards, self.backward_labels = [], [], []
        self.mlp = mlp
        for name in ("zero_grads", "forward", "backward", "step"):
            setattr(mlp, name, self._wrap(name, getattr(mlp, name)))

    def _wrap(self, name, method):
        def spy(*args):
            self.calls.append(name)
            if name == "forward":
                before = self.mlp.bn_layers[0].running_mean.copy()
                out = method(*args)
                changed = not np.array_equal(before, self.mlp.bn_layers[0].running_mean)
                self.forwards.append((args[0].copy(), np.array(out, copy=True), changed))
                return out
            if name == "backward":
                self.backward_labels.append(args[0].copy())
            return method(*args)

        return spy


@pytest.fixture
def shuffles(monkeypatch):
    """Replaces np.random.shuffle with a spy recording each shuffled array (a copy, after shuffling)."""
    record, shuffle = [], np.random.shuffle

    def spy(array):
        shuffle(array)
        record.append(np.array(array, copy=True))

    monkeypatch.setattr(np.random, "shuffle", spy)
    return record


def run(mlp, dataset):
    np.random.seed(0)
    return get_training_stats(mlp, dataset, EPOCHS, BATCH)


def test_get_training_stats_returns_four_arrays_of_length_nepochs(mlp, dataset):
    stats = run(mlp, dataset)
    assert len(stats) == 4
    for array in stats:
        assert isinstance(array, np.ndarray) and array.shape == (EPOCHS,)
        assert np.isfinite(array).all()


def test_get_training_stats_shuffles_an_index_array_every_epoch_and_trains_in_that_order(mlp, dataset, shuffles):
    recorder = Recorder(mlp)
    run(mlp, dataset)
    assert len(shuffles) == EPOCHS
    for order in shuffles:
        assert order.ndim == 1 and np.array_equal(np.sort(order), np.arange(TRAIN)), "not an index array"
    train_x = dataset[0][0]
    batches = [x for x, _, changed in recorder.forwards if changed]
    per_epoch = TRAIN // BATCH
    assert len(batches) == EPOCHS * per_epoch
    for epoch, order in enumerate(shuffles):
        seen = np.concatenate(batches[epoch * per_epoch : (epoch + 1) * per_epoch])
        np.testing.assert_array_equal(seen, train_x[order])


def test_get_training_stats_calls_zero_grads_before_every_batch(mlp, dataset):
    recorder = Recorder(mlp)
    run(mlp, dataset)
    zeroed, backwards = False, 0
    for call in recorder.calls:
        if call == "zero_grads":
            zeroed = True
        elif call == "backward":
            assert zeroed, "backward ran without zero_grads since the last step"
            backwards += 1
        elif call == "step":
            zeroed = False
    assert backwards == EPOCHS * TRAIN // BATCH


def test_get_training_stats_validates_in_eval_mode_and_leaves_train_mode(mlp, dataset):
    recorder = Recorder(mlp)
    run(mlp, dataset)
    val_x = dataset[1][0]
    validation = [changed for x, _, changed in recorder.forwards if x.shape == val_x.shape and np.array_equal(x, val_x)]
    assert len(validation) == EPOCHS
    assert not any(validation), "a validation forward updated the running statistics: it ran in train mode"
    before = mlp.bn_layers[0].running_mean.copy()
    mlp.forward(dataset[0][0][:BATCH])
    assert not np.array_equal(before, mlp.bn_layers[0].running_mean), "the MLP was left in eval mode"


def test_get_training_stats_values_are_per_example_averages_of_what_the_network_produced(mlp, dataset):
    recorder = Recorder(mlp)
    losses, errors, val_losses, val_errors = run(mlp, dataset)
    (_, _), (val_x, val_y), _ = dataset
    train_outputs = [out for _, out, changed in recorder.forwards if changed]
    validation_outputs = [out for x, out, changed in recorder.forwards if not changed]
    per_epoch = TRAIN // BATCH
    for epoch in range(EPOCHS):
        batches = range(epoch * per_epoch, (epoch + 1) * per_epoch)
        loss = sum(cross_entropy_reference(train_outputs[k], recorder.backward_labels[k]).sum() for k in batches)
        wrong = sum(int((train_outputs[k].argmax(1) != recorder.backward_labels[k].argmax(1)).sum()) for k in batches)
        np.testing.assert_allclose(losses[epoch], loss / TRAIN, rtol=1e-12)
        np.testing.assert_allclose(errors[epoch], wrong / TRAIN, rtol=1e-12)
        out = validation_outputs[epoch]
        np.testing.assert_allclose(val_losses[epoch], cross_entropy_reference(out, val_y).mean(), rtol=1e-12)
        np.testing.assert_allclose(val_errors[epoch], (out.argmax(1) != val_y.argmax(1)).mean(), rtol=1e-12)
