"""Local autograder for Homework 1 Part 1.  Run from the folder that holds mytorch/ and hw1/:

    python3 autograder/hw1_autograder/runner.py                 grade ./mytorch and ./hw1, print the table
    python3 autograder/hw1_autograder/runner.py -k linear       only the tests whose names match
    python3 autograder/hw1_autograder/runner.py --handin handin.tar    grade a tarball, as a course server would
    python3 autograder/hw1_autograder/runner.py --check         preflight: files, names, signatures, imports
    python3 autograder/hw1_autograder/runner.py --json          ... and end with Autolab's {"scores": {...}}
    python3 autograder/hw1_autograder/runner.py --gradescope results.json
    python3 autograder/hw1_autograder/runner.py --doctor        check the environment

The grading tests (tests/, pytest) run in a child process against the grading root ($MYTORCH_GRADING_ROOT).
A child that crashes (os.abort, a segfault, os._exit) or hangs is killed and restarted on the tests it has not
run yet, with the test it was running marked failed and the cause named; a module whose import crashed is not
imported again. So the table is always printed, and the exit code is 0 only on full marks.
"""

import sys

sys.dont_write_bytecode = True  # grading leaves no __pycache__ behind, in the autograder or the student's tree

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import points  # noqa: E402
import preflight  # noqa: E402
from student import MODULE_FOLDERS, is_inside  # noqa: E402

TESTS_DIR = os.path.join(HERE, "tests")
DEFAULT_TIME_LIMIT = 10.0  # seconds per test; the solution needs well under one
STARTUP_ALLOWANCE = 60.0   # seconds for a child to start pytest and import numpy on a busy machine
KILL_GRACE = 5.0           # seconds past the time limit before the child is killed (the alarm failed to stop it)

# Handin archives: a submission is a few hundred kB of Python plus two plots.
MAX_ARCHIVE_BYTES = 50 * 2**20
MAX_MEMBER_BYTES = 20 * 2**20
MAX_MEMBERS = 2000


# --- running the grading tests -------------------------------------------------------------------------------------

def run_tests(root, tests_dir=TESTS_DIR, keyword=None, time_limit=DEFAULT_TIME_LIMIT):
    """Run the grading tests against root; return {nodeid: (passed, message)} for every selected test.

    Never raises for anything the student's code does: crashes and hangs become failed tests.
    """
    results = {}
    known_failures = {}  # module -> message, e.g. an import that crashed the interpreter
    workdir = tempfile.mkdtemp(prefix="mytorch-grading-")
    try:
        for attempt in range(1000):
            run = _run_child(root, tests_dir, keyword, time_limit, results, known_failures,
                             os.path.join(workdir, f"events-{attempt}.jsonl"), os.path.join(workdir, "pytest.log"))
            for nodeid in run["collected"]:
                results.setdefault(nodeid, None)
            for nodeid, message in run["collect_errors"].items():
                for test in _test_names_in_file(tests_dir, nodeid, keyword):
                    results.setdefault(f"{nodeid}::{test}", (False, f"the test file could not be loaded: {message}"))
            results.update(run["results"])
            known_failures.update(run["import_failures"])  # a restarted child does not retry a failed import
            if run["crash"] is None:
                break
            if run["running"] is None and not run["results"]:  # died before any test: restarting cannot help
                message = f"not run: {run['phase']} {run['crash']}"
                if not run["collected"] and not results:
                    results.update({nodeid: (False, message) for nodeid in _all_tests(tests_dir, keyword)})
                for nodeid, result in results.items():
                    if result is None:
                        results[nodeid] = (False, message)
                break
            # Restart on the tests not run yet, after failing the test that was running (if any: a test that
            # raised KeyboardInterrupt ends pytest's session between tests).
            module = run["importing"]
            if run["running"] is not None and module is not None:
                known_failures[module] = f"importing {MODULE_FOLDERS[module]}/{module}.py {run['crash']}"
                results[run["running"]] = (False, known_failures[module])
            elif run["running"] is not None:
                results[run["running"]] = (False, f"this test {run['crash']}")
            if all(result is not None for result in results.values()):
                break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for nodeid, result in results.items():
        if result is None:
            results[nodeid] = (False, "not run (the grading process stopped before reaching it)")
    return results


