"""What each grading test runs, in two halves that never meet in one process.

    run(student, inputs, emit, *args)     the worker: calls the student's code on the inputs, emits named results
    checks(reference, *args)              the runner: which results must come back, in order, and how each is judged
    input_keys(reference, *args)          the runner: the reference keys sent to the worker (inputs only)

course.Test.program names an entry of PROGRAMS. The worker sees only the arrays input_keys names, never an
expected value; the runner judges every check in order, so the first failure reported is where a wrong value
starts (layers in backprop order: output layer first). Standard library and numpy only.
"""

import hashlib
from collections import namedtuple

import numpy as np

Check = namedtuple(
    "Check", "key quantity batch rtol atol verify reference_key", defaults=(None, 1e-4, 1e-8, None, None)
)
Check.__doc__ = """key: the emitted result; quantity: what the student reads, e.g. "mlp.linear_layers[0].dW"; batch:
the batch size for the diagnosis; verify: None to compare with reference[reference_key or key] by
compare.assert_close, else verify(value, reference, reply) raising AssertionError (or Skipped)."""


class Skipped(Exception):
    """An optional check that does not apply (e.g. fold_batchnorm not written): neither passed nor failed."""


class GradingFailure(Exception):
    """Raised in the worker with a complete message for the student (e.g. an overflow on extreme inputs)."""


class Inputs:
    """The inputs of one test; every read is a fresh copy, so code that writes into its input changes nothing."""

    def __init__(self, arrays):
        self._arrays = arrays

    def __getitem__(self, key):
        return self._arrays[key].copy()

    def __contains__(self, key):
        return key in self._arrays


def weight_init_fn(in_feature, out_feature):
    """The handout's weights: (in_feature, out_feature) from np.random.randn, seeded by the caller."""
    return np.random.randn(in_feature, out_feature)


def bias_init_fn(out_feature):
    """The handout's biases: (1, out_feature) zeros; draws nothing at random."""
    return np.zeros((1, out_feature))


MLP_KEYS = (
    "mlp.input_size",
    "mlp.output_size",
    "mlp.hiddens",
    "mlp.activations",
    "mlp.lr",
    "mlp.momentum",
    "mlp.num_bn_layers",
    "mlp.weight_seed",
)


def build_mlp(student, inputs):
    """hw1.MLP as the oracle built it: np.random.seed(weight seed), randn weights, zero biases."""
    activations = [getattr(student.activation, str(name))() for name in inputs["mlp.activations"]]
    np.random.seed(int(inputs["mlp.weight_seed"]))
    return student.hw1.MLP(
        int(inputs["mlp.input_size"]),
        int(inputs["mlp.output_size"]),
        [int(size) for size in inputs["mlp.hiddens"]],
        activations,
        weight_init_fn,
        bias_init_fn,
        student.loss.SoftmaxCrossEntropy(),
        float(inputs["mlp.lr"]),
        momentum=float(inputs["mlp.momentum"]),
        num_bn_layers=int(inputs["mlp.num_bn_layers"]),
    )


def train_steps(mlp, batches):
    """The handout's training loop body for each (x, y): zero_grads, forward, backward, step."""
    for x, y in batches:
        mlp.zero_grads()
        mlp.forward(x)
        mlp.backward(y)
        mlp.step()


def batches(x, y, size):
    """Consecutive mini-batches, in order (the oracle's, unshuffled)."""
    return [(x[start : start + size], y[start : start + size]) for start in range(0, len(x), size)]


def no_overflow(function, what, advice):
    """function() with numpy's floating-point warnings raised as a GradingFailure naming `what` and the fix."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return function()
    except FloatingPointError as error:
        raise GradingFailure(f"{what}: numpy reported '{error}' on extreme inputs. {advice}") from None


# --- checks of MLP layers (runner side) and their emission (worker side) ----------------------------------------------


def emit_layers(mlp, emit, prefix, linear_names, bn_names):
    """Emit the layer counts, then PREFIX + "linear_layers[i].NAME" and "bn_layers[i].NAME" of every layer."""
    linear_layers, bn_layers = (
        list(getattr(mlp, "linear_layers", None) or []),
        list(getattr(mlp, "bn_layers", None) or []),
    )
    emit(prefix + "count.linear_layers", np.array(len(linear_layers)))
    emit(prefix + "count.bn_layers", np.array(len(bn_layers)))
    for layers, names, found in (("linear_layers", linear_names, linear_layers), ("bn_layers", bn_names, bn_layers)):
        for i, layer in enumerate(found):
            for name in names:
                emit(f"{prefix}{layers}[{i}].{name}", getattr(layer, name, AttributeMissing(name)))


class AttributeMissing:
    """Stands in for an attribute the student's layer does not have (reported as such)."""

    def __init__(self, name):
        self.name = name


