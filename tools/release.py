"""The release pipeline: what must hold before a handout goes to students.  `make release` runs it.

    1. build the handout from the solution markers      dist/handout/, dist/handout.tar   (tools/make_handout.py)
    2. grade the handout as students receive it         0/95, every graded test failing in one readable line
                                                        ("not implemented yet: Task 3.4.2: ...")
    3. put the solution back into a copy of the handout dist/handout-solved/
       and make a handin with its create_tarball.sh     dist/handin.tar
    4. grade that tarball as the course server does     runner.py --handin dist/handin.tar: 95/95
    5. regenerate the references with the oracle        tools/make_references.py --check (needs torch)

Stops at the first failing step with exit status 1.  The grading helpers below are shared with
tests/test_handout.py, which makes the same checks on a handout built in a temporary folder.
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
        completed = subprocess.run([sys.executable, str(runner), "--json", "--gradescope", str(results_path), *args],
                                   cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
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
    failed = [f"{name}: {entry['output'].strip()[:300]}" for name, entry in result.tests.items()
              if entry["score"] < entry["max_score"]]
    return [f"scored {earned}/{course.TOTAL} (exit status {result.status}); expected {course.TOTAL}/{course.TOTAL}"] + \
        failed + ([] if failed else [result.output[-2000:]])


def restore_solution(handout, root=ROOT):
    """Copy the solution's mytorch/ and hw1/ files over a handout's stubs."""
    for folder in SOLUTION_DIRS:
        for path in sorted((root / folder).glob("*.py")):
            shutil.copy2(path, Path(handout) / folder / path.name)


def make_handin(folder):
    """Run the folder's create_tarball.sh; returns (exit status, output, path of handin.tar)."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    completed = subprocess.run(["sh", "create_tarball.sh"], cwd=folder, env=env, capture_output=True, text=True,
                               timeout=600)
    return completed.returncode, completed.stdout + completed.stderr, Path(folder) / "handin.tar"


# --- the pipeline --------------------------------------------------------------------------------------------------

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
        return ["PyTorch is not installed, so the references cannot be regenerated: python3 -m pip install "
                "torch==2.13.0 (the 'oracle' extra of setup.py)"], ""
    completed = subprocess.run([sys.executable, str(ROOT / "tools" / "make_references.py"), "--check"], cwd=ROOT,
                               capture_output=True, text=True, timeout=1200)
    output = (completed.stdout + completed.stderr).strip()
    if completed.returncode != 0:
        return [f"make_references.py --check failed (exit status {completed.returncode}):\n{output}"], ""
    return [], output.splitlines()[-1] if output else "references match"


STEPS = [
    ("build the handout", step_build),
    (f"grade the handout (expect 0/{course.TOTAL}, readable messages)", step_grade_handout),
    ("restore the solution and run create_tarball.sh", step_handin),
    (f"grade the handin with --handin on every reference set (expect {course.TOTAL}/{course.TOTAL})", step_grade_handin),
    ("regenerate the references (make_references.py --check)", step_references),
]


def main():
    dist = ROOT / "dist"
    dist.mkdir(exist_ok=True)
    for number, (title, step) in enumerate(STEPS, start=1):
        started = time.monotonic()
        try:
            problems, summary = step(dist)
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
