"""runner.py grades whatever it is given and always finishes with a table: crashes, hangs and broken imports in
the student's code cost only the tests that need the broken part, with a short message naming the cause.

Most tests here grade a tiny fake submission with a tiny grading-test folder of their own (runner.py's hidden
--tests-dir), so that each failure mode is planted for real (os.abort at import, sys.exit, an infinite loop, a
torch import) and the run takes a second or two. test_solution_scores_full_marks grades the real solution with the
real grading tests.
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

import points  # noqa: E402
import preflight  # noqa: E402
import student  # noqa: E402

# A tiny grading-test folder: one graded test per fake module, plus an extra check.
GRADING_TESTS = '''
import numpy as np

def test_sigmoid_forward(activation):
    assert activation.VALUE == 1

def test_linear_forward(linear):
    assert linear.forward(np.ones((2, 2))).shape == (2, 2)

def test_linear_backward(linear):
    assert linear.backward(np.ones((2, 2))).shape == (2, 2)

def test_batch_norm_train(batchnorm):
    assert batchnorm.VALUE == 3

def test_mcq(mc):
    assert mc.question_1() == "b"

def test_extra_batch_of_one(activation):
    assert activation.VALUE == 1
'''
GOOD_MODULES = {
    "mytorch/activation.py": "VALUE = 1\n",
    "mytorch/loss.py": "VALUE = 2\n",
    "mytorch/linear.py": "def forward(x):\n    return x\n\n\ndef backward(delta):\n    return delta\n",
    "mytorch/batchnorm.py": "VALUE = 3\n",
    "hw1/hw1.py": "from linear import forward\n",
    "hw1/mc.py": "def question_1():\n    return 'b'\n",
}
FAKE_TESTS = ["test_sigmoid_forward", "test_linear_forward", "test_linear_backward", "test_batch_norm_train",
              "test_mcq", "test_extra_batch_of_one"]


def write_tree(folder, files):
    for path, text in files.items():
        target = os.path.join(folder, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as stream:
            stream.write(textwrap.dedent(text))


@pytest.fixture
def fake(tmp_path):
    """(grading root, tests folder): a fake submission graded by the tiny grading tests."""
    tests = tmp_path / "grading_tests"
    tests.mkdir()
    shutil.copy(os.path.join(AUTOGRADER, "tests", "conftest.py"), tests)
    (tests / "test_fake.py").write_text(GRADING_TESTS)
    root = tmp_path / "submission"
    write_tree(root, GOOD_MODULES)
    return root, tests


def run_runner(root, *args, tests=None, timeout=120, env=None):
    command = [sys.executable, RUNNER, *args] + (["--tests-dir", str(tests)] if tests else [])
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def scores(result):
    """Autolab's scores from the last line of a --json run."""
    return json.loads(result.stdout.strip().splitlines()[-1])["scores"]


def row(result, title):
    """The table line of a test, by title."""
    return next(line for line in result.stdout.splitlines() if line.startswith(title + " "))


def grade_fake(fake, files, *args):
    root, tests = fake
    write_tree(root, files)
    return run_runner(root, "--json", *args, tests=tests)


def test_fake_submission_scores_its_tests(fake):
    result = grade_fake(fake, {})
    got = scores(result)
    assert {name: got[name] for name in got if got[name]} == {
        "test_sigmoid_forward": 2, "test_linear_forward": 2, "test_linear_backward": 2, "test_batch_norm_train": 10,
        "test_mcq": 5}
    assert set(got) == set(points.GRADED)  # graded tests without a grading test score 0, never vanish
    assert "no grading test with this name was found" in row(result, "Momentum")
    assert f"6 of {len(points.GRADED) + 1} local checks passed" in result.stdout
    assert "Training statistics (5 points) are graded by hand" in result.stdout
    assert "The course grader may run more checks" in result.stdout
    assert "Total: 21/95" in result.stdout and result.returncode == 1  # most graded tests are absent here


