"""How fast is a whole class graded?  100 generated handins through `runner.py --handin-dir --jobs 2`.

    python3 bench/grade_class.py                  # 100 handins, 2 jobs, the course's time limits
    python3 bench/grade_class.py --count 20 --jobs 1 --time-limit 1 --time-budget 5

The class is a mix (MIX, by share) of what a course receives:
    solution   the repository's mytorch/ and hw1/                                        95, graded
    handout    the handout's stubs (nothing done)                                         0, graded
    bug        the solution with a wrong multiple-choice answer                            90, graded
    hostile    a symbolic link member pointing at /etc/passwd                              0, rejected
    loop       the solution with Linear.forward looping forever                            <95, time budget
Handins sit as DIR/<id>.tar and DIR/<id>/handin.tar alternately (both layouts Autolab and Canvas exports use).

Prints handins per minute and PASS/FAIL against the target: 100 handins in at most 3 minutes on 2 cores. Every
row's total is checked against its kind (a wrong row is a FAIL whatever the speed). tests/test_batch.py builds
its handins with the same functions (make_handin, KINDS).
"""

import argparse
import csv
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "autograder" / "hw1_autograder" / "runner.py"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(RUNNER.parent))

import course  # noqa: E402
import make_handout  # noqa: E402

TARGET_HANDINS, TARGET_SECONDS, TARGET_JOBS = 100, 180.0, 2
# One looping handin in a hundred: with the course's limits it holds one core for the whole time budget (120 s).
MIX = {"solution": 0.55, "handout": 0.2, "bug": 0.16, "hostile": 0.08, "loop": 0.01}

WRONG_ANSWER = '\n\ndef question_1():\n    return "not an answer"\n'
FOREVER = "\n\ndef _forever(self, x):\n    while True:\n        pass\n\n\nLinear.forward = _forever\n"
# (total, status prefix) each kind must get; None: below full marks, not checked exactly.
EXPECTED = {
    "solution": (course.TOTAL, "graded"),
    "handout": (0, "graded"),
    "bug": (course.TOTAL - course.TESTS_BY_NAME["test_mcq"].points, "graded"),
    "hostile": (0, "rejected: "),
    "loop": (None, "time budget"),
}
KINDS = tuple(EXPECTED)


def submission_files(root):
    """{path: bytes} of the .py files of root's mytorch/ and hw1/."""
    return {
        f"{folder}/{path.name}": path.read_bytes()
        for folder in course.SUBMISSION_FOLDERS
        for path in sorted((Path(root) / folder).glob("*.py"))
    }


def write_tar(path, files, symlinks=None):
    """A tar of {path: bytes}, plus {member: target} symbolic links."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in sorted((symlinks or {}).items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def make_handin(kind, path, handout):
    """Write a handin of one kind (KINDS) to path; handout: a built handout folder (for the stubs)."""
    files = submission_files(handout if kind == "handout" else ROOT)
    symlinks = {}
    if kind == "bug":
        files["hw1/mc.py"] += WRONG_ANSWER.encode()
    elif kind == "loop":
        files["mytorch/linear.py"] += FOREVER.encode()
    elif kind == "hostile":
        del files["mytorch/linear.py"]
        symlinks["mytorch/linear.py"] = "/etc/passwd"
    return write_tar(path, files, symlinks)


def make_class(folder, count, handout, mix=MIX):
    """count handins in folder, kinds in the proportions of mix; returns {id: kind}."""
    kinds = []
    for kind, share in mix.items():
        kinds += [kind] * max(1, round(share * count))
    kinds = (kinds * count)[:count]
    random.Random(0).shuffle(kinds)  # a fixed order in which the kinds are mixed, as in a real class
    ids = {}
    for number, kind in enumerate(kinds):
        handin_id = f"student{number:03d}-{kind}"
        path = Path(folder) / (f"{handin_id}.tar" if number % 2 else f"{handin_id}/handin.tar")
        make_handin(kind, path, handout)
        ids[handin_id] = kind
    return ids


def row_problems(rows, ids):
    """What is wrong with the gradebook's rows for the generated class ([] when every row is right)."""
    problems = [f"{handin_id}: no row" for handin_id in ids if handin_id not in rows]
    for handin_id, kind in ids.items():
        row = rows.get(handin_id)
        if row is None:
            continue
        total, status = EXPECTED[kind]
        if not row["status"].startswith(status):
            problems.append(f"{handin_id}: status {row['status']!r}, expected {status!r}")
        if total is not None and int(row["total"]) != total:
            problems.append(f"{handin_id}: total {row['total']}, expected {total}")
        if total is None and int(row["total"]) >= course.TOTAL:
            problems.append(f"{handin_id}: total {row['total']}, expected less than {course.TOTAL}")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade a generated class with runner.py --handin-dir.")
    parser.add_argument("--count", type=int, default=TARGET_HANDINS)
    parser.add_argument("--jobs", type=int, default=TARGET_JOBS)
    parser.add_argument("--time-limit", type=float, default=course.TIME_LIMIT)
    parser.add_argument("--time-budget", type=float, default=course.TIME_BUDGET)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="mytorch-grade-class-"))
    try:
        make_handout.build(scratch / "handout")
        ids = make_class(scratch / "handins", args.count, scratch / "handout")
        kinds = {kind: sum(k == kind for k in ids.values()) for kind in KINDS}
        gradebook = scratch / "grades.csv"
        print(
            f"{args.count} handins ({', '.join(f'{n} {kind}' for kind, n in kinds.items())}), --jobs {args.jobs}, "
            f"{args.time_limit:g} s per test, {args.time_budget:g} s per handin, {os.cpu_count()} cores"
        )
        started = time.monotonic()
        completed = subprocess.run(
            [
                sys.executable,
                str(RUNNER),
                "--handin-dir",
                str(scratch / "handins"),
                "--gradebook",
                str(gradebook),
                "--jobs",
                str(args.jobs),
                "--time-limit",
                str(args.time_limit),
                "--time-budget",
                str(args.time_budget),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        with open(gradebook, newline="", encoding="utf-8") as stream:
            rows = {row["id"]: row for row in csv.DictReader(stream)}
        problems = row_problems(rows, ids)
        if completed.returncode != 0:
            problems.append(f"runner.py --handin-dir exited with {completed.returncode}: {completed.stdout[-500:]}")
        per_kind = {}
        for handin_id, kind in ids.items():
            per_kind.setdefault(kind, []).append(float(rows[handin_id]["seconds"]) if handin_id in rows else 0.0)
        for kind, times in per_kind.items():
            print(f"  {kind:<9} {len(times):>3} handins, {sum(times) / len(times):6.2f} s each (wall, in parallel)")
        rate = args.count / seconds * 60
        budget = TARGET_SECONDS * args.count / TARGET_HANDINS
        print(f"{args.count} handins in {seconds:.1f} s: {rate:.0f} handins per minute")
        for problem in problems:
            print("  wrong row: " + problem)
        passed = seconds <= budget and not problems
        print(
            f"{'PASS' if passed else 'FAIL'}: target {TARGET_HANDINS} handins in at most {TARGET_SECONDS:g} s on "
            f"{TARGET_JOBS} cores ({budget:g} s for {args.count})" + ("" if not problems else "; some rows wrong")
        )
        return 0 if passed else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
