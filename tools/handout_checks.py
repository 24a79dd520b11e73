"""Checks of a built handout that the release pipeline runs (tools/release.py) and the tests reuse.

    check_handout_names(handout_dir)                  -> [problem]   under 0.1 s
    check_handout_notebooks(handout_dir, solved_dir)  -> [problem]   12-20 s on 2 cores (eight notebook runs)

Each returns one readable message per problem, [] when all is well.

check_handout_names: every file the handout's text names exists in the handout.  It reads the .py, .md, .sh,
.txt, .cfg, .toml and .ipynb files and takes as a file name (a) a relative path whose first folder is one of the
course repository's (ROOTS: tools/..., examples/..., autograder/hw1_autograder/...) or whose last part has a
source suffix (SOURCE_SUFFIXES: x/y.py), (b) a bare name with a source or data suffix (make_references.py,
mnist_5k.npz), and (c) one of those folders written with its slash (examples/).  A path counts as present
relative to the handout's root or to the folder of the file naming it; a bare name when some file of the handout
has it.  Absolute paths and URLs are not names of the handout.  ALLOWED lists, each with its reason, the few
names that need not exist: files a student's own commands write, the folder named only to say that it stays on
the course server, and the writeup's misspelt file name.

check_handout_notebooks: every examples/*.ipynb of the handout is cleared (no outputs, no execution counts),
lists the tasks it needs in its first cell ("**Tasks needed:** 3.4, 3.5 ..."), and installs the one-line
"not implemented yet" handler in its first code cell.  Executed in the bare handout it stops at a cell that
needs a task, with the single line "not implemented yet: Task <id>: ..." for a task it lists and no traceback;
executed in solved_dir (the handout with the solution put back, tools/release.py's restore_solution) every cell
runs.  The kernel is this interpreter's (a temporary kernelspec), so it sees the packages this process sees;
nbclient, nbformat and ipykernel must be installed (the repository's "notebooks" extra).
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_handout  # noqa: E402  (the notebooks' "Tasks needed" line is read as the README's table reads it)

# Text files whose names are checked; the handout's other files are data (.npz) or generated (MANIFEST.json).
SCANNED_SUFFIXES = {".py", ".md", ".sh", ".txt", ".cfg", ".toml", ".ipynb"}
# A path starting with one of these folders is a name of the course's files: the repository's top-level folders
# (instructor-only ones included, which is the point) and the autograder's own.
ROOTS = {
    "autograder",
    "hw1_autograder",
    "references",
    "mytorch",
    "hw1",
    "data",
    "examples",
    "experiments",
    "tools",
    "tests",
    "bench",
    "dist",
    ".ci",
}
# A path whose last part ends like this names a file, whatever its folders ("handout/x.py").
SOURCE_SUFFIXES = {"py", "ipynb", "sh", "md", "npz", "txt", "cfg", "toml"}
# A bare name (no folder) ending like this must be the name of some file of the handout.
NAMED_SUFFIXES = {"py", "ipynb", "sh", "npz"}
# Names allowed without existing in the handout (fnmatch patterns), and why: files a student's own commands
# write, a folder named only to say where it is instead, and the writeup's misspelling the README quotes.
ALLOWED = {
    "hw1/*.png": "the training plots train.py (test.py --outpath hw1) writes, which create_tarball.sh hands in",
    "hw1/training_stats.csv": "the curves' numbers train.py writes beside the plots",
    "handin/*": "a member of a student's unpacked handin.tar (handin.py's example of a path's depth)",
    "references/server*": "the course server's reference set, named only to say that it is not in the handout",
    "autograder/hw1_autograder/references/server*": "the same, from the handout's root",
    "mytorch/activations.py": "the writeup's name for mytorch/activation.py, quoted in the README's differences",
    "tools/make_references.py": "reference_sets.regenerate_hint names the instructors' generator only where the file "
    "exists (a repository); in a handout its message says to reinstall the references",
}
TOKEN = re.compile(r"(?<![\w./\\~:$@%-])((?:\.\.?/)?[\w*?-][\w.*?-]*(?:/[\w.*?-]+)*/?)")


def _scanned_text(path):
    """The text to scan: a notebook's cell sources (its JSON escapes would glue words together), else the file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return text
    try:
        cells = json.loads(text).get("cells", [])
    except ValueError:
        return text
    return "\n".join("".join(cell.get("source", [])) for cell in cells)