def test_abort_while_importing_a_module_fails_only_its_tests(fake):
    result = grade_fake(fake, {"mytorch/linear.py": "import os\nos.abort()\n"})
    got = scores(result)
    assert got["test_linear_forward"] == 0 and got["test_linear_backward"] == 0
    assert got["test_sigmoid_forward"] == 2 and got["test_batch_norm_train"] == 10 and got["test_mcq"] == 5
    crashed = ("importing mytorch/linear.py crashed the grading process (signal 6, SIGABRT, at mytorch/linear.py:2, "
               "in <module>)")
    assert crashed in row(result, "Linear forward")
    assert "crashed" in row(result, "Linear backward")


def test_segfault_inside_a_test_fails_that_test_and_the_rest_still_run(fake):
    crash = ("import ctypes\n\ndef forward(x):\n    return ctypes.string_at(0)\n\n"
             "def backward(delta):\n    return delta\n")
    result = grade_fake(fake, {"mytorch/linear.py": crash})
    got = scores(result)
    assert got["test_linear_forward"] == 0 and got["test_linear_backward"] == 2 and got["test_mcq"] == 5
    assert row(result, "Linear forward").endswith(
        "this test crashed the grading process (signal 11, SIGSEGV, at mytorch/linear.py:4, in forward)")


def test_system_exit_and_syntax_error_fail_only_their_module(fake):
    result = grade_fake(fake, {"mytorch/batchnorm.py": "import sys\nsys.exit(3)\n", "hw1/mc.py": "def question_1(:\n"})
    got = scores(result)
    assert got["test_batch_norm_train"] == 0 and got["test_mcq"] == 0 and got["test_linear_forward"] == 2
    assert "SystemExit: the code called sys.exit(3)" in row(result, "BatchNorm training")
    assert "(mytorch/batchnorm.py:2, in <module>)" in row(result, "BatchNorm training")
    assert "importing hw1/mc.py failed: SyntaxError" in row(result, "Multiple choice")


def test_infinite_loop_costs_only_that_test(fake):
    loop = "def forward(x):\n    while True:\n        pass\n\ndef backward(delta):\n    return delta\n"
    result = grade_fake(fake, {"mytorch/linear.py": loop}, "--time-limit", "1")
    got = scores(result)
    assert got["test_linear_forward"] == 0 and got["test_linear_backward"] == 2
    assert "timed out: did not finish within 1 s" in row(result, "Linear forward")
    assert "(stopped at mytorch/linear.py:2, in forward)" in row(result, "Linear forward")


def test_loop_that_swallows_the_time_limit_is_killed(fake):
    stubborn = ("import time\n\ndef forward(x):\n    while True:\n        try:\n            time.sleep(1)\n"
                "        except BaseException:\n            pass\n\ndef backward(delta):\n    return delta\n")
    result = grade_fake(fake, {"mytorch/linear.py": stubborn}, "--time-limit", "1")
    got = scores(result)
    assert got["test_linear_forward"] == 0 and got["test_linear_backward"] == 2 and got["test_mcq"] == 5
    assert "could not be interrupted, so the grader stopped it" in row(result, "Linear forward")


def test_keyboard_interrupt_or_exit_inside_a_test_fails_that_test_and_the_rest_still_run(fake):
    interrupt = "def forward(x):\n    raise KeyboardInterrupt\n\ndef backward(delta):\n    import os\n    os._exit(0)\n"
    result = grade_fake(fake, {"mytorch/linear.py": interrupt})
    got = scores(result)
    assert got["test_linear_forward"] == 0 and got["test_linear_backward"] == 0
    assert got["test_sigmoid_forward"] == 2 and got["test_batch_norm_train"] == 10 and got["test_mcq"] == 5
    assert "KeyboardInterrupt (mytorch/linear.py:2, in forward): this stopped the grading process" \
        in row(result, "Linear forward")
    assert "this test crashed the grading process (exit code 0)" in row(result, "Linear backward")


def test_torch_import_is_refused_with_file_and_line(fake):
    result = grade_fake(fake, {"mytorch/linear.py": "import numpy\nimport torch\n\ndef forward(x):\n    return x\n"})
    assert scores(result)["test_linear_forward"] == 0 and scores(result)["test_sigmoid_forward"] == 2
    assert "mytorch/linear.py:2 imports torch, but graded code may import only numpy" in row(result, "Linear forward")