def layer_checks(reference, linear_names, bn_names, prefix=""):
    """Checks of every layer's NAMEs against PREFIX + "linear_layers[i].NAME", in backprop order: the output layer
    first, each BatchNorm before the Linear it follows, so the first mismatch is where a wrong gradient starts."""
    hiddens, num_bn_layers = reference["mlp.hiddens"].tolist(), int(reference["mlp.num_bn_layers"])
    count = len(hiddens) + 1
    checks = [
        Check(prefix + f"count.{layers}", f"mlp.{layers}", verify=_count(layers, expected, hiddens, num_bn_layers))
        for layers, expected in (("linear_layers", count), ("bn_layers", num_bn_layers))
    ]
    for i in reversed(range(count)):
        names = [("bn_layers", name) for name in bn_names if f"{prefix}bn_layers[{i}].{name}" in reference]
        for layers, name in names + [("linear_layers", name) for name in linear_names]:
            checks.append(Check(f"{prefix}{layers}[{i}].{name}", f"mlp.{layers}[{i}].{name}", len(reference["x"])))
    return checks


def _count(layers, expected, hiddens, num_bn_layers):
    def verify(value, reference, reply):
        found = int(value)
        assert found == expected, (
            f"mlp.{layers} has {found} layers; expected {expected} for "
            f"MLP(hiddens={hiddens}, num_bn_layers={num_bn_layers})."
        )

    return verify


# --- the programs ----------------------------------------------------------------------------------------------------


class Program:
    """A grading test's two halves. needs: the student modules it uses (a failed import fails only these)."""

    needs = ()
    inputs = ()

    def input_keys(self, reference, *args):
        return [key for key in self.inputs if key in reference]

    def run(self, student, inputs, emit, *args):
        raise NotImplementedError

    def checks(self, reference, *args):
        raise NotImplementedError


class MultipleChoice(Program):
    """hw1/mc.py's question_1() ... question_N() each return one letter; the reference keeps salted hashes."""

    needs = ("mc",)
    inputs = ("questions",)

    def run(self, student, inputs, emit):
        for number in range(1, int(inputs["questions"]) + 1):
            function = getattr(student.mc, f"question_{number}", None)
            emit(f"answer_{number}", function() if callable(function) else AttributeMissing(f"question_{number}"))

    def checks(self, reference):
        return [Check("answer_1", "multiple choice", verify=multiple_choice_verdict)]


LETTERS = "abcd"


def answer_hash(salt, number, letter):
    """The stored form of an answer: not the letter, a salted SHA-256 (local feedback, not secrecy)."""
    return hashlib.sha256(f"{salt}:{number}:{letter}".encode()).hexdigest()


def multiple_choice_verdict(value, reference, reply):
    """reply["answer_N"]: what question_N() returned. NotImplementedError when all are unanswered; AssertionError
    naming each wrong or malformed answer."""
    salt, hashes = str(reference["salt"]), [str(h) for h in reference["hashes"]]
    unanswered, malformed, wrong = [], [], []
    for number, stored in enumerate(hashes, start=1):
        answer = reply.get(f"answer_{number}")
        if answer is None:
            unanswered.append(f"question_{number}()")
        elif not isinstance(answer, str) or len(answer.strip()) != 1 or answer.strip().lower() not in LETTERS:
            malformed.append(f"question_{number}() returned {answer!r}")
        elif answer_hash(salt, number, answer.strip().lower()) != stored:
            wrong.append(f"question_{number}() returned {answer!r}")
    if unanswered and not wrong and not malformed:
        raise NotImplementedError(
            f"Task 2: answer the multiple-choice questions in hw1/mc.py ({', '.join(unanswered)} still return "
            "None; each returns one letter, e.g. return 'a')"
        )
    parts = []
    if malformed:
        parts.append(
            f"{len(malformed)} malformed ({'; '.join(malformed)}: each function returns one of the letters "
            f"{', '.join(repr(letter) for letter in LETTERS)}, e.g. return 'c', not '(C)')"
        )
    if wrong:
        parts.append(
            f"{len(wrong)} of {len(hashes)} wrong ({'; '.join(wrong)}: re-read the question in the writeup, section 2)"
        )
    if unanswered:
        parts.append(f"{len(unanswered)} unanswered")
    assert not (malformed or wrong), "multiple choice: " + "; ".join(parts) + "."


