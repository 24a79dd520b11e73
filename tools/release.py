"""The release pipeline: what must hold before a handout goes to students.  `make release` runs it.

    python3 tools/release.py                       every step below (STEPS), stopping at the first failure
    python3 tools/release.py --skip-oracle-check   without re-running the oracle (semester recipes' tests)

    course.py consistent      every test names a program and a case; every program and case is used
    build the handout         dist/handout/ and dist/handout.tar from the solution markers, byte-identical twice
    grade the handout         0 points, every graded test failing in one line ("not implemented yet: Task ...")
    make a handin             the solution put back into a copy of the handout, then its create_tarball.sh
    grade the handin          runner.py --handin on every reference set: full marks
    Autolab and Gradescope    the course servers' own entry points, simulated: full marks, and 0 for the handout
    the oracle                tools/make_references.py --check (needs torch)
    the project's tests       the grading and handout subset (RELEASE_TESTS)

Exit status 1 at the first failing step. The grading helpers below are shared with the project's tests.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path("autograder") / "hw1_autograder" / "runner.py"
SOLUTION_DIRS = ["mytorch", "hw1"]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / RUNNER.parent))

import course  # noqa: E402  (the course file: tests, points, problem names)
import handout_checks  # noqa: E402
import make_autolab  # noqa: E402
import make_gradescope  # noqa: E402
import make_handout  # noqa: E402

# A handout test's failure, e.g. "not implemented yet: Task 3.4.2: implement Linear.backward — see ..."; a
# parametrised test's message starts with its case, "[case] ".
NOT_IMPLEMENTED = re.compile(r"^(\[[^\]]*\] )?not implemented yet: Task [\w.]+: ")
# Multiple choice stubs return None instead of raising, so that test may say so in its own words (one line).
UNANSWERED_TESTS = {"test_mcq"}

Grade = namedtuple("Grade", "status scores tests output")


def grade(root, *args, runner_root=None, timeout=600):
    """Run runner.py (from runner_root, default root) in root with --json and --gradescope.

    Returns Grade(status, scores {test name: points}, tests {test name: gradescope entry}, output): both keyed by
    course.py's test names (the scores line is keyed by problem names, results.json by problem names and extra
    checks' titles).
    """
    runner = Path(runner_root or root) / RUNNER
    env = {key: value for key, value in os.environ.items() if key != "MYTORCH_GRADING_ROOT"}
    # create_tarball.sh and any helper calling `python3` get this interpreter (a numpy 1.26 venv, say).
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    with tempfile.TemporaryDirectory(prefix="mytorch-release-") as scratch:
        results_path = Path(scratch) / "results.json"
        completed = subprocess.run(
            [sys.executable, str(runner), "--json", "--gradescope", str(results_path), *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = completed.stdout + completed.stderr
        scores_lines = [line for line in completed.stdout.splitlines() if line.startswith('{"scores"')]
        by_problem = json.loads(scores_lines[-1])["scores"] if scores_lines else {}
        entries = json.loads(results_path.read_text())["tests"] if results_path.exists() else []
    names = {test.problem: test.name for test in course.GRADED}
    names.update({test.title + " (extra check)": test.name for test in course.EXTRAS})
    scores = {names.get(problem, problem): points for problem, points in by_problem.items()}
    tests = {names[entry["name"]]: entry for entry in entries if entry["name"] in names}
    return Grade(completed.returncode, scores, tests, output)


def handout_problems(result):
    """What is wrong with the grading of a fresh handout: it must score 0/95, and every graded test must fail
    with one readable line naming the task (not a traceback wall, not a wrong-value diagnosis)."""
    problems = []
    graded = [test.name for test in course.GRADED]
    if set(result.scores) != set(graded):
        problems.append(f"the scores line lists {sorted(result.scores)}; expected the {len(graded)} graded tests")
    earned = sum(result.scores.values())
    if earned != 0:
        problems.append(f"the handout scores {earned}/{course.TOTAL}; a handout without solutions must score 0")
    for name in graded:
        entry = result.tests.get(name)
        if entry is None:
            problems.append(f"{name}: missing from results.json")
            continue
        lines = entry["output"].strip().splitlines()
        if len(lines) != 1 or "Traceback" in entry["output"]:
            problems.append(f"{name}: {len(lines)} lines of output, expected one: {entry['output'][:300]!r}")
        elif name not in UNANSWERED_TESTS and not NOT_IMPLEMENTED.match(lines[0]):
            problems.append(f"{name}: expected 'not implemented yet: Task ...', got {lines[0][:300]!r}")
    return problems


def full_marks_problems(result):
    """What keeps a graded solution from 95/95."""
    earned = sum(result.scores.values())
    if earned == course.TOTAL and result.status == 0:
        return []
    failed = [
        f"{name}: {entry['output'].strip()[:300]}"
        for name, entry in result.tests.items()
        if entry["score"] < entry["max_score"]
    ]
    return (
        [f"scored {earned}/{course.TOTAL} (exit status {result.status}); expected {course.TOTAL}/{course.TOTAL}"]
        + failed
        + ([] if failed else [result.output[-2000:]])
    )


def restore_solution(handout, root=ROOT):
    """Copy the solution's mytorch/ and hw1/ files over a handout's stubs."""
    for folder in SOLUTION_DIRS:
        for path in sorted((root / folder).glob("*.py")):
            shutil.copy2(path, Path(handout) / folder / path.name)


def make_handin(folder):
    """Run the folder's create_tarball.sh; returns (exit status, output, path of handin.tar)."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    completed = subprocess.run(
        ["sh", "create_tarball.sh"], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )
    return completed.returncode, completed.stdout + completed.stderr, Path(folder) / "handin.tar"


