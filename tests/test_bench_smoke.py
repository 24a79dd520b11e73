"""bench/train_step.py --quick runs end to end and prints every row of its table (timings are never asserted)."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = [
    f"{kind} {net}{bn} b{batch}"
    for kind, batches in (("step", (100, 1000)), ("eval", (10000,)))
    for net in ("handout", "large")
    for bn in ("", "+bn")
    for batch in batches
]


def test_quick_benchmark_prints_every_row_the_blas_and_torch_parity():
    completed = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "train_step.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert re.search(r"BLAS \S+", out) and "threads" in out, out
    for row in ROWS:
        line = next((line for line in out.splitlines() if line.startswith(row + " ")), None)
        assert line is not None, f"row {row!r} missing from:\n{out}"
        assert re.search(r"\d\.\d\dx$", line), f"row {row!r} ends without the mytorch/floor ratio: {line}"
    if importlib.util.find_spec("torch") is not None:
        # The PyTorch model does the same work as mytorch: equal weights after two steps from the same start.
        difference = float(re.search(r"parity: .* difference (\S+)", out).group(1))
        assert difference < 1e-10, out


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
