"""The course file: everything a semester may change, declared once.

Every graded case, its Autolab problem name and points, the network or layer it builds, its inputs and seeds, and
whether it ships in the handout or stays on the course server. The oracle (the instructors' reference generator),
the grading programs, the point table, every total and the handout all read this file; nothing else restates these
facts.
Standard library only: the grader, the worker and the tools all import it.

Recipes (README, "Customising for a semester"):
    change points      edit a Test's points; the totals follow everywhere
    add a case         add a Case (its recipe and seed offset) and the Tests that read it; regenerate references
    reseed everything  change SEEDS; regenerate the references of both sets
"""

import os
from dataclasses import dataclass, field

HOMEWORK = "Homework 1 Part 1"

# The graded files: module name -> the folder of the submission that holds <module>.py.
GRADED_MODULES = {
    "activation": "mytorch",
    "loss": "mytorch",
    "linear": "mytorch",
    "batchnorm": "mytorch",
    "hw1": "hw1",
    "mc": "hw1",
}
GRADED_FILES = [f"{folder}/{module}.py" for module, folder in GRADED_MODULES.items()]
SUBMISSION_FOLDERS = ("mytorch", "hw1")


def holds_submission(folder):
    """Whether folder is a submission root: it holds both mytorch/ and hw1/ (the one definition, used everywhere)."""
    return all(os.path.isdir(os.path.join(folder, name)) for name in SUBMISSION_FOLDERS)


# Limits for one handin's student code (the worker process). Each can be overridden on runner.py's command line.
TIME_LIMIT = 10.0  # seconds per test; the solution needs well under one
TIME_BUDGET = 120.0  # seconds for all the tests of one handin
MEMORY_LIMIT = 4 * 2**30  # bytes of address space (RLIMIT_AS)
OUTPUT_LIMIT = 2**20  # bytes of the student's printed output kept per handin; the rest is counted and dropped

# One base seed per reference set: the handout's weight seed, and every case's data seed derives from it
# (numpy.random.RandomState([base, case offset])). The public set ships in the handout; the server set never does.
SEEDS = {"public": 11785, "server": 20261130}
REFERENCE_SETS = tuple(SEEDS)

# The handout's training hyperparameters for the graded networks.
LR = 0.008
MOMENTUM = 0.856
BATCH = 20
INPUT_SIZE, CLASSES = 784, 10  # MNIST: 28 x 28 images, 10 digits


@dataclass(frozen=True)
class Case:
    """One reference file: what the oracle builds and computes, and where it ships.

    recipe: the oracle's function of that name (RECIPES in the reference generator) that computes it;
    offset: its data seed is RandomState([SEEDS[set], offset]);
    hiddens, activations: the MLP it builds (empty for a lone layer); options: recipe-specific settings.
    """

    name: str
    recipe: str
    offset: int
    hiddens: tuple = ()
    activations: tuple = ()
    options: dict = field(default_factory=dict)
    sets: tuple = REFERENCE_SETS

    def describe(self):
        if not self.activations:
            return self.options.get("describe", self.recipe)
        extra = "".join(f", {key}={value}" for key, value in self.options.items() if key != "describe")
        return f"MLP({INPUT_SIZE}, {CLASSES}, {list(self.hiddens)}, [{', '.join(self.activations)}]{extra})"


BN_NET = dict(hiddens=(64, 32), activations=("Sigmoid", "Sigmoid", "Identity"))

CASES = [
    Case("mc", "multiple_choice", 0),
    Case("activations", "activations", 1, options={"describe": "Sigmoid, Tanh, ReLU on (20, 32) inputs"}),
    Case("loss", "loss", 2, options={"describe": "SoftmaxCrossEntropy on (20, 10) logits"}),
    Case("linear", "linear", 5, options={"describe": "Linear(64, 16)"}),
    Case("linear_classifier", "mlp_classifier", 10, (), ("Identity",)),
    Case("single_hidden", "mlp_forward_backward", 11, (32,), ("Sigmoid", "Identity")),
    Case("mystery_1", "mlp_forward_backward", 12, (64, 32), ("Sigmoid", "Tanh", "Identity")),
    Case(
        "mystery_2", "mlp_forward_backward", 13, (32,) * 5, ("Tanh", "Sigmoid", "ReLU", "Sigmoid", "Tanh", "Identity")
    ),
    Case("mystery_3", "mlp_forward_backward", 14, (32,), ("ReLU", "Identity")),
    Case("batchnorm_train", "batchnorm_train", 15, **BN_NET, options={"num_bn_layers": 1}),
    Case("batchnorm_inference", "batchnorm_inference", 16, **BN_NET, options={"num_bn_layers": 1}),
    Case("momentum", "momentum", 17, **BN_NET, options={"momentum": MOMENTUM}),
    Case("batchnorm_layer", "batchnorm_layer", 18, options={"describe": "Linear(12, 8) -> BatchNorm(8) alone"}),
    Case(
        "batchnorm_momentum",
        "batchnorm_momentum",
        19,
        options={"describe": "MLP(64, 10, [32], [Sigmoid, Identity], momentum, num_bn_layers=1)"},
    ),
    Case("training_stats", "training_stats", 20, options={"describe": "get_training_stats, 2 epochs, small subset"}),
]