# --- the pipeline --------------------------------------------------------------------------------------------------

# The project's tests that cover grading and the handout: the release runs them, so a change to course.py that
# breaks them stops the release. (tests/test_semester.py is left out: it runs the release itself.)
RELEASE_TESTS = [
    "tests/test_course.py",
    "tests/test_runner.py",
    "tests/test_references.py",
    "tests/test_handout.py",
    "tests/test_handin.py",
    "tests/test_compare.py",
    "tests/test_mc.py",
]


def step_course(dist):
    """course.py is consistent with itself and with the grading programs (programs.py)."""
    import programs

    problems = course.consistency_problems(programs.PROGRAMS)
    return problems, f"{len(course.GRADED)} graded tests ({course.TOTAL} points), {len(course.EXTRAS)} extra checks"


def step_project_tests(dist, skip_oracle=False):
    env = dict(os.environ, **({"MYTORCH_SKIP_ORACLE_CHECK": "1"} if skip_oracle else {}))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *RELEASE_TESTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        return [
            f"the project's grading and handout tests failed (exit status {completed.returncode}):\n" + output[-4000:]
        ], ""
    return [], output.splitlines()[-1] if output else "passed"


def step_reproducible(dist):
    """Two builds of the same tree give byte-identical handout tars."""
    with tempfile.TemporaryDirectory(prefix="mytorch-rebuild-") as scratch:
        again = Path(scratch) / "handout"
        make_handout.build(again)
        make_handout.write_tar(again, again.with_suffix(".tar"))
        same = again.with_suffix(".tar").read_bytes() == (dist / "handout.tar").read_bytes()
    return ([] if same else ["dist/handout.tar differs between two builds of the same tree"]), "byte-identical"


def step_names(dist):
    return handout_checks.check_handout_names(dist / "handout"), "every file the handout names is in it"


def step_notebooks(dist):
    problems = handout_checks.check_handout_notebooks(dist / "handout", dist / "handout-solved")
    return problems, "each stops at its first missing task on the handout, and runs with the solution"


def step_build(dist):
    make_handout.build(dist / "handout")
    make_handout.write_tar(dist / "handout", dist / "handout.tar")
    return [], f"{dist / 'handout'}/ and {dist / 'handout.tar'}"


