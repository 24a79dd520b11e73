"""Multiple-choice answers: the solution's letters match the answer key, which lives only in the oracle
(tools/make_references.py) and reaches the grader as salted hashes; question 1 is also asked of numpy itself."""

import os
import sys

import numpy as np
import pytest

from hw1 import mc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
sys.path.insert(0, AUTOGRADER)

import course  # noqa: E402
from programs import LETTERS, answer_hash  # noqa: E402

# Question 1's options, as (shape of np.sum(a, axis=0, keepdims=True), shape of np.sum(a, axis=0)).
QUESTION_1_OPTIONS = {
    "a": ((3, 4, 5), (4, 5)),
    "b": ((1, 4, 5), (4, 5)),
    "c": ((3, 4, 5), (1, 4, 5)),
    "d": ((3, 4, 5), (3, 4, 5)),
}


def stored_key(set_name):
    with np.load(os.path.join(AUTOGRADER, "references", set_name, "mc.npz"), allow_pickle=False) as stored:
        return str(stored["salt"]), [str(h) for h in stored["hashes"]]


def test_question_1_matches_what_numpy_does():
    a = np.zeros((3, 4, 5))
    actual = (np.sum(a, axis=0, keepdims=True).shape, np.sum(a, axis=0).shape)
    [letter] = [key for key, shapes in QUESTION_1_OPTIONS.items() if shapes == actual]
    assert mc.question_1() == letter


@pytest.mark.parametrize("set_name", course.REFERENCE_SETS)
def test_every_answer_of_the_solution_matches_the_stored_key(set_name):
    salt, hashes = stored_key(set_name)
    for number, stored in enumerate(hashes, start=1):
        answer = getattr(mc, f"question_{number}")()
        assert answer in LETTERS and answer_hash(salt, number, answer) == stored, f"question_{number}"


def test_a_wrong_letter_does_not_match_the_key():
    salt, hashes = stored_key("public")
    for number, stored in enumerate(hashes, start=1):
        wrong = [letter for letter in LETTERS if answer_hash(salt, number, letter) != stored]
        assert len(wrong) == len(LETTERS) - 1
