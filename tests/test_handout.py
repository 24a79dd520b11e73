"""The student handout generated from the solution (tools/make_handout.py).

Claims: each marked body becomes a stub generated from its marker (and nothing else changes: signatures,
docstrings, input checks stay); a malformed marker stops the build naming file and line; the handout holds no
solution text and no instructor files; it imports cleanly both ways; its autograder scores 0/95 with one line per
test naming the task; and putting the solution back scores 95/95.  The expected texts come from the markers in
the solution and from the issue's wording, never from a previous handout.
"""

import ast
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import make_handout  # noqa: E402
import release  # noqa: E402
from make_handout import MarkerError, find_blocks, stub_message, strip_solutions  # noqa: E402

TASK_LINE = "# BEGIN SOLUTION task 3.4.2: Linear.backward\n"


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """A handout built from the working tree, shared by the tests of this module (read-only)."""
    out = tmp_path_factory.mktemp("handout") / "handout"
    make_handout.build(out)
    return out


@pytest.fixture(scope="module")
def solution():
    """{relative path: (lines, blocks)} of every stubbed solution file."""
    return make_handout.solution_blocks()


def run_python(code, cwd):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# --- markers and stubs ---------------------------------------------------------------------------------------------

def test_stub_message_is_generated_from_task_id_and_name():
    assert stub_message("3.4.2", "Linear.backward") == \
        "Task 3.4.2: implement Linear.backward — see the writeup section 3.4.2"
    assert stub_message("E02", "fold_batchnorm") == "Task E02: implement fold_batchnorm — see exercise E02 in README.md"


def test_a_block_becomes_one_stub_at_the_marker_indentation_and_code_around_it_stays():
    source = ("def backward(self, delta):\n"
              '    """Docstring."""\n'
              "    check(delta)\n"
              "    " + TASK_LINE +
              "    return delta @ self.W.T\n"
              "    # END SOLUTION\n"
              "    unreachable = 1\n")
    text, [block] = strip_solutions(source, "linear.py")
    assert text == ("def backward(self, delta):\n"
                    '    """Docstring."""\n'
                    "    check(delta)\n"
                    "    raise NotImplementedError('Task 3.4.2: implement Linear.backward — see the writeup section "
                    "3.4.2')\n"
                    "    unreachable = 1\n")
    assert (block.task, block.name, block.first, block.last) == ("3.4.2", "Linear.backward", 4, 6)


def test_an_answer_file_stub_returns_none():
    text, _ = strip_solutions('def question_1():\n    # BEGIN SOLUTION task 2.1: question 1\n    return "b"\n'
                              "    # END SOLUTION\n", "mc.py", answer=True)
    assert text.splitlines()[1].startswith("    return None  # Task 2.1: question 1")
    assert '"b"' not in text


