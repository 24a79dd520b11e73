"""runner.py grades whatever it is given and always finishes with a table: crashes, hangs and broken imports in
the student's code cost only the tests that need the broken part, with a short message naming the cause.

Each test plants one failure for real into a copy of the solution (os.abort at import, a segfault, sys.exit, an
infinite loop, a torch import) and grades it with the real runner, worker and references. Expected messages come
from the failure planted, never from a previous run.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
RUNNER = os.path.join(AUTOGRADER, "runner.py")
sys.path.insert(0, AUTOGRADER)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import course  # noqa: E402
import preflight  # noqa: E402
import release  # noqa: E402

pytestmark = pytest.mark.slow  # subprocesses, grading runs or notebooks: left out of `-m "not slow"`

ACTIVATIONS = {t.name for t in course.GRADED if t.case == "activations"}
LOSS = {t.name for t in course.GRADED if t.case == "loss"}
LINEAR = {t.name for t in course.GRADED if t.case == "linear"}
MCQ = {"test_mcq"}
NEEDS_BATCHNORM = {t.name for t in course.GRADED if t.program.startswith(("mlp", "batchnorm"))}


def solution_copy(folder, changes=None):
    """A copy of the solution's mytorch/ and hw1/ in folder, with {relative path: new text or an appendix
    starting with '+'} applied."""
    for package in course.SUBMISSION_FOLDERS:
        shutil.copytree(
            os.path.join(ROOT, package),
            os.path.join(folder, package),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.png", "*.csv"),
        )
    for path, text in (changes or {}).items():
        target = os.path.join(folder, path)
        appendix = text.startswith("+")
        text = textwrap.dedent(text[1:] if appendix else text)
        if appendix:
            with open(target) as stream:
                text = stream.read() + "\n" + text
        with open(target, "w") as stream:
            stream.write(text)
    return str(folder)


def grade(root, *args):
    """release.grade with this repository's runner on the submission in root."""
    return release.grade(root, *args, runner_root=ROOT)