def _run_child(root, tests_dir, keyword, time_limit, done, known_failures, events_path, log_path):
    """One pytest child over the tests not yet in `done`; watch it, kill it if it hangs, read its events."""
    # -c os.devnull: no pytest.ini of the student's or the project's applies; results come from the events file.
    command = [sys.executable, "-B", "-m", "pytest", tests_dir, "-q", "-p", "no:cacheprovider", "--show-capture=no",
               "-c", os.devnull, "--rootdir", tests_dir, "--continue-on-collection-errors"]
    if keyword:
        command += ["-k", keyword]
    for nodeid, result in done.items():
        if result is not None:
            command += ["--deselect", nodeid]
    env = dict(os.environ, MYTORCH_GRADING_ROOT=root, MYTORCH_GRADER_EVENTS=events_path,
               MYTORCH_GRADER_KNOWN_FAILURES=json.dumps(known_failures),
               MYTORCH_GRADER_TIME_LIMIT=str(time_limit), MYTORCH_AUTOGRADER_DIR=HERE, PYTHONDONTWRITEBYTECODE="1",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # no third-party plugins: no .benchmarks, no reordering
    env.pop("PYTEST_ADDOPTS", None)
    open(events_path, "w").close()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        hung = _watch(child, events_path, time_limit)
    run = _read_events(events_path)
    returncode = child.returncode
    incomplete = run["running"] is not None or any(nodeid not in run["results"] for nodeid in run["collected"])
    run["crash"] = None
    if hung:
        run["crash"] = (f"did not finish within {time_limit:g} s and could not be interrupted, so the grader "
                        "stopped it (an infinite loop?)")
    elif incomplete or returncode not in (0, 1, 5):  # 1: some tests failed; 5: no tests selected
        where = _crash_location(log_path, root)
        run["crash"] = f"crashed the grading process ({_describe_returncode(returncode)}{where})"
        if not run["collected"] and not run["results"] and returncode in (2, 3, 4):
            with open(log_path) as log:
                tail = [line.rstrip() for line in log.read().strip().splitlines()[-3:]]
            run["crash"] = "could not start pytest: " + " | ".join(tail)
    run["phase"] = "loading the grading tests" if not run["collected"] else "the code run between tests"
    return run


def _watch(child, events_path, time_limit):
    """Wait for the child; kill its process group if no event arrives for too long.  True if it was killed."""
    last_size, last_change, started = 0, time.monotonic(), False
    while child.poll() is None:
        time.sleep(0.05)
        size = os.path.getsize(events_path)
        if size != last_size:
            last_size, last_change, started = size, time.monotonic(), True
        allowance = time_limit + KILL_GRACE if started else STARTUP_ALLOWANCE + time_limit
        if time.monotonic() - last_change > allowance:
            _kill(child)
            return True
    return False


def _kill(child):
    try:
        os.killpg(child.pid, signal.SIGKILL)  # the child and anything the student's code started
    except (AttributeError, ProcessLookupError, PermissionError):  # AttributeError: no process groups (Windows)
        child.kill()
    child.wait()


def _crash_location(log_path, root):
    """', at mytorch/linear.py:4, in forward' from the traceback pytest's faulthandler wrote at a fatal signal
    (innermost frame in the student's files first), or ''."""
    with open(log_path, errors="replace") as log:
        text = log.read()
    start = text.rfind("Fatal Python error")
    if start < 0:
        return ""
    for path, line, function in re.findall(r'File "(.+?)", line (\d+) in (\S+)', text[start:]):
        if os.path.isabs(path) and is_inside(path, root):
            return f", at {os.path.relpath(os.path.realpath(path), os.path.realpath(root))}:{line}, in {function}"
    return ""


def _describe_returncode(returncode):
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode}, {name}"
    return f"exit code {returncode}"


