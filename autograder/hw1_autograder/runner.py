"""Local autograder for Homework 1 Part 1.  Run it from the folder that holds mytorch/ and hw1/:

    python3 autograder/hw1_autograder/runner.py                   grade ./mytorch and ./hw1, print the table
    python3 autograder/hw1_autograder/runner.py -k "linear backward"   a test by the name the table prints
    python3 autograder/hw1_autograder/runner.py -k 3.4            every test of task 3.4 (also --task 3.4.2)
    python3 autograder/hw1_autograder/runner.py --handin handin.tar   grade a tarball, as a course server would
    python3 autograder/hw1_autograder/runner.py --module-path DIR    grade the files under DIR (Autolab)
    python3 autograder/hw1_autograder/runner.py --check           preflight: files, names, signatures, imports
    python3 autograder/hw1_autograder/runner.py --json            ... and end with Autolab's {"scores": {...}}
    python3 autograder/hw1_autograder/runner.py --gradescope results.json
    python3 autograder/hw1_autograder/runner.py --doctor          check the environment

This file is the command line only. The runner (this process) holds the references, compares, scores and writes
every output; the student's code runs in a separate worker process (sandbox.py, worker.py) that receives each
test's inputs and sends back arrays. Exit status: 0 full marks, 1 some tests failed, 2 nothing gradable (a
rejected archive, an invalid selection), 3 the grader itself cannot grade (references modified, sandbox user).
"""

import sys

sys.dont_write_bytecode = True  # grading leaves no __pycache__ behind

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import course  # noqa: E402
import grading  # noqa: E402
import handin  # noqa: E402
import preflight  # noqa: E402
import reference_sets  # noqa: E402
import sandbox  # noqa: E402
import scoring  # noqa: E402
import selection  # noqa: E402
from programs import PROGRAMS  # noqa: E402

UNPRIVILEGED_NOTE = (
    "Note: not running as root, so the student code runs with the grader's own privileges (it "
    "could read or change what this user can). Course servers should run the grader as root in "
    "a container: the worker then runs as an unprivileged user."
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Local autograder for Homework 1 Part 1 (run it from the folder that holds mytorch/ and hw1/)."
    )
    parser.add_argument(
        "-k",
        metavar="NAME",
        help="only the tests matching: a title as the table prints it, a test "
        "id, a task number, or words with and/or/not",
    )
    parser.add_argument("--task", metavar="N", help="only the tests of this handout task (e.g. 3.4 or 3.4.2)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--handin", metavar="TAR", help="grade this handin.tar instead of the working tree")
    source.add_argument("--module-path", metavar="DIR", help="grade the mytorch/ and hw1/ under DIR (Autolab)")
    source.add_argument("--handin-dir", metavar="DIR", help="grade every *.tar under DIR into --gradebook")
    parser.add_argument("--gradebook", metavar="CSV", help="with --handin-dir: the gradebook to write")
    parser.add_argument("--jobs", type=int, default=None, help="with --handin-dir: handins graded at once")
    parser.add_argument("--regrade", action="store_true", help="with --handin-dir: regrade handins already graded")
    parser.add_argument(
        "--json", action="store_true", help='end with Autolab\'s line {"scores": {...}} (also when AUTOLAB=1 is set)'
    )
    parser.add_argument("--gradescope", metavar="RESULTS_JSON", help="also write Gradescope's results.json here")
    parser.add_argument(
        "--references",
        metavar="DIR",
        default=None,
        help="the reference set to grade against (default: references/public, or references/server "
        "where only that exists)",
    )
    parser.add_argument("--check", action="store_true", help="only run the preflight (files, names, imports)")
    parser.add_argument("--doctor", action="store_true", help="check the Python environment and exit")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=course.TIME_LIMIT,
        metavar="SECONDS",
        help=f"per-test time limit (default {course.TIME_LIMIT:g})",
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        default=course.TIME_BUDGET,
        metavar="SECONDS",
        help=f"time for all the tests of one handin (default {course.TIME_BUDGET:g})",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=course.MEMORY_LIMIT / 2**30,
        metavar="GIB",
        help=f"address space of the student's code (default {course.MEMORY_LIMIT / 2**30:g} GiB)",
    )
    parser.add_argument(
        "--sandbox-user",
        default="nobody",
        metavar="USER",
        help="as root, run student code as this unprivileged user (default nobody)",
    )
    parser.add_argument("--no-sandbox-user", action="store_true", help="run student code as the caller even when root")
    args = parser.parse_args(argv)
    if args.handin_dir and not args.gradebook:
        parser.error("--handin-dir needs --gradebook CSV")
    args.json = args.json or os.environ.get("AUTOLAB") == "1"
    return args


def limits(args):
    return sandbox.Limits(
        time=args.time_limit,
        budget=args.time_budget,
        memory=int(args.memory_limit * 2**30),
        output=course.OUTPUT_LIMIT,
        file_size=64 * 2**20,
    )


