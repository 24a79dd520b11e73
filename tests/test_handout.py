"""The student handout generated from the solution (tools/make_handout.py) and checked (tools/handout_checks.py).

Claims: each marked body becomes a stub generated from its marker, each solution-only docstring section, notebook
cell and Markdown passage is dropped, and nothing else changes (signatures, docstrings, input checks stay); a
malformed marker stops the build naming file and line; the handout holds no solution text, no derivation the
exercises ask for, no multiple-choice answer in plain text and no instructor files; every file its text names is
in it; it imports cleanly both ways; its autograder scores 0/95 with one line per test naming the task, and
putting the solution back scores 95/95; its README lists the tasks, the notebooks and the differences from the
writeup, and its commands and gradcheck example run.  The expected texts come from the markers in the solution,
from the reference files and from the issue's wording, never from a previous handout."""

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import handout_checks  # noqa: E402
import make_handout  # noqa: E402
import release  # noqa: E402
from make_handout import (  # noqa: E402
    MarkerError,
    find_blocks,
    find_sections,
    handout_notebook,
    strip_markdown,
    strip_sections,
    strip_solutions,
    stub_message,
)

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


@pytest.fixture(scope="module")
def solved(handout, tmp_path_factory):
    """The handout with the solution put back (tools/release.py's restore_solution), shared read-only."""
    folder = tmp_path_factory.mktemp("solved") / "handout"
    shutil.copytree(handout, folder)
    release.restore_solution(folder)
    return folder


def run_python(code, cwd, stdin=False):
    """python3 -c code (or code on stdin, as pasted into python3) in cwd, without the tests' PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    args = [sys.executable, "-"] if stdin else [sys.executable, "-c", code]
    return subprocess.run(
        args, input=code if stdin else None, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def text_files(root):
    """{relative path: text} of every file under root that reads as UTF-8 (the .npz data does not)."""
    found = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        try:
            found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return found


# --- markers and stubs ---------------------------------------------------------------------------------------------


def test_stub_message_is_generated_from_task_id_and_name():
    assert (
        stub_message("3.4.2", "Linear.backward")
        == "Task 3.4.2: implement Linear.backward — see the writeup section 3.4.2"
    )
    assert stub_message("E02", "fold_batchnorm") == "Task E02: implement fold_batchnorm — see exercise E02 in README.md"


def test_a_block_becomes_one_stub_at_the_marker_indentation_and_code_around_it_stays():
    source = (
        "def backward(self, delta):\n"
        '    """Docstring."""\n'
        "    check(delta)\n"
        "    " + TASK_LINE + "    return delta @ self.W.T\n"
        "    # END SOLUTION\n"
        "    unreachable = 1\n"
    )
    text, [block] = strip_solutions(source, "linear.py")
    assert text == (
        "def backward(self, delta):\n"
        '    """Docstring."""\n'
        "    check(delta)\n"
        "    raise NotImplementedError('Task 3.4.2: implement Linear.backward — see the writeup section "
        "3.4.2')\n"
        "    unreachable = 1\n"
    )
    assert (block.task, block.name, block.first, block.last) == ("3.4.2", "Linear.backward", 4, 6)


def test_an_answer_file_stub_returns_none():
    text, _ = strip_solutions(
        'def question_1():\n    # BEGIN SOLUTION task 2.1: question 1\n    return "b"\n    # END SOLUTION\n',
        "mc.py",
        answer=True,
    )
    assert text.splitlines()[1].startswith("    return None  # Task 2.1: question 1")
    assert '"b"' not in text


@pytest.mark.parametrize(
    "source, where, says",
    [
        ("x = 1\n" + TASK_LINE + "y = 2\n", "f.py:2", "never closed"),
        (TASK_LINE + "y = 2\n" + TASK_LINE + "# END SOLUTION\n", "f.py:3", "cannot nest"),
        ("x = 1\n# END SOLUTION\n", "f.py:2", "without a BEGIN"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
        ("# BEGIN SOLUTION task : Linear\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
        ("# BEGIN SOLUTION task 3.4.2:\nx = 1\n# END SOLUTION\n", "f.py:1", "malformed marker"),
        ("if x:\n    " + TASK_LINE + "    y = 2\n# END SOLUTION\n", "f.py:4", "indented differently"),
    ],
)
def test_malformed_markers_are_errors_naming_file_and_line(source, where, says):
    with pytest.raises(MarkerError) as error:
        find_blocks(source.splitlines(keepends=True), "f.py")
    assert str(error.value).startswith(where + ":")
    assert says in str(error.value)


def test_a_solution_only_section_goes_with_its_body_and_the_paragraphs_around_it_stay():
    source = (
        "def fold(mlp):\n"
        '    """Summary line.\n'
        "\n"
        "    Derivation (solution only):\n"
        "        W' = W * s\n"
        "\n"
        "        b' = (b - mean) * s + beta\n"
        "\n"
        "    Shapes: W (in, out).\n"
        '    """\n'
        "    return mlp\n"
    )
    assert strip_sections(source, "f.py") == (
        'def fold(mlp):\n    """Summary line.\n\n    Shapes: W (in, out).\n    """\n    return mlp\n'
    )


