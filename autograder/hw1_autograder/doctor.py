"""Environment doctor:  python3 autograder/hw1_autograder/runner.py --doctor   (or run this file directly).

Run it from the folder holding mytorch/ and hw1/.  Each check prints one line, and a fix when it fails:

  root        the grading root holds mytorch/ and hw1/
  python      3.9 or newer
  numpy       1.26.x or 2.x
  matplotlib  the training plots (a note if missing)
  packages    where `import mytorch` and `import hw1` resolve, from the root and from any other folder: a copy
              outside the root (an old non-editable `pip install .`, another checkout's editable install, a
              PYTHONPATH entry) shadows the files you are editing
  flat        where the handout's flat imports resolve (sys.path.append('mytorch'); sys.path.append('hw1');
              import activation, loss, linear, batchnorm, hw1, mc): appended paths come last, so any module of
              the same name elsewhere on the path wins
  references  the reference set beside this file matches its manifest (SHA-256) and course.py
  data        data/mnist_5k.npz (the training statistics' data set) loads

Import locations are probed in fresh interpreters (importlib.util.find_spec: nothing is executed), so what is
reported is what your scripts see, whatever this process has imported.  Exit status 1 if any check fails.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import namedtuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # course.py and reference_sets.py, when run directly
import course  # noqa: E402
import reference_sets  # noqa: E402
from course import GRADED_MODULES as MODULE_FOLDERS  # noqa: E402


def grading_root():
    """The folder the doctor checks: the current directory (where runner.py grades from)."""
    return os.path.realpath(os.getcwd())


def is_inside(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([path, root]) == root


MIN_PYTHON = (3, 9)
SUPPORTED_NUMPY = "1.26.x and 2.x"
DATA_FILES = [os.path.join("data", "mnist_5k.npz")]
PACKAGES = ["mytorch", "hw1"]

# status: "ok", "FAIL" or "note" (worth knowing, not a failure).
Check = namedtuple("Check", "status text fix")


def python_command():
    """How to name this interpreter in a fix: `python3` if that is what the shell finds, else its full path
    (a virtual environment's python, say), so that pip installs into the environment that runs the grader."""
    found = shutil.which("python3")
    same = found and os.path.realpath(found) == os.path.realpath(sys.executable)
    return "python3" if same else sys.executable


def numpy_fix():
    return f'{python_command()} -m pip install "numpy>=1.26,<3"'


def numpy_problem(version):
    """None if this numpy version is supported, else why not.  version: a string such as '2.1.3' or '1.26.4'."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if not match:
        return f"cannot read the version {version!r}"
    major, minor = int(match[1]), int(match[2])
    if major == 2 or (major, minor) == (1, 26):
        return None
    return "older than 1.26" if (major, minor) < (1, 26) else "newer than the 2.x series this homework was tested on"


def _holds_homework(folder):
    return course.holds_submission(folder)


def check_root(root):
    if _holds_homework(root):
        return Check("ok", f"grading root {root} holds mytorch/ and hw1/", None)
    beside_autograder = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    folder = beside_autograder if _holds_homework(beside_autograder) else "the folder that holds mytorch/ and hw1/"
    return Check(
        "FAIL",
        f"grading root {root} does not hold mytorch/ and hw1/",
        f"cd {folder} and run the command again from there",
    )


def check_python(version_info=sys.version_info):
    text = f"Python {'.'.join(map(str, version_info[:3]))} (supported: {'.'.join(map(str, MIN_PYTHON))} or newer)"
    if tuple(version_info[:2]) < MIN_PYTHON:
        return Check("FAIL", text, "install Python 3.9 or newer and run the autograder with it (python3 --version)")
    return Check("ok", text, None)


def check_numpy():
    try:
        import numpy
    except Exception as error:  # not installed, or an installation broken half-way
        return Check("FAIL", f"numpy cannot be imported ({error})", numpy_fix())
    version = str(getattr(numpy, "__version__", "unknown"))
    text = f"numpy {version} (supported: {SUPPORTED_NUMPY}) from {os.path.dirname(numpy.__file__ or '?')}"
    problem = numpy_problem(version)
    if problem:
        return Check("FAIL", f"{text}: {problem}", numpy_fix())
    return Check("ok", text, None)


def check_matplotlib():
    try:
        import matplotlib
    except Exception as error:  # not installed, or broken by the numpy it found
        return Check(
            "note",
            f"matplotlib cannot be imported ({type(error).__name__}): grading works, but test.py "
            "cannot draw the training plots",
            f"{python_command()} -m pip install matplotlib",
        )
    return Check("ok", f"matplotlib {matplotlib.__version__} (for the training plots)", None)


# --- where imports resolve -----------------------------------------------------------------------------------------

# Run in a fresh interpreter: argv = [mode, name, ...]; prints {name: origin or null}.  find_spec locates a module
# without executing it.  mode "flat" first appends mytorch and hw1 to sys.path, as the handout's scripts do.
_PROBE = r"""
import importlib.util, json, sys
if sys.argv[1] == "flat":
    sys.path.append("mytorch"); sys.path.append("hw1")
found = {}
for name in sys.argv[2:]:
    try:
        spec = importlib.util.find_spec(name)
        found[name] = spec.origin if spec else None
    except Exception as error:
        found[name] = "error: %s: %s" % (type(error).__name__, error)
print(json.dumps(found))
"""


def probe(names, cwd, mode="package"):
    """{name: file it imports from, or None} in a fresh interpreter started in cwd (PYTHONPATH and installed
    packages as in this environment)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, mode, *names], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "probe failed")
    return json.loads(result.stdout)