def _read_events(path):
    """Fold the child's JSON-lines events into collected tests, results, the running test and import state."""
    run = {"collected": [], "collect_errors": {}, "results": {}, "running": None, "importing": None,
           "import_failures": {}}
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
        kind = event.get("event")
        if kind == "collected":
            run["collected"] = event["nodeids"]
        elif kind == "collect_error":
            run["collect_errors"][event["nodeid"]] = event["message"]
        elif kind == "start":
            run["running"], run["importing"] = event["nodeid"], None
        elif kind == "result":
            run["results"][event["nodeid"]] = (event["passed"], event["message"])
            run["running"], run["importing"] = None, None
        elif kind == "importing":
            run["importing"] = event["module"]
        elif kind in ("imported", "import_failed"):
            run["importing"] = None
            if kind == "import_failed":
                run["import_failures"][event["module"]] = event["message"]
    return run


def _test_names_in_file(tests_dir, relative_path, keyword=None):
    """Names of the test functions defined in a test file that pytest could not load (read as text: the file may
    not even parse)."""
    try:
        with open(os.path.join(tests_dir, relative_path.split("::")[0]), encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, ValueError):
        return []
    names = re.findall(r"^def (test\w*)\s*\(", text, flags=re.MULTILINE)
    return [name for name in dict.fromkeys(names) if not keyword or keyword in name]


def _all_tests(tests_dir, keyword=None):
    nodeids = []
    for entry in sorted(os.listdir(tests_dir)):
        if entry.startswith("test") and entry.endswith(".py"):
            nodeids += [f"{entry}::{name}" for name in _test_names_in_file(tests_dir, entry, keyword)]
    return nodeids


# --- scoring and reporting -----------------------------------------------------------------------------------------

def score(results, complete=True):
    """Group results by test name: [{name, title, points, earned, passed, message, extra}], table order.

    complete: every graded test of the point table is expected (no -k), so a missing one scores 0.
    """
    by_name = {}
    for nodeid, (passed, message) in results.items():
        name = nodeid.split("::")[-1].split("[")[0]
        entry = by_name.setdefault(name, {"passed": True, "message": ""})
        if not passed:
            label = nodeid.split("::")[-1]
            prefix = f"[{label[len(name) + 1:-1]}] " if label != name and entry["passed"] else ""
            entry["message"] = entry["message"] or prefix + message
            entry["passed"] = False
    if complete:
        for name in points.GRADED:
            by_name.setdefault(name, {"passed": False, "message": "no grading test with this name was found"})
    order = list(points.GRADED) + sorted(name for name in by_name if name not in points.GRADED)
    rows = []
    for name in order:
        if name not in by_name:
            continue
        title, worth = points.title_and_points(name)
        entry = by_name[name]
        rows.append({"name": name, "title": title, "points": worth, "earned": worth if entry["passed"] else 0,
                     "passed": entry["passed"], "message": entry["message"], "extra": name not in points.GRADED})
    return rows


def report(rows, what, subset):
    """The table a student reads, as text."""
    graded = [row for row in rows if not row["extra"]]
    extras = [row for row in rows if row["extra"]]
    earned, possible = sum(r["earned"] for r in graded), sum(r["points"] for r in graded)
    width = max([len(r["title"]) for r in rows] + [20])
    lines = [f"Grading {what}", "", f"{'Test':<{width}}  Points"]
    for row in graded:
        lines += _row_lines(row, width, f"{row['earned']:>2}/{row['points']:<2}")
    if extras:
        lines += ["", "Extra checks (0 points)"]
        for row in extras:
            lines += _row_lines(row, width, "ok   " if row["passed"] else "FAIL ")
    passed = sum(r["passed"] for r in rows)
    total_line = f"Total: {earned}/{possible}" if subset else f"Total: {earned}/{points.TOTAL}"
    if subset:
        total_line += f" for the selected tests (-k); the full autograded total is {points.TOTAL}"
    title, hand_points = points.HAND_GRADED
    lines += ["", total_line, f"{passed} of {len(rows)} local checks passed.",
              f"Training statistics ({hand_points} points) are graded by hand from the plots, not here "
              "(make them with: python3 autograder/hw1_autograder/test.py --outpath hw1).",
              "The course grader may run more checks than these local ones."]
    return "\n".join(lines)


def _row_lines(row, width, score_text):
    """The row with the message's first line; further lines below it, indented and wrapped at 120 columns."""
    message = row["message"].splitlines() if not row["passed"] else []
    lines = [f"{row['title']:<{width}}  {score_text}  " + (message[0] if message else "")]
    for line in message[1:]:
        lines += textwrap.wrap(line.strip(), 120, initial_indent="    ", subsequent_indent="      ",
                               break_long_words=False)
    return [line.rstrip() for line in lines]