def test_a_solution_only_section_ending_a_docstring_takes_the_blank_line_before_it():
    source = (
        "def backward(self, delta):\n"
        '    """delta: (batch, in_feature).\n'
        "\n"
        "    Derivation (solution only):\n"
        "        dx = inv_std * (dnorm - mean(dnorm))\n"
        '    """\n'
    )
    assert strip_sections(source, "f.py") == 'def backward(self, delta):\n    """delta: (batch, in_feature).\n    """\n'
    assert find_sections(source.splitlines(keepends=True), "f.py") == [(3, 5)]


def test_a_solution_only_heading_without_an_indented_body_is_an_error_naming_file_and_line():
    source = '"""Summary.\n\nDerivation (solution only):\nW\' = W * s, left in the handout if this passed.\n"""\n'
    with pytest.raises(MarkerError, match=r"^f\.py:3: .*no line below it is indented deeper"):
        strip_sections(source, "f.py")
    code = "def f():  # note (solution only):\n    return 1\n"  # a line of code is never a heading
    assert find_sections(code.splitlines(keepends=True), "f.py") == []


def test_stubs_and_sections_are_applied_together_with_the_solutions_line_numbers():
    source = (
        "def f(x):\n"
        '    """Doc.\n'
        "\n"
        "    Why (solution only):\n"
        "        because\n"
        '    """\n'
        "    # BEGIN SOLUTION task 3.1.1: f\n"
        "    return x\n"
        "    # END SOLUTION\n"
    )
    text, [block] = strip_solutions(source, "f.py")
    assert text == (
        'def f(x):\n    """Doc.\n    """\n'
        "    raise NotImplementedError('Task 3.1.1: implement f — see the writeup section 3.1.1')\n"
    )
    assert (block.first, block.last) == (7, 9)


def test_a_solution_only_notebook_cell_is_dropped_and_every_output_cleared():
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
            {"cell_type": "markdown", "metadata": {"tags": ["solution-only"]}, "source": ["W' = W * s"]},
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"execution": {"t": 1}},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "0.0123"}],
                "source": ["print(1)"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    cells = json.loads(handout_notebook(json.dumps(notebook), "n.ipynb"))["cells"]
    assert [cell["source"] for cell in cells] == [["# Title"], ["print(1)"]]
    assert (cells[1]["outputs"], cells[1]["execution_count"], cells[1]["metadata"]) == ([], None, {})


def test_markdown_between_solution_only_comments_is_dropped():
    text = "keep\n<!-- solution only -->\ntools/convert_mnist.py\n<!-- end solution only -->\nalso kept\n"
    assert strip_markdown(text, "README.md") == "keep\nalso kept\n"
    with pytest.raises(MarkerError, match=r"^README\.md:2: .*never closed"):
        strip_markdown("keep\n<!-- solution only -->\nsecret\n", "README.md")


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
    for source in make_handout.HANDOUT_SOURCES.values():
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / source).write_text("")
    (tmp_path / "autograder" / "notes.py").write_text("x = 1\n# END SOLUTION\n")
    with pytest.raises(MarkerError, match=r"^autograder/notes\.py:2: the handout still contains 'END SOLUTION'"):
        make_handout.build(tmp_path / "out", root=tmp_path)


def test_the_handout_is_never_written_over_the_repository():
    with pytest.raises(ValueError, match="refusing"):
        make_handout.build(ROOT)


# --- the generated handout -----------------------------------------------------------------------------------------


def test_the_solution_has_markers_in_every_graded_file(solution):
    files = {path for path, (_, blocks) in solution.items() if blocks}
    assert {
        "mytorch/activation.py",
        "mytorch/loss.py",
        "mytorch/linear.py",
        "mytorch/batchnorm.py",
        "hw1/hw1.py",
        "hw1/mc.py",
    } <= files