@dataclass(frozen=True)
class Test:
    """One grading test: the course's problem name and points, the case it reads, the program the worker runs.

    name: the test's id (the course's test function name); title: what the table prints; task: the handout task
    it grades (selectable with -k/--task); program: the entry of programs.PROGRAMS that runs it, with args.
    points 0 makes it an extra check, reported separately and never in the scores line.
    """

    name: str
    problem: str
    points: int
    title: str
    task: str
    case: str
    program: str
    args: tuple = ()

    @property
    def extra(self):
        return self.points == 0


TESTS = [
    Test("test_mcq", "Multiple Choice Questions", 5, "Multiple choice", "2", "mc", "mcq"),
    Test(
        "test_sigmoid_forward",
        "Sigmoid Non-Linearity (forward)",
        2,
        "Sigmoid forward",
        "3.1.1",
        "activations",
        "activation_forward",
        ("Sigmoid",),
    ),
    Test(
        "test_sigmoid_derivative",
        "Sigmoid Non-Linearity (derivative)",
        2,
        "Sigmoid derivative",
        "3.1.2",
        "activations",
        "activation_derivative",
        ("Sigmoid",),
    ),
    Test(
        "test_tanh_forward",
        "Tanh Non-Linearity (forward)",
        2,
        "Tanh forward",
        "3.1.3",
        "activations",
        "activation_forward",
        ("Tanh",),
    ),
    Test(
        "test_tanh_derivative",
        "Tanh Non-Linearity (derivative)",
        2,
        "Tanh derivative",
        "3.1.4",
        "activations",
        "activation_derivative",
        ("Tanh",),
    ),
    Test(
        "test_relu_forward",
        "ReLU Non-Linearity (forward)",
        2,
        "ReLU forward",
        "3.1.5",
        "activations",
        "activation_forward",
        ("ReLU",),
    ),
    Test(
        "test_relu_derivative",
        "ReLU Non-Linearity (derivative)",
        2,
        "ReLU derivative",
        "3.1.6",
        "activations",
        "activation_derivative",
        ("ReLU",),
    ),
    Test(
        "test_softmax_cross_entropy_forward",
        "Softmax Cross Entropy (forward)",
        2,
        "Softmax cross-entropy forward",
        "3.2.1",
        "loss",
        "loss_forward",
    ),
    Test(
        "test_softmax_cross_entropy_derivative",
        "Softmax Cross Entropy (derivative)",
        2,
        "Softmax cross-entropy derivative",
        "3.2.2",
        "loss",
        "loss_derivative",
    ),
    Test(
        "test_batch_norm_train",
        "Batch Normalization (training time)",
        10,
        "BatchNorm training",
        "3.3",
        "batchnorm_train",
        "batchnorm_train",
    ),
    Test(
        "test_batch_norm_inference",
        "Batch Normalization (inference time)",
        5,
        "BatchNorm inference",
        "3.3",
        "batchnorm_inference",
        "batchnorm_inference",
    ),
    Test(
        "test_linear_layer_forward", "Linear Layer (Forward)", 2, "Linear forward", "3.4.1", "linear", "linear_forward"
    ),
    Test(
        "test_linear_layer_backward",
        "Linear Layer (Backward)",
        2,
        "Linear backward",
        "3.4.2",
        "linear",
        "linear_backward",
    ),
    Test(
        "test_linear_classifier_forward",
        "Linear Classifier (forward)",
        2,
        "Linear classifier forward",
        "3.5",
        "linear_classifier",
        "mlp_forward",
    ),
    Test(
        "test_linear_classifier_backward",
        "Linear Classifier (backward)",
        2,
        "Linear classifier backward",
        "3.5",
        "linear_classifier",
        "mlp_backward",
    ),
    Test(
        "test_linear_classifier_step",
        "Linear Classifier (step)",
        1,
        "Linear classifier step",
        "3.5",
        "linear_classifier",
        "mlp_steps",
        (5,),
    ),
    Test(
        "test_single_hidden_forward",
        "Single Hidden Layer (forward)",
        5,
        "Single hidden layer forward",
        "3.5",
        "single_hidden",
        "mlp_forward",
    ),
    Test(
        "test_single_hidden_backward",
        "Single Hidden Layer (backward)",
        5,
        "Single hidden layer backward",
        "3.5",
        "single_hidden",
        "mlp_backward",
    ),
    *[
        Test(
            f"test_mystery_hidden_forward{n}",
            f"N Hidden Layer (forward) {n}",
            5,
            f"Mystery hidden layers forward {n}",
            "3.5",
            f"mystery_{n}",
            "mlp_forward",
        )
        for n in (1, 2, 3)
    ],
    *[
        Test(
            f"test_mystery_hidden_backward{n}",
            f"N Hidden Layer (backward) {n}",
            5,
            f"Mystery hidden layers backward {n}",
            "3.5",
            f"mystery_{n}",
            "mlp_backward",
        )
        for n in (1, 2, 3)
    ],
    Test("test_momentum", "Momentum", 10, "Momentum", "3.5.3", "momentum", "mlp_steps", (5,)),
    # Extra checks: 0 points, stronger cases than the course's, reported separately.
    Test(
        "test_extra_softmax_cross_entropy_extreme_logits",
        "",
        0,
        "Softmax cross-entropy on logits of +-1e4",
        "3.2",
        "loss",
        "loss_extreme",
    ),
    Test(
        "test_extra_activation_extreme_inputs",
        "",
        0,
        "Activations on inputs of +-1000",
        "3.1",
        "activations",
        "activation_extreme",
    ),
    Test(
        "test_extra_relu_derivative_at_zero",
        "",
        0,
        "ReLU derivative at 0",
        "3.1.6",
        "activations",
        "relu_derivative_at_zero",
    ),
    Test(
        "test_extra_batchnorm_batch_of_one_raises",
        "",
        0,
        "BatchNorm refuses a training batch of one",
        "3.3",
        "batchnorm_layer",
        "batchnorm_batch_of_one",
    ),
    Test(
        "test_extra_batchnorm_layer_forward_and_running_statistics",
        "",
        0,
        "BatchNorm layer forward and running statistics",
        "3.3",
        "batchnorm_layer",
        "batchnorm_layer_forward",
    ),
    Test(
        "test_extra_batchnorm_after_linear_gradients",
        "",
        0,
        "BatchNorm after Linear gradients",
        "3.3",
        "batchnorm_layer",
        "batchnorm_layer_gradients",
    ),
    Test(
        "test_extra_batchnorm_params_plain_sgd_with_momentum",
        "",
        0,
        "BatchNorm parameters take plain SGD",
        "3.5.3",
        "batchnorm_momentum",
        "mlp_steps",
        (3,),
    ),
    Test(
        "test_extra_training_statistics",
        "",
        0,
        "Training statistics (2 epochs)",
        "3.6",
        "training_stats",
        "training_stats",
    ),
    Test(
        "test_extra_fold_batchnorm_matches_eval_forward",
        "",
        0,
        "BatchNorm folding (exercise E02)",
        "E02",
        "batchnorm_inference",
        "fold_batchnorm",
    ),
]

