"""Multiple-choice answers: each function returns one lower-case letter."""


def question_1():
    """Shapes of np.sum(a, axis=0, keepdims=True) and np.sum(a, axis=0) for a of shape (3, 4, 5)."""
    # BEGIN SOLUTION task 2.1: multiple choice question 1
    return "b"  # keepdims keeps the summed axis with length 1: (1, 4, 5); without it the axis goes: (4, 5)
    # END SOLUTION


def question_2():
    """What the BatchNorm mean and variance refer to."""
    # BEGIN SOLUTION task 2.2: multiple choice question 2
    return "a"  # one mean and variance per neuron, computed over the batch
    # END SOLUTION


def question_3():
    """Whether BatchNorm needs running statistics."""
    # BEGIN SOLUTION task 2.3: multiple choice question 3
    return "a"  # inference sees single examples, so it needs statistics estimated during training
    # END SOLUTION


def question_4():
    """Did you enjoy the read about zip?"""
    # BEGIN SOLUTION task 2.4: multiple choice question 4
    return "a"
    # END SOLUTION


def question_5():
    """Which is a valid layer, with w: (input, output), x: (batch, input), b: (1, output)."""
    # BEGIN SOLUTION task 2.5: multiple choice question 5
    return "c"  # z = f(x @ w + b)
    # END SOLUTION
