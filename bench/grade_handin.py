"""How long does one handin take to grade?  The solution's handin.tar through the runner (the worker design) against
the previous design (pytest in a child process, commit d74d640), measured in the same run, alternately.

    .venv/bin/python bench/grade_handin.py              # 5 timed runs of each, after one untimed warm-up each
    .venv/bin/python bench/grade_handin.py --runs 9
    .venv/bin/python bench/grade_handin.py --runs 1 --no-warm-up        # smoke run: timings meaningless

Both paths grade the same handin.tar (`tar -cf handin.tar mytorch hw1` of the repository's solution) from a folder
holding the solution's mytorch/ and hw1/, with MYTORCH_GRADING_ROOT unset:

    new   python3 autograder/hw1_autograder/runner.py --handin handin.tar          (this checkout)
    old   python3 <tmp>/autograder/hw1_autograder/runner.py --handin handin.tar    (git archive d74d640 autograder)

As root the new path runs the student's code as the sandbox user (nobody), as a course server does, and pays for
the check that this user can run Python. The old path needs pytest in the interpreter that runs this script (the
repository's .venv has it). Each run must print Total: 95/95; a wrong total is a FAIL whatever the speed.

Prints both medians (and their ranges), the ratio, and PASS/FAIL against the targets: the new path at most 2 s on
2 cores and at most 1.5x the old one. Exit status 0 when both targets pass.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW_RUNNER = os.path.join(ROOT, "autograder", "hw1_autograder", "runner.py")
OLD_COMMIT = "d74d640"  # the last commit with the in-process grader (pytest in a child process)
TARGET_SECONDS, TARGET_RATIO = 2.0, 1.5
FULL_MARKS = "Total: 95/95"


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Wall time to grade the solution's handin.tar: new path vs old.")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each path (default 5)")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the untimed first run of each path")
    parser.add_argument("--old-commit", default=OLD_COMMIT, help=f"the old grader's commit (default {OLD_COMMIT})")
    return parser.parse_args(argv)


def environment():
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("MYTORCH_GRADING_ROOT", "AUTOLAB") and not key.startswith("PYTHON")
    }


def extract_old_autograder(commit, destination):
    """`git -C ROOT archive COMMIT autograder | tar -x -C destination`; the old runner's path."""
    archive = subprocess.Popen(["git", "-C", ROOT, "archive", commit, "autograder"], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
        tar.extractall(destination, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    if archive.wait() != 0:
        sys.exit(f"git archive {commit} failed: is this a clone with that commit (not a shallow one)?")
    return os.path.join(destination, "autograder", "hw1_autograder", "runner.py")


def make_solution_folder(destination):
    """destination/{mytorch,hw1} copied from the repository, and destination/handin.tar of them."""
    for folder in ("mytorch", "hw1"):
        shutil.copytree(
            os.path.join(ROOT, folder),
            os.path.join(destination, folder),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    handin = os.path.join(destination, "handin.tar")
    with tarfile.open(handin, "w") as tar:
        for folder in ("mytorch", "hw1"):
            tar.add(os.path.join(destination, folder), arcname=folder)
    return handin


def grade_once(runner, handin, cwd):
    """Seconds for one `runner --handin handin`; exits with the output if it does not give full marks."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, runner, "--handin", handin],
        cwd=cwd,
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    if FULL_MARKS not in completed.stdout:
        sys.exit(
            f"FAIL: {runner} did not give the solution full marks (exit {completed.returncode}):\n"
            f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
        )
    return seconds


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="mytorch-bench-") as scratch:
        old_runner = extract_old_autograder(args.old_commit, os.path.join(scratch, "old"))
        solution = os.path.join(scratch, "solution")
        handin = make_solution_folder(solution)
        paths = {"new": NEW_RUNNER, "old": old_runner}
        times = {name: [] for name in paths}
        for run in range(args.runs + (0 if args.no_warm_up else 1)):
            order = list(paths) if run % 2 == 0 else list(reversed(paths))  # alternate who goes first
            for name in order:
                seconds = grade_once(paths[name], handin, solution)
                if args.no_warm_up or run > 0:
                    times[name].append(seconds)
    new, old = statistics.median(times["new"]), statistics.median(times["old"])
    ratio = new / old
    user = "as nobody" if os.geteuid() == 0 else "as the caller"
    rows = {
        "new": f"new: worker process, student code {user}",
        "old": f"old: {args.old_commit}, pytest in a child process",
    }
    print(f"Grading the solution's handin.tar, {args.runs} timed run(s) of each, {os.cpu_count()} cores")
    for name, label in rows.items():
        print(
            f"  {label:<50} median {statistics.median(times[name]):5.2f} s  "
            f"(range {min(times[name]):.2f}-{max(times[name]):.2f})"
        )
    print(f"  ratio new/old {ratio:.2f}x")
    fast, close = new <= TARGET_SECONDS, ratio <= TARGET_RATIO
    print(
        f"target new <= {TARGET_SECONDS:g} s: {'PASS' if fast else 'FAIL'}; "
        f"target new <= {TARGET_RATIO:g}x old: {'PASS' if close else 'FAIL'}"
    )
    return 0 if fast and close else 1


if __name__ == "__main__":
    sys.exit(main())
