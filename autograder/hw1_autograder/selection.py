"""Which tests to run: -k with the names the table prints, test ids, Autolab problem names or task numbers.

    select(tests, "linear backward")        the test titled "Linear backward" (an exact name wins)
    select(tests, "3.4")                    every test of task 3.4 (3.4.1, 3.4.2)
    select(tests, "batchnorm and not extra")  pytest-style: words, and / or / not, parentheses
    select(tests, task="3.4.2")

Each word matches a test when it is part of its id, title or problem name (case-insensitive, "_" as a space) or
names its task. An expression that does not parse, or one that selects nothing, raises SelectionError listing the
valid names: the runner exits 2 with it.
"""

import re


class SelectionError(Exception):
    """The selection is invalid or empty; the message lists what can be selected."""


def _normal(text):
    return " ".join(re.sub(r"[_\-()]+", " ", str(text).lower()).split())


def _names(test):
    return [_normal(test.name), _normal(test.title)] + ([_normal(test.problem)] if test.problem else [])


def _task_matches(test, number):
    return test.task.lower() == number.lower() or test.task.lower().startswith(number.lower() + ".")


def valid_names(tests):
    width = max(len(test.title) for test in tests)
    return "\n".join(f"  {test.title:<{width}}  task {test.task:<6} {test.name}" for test in tests)


def _error(message, tests):
    return SelectionError(
        f"{message}\nValid names (-k accepts a title, a test id, a task number, or an expression "
        f"of words with and / or / not):\n{valid_names(tests)}"
    )


def select(tests, keyword=None, task=None):
    """The tests selected by -k keyword and --task (both optional), in table order."""
    chosen = list(tests)
    if task:
        chosen = [test for test in chosen if _task_matches(test, task)]
        if not chosen:
            raise _error(f"--task {task} selects no test.", tests)
    if not keyword:
        return chosen
    exact = [test for test in chosen if _normal(keyword) in _names(test)]
    if exact:
        return exact
    try:
        predicate = _parse(keyword)
    except ValueError as error:
        raise _error(f"-k {keyword!r} is not a valid selection ({error}).", tests) from None
    chosen = [test for test in chosen if predicate(test)]
    if not chosen:
        raise _error(f"-k {keyword!r} selects no test.", tests)
    return chosen


def _word(word):
    normal = _normal(word)

    def matches(test):
        return (re.fullmatch(r"[eE]?\d+(\.\d+)*", word) is not None and _task_matches(test, word)) or any(
            normal in name for name in _names(test)
        )

    return matches


def _parse(expression):
    """A predicate for a pytest-style expression: words, and / or / not, parentheses; adjacent words are ANDed."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        position += 1
        return tokens[position - 1]

    def parse_or():
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda t: a(t) or b(t))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() not in (None, ")", "or"):
            if peek() == "and":
                take()
            right = parse_not()
            left = (lambda a, b: lambda t: a(t) and b(t))(left, right)
        return left

    def parse_not():
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda t: not inner(t)
        if peek() == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise ValueError("a '(' is never closed")
            take()
            return inner
        token = peek()
        if token is None:
            raise ValueError("it ends where a word was expected")
        if token in (")", "and", "or"):
            raise ValueError(f"{token!r} where a word was expected")
        return _word(take())

    if not tokens:
        raise ValueError("it is empty")
    predicate = parse_or()
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r}")
    return predicate
