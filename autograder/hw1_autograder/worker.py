"""The grading worker: the only process that runs the student's code.  Untrusted by design.

    python3 -I -B worker.py REQUEST_FD REPLY_FD FAULT_FD ROOT LIMITS_JSON      (started by sandbox.py, never by hand)

It limits itself (memory, file size, core dumps) before anything else, imports the real numpy while sys.path
holds only the standard library and site-packages, installs the import guard (an audit hook: it sees every
import and cannot be removed), and only then puts ROOT/mytorch and ROOT/hw1 on sys.path. Then, for each request
from the runner: import the modules the test needs (reporting "importing" first, so a crash is attributed to the
right file), run the program's student calls under a per-test alarm, and send back the emitted values.

The worker never holds an expected value and never decides a grade: whatever it sends, the runner compares.
"""

import sys

if __name__ == "__main__":  # limits first, before numpy or any student code can allocate
    import json as _json
    import resource as _resource

    for _name, _value in _json.loads(sys.argv[5]).items():
        _limit = getattr(_resource, _name)
        _soft, _hard = _resource.getrlimit(_limit)
        _value = _value if _hard == _resource.RLIM_INFINITY else min(_value, _hard)
        _resource.setrlimit(_limit, (_value, _value))

import faulthandler  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402  (the real one: the student's folders are not on sys.path yet)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import course  # noqa: E402
import programs  # noqa: E402
import protocol  # noqa: E402

sys.path.pop(0)
GRADED_MODULES = course.GRADED_MODULES


class TimeLimitExceeded(BaseException):
    """Raised by the alarm inside a test that runs too long; a BaseException so `except Exception` misses it."""


class Student:
    """The student's graded modules, imported flat from ROOT as the handout does; a failed import is remembered
    and fails every later test that needs that module, without importing it again."""

    def __init__(self, root, send_event):
        self.root, self.send_event, self.failures = root, send_event, {}

    def load(self, name):
        if name in self.failures:
            raise ImportFailure(self.failures[name])
        module = sys.modules.get(name)
        if module is not None and self._is_graded_file(module, name):
            return module
        relative = f"{GRADED_MODULES[name]}/{name}.py"
        if not os.path.isfile(os.path.join(self.root, relative)):
            self.failures[name] = f"{relative} is missing: the graded code must be in that file."
            raise ImportFailure(self.failures[name])
        sys.modules.pop(name, None)
        self.send_event({"kind": protocol.IMPORTING, "module": name})
        try:
            module = importlib.import_module(name)
        except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
            sys.modules.pop(name, None)
            self.failures[name] = f"importing {relative} failed: {describe_exception(error, self.root)}"
            self.send_event({"kind": protocol.IMPORT_FAILED, "module": name, "message": self.failures[name]})
            raise ImportFailure(self.failures[name]) from None
        self.send_event({"kind": protocol.IMPORTED, "module": name})
        if not self._is_graded_file(module, name):
            found = getattr(module, "__file__", None) or "(built in, no file)"
            self.failures[name] = (
                f"`import {name}` loaded {found}, not the graded file {relative}: another copy "
                "shadows it. Keep the module in that file, under that name."
            )
            raise ImportFailure(self.failures[name])
        return module

    def _is_graded_file(self, module, name):
        path = getattr(module, "__file__", None)
        graded = {os.path.join(self.root, GRADED_MODULES[name], name + ".py")}
        if name == "hw1":  # the handout's hw1/__init__.py package, which re-exports hw1/hw1.py
            graded.add(os.path.join(self.root, "hw1", "__init__.py"))
        return bool(path) and os.path.realpath(path) in {os.path.realpath(p) for p in graded}

    def __getattr__(self, name):
        if name in GRADED_MODULES:
            return self.load(name)
        raise AttributeError(name)


class ImportFailure(Exception):
    """A graded module could not be loaded; the message is complete."""


# --- messages about the student's code -----------------------------------------------------------------------------


def describe_exception(error, root, limits=None):
    """One or two lines a student can act on, e.g. "ZeroDivisionError: division by zero (mytorch/linear.py:42, in
    backward)", "not implemented yet: Task 3.4.2: ...", "timed out: ..."."""
    frame = last_student_frame(error.__traceback__, root)
    where = f" ({frame})" if frame else ""
    if isinstance(error, (ImportFailure, programs.GradingFailure)):
        return str(error)
    if isinstance(error, NotImplementedError):
        text = str(error).strip().splitlines()
        return f"not implemented yet: {text[0]}" if text else f"not implemented yet{where or ' (NotImplementedError)'}"
    if isinstance(error, TimeLimitExceeded):
        return f"timed out: {error}" + (f" (stopped at {frame})" if frame else "")
    if isinstance(error, MemoryError):
        limit = (limits or {}).get("RLIMIT_AS")
        size = f"the {limit / 2**30:g} GiB memory limit" if limit else "the memory limit"
        detail = f": {error}" if str(error) else ""
        return f"exceeded {size} (MemoryError{detail}){where}"
    if isinstance(error, SyntaxError) and error.filename:
        return f"SyntaxError: {error.msg} ({relative(error.filename, root)}:{error.lineno})"
    if isinstance(error, SystemExit):
        return f"SystemExit: the code called sys.exit({error.code!r}) or exit(){where}"
    message = str(error).strip().splitlines()
    return type(error).__name__ + (f": {message[0][:500]}" if message else "") + where


def last_student_frame(tb, root):
    """'mytorch/linear.py:42, in backward' for the innermost traceback frame inside root, or None."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        path = frame.f_code.co_filename
        if is_inside(path, root):
            found = f"{relative(path, root)}:{lineno}, in {frame.f_code.co_name}"
    return found


def is_inside(path, root):
    return os.path.isabs(path) and os.path.commonpath([os.path.realpath(path), root]) == root


def relative(path, root):
    return os.path.relpath(os.path.realpath(path), root) if is_inside(path, root) else path


# --- the import guard ----------------------------------------------------------------------------------------------


def standard_library():
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9: list the standard library's folder
        import sysconfig

        folder = sysconfig.get_paths()["stdlib"]
        names = set(sys.builtin_module_names) | {entry.split(".")[0] for entry in os.listdir(folder)}
        dynload = os.path.join(folder, "lib-dynload")
        if os.path.isdir(dynload):
            names |= {entry.split(".")[0] for entry in os.listdir(dynload)}
    return set(names)


def install_import_guard(root):
    """Refuse top-level names outside the standard library, numpy and the student's own files, at every route.

    Three layers: a finder first on sys.meta_path (importlib.import_module and __import__ meet it, and it names
    the module); an audit hook on "import" (every import statement, even with sys.meta_path cleared); and the same
    hook on "exec" of a module's code from anywhere but the standard library, numpy or the student's folders (a
    third-party package reached any other way never runs). An audit hook cannot be removed."""
    allowed = standard_library() | {"numpy"} | {name.partition(".")[0] for name in sys.modules}
    for folder in ("mytorch", "hw1"):
        directory = os.path.join(root, folder)
        if os.path.isdir(directory):
            allowed |= {entry[:-3] if entry.endswith(".py") else entry for entry in os.listdir(directory)}
    allowed = frozenset(allowed)
    import sysconfig

    paths = sysconfig.get_paths()
    numpy_or_student = tuple(os.path.realpath(path) + os.sep for path in (os.path.dirname(np.__file__), root))
    standard = tuple(os.path.realpath(paths[key]) + os.sep for key in ("stdlib", "platstdlib"))

    def third_party(filename):
        """The top-level name of a file that is neither the standard library, numpy nor the student's (e.g.
        "typing_extensions" for .../site-packages/typing_extensions.py), or None. A site-packages folder is third
        party wherever it lies: a virtual environment's is inside its platstdlib folder."""
        real = os.path.realpath(filename)
        if real.startswith(numpy_or_student):
            return None
        parts = real.split(os.sep)
        for i, part in enumerate(parts[:-1]):
            if part in ("site-packages", "dist-packages"):
                return parts[i + 1].partition(".")[0]
        return None if real.startswith(standard) else os.path.basename(os.path.dirname(real)) or real

    def refuse(top):
        frame, where = sys._getframe(1), ""
        while frame is not None:
            if is_inside(frame.f_code.co_filename, root):
                where = f"{relative(frame.f_code.co_filename, root)}:{frame.f_lineno} "
                break
            frame = frame.f_back
        return ImportError(
            f"{where}imports {top}, but graded code may import only numpy and the standard library "
            f"(the course grader has no {top}). Remove the import."
        )

    class Guard:
        @staticmethod
        def find_spec(name, path=None, target=None):
            top = name.partition(".")[0]
            if top not in allowed:
                raise refuse(top)
            return None

    def hook(event, args):
        if event == "import":
            top = str(args[0]).partition(".")[0]
            if top not in allowed:
                raise refuse(top)
        elif event == "exec":
            filename = getattr(args[0], "co_filename", "")
            top = third_party(filename) if os.path.isabs(filename) else None
            if top:
                raise refuse(top)

    sys.meta_path.insert(0, Guard())
    sys.addaudithook(hook)


