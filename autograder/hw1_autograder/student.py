"""Load the *graded* copy of the student's modules: the files under the grading root, never an installed copy.

    activation, loss, linear, batchnorm  <- <root>/mytorch/<name>.py
    hw1, mc                              <- <root>/hw1/<name>.py

The grading root is $MYTORCH_GRADING_ROOT (set by runner.py; the current directory by default). Modules are
imported flat, as the handout does (sys.path gets <root>/mytorch and <root>/hw1 in front), and every loaded
module's __file__ must be the graded file inside the root, so that a `pip install -e .` copy of the solution can
never be graded in the student's place.

A module that fails to import (SyntaxError, ImportError, SystemExit, an infinite loop, ...) fails only the tests
that load it: the failure is remembered and re-raised as StudentCodeError, without importing it again. The runner
also passes failures it saw in an earlier grading process (e.g. an import that crashed the interpreter) through
$MYTORCH_GRADER_KNOWN_FAILURES, and this module reports progress ("importing linear") to $MYTORCH_GRADER_EVENTS so
the runner can tell which import a crash happened in.
"""

import importlib
import json
import os
import sys
import traceback

from preflight import allowed_imports

# Graded module -> the folder of the grading root that holds it.
MODULE_FOLDERS = {
    "activation": "mytorch",
    "loss": "mytorch",
    "linear": "mytorch",
    "batchnorm": "mytorch",
    "hw1": "hw1",
    "mc": "hw1",
}
# hw1.py imports the four mytorch modules (the handout's `from linear import *` ...). Loading them first makes a
# broken linear.py fail as "linear.py", not as a mysterious error inside hw1.py.
DEPENDENCIES = {"hw1": ["activation", "loss", "linear", "batchnorm"]}

_failures = {}  # module name -> message, for imports that failed in this process


class StudentCodeError(AssertionError):
    """A graded module could not be loaded; the message is complete and is shown to the student as it is."""


class ShadowedModuleError(StudentCodeError):
    """A module of the same name from outside the grading root was imported instead of the student's file."""


def grading_root():
    """The absolute, symlink-free directory holding the student's mytorch/ and hw1/."""
    return os.path.realpath(os.environ.get("MYTORCH_GRADING_ROOT") or os.getcwd())


def module_path(name, root=None):
    """<root>/<folder>/<name>.py for a graded module name."""
    return os.path.join(root or grading_root(), MODULE_FOLDERS[name], name + ".py")


def is_inside(path, root):
    """Whether path lies inside the directory root (both resolved)."""
    path, root = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([path, root]) == root


