"""The point table: grading test name -> (title, points).  95 autograded points; 5 more are graded by hand.

Tests named test_extra_* are extra checks worth 0 points, reported separately. A graded test scores all of its
points or none (a parametrised test must pass every case).
"""

GRADED = {
    "test_mcq": ("Multiple choice (all five right)", 5),
    "test_sigmoid_forward": ("Sigmoid forward", 2),
    "test_sigmoid_derivative": ("Sigmoid derivative", 2),
    "test_tanh_forward": ("Tanh forward", 2),
    "test_tanh_derivative": ("Tanh derivative", 2),
    "test_relu_forward": ("ReLU forward", 2),
    "test_relu_derivative": ("ReLU derivative", 2),
    "test_softmax_cross_entropy_forward": ("Softmax cross-entropy forward", 2),
    "test_softmax_cross_entropy_derivative": ("Softmax cross-entropy derivative", 2),
    "test_linear_forward": ("Linear forward", 2),
    "test_linear_backward": ("Linear backward", 2),
    "test_linear_classifier_forward": ("Linear classifier forward", 2),
    "test_linear_classifier_backward": ("Linear classifier backward", 2),
    "test_linear_classifier_step": ("Linear classifier step", 1),
    "test_single_hidden_forward": ("Single hidden layer forward", 5),
    "test_single_hidden_backward": ("Single hidden layer backward", 5),
    "test_mystery_hidden_forward1": ("Mystery hidden layers forward 1", 5),
    "test_mystery_hidden_forward2": ("Mystery hidden layers forward 2", 5),
    "test_mystery_hidden_forward3": ("Mystery hidden layers forward 3", 5),
    "test_mystery_hidden_backward1": ("Mystery hidden layers backward 1", 5),
    "test_mystery_hidden_backward2": ("Mystery hidden layers backward 2", 5),
    "test_mystery_hidden_backward3": ("Mystery hidden layers backward 3", 5),
    "test_batch_norm_train": ("BatchNorm training", 10),
    "test_batch_norm_inference": ("BatchNorm inference", 5),
    "test_momentum": ("Momentum", 10),
}
TOTAL = 95
HAND_GRADED = ("Training statistics (graded by hand from the plots)", 5)
EXTRA_PREFIX = "test_extra_"

assert sum(points for _, points in GRADED.values()) == TOTAL, "the point table must add up to 95"


def is_extra(name):
    return name.startswith(EXTRA_PREFIX)


def title_and_points(name):
    """(title, points) of a grading test; extras and unknown tests are worth 0 points."""
    if name in GRADED:
        return GRADED[name]
    title = name[len(EXTRA_PREFIX):] if is_extra(name) else name[len("test_"):] if name.startswith("test_") else name
    return title.replace("_", " ").capitalize(), 0