def path_mentions(text):
    """[(line number, name)] of the file names in text, as check_handout_names defines them."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in TOKEN.finditer(line):
            name = match.group(1).rstrip(".")
            if name.startswith("./"):
                name = name[2:]
            folder, name = name.endswith("/"), name.rstrip("/")  # "examples/" names a folder
            last = name.rsplit("/", 1)[-1]
            suffix = last.rsplit(".", 1)[1] if "." in last.strip(".") else ""
            if "/" in name:
                first = name.split("/", 1)[0]
                if first in ROOTS or first == ".." or suffix in SOURCE_SUFFIXES:
                    found.append((number, name))
            elif (folder and name in ROOTS) or suffix in NAMED_SUFFIXES:
                found.append((number, name))
    return found


def _exists(name, folder, present, basenames):
    """Whether name (maybe a glob) is a file or folder of the handout, from its root or from folder."""
    if "/" not in name and "." in name:  # a bare file name: some file of the handout has it
        return any(fnmatch.fnmatch(base, name) for base in basenames)
    candidates = [os.path.normpath(name), os.path.normpath(os.path.join(folder, name))]
    candidates = [candidate.replace(os.sep, "/") for candidate in candidates if not candidate.startswith("..")]
    if any(char in name for char in "*?"):
        return any(fnmatch.fnmatch(path, candidate) for candidate in candidates for path in present)
    return any(candidate in present for candidate in candidates)


def check_handout_names(handout_dir):
    """[problem] for every name of a file that the handout's text mentions and the handout does not contain."""
    handout_dir = Path(handout_dir)
    files = sorted(p for p in handout_dir.rglob("*") if p.is_file())
    present = {p.relative_to(handout_dir).as_posix() for p in handout_dir.rglob("*")}
    basenames = {p.name for p in files}
    problems = []
    for path in files:
        if path.suffix not in SCANNED_SUFFIXES:
            continue
        relative = path.relative_to(handout_dir).as_posix()
        folder = os.path.dirname(relative)
        for number, name in path_mentions(_scanned_text(path)):
            if _exists(name, folder, present, basenames):
                continue
            if any(fnmatch.fnmatch(name, pattern) for pattern in ALLOWED):
                continue
            where = f"{relative} (cell text line {number})" if path.suffix == ".ipynb" else f"{relative}:{number}"
            problems.append(
                f"{where}: names {name}, which the handout does not contain; name a file students "
                "have, or say it without the path."
            )
    return problems


# --- notebooks -----------------------------------------------------------------------------------------------------

HANDLER = "set_custom_exc((NotImplementedError,)"
STOP_LINE = re.compile(r"^not implemented yet: Task (?P<task>[\w.]+): .+$")
STUB_TASK = re.compile(r"\bTask (\d+(?:\.\d+)*|E\d+): ")
KERNEL_NAME = "mytorch-handout-check"
CELL_TIMEOUT = 300  # seconds: a guard against a hung kernel (every notebook takes seconds)


def handout_tasks(handout_dir):
    """The task ids of the handout's stubs (mytorch/ and hw1/)."""
    found = set()
    for folder in ("mytorch", "hw1"):
        for path in sorted((Path(handout_dir) / folder).glob("*.py")):
            found.update(STUB_TASK.findall(path.read_text(encoding="utf-8")))
    return found


def _covers(listed, task):
    return any(task == item or task.startswith(item + ".") for item in listed)


def static_notebook_problems(name, notebook, tasks):
    """What is wrong with a handout notebook without running it.  tasks: the handout's task ids."""
    problems = []
    for number, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{name}: code cell {number} has outputs or an execution count; the handout's are clear.")
    listed = make_handout.notebook_tasks(notebook)
    if listed is None:
        problems.append(
            f"{name}: its first cell does not list the tasks it needs (a line '**Tasks needed:** 3.4, 3.5, ...')."
        )
    else:
        unknown = [item for item in listed if not any(_covers([item], task) for task in tasks)]
        if unknown:
            problems.append(f"{name}: lists tasks {unknown}, which no stub of the handout has.")
    code = [cell for cell in notebook.get("cells", []) if cell.get("cell_type") == "code"]
    if not code or HANDLER not in "".join(code[0].get("source", [])):
        problems.append(
            f"{name}: its first code cell does not install the 'not implemented yet' handler "
            f"(get_ipython().{HANDLER} ...)."
        )
    return problems


