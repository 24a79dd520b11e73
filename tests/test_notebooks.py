"""The example notebooks run top to bottom from a clean kernel, and are committed without outputs; in the handout
each stops at its first missing task with one line naming it, and runs once the solution is back.

Running them needs nbclient, nbformat and ipykernel (setup.py's "notebooks" extra).  Without them the execution
tests are skipped, unless the environment variable CI is set: in CI a missing runner is a failure, not a skip.
The kernel is the interpreter running pytest (tools/handout_checks.py's kernelspec, the one the release uses), so
the notebooks see exactly the packages the tests see, whatever "python3" kernel the machine has registered."""

import json
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import handout_checks  # noqa: E402
import make_handout  # noqa: E402
import release  # noqa: E402

EXAMPLES = os.path.join(ROOT, "examples")
REQUIRED = ["01_quickstart.ipynb", "02_zero_init.ipynb", "03_batchnorm_folding.ipynb", "04_gradcheck.ipynb"]
NOTEBOOKS = sorted(name for name in os.listdir(EXAMPLES) if name.endswith(".ipynb"))  # every one is tested


def test_the_four_student_notebooks_are_there():
    missing = [name for name in REQUIRED if name not in NOTEBOOKS]
    assert missing == [], f"examples/ lacks {missing}; the README links them."


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    path = os.path.join(EXAMPLES, name)
    with open(path, encoding="utf-8") as handle:
        notebook = json.load(handle)
    assert notebook["nbformat"] == 4, f"{name}: nbformat {notebook['nbformat']}; expected version 4."
    clear = f"clear them with: jupyter nbconvert --clear-output --inplace examples/{name}"
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell["outputs"] == [], f"{name}: code cell {number} has saved outputs; {clear}"
        assert cell["execution_count"] is None, f"{name}: code cell {number} has an execution count; {clear}"


def notebook_runner():
    """(nbformat, NotebookClient), or skip -- fail when CI is set -- if the notebook extra is not installed."""
    try:
        import ipykernel  # noqa: F401  (the kernel the notebooks run in)
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:
        message = f'cannot execute notebooks: {error}. Install them with: python3 -m pip install -e ".[notebooks]"'
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return nbformat, NotebookClient


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_a_clean_kernel(name, tmp_path):
    notebook_runner()
    notebook, error = handout_checks.execute_notebook(
        os.path.join(EXAMPLES, name), handout_checks.kernel_spec_manager(tmp_path)
    )
    assert error is None, f"{name}: {error}"  # a CellExecutionError shows the cell and its traceback
    errors = [
        output for cell in notebook.cells for output in cell.get("outputs", []) if output.get("output_type") == "error"
    ]
    assert errors == []


# --- what a student gets: the handout's notebooks ------------------------------------------------------------------


def _cells(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        return json.load(handle)["cells"]


def test_every_notebook_starts_with_the_same_setup_cell_that_installs_the_one_line_handler():
    """One set-up, four copies: they must agree (a notebook cannot import another's cell)."""
    first_code = {
        name: "".join(next(c for c in _cells(name) if c["cell_type"] == "code")["source"]) for name in NOTEBOOKS
    }
    assert len(set(first_code.values())) == 1, "the notebooks' first code cells differ"
    setup = first_code[NOTEBOOKS[0]]
    assert handout_checks.HANDLER in setup and "not implemented yet: {value}" in setup


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_lists_the_tasks_it_needs_and_they_are_tasks_of_the_homework(name):
    tasks = make_handout.notebook_tasks({"cells": _cells(name)})
    assert tasks, f"{name}: the first cell needs a line '**Tasks needed:** ...'"
    marked = {block.task for _, blocks in make_handout.solution_blocks().values() for block in blocks}
    assert [task for task in tasks if not any(m == task or m.startswith(task + ".") for m in marked)] == []


@pytest.fixture(scope="module")
def handout_and_solved(tmp_path_factory):
    """(the bare handout, the handout with the solution put back), built once for this module."""
    root = tmp_path_factory.mktemp("notebooks")
    handout, solved = root / "handout", root / "solved"
    make_handout.build(handout)
    shutil.copytree(handout, solved)
    release.restore_solution(solved)
    return handout, solved


def test_the_handout_notebooks_are_cleared_list_their_tasks_and_keep_no_solution_only_cell(handout_and_solved):
    handout, _ = handout_and_solved
    tasks = handout_checks.handout_tasks(handout)
    assert {"3.4.1", "3.5", "E02"} <= tasks
    for name in NOTEBOOKS:
        notebook = json.loads((handout / "examples" / name).read_text(encoding="utf-8"))
        assert handout_checks.static_notebook_problems(name, notebook, tasks) == []
        kept = [
            cell["source"] for cell in _cells(name) if make_handout.NOTEBOOK_TAG not in cell["metadata"].get("tags", [])
        ]
        assert [cell["source"] for cell in notebook["cells"]] == kept, name


def _executed(*cells):
    """A notebook as nbclient leaves it: cells with outputs."""
    nbformat, _ = notebook_runner()
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=outputs) for outputs in cells])


class _Stopped:
    ename, evalue = "NotImplementedError", "Task 3.5: implement MLP.__init__ (layers) — see the writeup section 3.5"


STOP = {
    "output_type": "stream",
    "name": "stderr",
    "text": "not implemented yet: Task 3.5: implement MLP.__init__ (layers) — see the writeup section 3.5. Write "
    "it, restart the kernel and run the notebook again.\n",
}


def test_a_bare_run_stopping_with_one_line_at_a_listed_task_passes():
    assert handout_checks.bare_run_problems("n.ipynb", _executed([], [STOP]), _Stopped(), ["3.4", "3.5"]) == []


@pytest.mark.parametrize(
    "outputs, error, listed, says",
    [
        ([[], [STOP]], _Stopped(), ["3.4"], "which its first cell does not list"),
        (
            [
                [
                    {
                        "output_type": "error",
                        "ename": "NotImplementedError",
                        "evalue": "Task 3.5: ...",
                        "traceback": ["Traceback (most recent call last)", "..."],
                    }
                ]
            ],
            _Stopped(),
            ["3.5"],
            "with a traceback",
        ),
        ([[{"output_type": "stream", "name": "stdout", "text": "done\n"}]], None, ["3.5"], "runs to the end"),
        ([[STOP, STOP]], _Stopped(), ["3.5"], "expected one line"),
    ],
)
def test_a_bare_run_that_does_not_stop_readably_is_a_problem(outputs, error, listed, says):
    [problem] = handout_checks.bare_run_problems("n.ipynb", _executed(*outputs), error, listed)
    assert problem.startswith("n.ipynb: ") and says in problem


@pytest.mark.slow
def test_each_handout_notebook_stops_at_its_first_missing_task_and_runs_with_the_solution(handout_and_solved):
    notebook_runner()
    handout, solved = handout_and_solved
    assert handout_checks.check_handout_notebooks(handout, solved) == []


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