class ActivationForward(Program):
    """act = activation.NAME(); act(z) returns (and keeps in act.state) the output."""

    needs = ("activation",)
    inputs = ("z",)

    def run(self, student, inputs, emit, name):
        emit("forward", getattr(student.activation, name)()(inputs["z"]))

    def checks(self, reference, name):
        return [Check("forward", f"{name}.forward(z)", reference_key=f"{name.lower()}.forward")]


class ActivationDerivative(Program):
    """act(z), then act.derivative(): d(output)/dz element-wise."""

    needs = ("activation",)
    inputs = ("z",)

    def run(self, student, inputs, emit, name):
        act = getattr(student.activation, name)()
        act(inputs["z"])
        emit("derivative", act.derivative())

    def checks(self, reference, name):
        return [Check("derivative", f"{name}.derivative()", reference_key=f"{name.lower()}.derivative")]


SIGMOID_ADVICE = (
    "Never take exp of a large positive number: write sigmoid as 0.5 * (1 + tanh(z / 2)), or use "
    "exp(-z) only where z >= 0 and exp(z) / (1 + exp(z)) where z < 0."
)
ADVICE = {
    "Sigmoid": SIGMOID_ADVICE,
    "Tanh": "Use np.tanh(z), which is stable everywhere.",
    "ReLU": "Use np.maximum(z, 0) (or z * (z > 0)); no exp or division is needed.",
}


class ActivationExtreme(Program):
    """Every activation on z from -1000 to 1000 (and +-1e-300, 0): finite, warning-free outputs and derivatives."""

    needs = ("activation",)
    inputs = ("extreme.z",)

    def run(self, student, inputs, emit):
        for name in ("Sigmoid", "Tanh", "ReLU"):
            act = getattr(student.activation, name)()
            emit(f"{name}.forward", no_overflow(lambda: act(inputs["extreme.z"]), f"{name}.forward", ADVICE[name]))
            emit(f"{name}.derivative", no_overflow(act.derivative, f"{name}.derivative", ADVICE[name]))

    def checks(self, reference):
        return [
            Check(
                f"{name}.{what}",
                f"{name}.{what}(z) for z in [-1000, 1000]",
                reference_key=f"extreme.{name.lower()}.{what}",
            )
            for name in ("Sigmoid", "Tanh", "ReLU")
            for what in ("forward", "derivative")
        ]


class ReluDerivativeAtZero(Program):
    """The handout's choice: ReLU'(0) = 0."""

    needs = ("activation",)

    def run(self, student, inputs, emit):
        relu = student.activation.ReLU()
        relu(np.array([[-1.0, 0.0, 1.0]]))
        emit("derivative", relu.derivative())

    def checks(self, reference):
        def verify(value, reference, reply):
            assert isinstance(value, np.ndarray) and value.shape == (1, 3) and np.array_equal(value, [[0, 0, 1]]), (
                f"ReLU.derivative() at z = [-1, 0, 1] is {_show(value)}; expected [[0, 0, 1]]: the handout's "
                "derivative is 0 at z = 0 (use z > 0, not z >= 0)."
            )

        return [Check("derivative", "ReLU.derivative() at z = [-1, 0, 1]", verify=verify)]


