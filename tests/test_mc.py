"""Multiple-choice answers: the letters the handout's questions call for; question 1 is asked of numpy itself."""

import numpy as np
import pytest

from hw1 import mc

# Question 1's options, as (shape of np.sum(a, axis=0, keepdims=True), shape of np.sum(a, axis=0)).
QUESTION_1_OPTIONS = {"a": ((3, 4, 5), (4, 5)), "b": ((1, 4, 5), (4, 5)), "c": ((3, 4, 5), (1, 4, 5)),
                      "d": ((3, 4, 5), (3, 4, 5))}


def test_question_1_matches_what_numpy_does():
    a = np.zeros((3, 4, 5))
    actual = (np.sum(a, axis=0, keepdims=True).shape, np.sum(a, axis=0).shape)
    [letter] = [key for key, shapes in QUESTION_1_OPTIONS.items() if shapes == actual]
    assert mc.question_1() == letter == "b"


@pytest.mark.parametrize("question, answer", [(2, "a"), (3, "a"), (4, "a"), (5, "c")])
def test_multiple_choice_answers(question, answer):
    assert getattr(mc, f"question_{question}")() == answer