def gradescope_results(rows, summary):
    """Gradescope's results.json: one entry per test (extras with max_score 0)."""
    return {
        "score": sum(r["earned"] for r in rows if not r["extra"]),
        "output": summary,
        "tests": [{"name": r["title"] + (" (extra check)" if r["extra"] else ""), "score": r["earned"],
                   "max_score": r["points"], "output": "passed" if r["passed"] else r["message"]} for r in rows],
    }


# --- handin archives -----------------------------------------------------------------------------------------------

class HandinError(Exception):
    """The archive cannot be graded safely; the message says which member and why."""


def extract_handin(archive, destination):
    """Extract regular files and folders of a .tar (or .tar.gz) into destination, refusing anything unsafe:
    absolute paths, '..', links, devices and FIFOs, duplicates, too many or too large members.

    Members are validated first and only then written, file by file, with fresh permissions; nothing is ever
    written outside destination.  Returns the folder holding mytorch/ and hw1/.
    """
    if not os.path.isfile(archive):
        raise HandinError(f"{archive} does not exist. Make it with `sh create_tarball.sh` in your homework folder.")
    if os.path.getsize(archive) > MAX_ARCHIVE_BYTES:
        raise HandinError(f"{archive} is larger than {MAX_ARCHIVE_BYTES // 2**20} MB; a handin holds only code "
                          "and plots (did data or a virtual environment get in?).")
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError):
        raise HandinError(f"{archive} is not a readable tar archive. Make it with `sh create_tarball.sh`.") from None
    with tar:
        members, total = [], 0
        try:
            for member in tar:
                members.append(_validate_member(member))
                total += member.size
                if len(members) > MAX_MEMBERS:
                    raise HandinError(f"the archive has more than {MAX_MEMBERS} members.")
                if total > MAX_ARCHIVE_BYTES:
                    raise HandinError(f"the archive unpacks to more than {MAX_ARCHIVE_BYTES // 2**20} MB.")
        except tarfile.TarError as error:
            raise HandinError(f"the archive is damaged: {error}.")
        destination = os.path.realpath(destination)
        for member in members:
            target = os.path.realpath(os.path.join(destination, *member.name.split("/")))
            if os.path.commonpath([target, destination]) != destination:
                raise HandinError(f"member {member.name!r} would be written outside the grading folder.")
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            try:
                descriptor = os.open(target, flags, 0o644)
            except FileExistsError:
                raise HandinError(f"member {member.name!r} appears twice in the archive.")
            with os.fdopen(descriptor, "wb") as out, tar.extractfile(member) as source:
                shutil.copyfileobj(source, out)
    return _submission_root(destination)


def _validate_member(member):
    name = member.name
    kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk() else
            "a FIFO" if member.isfifo() else "a device file" if member.isdev() else
            None if member.isfile() or member.isdir() else "not a regular file")
    if kind:
        raise HandinError(f"member {name!r} is {kind}; a handin may hold only regular files and folders.")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise HandinError(f"member {name!r} has an absolute path; members must be relative (mytorch/..., hw1/...).")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise HandinError(f"member {name!r} contains '..'; members must stay inside the archive's folder.")
    if not name.strip("/.") or "\0" in name:
        raise HandinError(f"member {name!r} has an invalid name.")
    if member.size > MAX_MEMBER_BYTES:
        raise HandinError(f"member {name!r} is {member.size / 2**20:.0f} MB; the limit is "
                          f"{MAX_MEMBER_BYTES // 2**20} MB per file.")
    member.name = "/".join(part for part in parts if part not in ("", "."))
    return member


def _submission_root(folder):
    """The folder holding mytorch/ and hw1/: the archive's top level, or its single top-level folder."""
    if any(os.path.isdir(os.path.join(folder, name)) for name in ("mytorch", "hw1")):
        return folder
    entries = [entry for entry in os.listdir(folder) if os.path.isdir(os.path.join(folder, entry))]
    if len(entries) == 1:
        return _submission_root(os.path.join(folder, entries[0]))
    return folder