def test_not_implemented_stub_is_one_line(fake):
    stub = ("def forward(x):\n    raise NotImplementedError('Task 3.4.1: implement Linear.forward - see the writeup "
            "section 3.4')\n\ndef backward(delta):\n    return 1 / 0\n")
    result = grade_fake(fake, {"mytorch/linear.py": stub})
    assert row(result, "Linear forward").endswith(
        "not implemented yet: Task 3.4.1: implement Linear.forward - see the writeup section 3.4")
    assert row(result, "Linear backward").endswith(
        "ZeroDivisionError: division by zero (mytorch/linear.py:5, in backward)")
    assert "Traceback" not in result.stdout


def test_dependency_failure_names_the_broken_module(fake):
    root, tests = fake
    (tests / "test_fake.py").write_text(GRADING_TESTS + "\ndef test_momentum(hw1):\n    assert hw1.forward\n")
    result = grade_fake(fake, {"mytorch/loss.py": "raise ValueError('broken loss')\n"})
    assert "hw1/hw1.py needs mytorch/loss.py, which failed: importing mytorch/loss.py failed: ValueError: broken loss" \
        in row(result, "Momentum")


def test_broken_grading_test_file_fails_only_its_own_tests(fake):
    root, tests = fake
    (tests / "test_broken.py").write_text("def test_momentum(hw1):\n    assert (\n")
    result = grade_fake(fake, {})
    assert scores(result)["test_momentum"] == 0 and scores(result)["test_linear_forward"] == 2
    assert "the test file could not be loaded: SyntaxError" in row(result, "Momentum")


def test_crash_while_loading_the_grading_tests_still_prints_the_table(fake):
    root, tests = fake
    (tests / "test_fake.py").write_text("import os\nos.abort()\n" + GRADING_TESTS)
    result = grade_fake(fake, {})
    assert set(scores(result).values()) == {0} and "Total: 0/95" in result.stdout
    assert "not run: loading the grading tests crashed the grading process (signal 6, SIGABRT)" \
        in row(result, "Linear forward")


def test_k_selects_a_subset_and_exit_code_is_zero_on_full_marks(fake):
    root, tests = fake
    result = run_runner(root, "-k", "linear", "--json", tests=tests)
    assert scores(result) == {"test_linear_forward": 2, "test_linear_backward": 2}  # -k: only the selected tests
    assert "Total: 4/4 for the selected tests" in result.stdout
    assert result.returncode == 0
    write_tree(root, {"mytorch/linear.py": "def forward(x):\n    return x[:1]\n"})
    assert run_runner(root, "-k", "linear", tests=tests).returncode == 1


def test_gradescope_results_json(fake, tmp_path):
    root, tests = fake
    out = tmp_path / "results.json"
    write_tree(root, {"mytorch/batchnorm.py": "VALUE = 4\n"})
    run_runner(root, "--gradescope", str(out), tests=tests)
    results = json.loads(out.read_text())
    by_name = {test["name"]: test for test in results["tests"]}
    assert by_name["BatchNorm training"]["score"] == 0 and by_name["BatchNorm training"]["max_score"] == 10
    assert "assert 4 == 3" in by_name["BatchNorm training"]["output"]
    assert by_name["Multiple choice (all five right)"] == {
        "name": "Multiple choice (all five right)", "score": 5, "max_score": 5, "output": "passed"}
    assert by_name["Batch of one (extra check)"]["max_score"] == 0
    assert results["score"] == 11 and "Total: 11/95" in results["output"]


def test_grading_writes_nothing_into_the_submission(fake):
    root, tests = fake
    before = sorted(str(p) for p in root.rglob("*"))
    run_runner(root, tests=tests)
    assert sorted(str(p) for p in root.rglob("*")) == before