def kernel_spec_manager(folder):
    """A kernelspec in folder that starts this interpreter; returns a KernelSpecManager that finds only it."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = Path(folder) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (mytorch notebook check)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)


def execute_notebook(path, spec_manager):
    """Run a notebook in its own folder; returns (the executed notebook, the CellExecutionError or None)."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(str(path), as_version=4)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=spec_manager)
    client = NotebookClient(
        notebook, km=manager, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(Path(path).parent)}}
    )
    # The kernel sees no PYTHONPATH: the notebook finds the kit as a student's does.  One BLAS thread: these
    # matrices are small, and on a busy machine more threads mostly wait for each other.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["OPENBLAS_NUM_THREADS"] = "1"
    try:
        client.execute(env=env, stderr=subprocess.DEVNULL)  # the kernel's own log lines; cell output is separate
    except CellExecutionError as error:
        return notebook, error
    finally:
        if manager.has_kernel:  # a kernel manager passed in is the caller's to shut down
            manager.shutdown_kernel(now=True)
    return notebook, None


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython's colours in a traceback


def _texts(notebook):
    """[(cell number, output type or stream name, text)] of every output."""
    found = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                found.append((number, output.get("name"), output.get("text", "")))
            elif output.get("output_type") == "error":
                found.append((number, "error", ANSI.sub("", "\n".join(output.get("traceback", [])))))
    return found


def bare_run_problems(name, notebook, error, listed):
    """What is wrong with a run on the bare handout: it must stop, at a task it lists, with one line."""
    if error is None:
        return [f"{name}: runs to the end on the bare handout, so it needs no task; its first cell lists {listed}."]
    outputs = _texts(notebook)
    if any(kind == "error" for _, kind, _ in outputs):
        cell, _, text = next(item for item in outputs if item[1] == "error")
        return [
            f"{name}: cell {cell} stops the bare handout with a traceback, not 'not implemented yet: Task ...': "
            f"{text[-300:]!r}"
        ]
    stops = [
        (cell, line)
        for cell, kind, text in outputs
        for line in text.splitlines()
        if line.startswith("not implemented yet:")
    ]
    if len(stops) != 1 or not STOP_LINE.match(stops[0][1]):
        return [
            f"{name}: on the bare handout, expected one line 'not implemented yet: Task <id>: ...'; got "
            f"{stops or 'none'} ({error.ename}: {str(error.evalue)[:200]})"
        ]
    cell, line = stops[0]
    task = STOP_LINE.match(line)["task"]
    if listed is not None and not _covers(listed, task):
        return [
            f"{name}: cell {cell} stops the bare handout at task {task}, which its first cell does not list "
            f"(it lists {listed})."
        ]
    return []


def solved_run_problems(name, error):
    if error is None:
        return []
    return [
        f"{name}: does not run with the solution: {error.ename}: {str(error.evalue)[:300]}\n"
        f"{ANSI.sub('', str(error))[-1500:]}"
    ]


def check_handout_notebooks(handout_dir, solved_dir):
    """[problem] for every handout notebook that is not clear, does not list its tasks, does not stop readably on
    the bare handout_dir, or does not run in solved_dir."""
    try:
        import ipykernel  # noqa: F401  (the kernel the notebooks run in)
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as error:
        return [
            f"cannot execute the handout's notebooks: {error}. Install them with: python3 -m pip install -e "
            '".[notebooks]"'
        ]
    handout_dir, solved_dir = Path(handout_dir), Path(solved_dir)
    names = sorted(path.name for path in (handout_dir / "examples").glob("*.ipynb"))
    if not names:
        return [f"{handout_dir / 'examples'} holds no notebook; the handout ships examples/*.ipynb."]
    tasks, problems = handout_tasks(handout_dir), []
    with tempfile.TemporaryDirectory(prefix="mytorch-kernel-") as scratch:
        spec_manager = kernel_spec_manager(scratch)
        for name in names:
            notebook = json.loads((handout_dir / "examples" / name).read_text(encoding="utf-8"))
            problems += static_notebook_problems(name, notebook, tasks)
            listed = make_handout.notebook_tasks(notebook)
            executed, error = execute_notebook(handout_dir / "examples" / name, spec_manager)
            problems += bare_run_problems(name, executed, error, listed)
            _, error = execute_notebook(solved_dir / "examples" / name, spec_manager)
            problems += solved_run_problems(name, error)
    return problems


def main(argv=None):
    """python3 tools/handout_checks.py HANDOUT [SOLVED]: print the problems; exit status 1 if there are any."""
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python3 tools/handout_checks.py HANDOUT_DIR [SOLVED_DIR]", file=sys.stderr)
        return 2
    problems = check_handout_names(args[0])
    if len(args) == 2:
        problems += check_handout_notebooks(args[0], args[1])
    print("\n".join(problems) if problems else "handout checks: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