def run_runner(cwd, *args, runner=RUNNER, timeout=300):
    return subprocess.run([sys.executable, runner, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def earned(result, names):
    return {name: result.scores[name] for name in names}


def full(names):
    return {name: course.TESTS_BY_NAME[name].points for name in names}


def zero(names):
    return {name: 0 for name in names}


def message(result, name):
    return result.tests[name]["output"]


@pytest.mark.parametrize("set_name", course.REFERENCE_SETS)
def test_solution_scores_full_marks_on_every_reference_set(set_name):
    result = grade(ROOT, "--references", os.path.join(AUTOGRADER, "references", set_name))
    assert result.status == 0, result.output[-3000:]
    assert f"Total: {course.TOTAL}/{course.TOTAL}" in result.output
    assert sum(result.scores.values()) == course.TOTAL
    assert all(entry["output"] == "passed" for entry in result.tests.values() if entry["max_score"])


def test_abort_while_importing_a_module_fails_only_the_tests_that_need_it(tmp_path):
    root = solution_copy(tmp_path, {"mytorch/batchnorm.py": "import os\nos.abort()\n"})
    result = grade(root)
    assert earned(result, NEEDS_BATCHNORM) == zero(NEEDS_BATCHNORM)
    assert earned(result, ACTIVATIONS | LOSS | LINEAR | MCQ) == full(ACTIVATIONS | LOSS | LINEAR | MCQ)
    assert message(result, "test_momentum") == (
        "importing mytorch/batchnorm.py crashed the grading process "
        "(signal 6, SIGABRT, at mytorch/batchnorm.py:2, in <module>)"
    )
    assert "Traceback" not in result.output


def test_segfault_inside_a_test_fails_that_test_and_the_rest_still_run(tmp_path):
    root = solution_copy(
        tmp_path,
        {
            "mytorch/linear.py": """+
        import ctypes


        def _crash(self, x):
            return ctypes.string_at(0)


        Linear.forward = _crash
    """
        },
    )
    result = grade(root)
    assert earned(result, LINEAR) == zero(LINEAR)
    assert earned(result, ACTIVATIONS | LOSS | MCQ) == full(ACTIVATIONS | LOSS | MCQ)
    text = message(result, "test_linear_layer_forward")
    assert text.startswith("this test crashed the grading process (signal 11, SIGSEGV, at mytorch/linear.py:")
    assert text.endswith("in _crash)")


def test_system_exit_and_syntax_error_fail_only_their_module(tmp_path):
    root = solution_copy(
        tmp_path, {"mytorch/loss.py": "import sys\nsys.exit(3)\n", "hw1/mc.py": "def question_1(:\n    return 'b'\n"}
    )
    result = grade(root)
    assert earned(result, LOSS | MCQ) == zero(LOSS | MCQ)
    assert earned(result, ACTIVATIONS | LINEAR) == full(ACTIVATIONS | LINEAR)
    assert message(result, "test_softmax_cross_entropy_forward") == (
        "importing mytorch/loss.py failed: SystemExit: the code called sys.exit(3) or exit() "
        "(mytorch/loss.py:2, in <module>)"
    )
    assert message(result, "test_mcq").startswith("importing hw1/mc.py failed: SyntaxError:")
    assert "(hw1/mc.py:1)" in message(result, "test_mcq")


INFINITE_FORWARD = """+
    def _forever(self, x):
        while True:
            pass


    Linear.forward = _forever
"""


def test_infinite_loop_costs_only_that_test_and_names_the_line(tmp_path):
    root = solution_copy(tmp_path, {"mytorch/linear.py": INFINITE_FORWARD})
    result = grade(root, "--time-limit", "1", "-k", "linear forward or linear backward or sigmoid forward")
    text = message(result, "test_linear_layer_forward")
    assert text.startswith("timed out: did not finish within 1 s (an infinite loop?) (stopped at mytorch/linear.py:")
    assert result.tests["test_sigmoid_forward"]["output"] == "passed"


def test_loop_that_swallows_the_time_limit_is_killed(tmp_path):
    root = solution_copy(
        tmp_path,
        {
            "mytorch/linear.py": """+
        def _stubborn(self, x):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass


        Linear.forward = _stubborn
    """
        },
    )
    result = grade(root, "--time-limit", "1", "-k", "linear forward or sigmoid forward")
    assert "could not be interrupted, so the grader stopped it" in message(result, "test_linear_layer_forward")
    assert result.tests["test_sigmoid_forward"]["output"] == "passed"


def test_the_time_budget_stops_a_handin_and_names_the_tests_not_run(tmp_path):
    root = solution_copy(tmp_path, {"mytorch/linear.py": INFINITE_FORWARD})
    result = grade(root, "--time-limit", "1", "--time-budget", "2.5")
    assert sum(result.scores.values()) < course.TOTAL
    not_run = [name for name, entry in result.tests.items() if entry["output"].startswith("not run: time budget")]
    assert not_run, result.output[-3000:]
    assert earned(result, ACTIVATIONS) == full(ACTIVATIONS)  # they come first in the table


@pytest.mark.parametrize(
    "line", ["import torch", "import importlib\nimportlib.import_module('to' + 'rch')", "__import__('torch')"]
)
def test_third_party_imports_are_refused_at_every_route_with_file_and_line(tmp_path, line):
    root = solution_copy(tmp_path, {"mytorch/activation.py": "+" + line + "\n"})
    result = grade(root, "-k", "sigmoid forward")
    text = message(result, "test_sigmoid_forward")
    assert text.startswith("importing mytorch/activation.py failed: ImportError: mytorch/activation.py:"), text
    assert "imports torch, but graded code may import only numpy and the standard library" in text


def test_a_module_in_the_wrong_folder_cannot_stand_in_for_the_graded_file(tmp_path):
    root = solution_copy(tmp_path)
    shutil.copy(os.path.join(root, "mytorch", "activation.py"), os.path.join(root, "hw1", "activation.py"))
    result = grade(root, "-k", "sigmoid forward")
    assert "loaded " in message(result, "test_sigmoid_forward")
    assert "not the graded file mytorch/activation.py" in message(result, "test_sigmoid_forward")


def test_k_takes_the_names_the_table_prints_and_task_numbers(tmp_path):
    result = run_runner(ROOT, "-k", "linear backward")
    assert result.returncode == 0, result.stdout
    assert "Linear backward" in result.stdout and "Linear forward" not in result.stdout
    tasks = run_runner(ROOT, "-k", "3.4")
    assert "Linear forward" in tasks.stdout and "Linear backward" in tasks.stdout and "Sigmoid" not in tasks.stdout
    task = run_runner(ROOT, "--task", "3.1.2")
    assert "Sigmoid derivative" in task.stdout and "Sigmoid forward" not in task.stdout


@pytest.mark.parametrize("keyword", ["((", "linear and", "no such test"])
def test_an_invalid_or_empty_selection_exits_2_listing_the_valid_names(keyword):
    result = run_runner(ROOT, "-k", keyword)
    assert result.returncode == 2
    assert "Valid names" in result.stdout and "Linear backward" in result.stdout and "test_momentum" in result.stdout
    assert "crash" not in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_json_line_is_last_and_keyed_by_the_course_problem_names(tmp_path):
    result = run_runner(ROOT, "--json", "--gradescope", str(tmp_path / "results.json"))
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(last["scores"]) == [problem for problem, _ in course.problems()]
    assert sum(last["scores"].values()) == course.TOTAL
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"score", "execution_time", "output", "stdout_visibility", "tests"} <= set(results)
    assert results["score"] == course.TOTAL
    assert all({"name", "score", "max_score", "output", "visibility"} <= set(entry) for entry in results["tests"])


def test_grading_writes_nothing_into_the_submission(tmp_path):
    root = solution_copy(tmp_path)

    def tree():
        return sorted(
            (os.path.relpath(os.path.join(d, f), root), os.path.getmtime(os.path.join(d, f)))
            for d, _, files in os.walk(root)
            for f in files
        )

    before = tree()
    grade(root)
    assert tree() == before


def modified_autograder(tmp_path):
    copy = tmp_path / "autograder"
    shutil.copytree(os.path.join(ROOT, "autograder"), copy)
    return copy / "hw1_autograder"


def test_a_modified_reference_file_stops_grading(tmp_path):
    autograder = modified_autograder(tmp_path)
    target = autograder / "references" / "public" / "linear.npz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the compressed arrays
    target.write_bytes(bytes(data))
    result = run_runner(ROOT, "--json", runner=str(autograder / "runner.py"))
    assert result.returncode == 3
    assert "references modified" in result.stdout and "linear.npz" in result.stdout
    assert '{"scores"' not in result.stdout  # a grader that cannot grade gives no grade at all


def test_references_from_other_seeds_than_course_py_stop_grading_with_the_fix(tmp_path):
    from semester import clone, edit_course

    folder = clone(tmp_path)
    seed = course.SEEDS["public"]
    edit_course(folder, f'"public": {seed}', f'"public": {seed + 1}')
    result = run_runner(folder, runner=os.path.join(folder, "autograder", "hw1_autograder", "runner.py"))
    assert result.returncode == 3
    assert "generated from other seeds than course.py declares" in result.stdout
    assert "regenerate with `python3 tools/make_references.py --set public`" in result.stdout


def test_preflight_reports_forbidden_imports_and_missing_names_without_running_code(tmp_path):
    files = {
        "mytorch/activation.py": "import os\nos.abort()\nclass Activation: pass\n",
        "mytorch/loss.py": "import numpy as np\nfrom torch.nn import functional\n",
        "mytorch/linear.py": "class Linear:\n    def forward(self, x): pass\n    def backward(self): pass\n",
        "hw1/mc.py": "import importlib\nm = importlib.import_module('tensorflow')\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)
    problems = preflight.check(str(tmp_path))
    assert (
        "mytorch/loss.py:2: imports torch; graded code may import only numpy and the standard library "
        "(the course grader has no torch). Remove the import." in problems
    )
    assert any(p.startswith("hw1/mc.py:2: imports tensorflow") for p in problems)
    assert "mytorch/batchnorm.py is missing." in problems and "hw1/hw1.py is missing." in problems
    assert "mytorch/activation.py: class Sigmoid is missing." in problems
    assert any(
        p.startswith("mytorch/linear.py: Linear.backward(self) cannot be called with 1 argument") for p in problems
    )


def test_preflight_passes_on_the_solution_and_check_flag_reports_it():
    assert preflight.check(ROOT) == []
    result = run_runner(ROOT, "--check")
    assert result.returncode == 0 and "Preflight passed" in result.stdout


def test_doctor_flag_runs_the_doctor():
    result = run_runner(ROOT, "--doctor")
    assert "doctor" in result.stdout.lower() and "Traceback" not in result.stderr