class LossForward(Program):
    """ce(logits, labels) is the per-example loss, shape (batch,)."""

    needs = ("loss",)
    inputs = ("logits", "labels")

    def run(self, student, inputs, emit):
        emit("forward", student.loss.SoftmaxCrossEntropy()(inputs["logits"], inputs["labels"]))

    def checks(self, reference):
        return [Check("forward", "SoftmaxCrossEntropy.forward (per-example loss)", len(reference["logits"]))]


class LossDerivative(Program):
    """ce.derivative() is softmax(x) - y, not divided by the batch size."""

    needs = ("loss",)
    inputs = ("logits", "labels")

    def run(self, student, inputs, emit):
        ce = student.loss.SoftmaxCrossEntropy()
        ce(inputs["logits"], inputs["labels"])
        emit("derivative", ce.derivative())

    def checks(self, reference):
        return [Check("derivative", "SoftmaxCrossEntropy.derivative()", len(reference["logits"]))]


SOFTMAX_ADVICE = (
    "Subtract each row's maximum from the logits before exp (the log-sum-exp trick), so that no exp "
    "overflows and no log sees 0."
)


class LossExtreme(Program):
    """Logits of +-1e4: loss and derivative finite, warning-free and equal to the closed form."""

    needs = ("loss",)
    inputs = ("extreme.logits", "extreme.labels")

    def run(self, student, inputs, emit):
        ce = student.loss.SoftmaxCrossEntropy()
        emit(
            "extreme.forward",
            no_overflow(
                lambda: ce(inputs["extreme.logits"], inputs["extreme.labels"]),
                "SoftmaxCrossEntropy.forward",
                SOFTMAX_ADVICE,
            ),
        )
        emit("extreme.derivative", no_overflow(ce.derivative, "SoftmaxCrossEntropy.derivative", SOFTMAX_ADVICE))

    def checks(self, reference):
        batch = len(reference["extreme.logits"])
        return [
            Check("extreme.forward", "SoftmaxCrossEntropy.forward on logits of +-1e4", batch),
            Check("extreme.derivative", "SoftmaxCrossEntropy.derivative() on logits of +-1e4", batch),
        ]


class LinearProgram(Program):
    """Linear(in, out) with weights from np.random.seed(weight seed) + randn and the stored non-zero bias."""

    needs = ("linear",)
    inputs = ("x", "b", "delta", "weight_seed")

    @staticmethod
    def layer(student, inputs):
        b = inputs["b"]
        np.random.seed(int(inputs["weight_seed"]))
        return student.linear.Linear(inputs["x"].shape[1], b.shape[1], weight_init_fn, lambda out_feature: b)


class LinearForward(LinearProgram):
    def run(self, student, inputs, emit):
        emit("forward", self.layer(student, inputs).forward(inputs["x"]))

    def checks(self, reference):
        return [Check("forward", "Linear.forward(x)", len(reference["x"]))]


class LinearBackward(LinearProgram):
    """dW and db are batch means; the returned dx is not averaged."""

    def run(self, student, inputs, emit):
        layer = self.layer(student, inputs)
        layer.forward(inputs["x"])
        dx = layer.backward(inputs["delta"])
        emit("dW", layer.dW)
        emit("db", layer.db)
        emit("dx", dx)

    def checks(self, reference):
        batch = len(reference["x"])
        return [
            Check("dW", "Linear.dW", batch),
            Check("db", "Linear.db", batch),
            Check("dx", "Linear.backward return value (dx)", batch),
        ]


class MlpProgram(Program):
    needs = ("activation", "loss", "linear", "batchnorm", "hw1")
    inputs = MLP_KEYS + ("x", "y")


class MlpForward(MlpProgram):
    def run(self, student, inputs, emit):
        emit("forward", build_mlp(student, inputs).forward(inputs["x"]))

    def checks(self, reference):
        return [Check("forward", "mlp.forward(x)", len(reference["x"]))]


class MlpBackward(MlpProgram):
    """Every dW and db after mlp.forward(x); mlp.backward(y), output layer first."""

    def run(self, student, inputs, emit):
        mlp = build_mlp(student, inputs)
        mlp.forward(inputs["x"])
        mlp.backward(inputs["y"])
        emit_layers(mlp, emit, "", ("dW", "db"), ("dgamma", "dbeta"))

    def checks(self, reference):
        return layer_checks(reference, ("dW", "db"), ("dgamma", "dbeta"))