GRADED = [test for test in TESTS if not test.extra]
EXTRAS = [test for test in TESTS if test.extra]
TOTAL = sum(test.points for test in GRADED)
HAND_GRADED = ("Training statistics (graded by hand from the plots)", 5)
TESTS_BY_NAME = {test.name: test for test in TESTS}
CASES_BY_NAME = {case.name: case for case in CASES}


def problems():
    """[(problem name, max points)] in the course's order: Autolab's assessment and the scores line."""
    return [(test.problem, test.points) for test in GRADED]


def consistency_problems(programs=None):
    """Why this file cannot be graded with, as messages ([] when it is consistent). The release stops on any.

    programs: the names the worker can run (programs.PROGRAMS); each test must name one of them.
    """
    found = []
    names = [test.name for test in TESTS]
    found += [
        f"test {name} is declared twice in course.py" for name in sorted({n for n in names if names.count(n) > 1})
    ]
    problem_names = [test.problem for test in GRADED]
    found += [
        f"problem name {p!r} is used by two graded tests"
        for p in sorted({p for p in problem_names if problem_names.count(p) > 1})
    ]
    for test in TESTS:
        if test.case not in CASES_BY_NAME:
            found.append(f"{test.name} reads case {test.case!r}, which course.py does not declare in CASES")
        if programs is not None and test.program not in programs:
            found.append(f"{test.name} runs program {test.program!r}, which programs.py does not define")
        if not test.extra and not test.problem:
            found.append(f"{test.name} is worth {test.points} points but has no Autolab problem name")
        if test.extra and test.problem:
            found.append(
                f"{test.name} has the Autolab problem name {test.problem!r} but 0 points: give a graded "
                "test its points, or leave an extra check's problem name empty"
            )
        if test.points < 0:
            found.append(f"{test.name} has negative points ({test.points})")
    if programs is not None:
        run = {test.program for test in TESTS}
        found += [
            f"programs.py defines the grading program {name!r}, but no test in course.py runs it (declare a "
            "Test for it in course.TESTS, with its points, or remove the program)"
            for name in programs
            if name not in run
        ]
    read = {test.case for test in TESTS}
    found += [
        f"case {case.name} is read by no test (add a Test that reads it, or remove it)"
        for case in CASES
        if case.name not in read
    ]
    offsets = [case.offset for case in CASES]
    found += [f"seed offset {o} is used by two cases" for o in sorted({o for o in offsets if offsets.count(o) > 1})]
    found += [
        f"case {case.name} ships in unknown reference set(s) {sorted(set(case.sets) - set(SEEDS))}"
        for case in CASES
        if set(case.sets) - set(SEEDS)
    ]
    return found