def test_only_marked_lines_change(handout, solution):
    """Outside the blocks and the solution-only sections the handout file is the solution file, line for line;
    each block is one stub line, each section nothing."""
    for path, (lines, blocks) in solution.items():
        replaced = {
            block.first: [make_handout.stub_lines(block, answer=path in make_handout.ANSWER_FILES)[0]]
            for block in blocks
        }
        dropped = {number for block in blocks for number in range(block.first, block.last + 1)}
        for first, last in find_sections(lines, path):
            dropped |= set(range(first, last + 1))
        expected = []
        for number, line in enumerate(lines, start=1):
            expected += replaced.get(number, [] if number in dropped else [line])
        assert (handout / path).read_text(encoding="utf-8") == "".join(expected), path


def test_files_outside_mytorch_and_hw1_are_copied_unchanged_unless_marked(handout):
    """Only the three marks change a copied file: its bytes are the repository's otherwise."""
    for relative, source in make_handout.handout_files().items():
        if relative in make_handout.HANDOUT_SOURCES or relative.split("/")[0] in make_handout.STUBBED_DIRS:
            continue
        data = source.read_bytes()
        if source.suffix == ".ipynb" or b"solution only" in data:
            continue  # notebooks are always rewritten (outputs cleared); marked files are checked above
        assert (handout / relative).read_bytes() == data, relative


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


def test_signatures_and_docstrings_are_kept_except_solution_only_sections(handout, solution):
    for path, (lines, _) in solution.items():
        expected = _definitions(strip_sections("".join(lines), path))
        assert _definitions((handout / path).read_text(encoding="utf-8")) == expected, path


def _solution_lines(solution):
    """The lines inside the markers, code and comments, that a student must not receive.  Lines shorter than 20
    characters are API calls such as `mlp.forward(x)` that grading tests rightly contain; inside mytorch/ and
    hw1/, test_only_marked_lines_change already proves that nothing of a block survives."""
    found = set()
    for lines, blocks in solution.values():
        for block in blocks:
            for line in lines[block.first : block.last - 1]:
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


def _docstring(path, qualified_name):
    found = _definitions(path.read_text(encoding="utf-8"))
    assert qualified_name in found, f"{path} has no {qualified_name}"
    return found[qualified_name][1] or ""


# Text that states the answer of exercise E02 (the folded W' and b') or of the BatchNorm backward (task 3.3) beyond
# the writeup's appendix: the handout's docstrings keep shapes and conventions and leave these to the student.
FOLDING_FORMULAS = ["W * s", "W' = W", "b' = (b", "W ⊙", "gamma / sqrt(running_var", "/ sqrt(running_var + eps)"]


@pytest.mark.parametrize(
    "path, name", [("mytorch/batchnorm.py", "BatchNorm.backward"), ("hw1/hw1.py", "fold_batchnorm")]
)
def test_the_handout_docstrings_of_batchnorm_backward_and_fold_batchnorm_state_no_formula(handout, path, name):
    docstring = _docstring(handout / path, name)
    assert docstring, f"{name} lost its docstring"
    stated = [formula for formula in ["sqrt", "inv_std", "mean(", *FOLDING_FORMULAS] if formula in docstring]
    assert stated == [], (
        f"the handout's {name} docstring states {stated}; mark that paragraph as a docstring "
        f"section 'Derivation (solution only):' in {path}:\n{docstring}"
    )


def test_no_file_of_the_handout_states_the_folding_formulas(handout):
    leaks = [
        f"{path}: {formula}"
        for path, text in text_files(handout).items()
        for formula in FOLDING_FORMULAS
        if formula in text
    ]
    assert leaks == [], "mark these as solution-only (docstring sections, notebook cells):\n" + "\n".join(leaks)


def test_no_handout_notebook_states_a_backward_it_asks_for(handout):
    """The notebooks' cells with Linear's backward or the folded weights are tagged solution-only."""
    formulas = ["T @ delta", "@ self.W.T", "delta @ W.T", *FOLDING_FORMULAS]
    leaks = [
        f"{path}: {formula}"
        for path, text in text_files(handout).items()
        if path.endswith(".ipynb")
        for formula in formulas
        if formula in text
    ]
    assert leaks == []