class MlpSteps(MlpProgram):
    """N training steps (zero_grads, forward, backward, step) on the same batch, then every parameter, output
    layer first, and (where the reference holds it) the forward output after the steps."""

    def run(self, student, inputs, emit, steps):
        mlp = build_mlp(student, inputs)
        train_steps(mlp, [(inputs["x"], inputs["y"])] * steps)
        emit_layers(mlp, emit, "step.", ("W", "b"), ("gamma", "beta"))
        emit("step.forward", mlp.forward(inputs["x"]))

    def checks(self, reference, steps):
        checks = layer_checks(reference, ("W", "b"), ("gamma", "beta"), prefix="step.")
        if "step.forward" in reference:
            checks.append(Check("step.forward", f"mlp.forward(x) after the {steps} steps", len(reference["x"])))
        return checks


class BatchNormTrain(MlpProgram):
    """Training-mode forward, every gradient, gamma and beta after one step (plain SGD); then, with gamma != 1
    and beta != 0, the output and gradients on a second batch."""

    inputs = MLP_KEYS + ("x", "y", "second.x", "second.y")

    def run(self, student, inputs, emit):
        mlp = build_mlp(student, inputs)
        emit("forward", mlp.forward(inputs["x"]))
        mlp.backward(inputs["y"])
        emit_layers(mlp, emit, "", ("dW", "db"), ("dgamma", "dbeta"))
        mlp.step()
        bn = mlp.bn_layers[0]
        emit("step.bn_layers[0].gamma", bn.gamma)
        emit("step.bn_layers[0].beta", bn.beta)
        mlp.zero_grads()
        emit("second.forward", mlp.forward(inputs["second.x"]))
        mlp.backward(inputs["second.y"])
        emit_layers(mlp, emit, "second.", ("dW", "db"), ("dgamma", "dbeta"))

    def checks(self, reference):
        batch = len(reference["x"])
        return (
            [Check("forward", "mlp.forward(x) in training mode", batch)]
            + layer_checks(reference, ("dW", "db"), ("dgamma", "dbeta"))
            + [
                Check(f"step.bn_layers[0].{name}", f"mlp.bn_layers[0].{name} after one step", batch)
                for name in ("gamma", "beta")
            ]
            + [Check("second.forward", "mlp.forward(x2) in training mode, after the step", batch)]
            + layer_checks(reference, ("dW", "db"), ("dgamma", "dbeta"), prefix="second.")
        )


class BatchNormInference(MlpProgram):
    """Training steps on consecutive batches, then running_mean, running_var and the eval-mode output."""

    inputs = MLP_KEYS + ("x", "y", "x_eval", "batch")

    @staticmethod
    def trained(student, inputs):
        mlp = build_mlp(student, inputs)
        train_steps(mlp, batches(inputs["x"], inputs["y"], int(inputs["batch"])))
        return mlp

    def run(self, student, inputs, emit):
        mlp = self.trained(student, inputs)
        for name in ("running_mean", "running_var"):
            emit(f"bn_layers[0].{name}", getattr(mlp.bn_layers[0], name))
        mlp.eval()
        emit("eval.forward", mlp.forward(inputs["x_eval"]))

    def checks(self, reference):
        batch, steps = int(reference["batch"]), len(reference["x"]) // int(reference["batch"])
        return [
            Check(f"bn_layers[0].{name}", f"mlp.bn_layers[0].{name} after {steps} training steps", batch)
            for name in ("running_mean", "running_var")
        ] + [Check("eval.forward", "mlp.forward(x_eval) in eval mode (after mlp.eval())", batch)]


