"""bench/grade_handin.py --runs 1 --no-warm-up grades the solution's handin.tar through both graders and prints both
medians, the ratio and a verdict for each target (timings are never asserted; about 2 s)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "grade_handin.py")
sys.path.insert(0, os.path.dirname(BENCH))

from grade_handin import OLD_COMMIT  # noqa: E402


def old_commit_present():
    return (
        subprocess.run(["git", "-C", ROOT, "cat-file", "-e", OLD_COMMIT + "^{commit}"], capture_output=True).returncode
        == 0
    )


@pytest.mark.skipif(
    not old_commit_present(), reason=f"the old grader's commit {OLD_COMMIT} is not in this clone (a shallow clone?)"
)
def test_one_run_prints_both_medians_the_ratio_and_both_verdicts():
    completed = subprocess.run(
        [sys.executable, BENCH, "--runs", "1", "--no-warm-up"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    out = completed.stdout
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr  # 1: a target missed, not a crash
    for path in ("new", "old"):
        assert re.search(rf"^  {path}: .* median +\d+\.\d\d s", out, re.MULTILINE), out
    assert re.search(r"ratio new/old \d+\.\d\dx", out), out
    assert re.search(r"target new <= 2 s: (PASS|FAIL); target new <= 1\.5x old: (PASS|FAIL)$", out, re.MULTILINE), out


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