def record_event(event, **fields):
    """Append one JSON line to the runner's event file (no-op outside the runner)."""
    path = os.environ.get("MYTORCH_GRADER_EVENTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps({"event": event, **fields}) + "\n")


def known_failures():
    """Import failures the runner saw in an earlier grading process: {module name: message}."""
    text = os.environ.get("MYTORCH_GRADER_KNOWN_FAILURES")
    return json.loads(text) if text else {}


def load_student(name):
    """Return the student's module `name` (one of MODULE_FOLDERS), imported flat from the grading root.

    Raises StudentCodeError with a one-paragraph message if the module (or one it needs) cannot be loaded.
    """
    if name not in MODULE_FOLDERS:
        raise ValueError(f"load_student: unknown module {name!r}; graded modules are {sorted(MODULE_FOLDERS)}.")
    root = grading_root()
    relative = os.path.join(MODULE_FOLDERS[name], name + ".py")
    if name in _failures:
        raise StudentCodeError(_failures[name])
    inherited = known_failures().get(name)
    if inherited:
        _failures[name] = inherited
        raise StudentCodeError(inherited)
    for dependency in DEPENDENCIES.get(name, []):
        try:
            load_student(dependency)
        except StudentCodeError as error:
            _failures[name] = f"{relative} needs {MODULE_FOLDERS[dependency]}/{dependency}.py, which failed: {error}"
            raise StudentCodeError(_failures[name]) from None

    if not os.path.isfile(module_path(name, root)):
        _failures[name] = f"{relative} is missing from {root}: the graded code must be in that file."
        raise StudentCodeError(_failures[name])
    _prepare_sys_path(root)
    install_import_guard(root)
    module = sys.modules.get(name)
    if module is not None and not _is_graded_file(module, name, root):
        del sys.modules[name]  # a copy imported from elsewhere earlier: import the student's file instead
        module = None
    if module is None:
        module = _import(name, relative)
    if not _is_graded_file(module, name, root):
        found = getattr(module, "__file__", None) or "(built in, no file)"
        _failures[name] = (
            f"`import {name}` loaded {found}, not the graded file {module_path(name, root)}: another copy "
            f"shadows it (an installed package?). Run `pip uninstall mytorch` or grade from the folder that "
            f"holds mytorch/ and hw1/."
        )
        raise ShadowedModuleError(_failures[name])
    return module


def _prepare_sys_path(root):
    """Put <root>/mytorch and <root>/hw1 first on sys.path (hw1 first, so `import hw1` finds hw1/hw1.py)."""
    for folder in ("mytorch", "hw1"):
        path = os.path.join(root, folder)
        while path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def _is_graded_file(module, name, root):
    """Whether module was loaded from the graded file (for hw1 also the root's hw1/__init__.py package, which
    re-exports hw1/hw1.py)."""
    path = getattr(module, "__file__", None)
    graded = {module_path(name, root)} | ({os.path.join(root, "hw1", "__init__.py")} if name == "hw1" else set())
    return bool(path) and os.path.realpath(path) in {os.path.realpath(p) for p in graded}


def _import(name, relative):
    """Import `name`, turning any failure (even SystemExit or a time limit) into a remembered StudentCodeError."""
    record_event("importing", module=name)
    try:
        module = importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
        sys.modules.pop(name, None)
        _failures[name] = f"importing {relative} failed: {describe_exception(error)}"
        record_event("import_failed", module=name, message=_failures[name])
        raise StudentCodeError(_failures[name]) from None
    record_event("imported", module=name)
    return module


def describe_exception(error, tb=None):
    """One line: the exception type and message and the last frame in the student's code, e.g.
    "ZeroDivisionError: division by zero (mytorch/linear.py:42, in backward)"."""
    if isinstance(error, SyntaxError) and error.filename:
        where = _relative(error.filename)
        return f"SyntaxError: {error.msg} ({where}:{error.lineno})"
    if isinstance(error, SystemExit):
        text = f"SystemExit: the code called sys.exit({error.code!r}) or exit()"
    else:
        message = str(error).strip().splitlines()
        text = type(error).__name__ + (f": {message[0]}" if message else "")
    frame = last_student_frame(tb if tb is not None else error.__traceback__)
    return f"{text} ({frame})" if frame else text


def last_student_frame(tb):
    """'mytorch/linear.py:42, in backward' for the innermost traceback frame inside the grading root, or None."""
    root = grading_root()
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        path = frame.f_code.co_filename
        if os.path.isabs(path) and is_inside(path, root):
            found = f"{_relative(path)}:{lineno}, in {frame.f_code.co_name}"
    return found


def _relative(path):
    root = grading_root()
    return os.path.relpath(path, root) if os.path.isabs(path) and is_inside(path, root) else path


# --- graded code may import numpy and the standard library only ---------------------------------------------------

class ImportGuard:
    """A sys.meta_path finder that refuses, with a clear message, imports of third-party packages (torch, ...)
    made *by the student's files*. Imports made by numpy, pytest or the grader itself are not affected."""

    def __init__(self, root):
        self.root = root
        self.allowed = allowed_imports(root)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in self.allowed:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        if frame is None or not os.path.isabs(frame.f_code.co_filename):
            return None
        if not is_inside(frame.f_code.co_filename, self.root):
            return None
        where = f"{_relative(frame.f_code.co_filename)}:{frame.f_lineno}"
        raise ImportError(
            f"{where} imports {top}, but graded code may import only numpy and the standard library "
            f"(the course grader has no {top}). Remove the import."
        )


def install_import_guard(root):
    """Install the ImportGuard once per process (first on sys.meta_path)."""
    if not any(isinstance(finder, ImportGuard) for finder in sys.meta_path):
        sys.meta_path.insert(0, ImportGuard(root))
