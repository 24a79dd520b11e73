"""The course-server bundle for Gradescope:  dist/gradescope_autograder.zip  (upload it as the autograder).

    python3 tools/make_gradescope.py              # writes <repo>/dist/gradescope_autograder.zip
    python3 tools/make_gradescope.py --out ZIP

At the zip's root, as Gradescope expects (it unzips into /autograder/source):
    setup.sh          run once, as root, when Gradescope builds the image: apt python3 and pip, then numpy==NUMPY_PIN
    run_autograder    run for every submission: grades /autograder/submission (handin.tar, or the folders mytorch/
                      and hw1/, perhaps inside one folder) with runner.py --gradescope, which writes
                      /autograder/results/results.json. AUTOGRADER_ROOT replaces /autograder (local runs).
    runner.py ...     the grader's modules, flat, and references/server/ (the server set only), as in Autolab's
                      autograde.tar (make_autolab.server_files)

The zip is byte-identical across builds: sorted members, a fixed date, fixed permissions (0o755 for the two
scripts, 0o644 for the rest).

Release step (tools/release.py's STEPS holds step_gradescope(dist) -> (problems, summary)): check(zip_path)
builds the zip, checks that a second build is byte-identical, and simulates Gradescope (unzip into <tmp>/source,
the submission in <tmp>/submission, run <tmp>/source/run_autograder with AUTOGRADER_ROOT=<tmp>) on the solution (95,
as handin.tar and as folders) and on the handout's stubs (0), checking results.json's fields; simulate(submission,
zip_path) is one run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "autograder" / "hw1_autograder"))

import course  # noqa: E402
import make_autolab  # noqa: E402  (server_files, make_tar)
import make_handout  # noqa: E402

# numpy for Gradescope's image: 2.2 is the newest line with wheels for Python 3.10 (Ubuntu 22.04, Gradescope's
# default base image) through 3.13 (Ubuntu 24.04 has 3.12); the grader supports numpy 1.26.x and 2.x.
NUMPY_PIN = "2.2.6"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
EXECUTABLES = ("setup.sh", "run_autograder")

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip
# Ubuntu 23.04 and later mark the system Python as externally managed (PEP 668); older pips ignore this variable.
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir "numpy=={NUMPY_PIN}"
python3 -c "import numpy; print('numpy', numpy.__version__)"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root: grade it and write results/results.json.
# AUTOGRADER_ROOT replaces /autograder, to try it locally (python3 must find numpy).
set -u
root="${AUTOGRADER_ROOT:-/autograder}"
source_dir="$root/source"
submission="$root/submission"
results="$root/results/results.json"
mkdir -p "$root/results"
rm -f "$results"

# The student uploaded the folders mytorch/ and hw1/ (perhaps inside one folder): grade those. Otherwise handin.tar,
# or the only .tar uploaded. Otherwise grade the submission as it is: the table says what is missing.
if [ -n "$(find "$submission" -maxdepth 2 -type d \\( -name mytorch -o -name hw1 \\) -print -quit)" ]; then
    python3 "$source_dir/runner.py" --module-path "$submission" --gradescope "$results"
elif [ -f "$submission/handin.tar" ]; then
    python3 "$source_dir/runner.py" --handin "$submission/handin.tar" --gradescope "$results"
elif [ "$(find "$submission" -maxdepth 1 -type f -name '*.tar' | wc -l)" -eq 1 ]; then
    python3 "$source_dir/runner.py" --handin "$(find "$submission" -maxdepth 1 -type f -name '*.tar')" \\
        --gradescope "$results"
else
    python3 "$source_dir/runner.py" --module-path "$submission" --gradescope "$results"
fi
status=$?
# The runner's status says whether every test passed; Gradescope needs only results.json. Without it (status 3:
# the grader itself cannot grade), a failing status makes Gradescope report an autograder error, not a zero.
if [ -f "$results" ]; then
    exit 0
fi
exit "$status"
"""

Run = namedtuple("Run", "results output returncode")


def entries():
    """[(name in the zip, bytes)], sorted: the two scripts and make_autolab.server_files()."""
    found = [("setup.sh", SETUP_SH.encode()), ("run_autograder", RUN_AUTOGRADER.encode())]
    found += [(relative, source.read_bytes()) for relative, source in make_autolab.server_files()]
    return sorted(found)


def build(out=ROOT / "dist" / "gradescope_autograder.zip"):
    """Write the zip (replaced); returns its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name, data in entries():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so unzip applies the permissions below
            info.external_attr = (0o100755 if name in EXECUTABLES else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(temporary, out)
    return out


def unzip(zip_path, destination):
    """Extract like Gradescope's unzip, keeping each member's Unix permissions (zipfile alone drops them)."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = archive.extract(info, destination)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)


# --- the release step: a simulated Gradescope run ---------------------------------------------------------------------