class FoldBatchNorm(BatchNormInference):
    """hw1.fold_batchnorm(mlp) after the inference case's training: the folded model (no BatchNorm) gives the
    eval-mode outputs of the original, and the original is left untouched."""

    def run(self, student, inputs, emit):
        if not hasattr(student.hw1, "fold_batchnorm"):
            emit("fold.defined", np.array(False))
            return
        emit("fold.defined", np.array(True))
        mlp = self.trained(student, inputs)
        mlp.eval()
        emit("eval.forward", np.array(mlp.forward(inputs["x_eval"])))
        folded = student.hw1.fold_batchnorm(mlp)
        emit("fold.bn_layers", np.array(len(getattr(folded, "bn_layers", None) or [])))
        folded.eval()
        emit("fold.forward", folded.forward(inputs["x_eval"]))
        emit("fold.original_forward", mlp.forward(inputs["x_eval"]))

    def checks(self, reference):
        def defined(value, reference, reply):
            if not bool(value):
                raise Skipped("hw1.fold_batchnorm is not defined (the optional exercise E02)")

        def no_batchnorm(value, reference, reply):
            assert int(value) == 0, (
                "fold_batchnorm(mlp) returned a model that still has BatchNorm layers; fold each into the Linear "
                "layer before it, so the folded model has bn_layers == []."
            )

        def same_as(key, what, rtol):
            def verify(value, reference, reply):
                from compare import assert_close

                assert_close(value, reply[key], what, rtol=rtol, atol=1e-12 if rtol else 0.0)

            return verify

        return [
            Check("fold.defined", "hw1.fold_batchnorm", verify=defined),
            Check("eval.forward", "mlp.forward(x_eval) in eval mode, before folding", int(reference["batch"])),
            Check("fold.bn_layers", "fold_batchnorm(mlp).bn_layers", verify=no_batchnorm),
            Check(
                "fold.forward",
                "fold_batchnorm(mlp).forward(x_eval) vs mlp's eval forward",
                verify=same_as("eval.forward", "fold_batchnorm(mlp).forward(x_eval) vs mlp's eval forward", 1e-9),
            ),
            Check(
                "fold.original_forward",
                "mlp.forward(x_eval) after folding",
                verify=same_as("eval.forward", "mlp.forward(x_eval) after folding (the original must not change)", 0.0),
            ),
        ]


class BatchNormLayerProgram(Program):
    """Linear(12, 8) with the stored W and b, then BatchNorm(8) with the stored gamma and beta (not 1 and 0)."""

    needs = ("linear", "batchnorm")
    inputs = ("x", "W", "b", "gamma", "beta", "delta", "x_eval")

    @staticmethod
    def layers(student, inputs):
        W, b = inputs["W"], inputs["b"]
        layer = student.linear.Linear(W.shape[0], W.shape[1], lambda n_in, n_out: W, lambda n_out: b)
        norm = student.batchnorm.BatchNorm(W.shape[1])
        norm.gamma, norm.beta = inputs["gamma"], inputs["beta"]
        return layer, norm


class BatchNormLayerForward(BatchNormLayerProgram):
    def run(self, student, inputs, emit):
        layer, norm = self.layers(student, inputs)
        emit("bn.forward", norm.forward(layer.forward(inputs["x"])))
        emit("bn.running_mean", norm.running_mean)
        emit("bn.running_var", norm.running_var)
        emit("bn.eval_forward", norm.forward(layer.forward(inputs["x_eval"]), eval=True))

    def checks(self, reference):
        batch = len(reference["x"])
        return [
            Check("bn.forward", "BatchNorm.forward(x) in training mode", batch),
            Check("bn.running_mean", "BatchNorm.running_mean after one forward", batch),
            Check("bn.running_var", "BatchNorm.running_var after one forward", batch),
            Check("bn.eval_forward", "BatchNorm.forward(x, eval=True)", batch),
        ]


class BatchNormLayerGradients(BatchNormLayerProgram):
    """Gradients through BatchNorm into the Linear layer before it, with gamma != 1 (a forgotten gamma shows)."""

    def run(self, student, inputs, emit):
        layer, norm = self.layers(student, inputs)
        norm.forward(layer.forward(inputs["x"]))
        dz = norm.backward(inputs["delta"])
        emit("bn.dgamma", norm.dgamma)
        emit("bn.dbeta", norm.dbeta)
        emit("bn.dx", dz)
        dx = layer.backward(dz)
        emit("linear.dW", layer.dW)
        emit("linear.db", layer.db)
        emit("linear.dx", dx)

    def checks(self, reference):
        batch = len(reference["x"])
        return [
            Check("bn.dgamma", "BatchNorm.dgamma", batch),
            Check("bn.dbeta", "BatchNorm.dbeta", batch),
            Check("bn.dx", "BatchNorm.backward return value (dx)", batch),
            Check("linear.dW", "Linear.dW (the layer before BatchNorm)", batch),
            Check("linear.db", "Linear.db (the layer before BatchNorm)", batch),
            Check("linear.dx", "Linear.backward return value (dx) before BatchNorm", batch),
        ]