def step_grade_handout(dist):
    result = grade(dist / "handout")
    return handout_problems(result), f"0/{course.TOTAL}, every graded test 'not implemented yet'"


def step_handin(dist):
    solved = dist / "handout-solved"
    if solved.exists():
        shutil.rmtree(solved)
    shutil.copytree(dist / "handout", solved)
    restore_solution(solved)
    status, output, tar_path = make_handin(solved)
    if status != 0 or not tar_path.exists():
        return [f"create_tarball.sh failed (exit status {status}):\n{output}"], ""
    shutil.move(str(tar_path), dist / "handin.tar")
    return [], f"{dist / 'handin.tar'}"


def step_grade_handin(dist):
    problems = []
    for set_name in course.REFERENCE_SETS:
        references = ROOT / RUNNER.parent / "references" / set_name
        result = grade(ROOT, "--handin", str(dist / "handin.tar"), "--references", str(references))
        problems += [f"{set_name} set: {problem}" for problem in full_marks_problems(result)]
    return problems, f"{course.TOTAL}/{course.TOTAL} on the {' and '.join(course.REFERENCE_SETS)} reference sets"


def step_references(dist):
    if importlib.util.find_spec("torch") is None:  # the release needs the oracle: no skipping here
        return [
            "PyTorch is not installed, so the references cannot be regenerated: python3 -m pip install "
            "torch==2.13.0 (the 'oracle' extra of setup.py)"
        ], ""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_references.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        return [f"make_references.py --check failed (exit status {completed.returncode}):\n{output}"], ""
    return [], output.splitlines()[-1] if output else "references match"


STEPS = [
    ("course.py is consistent with the grading programs", step_course),
    ("build the handout", step_build),
    ("rebuild the handout: byte-identical", step_reproducible),
    ("the handout names only files it holds", step_names),
    (f"grade the handout (expect 0/{course.TOTAL}, readable messages)", step_grade_handout),
    ("restore the solution and run create_tarball.sh", step_handin),
    (
        f"grade the handin with --handin on every reference set (expect {course.TOTAL}/{course.TOTAL})",
        step_grade_handin,
    ),
    ("the handout's notebooks: the task message on stubs, every cell with the solution", step_notebooks),
    ("Autolab: the course's Makefile on dist/autolab/ (solution full marks, handout 0)", make_autolab.step_autolab),
    (
        "Gradescope: a simulated run of dist/gradescope_autograder.zip (solution full marks, handout 0)",
        make_gradescope.step_gradescope,
    ),
    ("regenerate the references (make_references.py --check)", step_references),
    ("the project's grading and handout tests", step_project_tests),
]
# Steps a quick release leaves out (--skip-oracle-check): the semester recipes' tests regenerate the references
# themselves and run the release in a temporary clone, where re-checking the oracle would only repeat that work.
ORACLE_STEPS = {step_references}


def main(argv=None):
    skip_oracle = "--skip-oracle-check" in (sys.argv[1:] if argv is None else argv)
    dist = ROOT / "dist"
    dist.mkdir(exist_ok=True)
    for number, (title, step) in enumerate(STEPS, start=1):
        if skip_oracle and step in ORACLE_STEPS:
            print(f"[{number}/{len(STEPS)}] skip {title} (--skip-oracle-check)")
            continue
        started = time.monotonic()
        try:
            problems, summary = step(dist, skip_oracle) if step is step_project_tests else step(dist)
        except Exception as error:  # a crashed step is a failed release, reported like any other problem
            problems, summary = [f"{type(error).__name__}: {error}"], ""
        seconds = time.monotonic() - started
        if problems:
            print(f"[{number}/{len(STEPS)}] FAIL {title} ({seconds:.1f} s)")
            print("\n".join("      " + line for problem in problems for line in problem.splitlines()))
            print(f"release: step {number} failed; nothing after it was run.")
            return 1
        print(f"[{number}/{len(STEPS)}] ok   {title} ({seconds:.1f} s): {summary}")
    print("release: every check passed; ship dist/handout.tar.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