def run_preflight(root):
    problems = safe_preflight(root)
    if problems:
        print(f"Preflight found {len(problems)} problem(s) in {root}:")
        print("\n".join("  " + problem for problem in problems))
    else:
        print(
            f"Preflight passed: {root} has every required file and name, and imports only numpy and the "
            "standard library."
        )
    return problems


def safe_preflight(root):
    """preflight.check, which parses the student's files: a file that defeats the parser is a problem, not a crash."""
    try:
        return preflight.check(root)
    except (RecursionError, MemoryError, ValueError, OSError) as error:
        return [f"the preflight could not read the submission ({type(error).__name__}); it is graded anyway."]


def write_outputs(args, rows, summary, started):
    """The Gradescope file (written atomically, after the worker and all it started are gone) and the scores line,
    which is always the last line printed."""
    if args.gradescope:
        scoring.write_json_atomically(
            args.gradescope, scoring.gradescope_results(rows, summary, time.monotonic() - started)
        )
    if args.json:
        print(scoring.scores_line(rows), flush=True)


def reject(args, message, started):
    """Nothing gradable: say why, then still print the table and a scores line of zeros. Exit status 2."""
    rows = scoring.score({test.name: scoring.Result("failed", message) for test in course.TESTS})
    summary = scoring.report(rows, "nothing gradable", notes=[message, ""])
    print(summary)
    write_outputs(args, rows, summary, started)
    return 2


def grade(root, args, what, server, started):
    """Preflight warnings, the worker's run, the table and the outputs; returns the exit status."""
    if not course.holds_submission(root):
        return reject(
            args,
            f"{what} does not hold both mytorch/ and hw1/: run the autograder from your homework "
            "folder, or grade a tarball made by `sh create_tarball.sh`.",
            started,
        )
    try:
        tests = selection.select(course.TESTS, args.k, args.task)
    except selection.SelectionError as error:
        print(error)
        return 2
    directory = args.references or reference_sets.default_directory()
    try:
        inconsistent = course.consistency_problems(PROGRAMS)
        if inconsistent:
            raise reference_sets.ReferenceError("course.py is inconsistent: " + "; ".join(inconsistent))
        set_name, stored = reference_sets.load(directory)
        account = None
        if server and not args.no_sandbox_user:
            account = sandbox.sandbox_account(args.sandbox_user)
            sandbox.check_account_can_run_python(account, args.sandbox_user)
            if account is not None:  # the sandbox user may read no reference set (the public MC hashes give the
                for folder in {directory, reference_sets.REFERENCES_DIR}:  # answers away), this one or the others
                    if os.path.isdir(folder):
                        os.chmod(folder, 0o700)
    except (reference_sets.ReferenceError, sandbox.SandboxError) as error:
        print(f"Grading stopped: {error}")
        return 3
    notes = []
    if server and account is None:
        notes.append(UNPRIVILEGED_NOTE)
    problems = safe_preflight(root)
    if problems:
        notes += ["Preflight warnings (fix these before you submit):"] + ["  " + p for p in problems] + [""]
    results, printed = grading.grade_submission(root, tests, stored, limits(args), account)
    if printed:
        notes.append(f"(the graded code printed {printed} bytes while it was tested; they are not shown here)")
    subset = bool(args.k or args.task)
    rows = scoring.score(results, tests if subset else None)
    summary = scoring.report(rows, f"{what} against the {set_name} references", subset=subset, notes=notes)
    print(summary, flush=True)
    write_outputs(args, rows, summary, started)
    return 0 if all(row["status"] == "passed" for row in rows if not row["extra"]) else 1


def main(argv=None):
    started = time.monotonic()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.doctor:
        from doctor import main as doctor_main

        return doctor_main()
    if args.handin_dir:
        import batch

        return batch.main(args)
    sandbox.become_subreaper()
    if args.module_path:
        root = handin.submission_root(os.path.realpath(args.module_path))
        return run_preflight(root) and 1 if args.check else grade(root, args, args.module_path, True, started)
    if not args.handin:
        root = os.path.realpath(os.getcwd())
        return (1 if run_preflight(root) else 0) if args.check else grade(root, args, root, False, started)
    scratch = tempfile.mkdtemp(prefix="mytorch-handin-")
    try:
        try:
            root = handin.extract_handin(args.handin, scratch)
        except handin.HandinError as error:
            return reject(args, f"Rejected {args.handin}: {error}", started)
        if args.check:
            return 1 if run_preflight(root) else 0
        return grade(root, args, args.handin, True, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def exit_status(status):
    """Under AUTOLAB=1 a run that printed its scores line (statuses 0, 1, 2) exits 0: Autolab runs the runner under
    `make`, which prints "make: *** [...] Error 1" after a failing command, and Autolab reads the last line."""
    return 0 if os.environ.get("AUTOLAB") == "1" and status in (0, 1, 2) else status


if __name__ == "__main__":
    sys.exit(exit_status(main()))