def _path_entry(origin, name):
    """The sys.path entry that provided module `name` found at origin (a package's parent, a module's folder)."""
    folder = os.path.dirname(origin)
    return os.path.dirname(folder) if os.path.basename(origin) == "__init__.py" else folder


def shadow_fix(origin, name, root):
    """The command that removes a copy of `name` at origin from in front of the student's files."""
    entry = os.path.realpath(_path_entry(origin, name))
    pythonpath = [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if entry in pythonpath:
        return f"remove {entry} from PYTHONPATH (it is currently {os.environ['PYTHONPATH']!r}), e.g. unset PYTHONPATH"
    if name in PACKAGES:
        python = python_command()
        return f'{python} -m pip uninstall -y mytorch && {python} -m pip install -e "{root}"'
    return f"rename or remove {origin}, or take {entry} off sys.path: it hides {MODULE_FOLDERS[name]}/{name}.py"


def _located(origin, root):
    return bool(origin) and not origin.startswith("error:") and os.path.isabs(origin) and is_inside(origin, root)


def check_packages(root):
    checks = []
    try:
        from_root = probe(PACKAGES, root)
        with tempfile.TemporaryDirectory() as elsewhere:
            from_elsewhere = probe(PACKAGES, elsewhere)
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
        return [
            Check(
                "FAIL",
                f"could not start {sys.executable} to locate the packages: {error}",
                "run the autograder with a working python3",
            )
        ]
    for name in PACKAGES:
        here, there = from_root[name], from_elsewhere[name]
        if not _located(here, root):
            checks.append(
                Check(
                    "FAIL",
                    f"`import {name}` run from the root loads {here}, not {root}/{name}/",
                    shadow_fix(here, name, root)
                    if here and os.path.isabs(here)
                    else f"restore {name}/__init__.py from the handout",
                )
            )
        elif there is None:
            checks.append(
                Check(
                    "note",
                    f"`import {name}` works from the root only ({os.path.relpath(here, root)}): "
                    "not installed, which the autograder does not need",
                    None,
                )
            )
        elif _located(there, root):
            checks.append(
                Check(
                    "ok",
                    f"`import {name}` loads {os.path.relpath(here, root)}, from any folder "
                    "(editable install of this folder)",
                    None,
                )
            )
        else:
            checks.append(
                Check(
                    "FAIL",
                    f"`import {name}` outside the root loads another copy, {there}, not "
                    f"{os.path.relpath(here, root)}: scripts and notebooks run from other folders "
                    "would test that copy, not your code",
                    shadow_fix(there, name, root),
                )
            )
    return checks


def check_flat_imports(root):
    names = list(MODULE_FOLDERS)
    try:
        found = probe(names, root, mode="flat")
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
        return [
            Check("FAIL", f"could not locate the flat imports: {error}", "run the autograder with a working python3")
        ]
    wrong = {name: origin for name, origin in found.items() if not _located(origin, root)}
    if not wrong:
        where = ", ".join(f"{name} -> {os.path.relpath(found[name], root)}" for name in names)
        return [Check("ok", f"flat imports resolve inside the root: {where}", None)]
    checks = []
    for name, origin in wrong.items():
        expected = f"{MODULE_FOLDERS[name]}/{name}.py"
        if origin is None:
            checks.append(
                Check(
                    "FAIL",
                    f"flat `import {name}` finds nothing: {expected} is missing",
                    f"restore {expected} from the handout",
                )
            )
        elif origin.startswith("error:"):
            checks.append(
                Check(
                    "FAIL",
                    f"flat `import {name}` cannot be located ({origin[7:]})",
                    f"check {expected} and the folders on PYTHONPATH",
                )
            )
        else:
            checks.append(
                Check(
                    "FAIL",
                    f"flat `import {name}` loads {origin} instead of {expected}: a module of "
                    "the same name comes earlier on sys.path",
                    shadow_fix(origin, name, root),
                )
            )
    return checks


# --- files the autograder reads ------------------------------------------------------------------------------------


def _npz_problem(path):
    """None if path is a readable .npz without pickles, else what is wrong with it."""
    with open(path, "rb") as stream:
        head = stream.read(64)
    if head.startswith(b"version https://git-lfs"):
        return "is a Git LFS pointer, not the data (run: git lfs pull)"
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as arrays:
            for key in arrays.files:
                arrays[key]  # reading every array catches truncation and object (pickled) arrays
    except Exception as error:  # np.load reports damage as OSError, ValueError, zipfile or zlib errors
        return f"does not load with allow_pickle=False ({type(error).__name__}: {error})"
    return None


def check_references(directory=None):
    directory = directory or reference_sets.default_directory()
    fix = "restore autograder/hw1_autograder/references/ from the handout (instructors: regenerate the references)"
    try:
        set_name, loaded = reference_sets.load(directory)
    except reference_sets.ReferenceError as error:
        return Check("FAIL", str(error), fix)
    return Check("ok", f"the {set_name} reference set: {len(loaded)} files match MANIFEST.json and course.py", None)


def check_data(root):
    checks = []
    for relative in DATA_FILES:
        path = os.path.join(root, relative)
        fix = f"restore {relative} from the handout (instructors: convert the data again, see data/README.md)"
        if not os.path.isfile(path):
            checks.append(Check("FAIL", f"{relative} is missing (the training statistics train on it)", fix))
            continue
        problem = _npz_problem(path)
        checks.append(
            Check("FAIL", f"{relative} {problem}", fix)
            if problem
            else Check("ok", f"{relative} present ({os.path.getsize(path) // 1024} KiB)", None)
        )
    return checks


def run_checks(root=None):
    """Every check, in the order a student should fix them."""
    root = root or grading_root()
    checks = [check_root(root), check_python(), check_numpy(), check_matplotlib()]
    root_ok, numpy_ok = checks[0].status == "ok", checks[2].status == "ok"
    if root_ok:
        checks += check_packages(root) + check_flat_imports(root)
    if numpy_ok:
        checks += [check_references()] + (check_data(root) if root_ok else [])
    else:
        checks.append(Check("note", "references and data not checked: they need a working numpy", None))
    return checks


def report(checks):
    lines = []
    for check in checks:
        lines.append(f"  {check.status:<5} {check.text}")
        if check.fix:
            lines.append(f"        fix: {check.fix}")
    failed = sum(check.status == "FAIL" for check in checks)
    if failed:
        lines.append(
            f"{failed} problem{'s' if failed > 1 else ''} found: fix them from the top, then run --doctor again."
        )
    else:
        lines.append("No problems found.")
    return "\n".join(lines)


def main(argv=None):
    """Print the report; returns the exit status (1 if any check failed)."""
    root = grading_root()
    print(f"MyTorch environment doctor (grading root: {root})")
    checks = run_checks(root)
    print(report(checks))
    return 1 if any(check.status == "FAIL" for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
