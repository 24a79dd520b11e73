"""The example notebooks run top to bottom from a clean kernel, and are committed without outputs.

Running them needs nbclient, nbformat and ipykernel (setup.py's "notebooks" extra).  Without them the execution
tests are skipped, unless the environment variable CI is set: in CI a missing runner is a failure, not a skip.
The kernel is the interpreter running pytest (a kernelspec written to a temporary JUPYTER_PATH), so the notebooks
see exactly the packages the tests see, whatever "python3" kernel the machine has registered.
"""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
REQUIRED = ["01_quickstart.ipynb", "02_zero_init.ipynb", "03_batchnorm_folding.ipynb", "04_gradcheck.ipynb"]
NOTEBOOKS = sorted(name for name in os.listdir(EXAMPLES) if name.endswith(".ipynb"))  # every one is tested
KERNEL_NAME = "mytorch-tests-python"
CELL_TIMEOUT = 300  # seconds: a guard against a hung kernel, not a speed test (each notebook takes seconds)


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
        message = f"cannot execute notebooks: {error}. Install them with: python3 -m pip install -e \".[notebooks]\""
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return nbformat, NotebookClient


@pytest.fixture
def kernel_of_this_interpreter(tmp_path, monkeypatch):
    """A kernelspec that starts sys.executable; JUPYTER_PATH is searched before every other kernel folder."""
    spec_dir = tmp_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (mytorch tests)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future default; silences its warning
    # Small matrix products are ~10x slower with one OpenBLAS thread per core on a busy machine (measured).
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    return KERNEL_NAME


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_a_clean_kernel(name, kernel_of_this_interpreter):
    nbformat, NotebookClient = notebook_runner()
    notebook = nbformat.read(os.path.join(EXAMPLES, name), as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_of_this_interpreter, timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": EXAMPLES}})  # run in examples/, as Jupyter does
    client.execute()  # raises CellExecutionError, showing the cell and its traceback, if any cell raises
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert errors == []