def test_the_handout_holds_no_plain_text_multiple_choice_answers(handout, solution):
    lines, blocks = solution["hw1/mc.py"]
    answers = [
        re.search(r"""return\s*["']([a-d])["']""", "".join(lines[block.first : block.last - 1]))[1] for block in blocks
    ]
    assert len(answers) == 5
    with np.load(handout / "autograder/hw1_autograder/references/public/mc.npz", allow_pickle=False) as stored:
        assert set(stored.files) == {"questions", "salt", "hashes"}
        assert all(re.fullmatch(r"[0-9a-f]{64}", str(value)) for value in stored["hashes"])
    for path in handout.rglob("*.npz"):  # no array of the handout spells the key as letters
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                if data[key].dtype.kind == "U":
                    assert not set(data[key].ravel().tolist()) <= set("abcd"), f"{path}: {key}"
    # The key's letters in order, quoted and comma-separated ("b", "a", ...) or run together, appear nowhere.
    listed = re.compile(r"""["']\s*,\s*["']""".join(answers))
    joined = re.compile(rf"\b{''.join(answers)}\b", re.IGNORECASE)
    leaks = [path for path, text in text_files(handout).items() if listed.search(text) or joined.search(text)]
    assert leaks == [], f"the answer key {answers} appears in {leaks}"
    assert not re.search(r"""return\s*["'][a-dA-D]["']""", (handout / "hw1/mc.py").read_text(encoding="utf-8"))


def test_multiple_choice_answers_are_none(handout):
    result = run_python(
        "import sys; sys.path.append('hw1'); import mc; print([getattr(mc, f'question_{i}')() for i in range(1, 6)])",
        handout,
    )
    assert result.stdout.strip() == "[None, None, None, None, None]", result.stderr


def test_instructor_files_are_left_out(handout):
    top_level = {path.name for path in handout.iterdir()}
    assert top_level == {
        "README.md",
        "mytorch",
        "hw1",
        "autograder",
        "data",
        "examples",
        "experiments",
        "create_tarball.sh",
        "setup.py",
    }
    assert not list(handout.rglob("__pycache__"))
    assert not (handout / "autograder/hw1_autograder/references/server").exists()


def test_the_handout_setup_py_asks_for_numpy_and_student_extras_only(handout):
    text = (handout / "setup.py").read_text(encoding="utf-8")
    assert text == (make_handout.ROOT / make_handout.HANDOUT_SOURCES["setup.py"]).read_text(encoding="utf-8")
    for word in ("torch", "make_references", "solution", "hypothesis", "nbclient"):
        assert not re.search(rf"\b{word}\b", text), word
    result = run_python(
        "import runpy, setuptools\n"
        "setuptools.setup = lambda **kwargs: print(kwargs['install_requires'], "
        "sorted(kwargs['extras_require']), kwargs['version'])\n"
        "runpy.run_path('setup.py')",
        handout,
    )
    assert result.returncode == 0, result.stderr
    import mytorch  # the version is declared once, in mytorch/__init__.py

    assert result.stdout.split(None, 1)[0] == "['numpy>=1.26']"
    assert result.stdout.strip().endswith(f"['notebooks', 'plot', 'test'] {mytorch.__version__}")


def test_the_handout_names_only_files_it_contains(handout):
    assert handout_checks.check_handout_names(handout) == []


def test_the_names_check_finds_a_missing_file_and_lets_outputs_urls_and_absolute_paths_pass(tmp_path):
    (tmp_path / "mytorch").mkdir()
    (tmp_path / "mytorch" / "linear.py").write_text("")
    (tmp_path / "README.md").write_text(
        "Run tools/oracle_training.py, see examples/ and mytorch/linear.py.\n"
        "Plots go to hw1/*.png; see https://example.org/tools/x.py and /usr/share/datasets/y.py.\n"
        "python3 convert_mnist.py\n"
    )
    problems = handout_checks.check_handout_names(tmp_path)
    assert [problem.split(": names ")[1].split(",")[0] for problem in problems] == [
        "tools/oracle_training.py",
        "examples",
        "convert_mnist.py",
    ]
    assert problems[0].startswith("README.md:1: ")


def test_the_readme_lists_every_task(handout, solution):
    readme = (handout / "README.md").read_text(encoding="utf-8")
    for _, blocks in solution.values():
        for block in blocks:
            assert f"| {block.task} | `{block.name}` | `{block.path}` |" in readme
    assert make_handout.TASKS_PLACEHOLDER not in readme


def test_the_readme_lists_every_notebook_with_the_tasks_its_first_cell_names(handout):
    readme = (handout / "README.md").read_text(encoding="utf-8")
    notebooks = sorted((handout / "examples").glob("*.ipynb"))
    assert len(notebooks) == 4
    for path in notebooks:
        tasks = make_handout.notebook_tasks(json.loads(path.read_text(encoding="utf-8")))
        assert tasks, path.name
        assert f"| [`examples/{path.name}`](examples/{path.name}) | {', '.join(tasks)} |" in readme
    assert make_handout.NOTEBOOKS_PLACEHOLDER not in readme