# --- the loop ------------------------------------------------------------------------------------------------------


def encode_value(value):
    """(header entry, array or None) for one emitted value: arrays travel as .npy bytes, everything else by type."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"type": "other", "name": f"ndarray of dtype {value.dtype}"}, None
        return {"type": "array"}, value
    if isinstance(value, (float, np.floating, np.integer, np.bool_)) and not isinstance(value, bool):
        return {"type": "array"}, np.asarray(value)
    if value is None:
        return {"type": "none"}, None
    if isinstance(value, str):
        return {"type": "str", "value": value[:200]}, None
    if isinstance(value, programs.AttributeMissing):
        return {"type": "missing", "name": value.name}, None
    return {"type": "other", "name": type(value).__name__}, None


def serve(request_fd, reply_fd, root, limits):
    student = Student(root, lambda event: protocol.send(reply_fd, event))

    def on_alarm(signum, frame):
        raise TimeLimitExceeded(f"did not finish within {on_alarm.limit:g} s (an infinite loop?)")

    signal.signal(signal.SIGALRM, on_alarm)
    while True:
        try:
            header, arrays = protocol.receive(request_fd)
        except protocol.Closed:
            return
        program = programs.PROGRAMS[header["program"]]
        values, error = {}, None
        on_alarm.limit = float(header["time_limit"])
        signal.setitimer(signal.ITIMER_REAL, on_alarm.limit)
        try:
            for name in header["needs"]:
                student.load(name)
            program.run(student, programs.Inputs(arrays), values.__setitem__, *header["args"])
        except BaseException as exception:  # noqa: BLE001 - the student's code may raise anything
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = describe_exception(exception, root, limits)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        entries, blobs = {}, {}
        for key, value in values.items():
            entries[key], array = encode_value(value)
            if array is not None:
                blobs[key] = array
        protocol.send(reply_fd, {"kind": protocol.RESULT, "values": entries, "error": error}, blobs)


def main():
    request_fd, reply_fd, fault_fd = (int(arg) for arg in sys.argv[1:4])
    root, limits = os.path.realpath(sys.argv[4]), json.loads(sys.argv[5])
    faulthandler.enable(file=os.fdopen(fault_fd, "w", closefd=False), all_threads=False)
    install_import_guard(root)
    for folder in ("mytorch", "hw1"):  # hw1 ends up first, so `import hw1` finds hw1/hw1.py
        sys.path.insert(0, os.path.join(root, folder))
    os.chdir(root)
    protocol.send(reply_fd, {"kind": protocol.READY})
    serve(request_fd, reply_fd, root, limits)


if __name__ == "__main__":
    main()