def simulate(submission, zip_path=ROOT / "dist" / "gradescope_autograder.zip", timeout=600):
    """Run(results.json as a dict or None, output, exit status) of one Gradescope run: the zip unzipped into
    <tmp>/source, submission (a handin.tar, or a folder whose contents are copied) in <tmp>/submission, and
    <tmp>/source/run_autograder run with AUTOGRADER_ROOT=<tmp> and `python3` resolving to this interpreter."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("AUTOLAB", None)
    with tempfile.TemporaryDirectory(prefix="mytorch-gradescope-") as scratch:
        root = Path(scratch)
        os.chmod(root, 0o755)
        unzip(zip_path, root / "source")
        if Path(submission).is_dir():
            shutil.copytree(submission, root / "submission")
        else:
            (root / "submission").mkdir()
            shutil.copyfile(submission, root / "submission" / "handin.tar")
        env["AUTOGRADER_ROOT"] = str(root)
        completed = subprocess.run(
            [str(root / "source" / "run_autograder")],
            cwd=root / "source",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        path = root / "results" / "results.json"
        results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    return Run(results, completed.stdout, completed.returncode)


def results_problems(results):
    """What is wrong with a results.json against Gradescope's format ([] when nothing is)."""
    if not isinstance(results, dict):
        return ["no results.json was written"]
    problems = []
    for key, kind in (
        ("score", (int, float)),
        ("execution_time", (int, float)),
        ("output", str),
        ("stdout_visibility", str),
        ("tests", list),
    ):
        if not isinstance(results.get(key), kind):
            problems.append(f"results.json: {key!r} is missing or not a {kind}")
    for number, test in enumerate(results.get("tests") or []):
        missing = [
            key
            for key in ("name", "score", "max_score", "output", "visibility")
            if not isinstance(test, dict) or key not in test
        ]
        if missing:
            problems.append(f"results.json: tests[{number}] lacks {missing}")
    if not problems:
        graded = [test for test in results["tests"] if test["max_score"] > 0]
        if sum(test["max_score"] for test in graded) != course.TOTAL:
            problems.append(
                f"results.json: the tests' max_score add up to {sum(t['max_score'] for t in graded)}, "
                f"not {course.TOTAL}"
            )
        if sum(test["score"] for test in graded) != results["score"]:
            problems.append("results.json: the tests' scores do not add up to its score")
    return problems


def run_problems(run, expected, what):
    problems = [f"{what}: {problem}" for problem in results_problems(run.results)]
    if not problems and run.results["score"] != expected:
        problems.append(
            f"{what}: scored {run.results['score']}/{course.TOTAL}; expected {expected}:\n{run.output[-3000:]}"
        )
    if run.returncode != 0:
        problems.append(f"{what}: run_autograder exited with status {run.returncode}:\n{run.output[-2000:]}")
    return problems


def check(zip_path):
    """Build the zip at zip_path, rebuild it (byte-identical?), and simulate Gradescope on the solution (95, as a
    handin.tar and as uploaded folders) and the handout's stubs (0). [] when all is well."""
    zip_path = build(zip_path)
    first = zip_path.read_bytes()
    problems = [] if build(zip_path).read_bytes() == first else [f"{zip_path.name} differs between two builds"]
    with tempfile.TemporaryDirectory(prefix="mytorch-gradescope-release-") as scratch:
        scratch = Path(scratch)
        handout = scratch / "handout"
        make_handout.build(handout)
        folders = scratch / "uploaded" / "hw1p1"  # the two folders inside one top-level folder
        for name in course.SUBMISSION_FOLDERS:
            shutil.copytree(ROOT / name, folders / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        problems += run_problems(
            simulate(make_autolab.make_tar(ROOT, scratch / "solution.tar"), zip_path),
            course.TOTAL,
            "the solution's handin.tar",
        )
        problems += run_problems(simulate(scratch / "uploaded", zip_path), course.TOTAL, "the solution's folders")
        problems += run_problems(
            simulate(make_autolab.make_tar(handout, scratch / "stubs.tar"), zip_path), 0, "the handout's stubs"
        )
    return problems


def step_gradescope(dist):
    """tools/release.py's step: (problems, summary) of check() on the bundle in dist."""
    return check(Path(dist) / "gradescope_autograder.zip"), (
        f"dist/gradescope_autograder.zip rebuilds byte-identically; a simulated run "
        f"gives the solution {course.TOTAL} (handin.tar and folders), the handout 0"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write the Gradescope autograder zip.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "dist" / "gradescope_autograder.zip",
        help="default: dist/gradescope_autograder.zip",
    )
    parser.add_argument("--check", action="store_true", help="also simulate Gradescope on the solution and handout")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for problem in problems:
            print(f"make_gradescope: {problem}", file=sys.stderr)
        if problems:
            return 1
    else:
        build(args.out)
    print(f"make_gradescope: {args.out} (setup.sh installs numpy=={NUMPY_PIN}; upload it as the autograder)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