def _section(readme, heading):
    start = readme.index(f"\n## {heading}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end >= 0 else None]


def test_the_readme_lists_where_the_kit_differs_from_the_writeup(handout):
    table = _section((handout / "README.md").read_text(encoding="utf-8"), "Where this kit differs from the writeup")
    for fact in [
        "`mytorch/activations.py`",
        "`mytorch/activation.py`",
        "`bn_layers`",
        "`None`",
        "a list",
        "plain SGD",
        "3,000 training",
        "55,000",
        "dashed",
        "salted SHA-256",
        "not secrecy",
        "other inputs and seeds",
        "pytest",
    ]:
        assert fact in table, fact
    # The expected numbers are the reference run's (the oracle's curves for the default network), rounded.
    with np.load(handout / "autograder/hw1_autograder/references/public/training_curves.npz") as curves:
        epochs = int(curves["config.epochs"])
        stated = [
            f"after the default {epochs} epochs",
            f"training loss {curves['train_loss'][-1]:.2f}",
            f"error {curves['train_error'][-1]:.0%}",
            f"validation loss {curves['val_loss'][-1]:.2f}",
            f"error {curves['val_error'][-1]:.0%}",
            f"{curves['val_error'][199]:.0%} validation error after 200",
            f"{int(curves['config.train_examples']):,} training",
        ]
    assert [fact for fact in stated if fact not in table] == []


def _readme_commands(readme, prefix):
    return [line.split("#")[0].strip() for line in readme.splitlines() if line.startswith(prefix)]


@pytest.mark.slow
def test_the_readme_test_selections_each_select_and_pass_on_the_solution(handout, solved):
    readme = (handout / "README.md").read_text(encoding="utf-8")
    commands = [
        command
        for command in _readme_commands(readme, "python3 autograder/hw1_autograder/runner.py ")
        if " -k " in command or " --task " in command
    ]
    assert len(commands) == 3
    for command in commands:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        result = subprocess.run(
            [sys.executable, *shlex.split(command)[1:]],
            cwd=solved,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        total = re.search(r"Total: (\d+)/(\d+) for the selected tests", result.stdout)
        assert result.returncode == 0 and total and total[1] == total[2] != "0", (command, result.stdout)


def _gradcheck_example(readme):
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    found = [block for block in blocks if "gradcheck(" in block]
    assert len(found) == 1, "the README has one python block calling gradcheck"
    return found[0]


@pytest.mark.slow
def test_the_readme_gradcheck_example_checks_linear_and_batchnorm_of_the_solution(handout, solved):
    code = _gradcheck_example((handout / "README.md").read_text(encoding="utf-8"))
    result = run_python(code, solved, stdin=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok"] * 6, result.stdout
    assert [line.split(None, 1)[1].split("[")[0] for line in lines] == [
        "Linear(4 -> 3) dx",
        "Linear(4 -> 3) dW",
        "Linear(4 -> 3) db",
        "BatchNorm(4) dx",
        "BatchNorm(4) dgamma",
        "BatchNorm(4) dbeta",
    ]
    bare = run_python(code, handout, stdin=True)  # on the handout it runs the student's code: a stub stops it
    assert bare.returncode != 0 and "Task 3.4.1: implement Linear.forward" in bare.stderr


def test_the_tar_holds_the_handout_tree(handout, tmp_path):
    tar_path = tmp_path / "handout.tar"
    make_handout.write_tar(handout, tar_path)
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
    files = {member.name for member in members if member.isfile()}
    assert files == {"handout/" + path.relative_to(handout).as_posix() for path in handout.rglob("*") if path.is_file()}
    assert {(member.uname, member.gname) for member in members} == {("", "")}


def test_the_handout_imports_cleanly_flat_and_as_packages(handout):
    flat = run_python(
        "import sys; sys.path.append('mytorch'); sys.path.append('hw1'); "
        "import activation, loss, linear, batchnorm, hw1, mc; print(hw1.MLP.__name__)",
        handout,
    )
    assert flat.returncode == 0 and flat.stdout.strip() == "MLP", flat.stderr
    packages = run_python(
        "import mytorch, hw1; from hw1 import MLP; from mytorch import Linear; print(mytorch.__file__, hw1.__file__)",
        handout,
    )
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


def test_putting_the_solution_back_scores_full_marks(solved):
    result = release.grade(solved)
    assert release.full_marks_problems(result) == []
