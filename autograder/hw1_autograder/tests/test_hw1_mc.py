"""Multiple choice (5 points, all or nothing): hw1/mc.py's question_1() ... question_5() return one letter each."""

from reference_data import Reference


def test_mcq(mc):
    answers = Reference("mc")["answers"]
    unanswered, wrong = [], []
    for number, expected in enumerate(answers, start=1):
        answer = getattr(mc, f"question_{number}")()
        if answer is None:
            unanswered.append(f"question_{number}()")
        elif not isinstance(answer, str) or answer.strip().lower() != expected:
            wrong.append(f"question_{number}() returned {answer!r}")
    if unanswered and not wrong:
        raise NotImplementedError(
            f"Task 2: answer the multiple-choice questions in hw1/mc.py ({', '.join(unanswered)} still "
            "return None; each returns one letter, e.g. return 'a')"
        )
    assert not wrong, (
        f"multiple choice: {len(wrong)} of {len(answers)} answers are wrong ({'; '.join(wrong)})"
        + (f" and {len(unanswered)} unanswered" if unanswered else "")
        + ". Each function returns one letter, e.g. return 'a'. Re-read the question in the writeup (section 2)."
    )