@pytest.mark.parametrize("source, where, says", [
    ("x = 1\n" + TASK_LINE + "y = 2\n", "f.py:2", "never closed"),
    (TASK_LINE + "y = 2\n" + TASK_LINE + "# END SOLUTION\n", "f.py:3", "cannot nest"),
    ("x = 1\n# END SOLUTION\n", "f.py:2", "without a BEGIN"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
    ("# BEGIN SOLUTION task : Linear\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
    ("# BEGIN SOLUTION task 3.4.2:\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
    ("if x:\n    " + TASK_LINE + "    y = 2\n# END SOLUTION\n", "f.py:4", "indented differently"),
])
def test_malformed_markers_are_errors_naming_file_and_line(source, where, says):
    with pytest.raises(MarkerError) as error:
        find_blocks(source.splitlines(keepends=True), "f.py")
    assert str(error.value).startswith(where + ":")
    assert says in str(error.value)


def test_a_malformed_marker_in_the_solution_stops_the_build_before_writing(tmp_path):
    (tmp_path / "mytorch").mkdir()
    (tmp_path / "hw1").mkdir()
    (tmp_path / "mytorch" / "linear.py").write_text("def f():\n    " + TASK_LINE + "    return 1\n")
    out = tmp_path / "out"
    with pytest.raises(MarkerError, match=r"^mytorch/linear\.py:2: BEGIN SOLUTION task 3\.4\.2 is never closed"):
        make_handout.build(out, root=tmp_path)
    assert not out.exists()


def test_a_marker_left_in_an_unstubbed_file_is_an_error(tmp_path):
    for name in make_handout.HANDOUT_PATHS:
        (tmp_path / name).mkdir()
    (tmp_path / "autograder" / "notes.py").write_text("x = 1\n# END SOLUTION\n")
    with pytest.raises(MarkerError, match=r"^autograder/notes\.py:2: the handout still contains 'END SOLUTION'"):
        make_handout.build(tmp_path / "out", root=tmp_path)


def test_the_handout_is_never_written_over_the_repository():
    with pytest.raises(ValueError, match="refusing"):
        make_handout.build(ROOT)


# --- the generated handout -----------------------------------------------------------------------------------------

def test_the_solution_has_markers_in_every_graded_file(solution):
    files = {path for path, (_, blocks) in solution.items() if blocks}
    assert {"mytorch/activation.py", "mytorch/loss.py", "mytorch/linear.py", "mytorch/batchnorm.py", "hw1/hw1.py",
            "hw1/mc.py"} <= files


def test_only_marked_lines_change(handout, solution):
    """Outside the blocks the handout file is the solution file, line for line; each block is one stub line."""
    for path, (lines, blocks) in solution.items():
        expected, cursor = [], 0
        for block in blocks:
            expected += lines[cursor:block.first - 1]
            expected.append(make_handout.stub_lines(block, answer=path in make_handout.ANSWER_FILES)[0])
            cursor = block.last
        expected += lines[cursor:]
        assert (handout / path).read_text(encoding="utf-8") == "".join(expected), path


def _definitions(text):
    """{qualified name: (arguments, docstring)} of every function and class in a module."""
    found = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = prefix + child.name
                arguments = ast.dump(child.args) if isinstance(child, ast.FunctionDef) else ""
                found[name] = (arguments, ast.get_docstring(child))
                visit(child, name + ".")

    visit(ast.parse(text), "")
    return found


def test_signatures_and_docstrings_are_kept(handout, solution):
    for path, (lines, _) in solution.items():
        assert _definitions((handout / path).read_text(encoding="utf-8")) == _definitions("".join(lines)), path


def _solution_lines(solution):
    """The lines inside the markers, code and comments, that a student must not receive.  Lines shorter than 20
    characters are API calls such as `mlp.forward(x)` that grading tests rightly contain; inside mytorch/ and
    hw1/, test_only_marked_lines_change already proves that nothing of a block survives."""
    found = set()
    for lines, blocks in solution.values():
        for block in blocks:
            for line in lines[block.first:block.last - 1]:
                text = line.strip()
                if len(text) >= 20:
                    found.add(text)
                    code = text.split("  #")[0].strip()
                    if len(code) >= 20:
                        found.add(code)
    return found


def test_the_handout_holds_no_solution_text(handout, solution):
    secrets = _solution_lines(solution)
    assert len(secrets) > 40  # the check has something to look for
    leaks = []
    for path in sorted(p for p in handout.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # .npz and other binary data
        leaks += [f"{path.relative_to(handout)}: {secret}" for secret in secrets if secret in text]
    assert leaks == []


def test_multiple_choice_answers_are_none(handout):
    result = run_python("import sys; sys.path.append('hw1'); import mc; "
                        "print([getattr(mc, f'question_{i}')() for i in range(1, 6)])", handout)
    assert result.stdout.strip() == "[None, None, None, None, None]", result.stderr


def test_instructor_files_are_left_out(handout):
    top_level = {path.name for path in handout.iterdir()}
    assert top_level == {"README.md", "mytorch", "hw1", "autograder", "data", "create_tarball.sh", "setup.py"}
    assert not list(handout.rglob("__pycache__"))


def test_the_readme_lists_every_task(handout, solution):
    readme = (handout / "README.md").read_text(encoding="utf-8")
    for _, blocks in solution.values():
        for block in blocks:
            assert f"| {block.task} | `{block.name}` | `{block.path}` |" in readme
    assert make_handout.TASKS_PLACEHOLDER not in readme


def test_the_tar_holds_the_handout_tree(handout, tmp_path):
    tar_path = tmp_path / "handout.tar"
    make_handout.write_tar(handout, tar_path)
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    files = {member.name for member in members if member.isfile()}
    assert files == {"handout/" + path.relative_to(handout).as_posix() for path in handout.rglob("*") if path.is_file()}
    assert {(member.uname, member.gname) for member in members} == {("", "")}


def test_the_handout_imports_cleanly_flat_and_as_packages(handout):
    flat = run_python("import sys; sys.path.append('mytorch'); sys.path.append('hw1'); "
                      "import activation, loss, linear, batchnorm, hw1, mc; print(hw1.MLP.__name__)", handout)
    assert flat.returncode == 0 and flat.stdout.strip() == "MLP", flat.stderr
    packages = run_python("import mytorch, hw1; from hw1 import MLP; from mytorch import Linear; "
                          "print(mytorch.__file__, hw1.__file__)", handout)
    assert packages.returncode == 0, packages.stderr
    assert packages.stdout.split() == [str(handout / "mytorch" / "__init__.py"), str(handout / "hw1" / "__init__.py")]


def test_stubs_raise_not_implemented_naming_their_task(handout):
    code = """
import numpy as np
from mytorch import Linear, Sigmoid, Identity, SoftmaxCrossEntropy
from hw1 import MLP
def message(call):
    try:
        call()
    except NotImplementedError as error:
        return str(error)
layer = Linear(3, 2, np.random.randn, lambda n: np.zeros((1, n)))
print(message(lambda: layer.forward(np.ones((4, 3)))))
print(message(lambda: Sigmoid().forward(np.ones((2, 2)))))
print(message(lambda: MLP(3, 2, [], [Identity()], np.random.randn, lambda n: np.zeros((1, n)),
                          SoftmaxCrossEntropy(), 0.1)))
"""
    result = run_python(code, handout)
    assert result.stdout.splitlines() == [
        "Task 3.4.1: implement Linear.forward — see the writeup section 3.4.1",
        "Task 3.1.1: implement Sigmoid.forward — see the writeup section 3.1.1",
        "Task 3.5: implement MLP.__init__ (layers) — see the writeup section 3.5",
    ], result.stderr


# --- its autograder ------------------------------------------------------------------------------------------------

def test_the_handout_scores_zero_with_one_line_per_test_naming_the_task(handout):
    result = release.grade(handout)
    assert release.handout_problems(result) == [], result.output
    assert result.status != 0


def test_putting_the_solution_back_scores_full_marks(handout, tmp_path):
    solved = tmp_path / "solved"
    shutil.copytree(handout, solved)
    release.restore_solution(solved)
    result = release.grade(solved)
    assert release.full_marks_problems(result) == []