# --- command line --------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description="Local autograder for Homework 1 Part 1 (run it from the folder "
                                                 "that holds mytorch/ and hw1/).")
    parser.add_argument("-k", metavar="NAME", help="run only the tests whose names match (pytest's -k)")
    parser.add_argument("--json", action="store_true", help="end with Autolab's line {\"scores\": {...}}")
    parser.add_argument("--gradescope", metavar="RESULTS_JSON", help="also write Gradescope's results.json here")
    parser.add_argument("--handin", metavar="TAR", help="grade this handin.tar instead of the working tree")
    parser.add_argument("--check", action="store_true", help="only run the preflight (files, names, imports)")
    parser.add_argument("--doctor", action="store_true", help="check the Python environment and exit")
    parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                        help=f"per-test time limit (default {DEFAULT_TIME_LIMIT:g})")
    parser.add_argument("--tests-dir", default=TESTS_DIR, help=argparse.SUPPRESS)  # the autograder's own tests
    return parser.parse_args(argv)


def run_doctor():
    try:
        from doctor import main as doctor_main
    except ModuleNotFoundError as error:
        if error.name != "doctor":
            raise
        print(f"The environment doctor is not part of this autograder yet ({os.path.join(HERE, 'doctor.py')} is "
              "missing). Check by hand: python3 --version (3.9+), python3 -c 'import numpy; print(numpy.__version__)'.")
        return 2
    status = doctor_main()
    return status if isinstance(status, int) else 0


def run_preflight(root):
    problems = preflight.check(root)
    if problems:
        print(f"Preflight found {len(problems)} problem(s) in {root}:")
        print("\n".join("  " + problem for problem in problems))
    else:
        print(f"Preflight passed: {root} has every required file and name, and imports only numpy and the "
              "standard library.")
    return problems


def grade(root, args, what=None):
    """Preflight warnings, the grading run, the table and the requested outputs; returns the exit status."""
    if not any(os.path.isdir(os.path.join(root, folder)) for folder in ("mytorch", "hw1")):
        return _nothing_to_grade(args, f"{root} holds neither mytorch/ nor hw1/: run the autograder from your "
                                       "homework folder (python3 autograder/hw1_autograder/runner.py), or grade a "
                                       "tarball made by `sh create_tarball.sh`.")
    problems = preflight.check(root)
    if problems:
        print("Preflight warnings (fix these before you submit):")
        print("\n".join("  " + problem for problem in problems) + "\n")
    results = run_tests(root, args.tests_dir, args.k, args.time_limit)
    rows = score(results, complete=not args.k)
    summary = report(rows, what or root, subset=bool(args.k))
    print(summary)
    if args.gradescope:
        with open(args.gradescope, "w", encoding="utf-8") as stream:
            json.dump(gradescope_results(rows, summary), stream, indent=2)
    if args.json:
        print(json.dumps({"scores": {r["name"]: r["earned"] for r in rows if not r["extra"]}}))
    full_marks = all(r["passed"] for r in rows if not r["extra"]) and any(not r["extra"] for r in rows)
    return 0 if full_marks else 1


def _nothing_to_grade(args, message):
    """Print why nothing was graded; still write the requested outputs, all zero.  Returns exit status 2."""
    print(message)
    rows = score({}, complete=True)
    for row in rows:
        row["message"] = message
    if args.gradescope:
        with open(args.gradescope, "w", encoding="utf-8") as stream:
            json.dump(gradescope_results(rows, message), stream, indent=2)
    if args.json:
        print(json.dumps({"scores": {r["name"]: 0 for r in rows}}))
    return 2


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.doctor:
        return run_doctor()
    if not args.handin:
        root = os.path.realpath(os.getcwd())
        return (1 if run_preflight(root) else 0) if args.check else grade(root, args)
    scratch = tempfile.mkdtemp(prefix="mytorch-handin-")
    try:
        try:
            root = extract_handin(args.handin, scratch)
        except HandinError as error:
            return _nothing_to_grade(args, f"Rejected {args.handin}: {error}")
        what = f"{args.handin} (extracted to {root})"
        return (1 if run_preflight(root) else 0) if args.check else grade(root, args, what)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