class BatchNormBatchOfOne(Program):
    """A training batch of one has zero variance: BatchNorm.forward must refuse it with a ValueError."""

    needs = ("batchnorm",)

    def run(self, student, inputs, emit):
        layer = student.batchnorm.BatchNorm(4)
        try:
            out = layer.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
        except ValueError:
            emit("raised", "ValueError")
            return
        except Exception as error:  # noqa: BLE001 - any other exception is reported by its name
            emit("raised", type(error).__name__)
            return
        emit("raised", None)
        emit("output", out)

    def checks(self, reference):
        def verify(value, reference, reply):
            if value == "ValueError":
                return
            what = f"raised {value}" if value else f"returned {_show(reply.get('output'))}"
            raise AssertionError(
                f"BatchNorm.forward(x of shape (1, 4)) in training mode {what} instead of raising ValueError: a "
                "batch of one has variance 0, so every output is beta and the gradients vanish. Raise ValueError "
                "with a message saying to use batches of 2 or more (or eval mode)."
            )

        return [Check("raised", "BatchNorm.forward on a batch of one", verify=verify)]


class TrainingStats(MlpProgram):
    """hw1.get_training_stats(mlp, dset, 1, batch_size) once per epoch, as train.py calls it, on a small seeded
    subset: np.random.seed(weight seed) before the model is built, and the shuffles continue from that stream."""

    inputs = MLP_KEYS + ("train_x", "train_y", "val_x", "val_y", "epochs", "batch_size")
    STATISTICS = ("train_loss", "train_error", "val_loss", "val_error")

    def run(self, student, inputs, emit):
        mlp = build_mlp(student, inputs)
        dset = (
            (inputs["train_x"], inputs["train_y"]),
            (inputs["val_x"], inputs["val_y"]),
            (inputs["val_x"], inputs["val_y"]),
        )  # built once: a student's in-place shuffle carries over
        results = [
            student.hw1.get_training_stats(mlp, dset, 1, int(inputs["batch_size"]))
            for _ in range(int(inputs["epochs"]))
        ]
        for i, name in enumerate(self.STATISTICS):
            emit(name, np.concatenate([np.ravel(np.asarray(result[i], dtype=float)) for result in results]))

    def checks(self, reference):
        return [
            Check(name, f"get_training_stats(...)[{i}] ({name}), one call per epoch", int(reference["batch_size"]))
            for i, name in enumerate(self.STATISTICS)
        ]


def _show(value):
    if isinstance(value, np.ndarray) and value.size <= 12:
        return str(value.tolist())
    return type(value).__name__ if not isinstance(value, np.ndarray) else f"an array of shape {value.shape}"


PROGRAMS = {
    "mcq": MultipleChoice(),
    "activation_forward": ActivationForward(),
    "activation_derivative": ActivationDerivative(),
    "activation_extreme": ActivationExtreme(),
    "relu_derivative_at_zero": ReluDerivativeAtZero(),
    "loss_forward": LossForward(),
    "loss_derivative": LossDerivative(),
    "loss_extreme": LossExtreme(),
    "linear_forward": LinearForward(),
    "linear_backward": LinearBackward(),
    "mlp_forward": MlpForward(),
    "mlp_backward": MlpBackward(),
    "mlp_steps": MlpSteps(),
    "batchnorm_train": BatchNormTrain(),
    "batchnorm_inference": BatchNormInference(),
    "fold_batchnorm": FoldBatchNorm(),
    "batchnorm_layer_forward": BatchNormLayerForward(),
    "batchnorm_layer_gradients": BatchNormLayerGradients(),
    "batchnorm_batch_of_one": BatchNormBatchOfOne(),
    "training_stats": TrainingStats(),
}