def test_a_copy_on_pythonpath_does_not_shadow_the_submission(fake, tmp_path):
    installed = tmp_path / "site"  # what `pip install` of another copy puts on sys.path: packages and modules
    write_tree(installed, {"linear.py": "def forward(x):\n    return None\n", "hw1/__init__.py": "forward = None\n",
                           "mc.py": "def question_1():\n    return 'z'\n"})
    root, tests = fake
    (tests / "test_hw1.py").write_text("def test_momentum(hw1):\n    assert hw1.forward is not None\n")
    result = run_runner(root, "--json", tests=tests, env={"PYTHONPATH": str(installed)})
    assert scores(result)["test_linear_forward"] == 2 and scores(result)["test_mcq"] == 5
    assert scores(result)["test_momentum"] == 10


def test_shadowing_module_fails_loudly_naming_both_paths(fake, tmp_path, monkeypatch):
    """A finder that serves another linear.py first (what a broken install can do) is caught, not graded."""
    import importlib.util

    root, _ = fake
    elsewhere = tmp_path / "elsewhere" / "linear.py"
    write_tree(tmp_path, {"elsewhere/linear.py": "VALUE = 'installed'\n"})

    class Shadow:
        def find_spec(self, name, path=None, target=None):
            return importlib.util.spec_from_file_location(name, elsewhere) if name == "linear" else None

    monkeypatch.setenv("MYTORCH_GRADING_ROOT", str(root))
    monkeypatch.setattr(sys, "meta_path", [Shadow()] + sys.meta_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(student, "_failures", {})
    monkeypatch.delitem(sys.modules, "linear", raising=False)
    try:
        with pytest.raises(student.ShadowedModuleError) as failure:
            student.load_student("linear")
    finally:
        sys.modules.pop("linear", None)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, student.ImportGuard)]
    assert str(elsewhere) in str(failure.value)
    assert os.path.join(str(root), "mytorch", "linear.py") in str(failure.value)


def test_preflight_reports_forbidden_imports_and_missing_names_without_running_code(tmp_path):
    write_tree(tmp_path, {
        "mytorch/activation.py": "import os\nos.abort()\nclass Activation: pass\n",
        "mytorch/loss.py": "import numpy as np\nfrom torch.nn import functional\n",
        "mytorch/linear.py": "class Linear:\n    def forward(self, x): pass\n    def backward(self): pass\n",
        "hw1/mc.py": "import importlib\nm = importlib.import_module('tensorflow')\n",
    })
    problems = preflight.check(str(tmp_path))
    assert "mytorch/loss.py:2: imports torch; graded code may import only numpy and the standard library " \
           "(the course grader has no torch). Remove the import." in problems
    assert any(p.startswith("hw1/mc.py:2: imports tensorflow") for p in problems)
    assert "mytorch/batchnorm.py is missing." in problems and "hw1/hw1.py is missing." in problems
    assert "mytorch/activation.py: class Sigmoid is missing." in problems
    assert "mytorch/loss.py: class SoftmaxCrossEntropy is missing." in problems
    assert "mytorch/linear.py: Linear.__init__ is missing." in problems
    assert any(p.startswith("mytorch/linear.py: Linear.backward(self) cannot be called with 1 argument")
               for p in problems)
    assert "hw1/mc.py: function question_1 is missing." in problems


def test_preflight_passes_on_the_solution_and_check_flag_reports_it():
    assert preflight.check(ROOT) == []
    result = run_runner(ROOT, "--check")
    assert result.returncode == 0 and "Preflight passed" in result.stdout


def test_doctor_flag_runs_the_doctor():
    result = run_runner(ROOT, "--doctor")
    assert "doctor" in result.stdout.lower() and "Traceback" not in result.stderr


def test_point_table_adds_up_to_95_and_extras_are_free():
    assert sum(points for _, points in points.GRADED.values()) == points.TOTAL == 95
    assert points.title_and_points("test_extra_fold_equivalence")[1] == 0
    assert points.title_and_points("test_momentum") == ("Momentum", 10)


@pytest.mark.skipif(not os.path.isdir(os.path.join(AUTOGRADER, "references")), reason="references not generated yet")
def test_solution_scores_full_marks():
    result = run_runner(ROOT, "--json")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Total: 95/95" in result.stdout
    assert sum(scores(result).values()) == 95 and set(scores(result)) == set(points.GRADED)
