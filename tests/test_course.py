"""course.py is the one place for the course's facts, and the release refuses a course file that disagrees with
the grading programs: a grading program no test runs (a graded test without its points entry), or a test whose
program does not exist (an entry without a test), stops the release at its first step, naming it."""

import os
import re
import sys

import pytest
from semester import ROOT, clone, edit_course, run

AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
sys.path.insert(0, AUTOGRADER)

import course  # noqa: E402
import programs  # noqa: E402


def test_the_course_file_is_consistent():
    assert course.consistency_problems(programs.PROGRAMS) == []


def test_every_graded_test_has_a_problem_name_and_points_and_extras_have_neither():
    assert all(test.problem and test.points > 0 for test in course.GRADED)
    assert all(not test.problem and test.points == 0 for test in course.EXTRAS)
    assert course.TOTAL == sum(test.points for test in course.GRADED)


def test_create_tarball_packs_exactly_the_graded_files():
    """A shell script cannot import course.py, so this test keeps the two lists in step."""
    script = open(os.path.join(ROOT, "create_tarball.sh"), encoding="utf-8").read()
    listed = re.search(r"^for file in (.+); do$", script, flags=re.MULTILINE).group(1).split()
    assert listed == course.GRADED_FILES


def test_the_version_is_declared_once():
    setup = open(os.path.join(ROOT, "setup.py"), encoding="utf-8").read()
    assert "version=" not in setup.replace("version=VERSION", ""), "setup.py must read the version from mytorch"
    import mytorch

    assert re.fullmatch(r"\d+\.\d+\.\d+", mytorch.__version__)


@pytest.mark.slow
def test_a_grading_program_without_a_test_in_course_py_stops_the_release(tmp_path):
    folder = clone(tmp_path)
    path = os.path.join(folder, "autograder", "hw1_autograder", "programs.py")
    with open(path, "a", encoding="utf-8") as stream:
        stream.write('\nPROGRAMS["linear_twice"] = LinearForward()\n')
    result = run(folder, "tools/release.py", "--skip-oracle-check")
    assert result.returncode == 1
    assert "FAIL course.py is consistent" in result.stdout
    assert "programs.py defines the grading program 'linear_twice', but no test in course.py runs it" in result.stdout


@pytest.mark.slow
def test_a_test_in_course_py_without_a_grading_program_stops_the_release(tmp_path):
    folder = clone(tmp_path)
    edit_course(
        folder,
        "GRADED = [test for test in TESTS if not test.extra]",
        'TESTS.append(Test("test_adam", "Adam", 5, "Adam", "3.5.4", "momentum", "adam_steps"))\n'
        "GRADED = [test for test in TESTS if not test.extra]",
    )
    result = run(folder, "tools/release.py", "--skip-oracle-check")
    assert result.returncode == 1
    assert "test_adam runs program 'adam_steps', which programs.py does not define" in result.stdout


def test_the_preflight_requires_exactly_the_graded_modules():
    import preflight

    assert list(preflight.REQUIRED_NAMES) == list(course.GRADED_MODULES)
    assert preflight.REQUIRED_FILES == course.GRADED_FILES
