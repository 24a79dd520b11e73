"""Fixtures and reporting for the grading tests (run them with runner.py, which sets the grading root).

- Fixtures `activation`, `loss`, `linear`, `batchnorm`, `hw1`, `mc`: the student's module, loaded flat from the
  grading root by student.load_student. A module that fails to import fails only the tests that ask for it.
- Every test has a time limit ($MYTORCH_GRADER_TIME_LIMIT seconds, default 10): an infinite loop costs that test.
- Failures are reported in a few lines, not a traceback wall: the compare.py diagnosis, "not implemented yet:
  Task 3.4: ...", or the exception with the last frame in the student's file. With $MYTORCH_GRADER_EVENTS set,
  each test's start and result are appended to that file as JSON lines, for runner.py.
"""

import os
import signal
import sys

import pytest

# compare, student and points live one folder up (runner.py names that folder when it runs tests from elsewhere).
AUTOGRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("MYTORCH_AUTOGRADER_DIR") or AUTOGRADER_DIR)

from student import (  # noqa: E402
    MODULE_FOLDERS,
    StudentCodeError,
    describe_exception,
    last_student_frame,
    load_student,
    record_event,
)

DEFAULT_TIME_LIMIT = 10.0


class TimeLimitExceeded(BaseException):
    """Raised by the alarm in the middle of a test that runs too long.  A BaseException, so that a student's
    `except Exception:` cannot swallow it."""


def time_limit():
    return float(os.environ.get("MYTORCH_GRADER_TIME_LIMIT") or DEFAULT_TIME_LIMIT)


# --- fixtures: the student's modules -------------------------------------------------------------------------------

def _module_fixture(name):
    @pytest.fixture(name=name)
    def fixture():
        return load_student(name)
    fixture.__doc__ = f"The student's {MODULE_FOLDERS[name]}/{name}.py, loaded from the grading root."
    return fixture


activation = _module_fixture("activation")
loss = _module_fixture("loss")
linear = _module_fixture("linear")
batchnorm = _module_fixture("batchnorm")
hw1 = _module_fixture("hw1")
mc = _module_fixture("mc")


# --- time limit ----------------------------------------------------------------------------------------------------

def _on_alarm(signum, frame):
    raise TimeLimitExceeded(f"did not finish within {time_limit():g} s (an infinite loop?)")


def _can_alarm():
    import threading
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """One alarm per test, covering its fixtures (where student modules are imported) and its body."""
    record_event("start", nodeid=item.nodeid)
    item.stash[_FAILURE] = None
    alarm = _can_alarm()  # elsewhere (Windows, a thread) runner.py's watchdog still stops a hung test
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, time_limit())
    try:
        outcome = yield
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    failure = item.stash[_FAILURE]
    if outcome.excinfo is not None and failure is None:  # e.g. KeyboardInterrupt, which pytest does not report
        error = outcome.excinfo[1]
        failure = f"{describe_exception(error, error.__traceback__)}: this stopped the grading process"
    record_event("result", nodeid=item.nodeid, passed=failure is None, message=failure or "")


# --- short failure reports -----------------------------------------------------------------------------------------

_FAILURE = pytest.StashKey()


def short_message(excinfo):
    """A few lines a student can act on, for the exception of a failed test."""
    error = excinfo.value
    if isinstance(error, NotImplementedError):
        text = str(error).strip().splitlines()
        if text:
            return f"not implemented yet: {text[0]}"
        return f"not implemented yet ({last_student_frame(excinfo.tb) or 'NotImplementedError'})"
    if isinstance(error, TimeLimitExceeded):
        frame = last_student_frame(excinfo.tb)
        return f"timed out: {error}" + (f" (stopped at {frame})" if frame else "")
    if isinstance(error, StudentCodeError):
        return str(error)
    if isinstance(error, AssertionError):
        lines = str(error).strip().splitlines() or ["AssertionError"]
        if not lines[0].startswith("assert "):  # `assert ok, message`: drop pytest's "assert ..." explanation
            lines = lines[:next((i for i, line in enumerate(lines) if line.startswith("assert ")), len(lines))]
        if len(lines) > 12:
            lines = lines[:12] + ["  ..."]
        return "\n".join(lines)
    if isinstance(error, pytest.skip.Exception):
        return f"skipped: {error.msg}"
    return describe_exception(error, excinfo.tb)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or report.passed:
        return
    message = short_message(call.excinfo)
    if report.when != "call":
        message = message if report.when == "setup" else f"(during teardown) {message}"
    if item.stash.get(_FAILURE, None) is None:
        item.stash[_FAILURE] = message
    if report.failed:
        report.longrepr = message


def pytest_collection_finish(session):
    record_event("collected", nodeids=[item.nodeid for item in session.items])


def pytest_collectreport(report):
    if report.failed:
        record_event("collect_error", nodeid=report.nodeid, message=_collect_message(report))


def _collect_message(report):
    text = str(report.longrepr).strip().splitlines()
    errors = [line for line in text if line.startswith("E ")]
    return (errors[-1][1:].strip() if errors else (text[-1] if text else "collection failed"))
