"""Shared set-up for the project's own tests.

- The repository root goes on sys.path, so `import mytorch` and `from hw1 import MLP` work under a bare `pytest`
  as well as `python3 -m pytest` (which already adds the working directory).
- Hypothesis runs derandomised (the same examples every run, so CI is reproducible) and keeps no example database
  in the working tree.
- Fixtures: a seeded generator and the repository root.  Plain helper functions live in helpers.py.
"""

import os
import sys

# One OpenBLAS thread, set before numpy loads: the tests multiply small matrices, and on a busy 2-core machine
# a second thread mostly waits (measured: test_zero_init + test_fold_demo 122 s with two threads, 8 s with one).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

settings.register_profile(
    "mytorch",
    derandomize=True,
    database=None,
    deadline=None,  # a loaded 2-core CI machine makes per-example timings meaningless
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("mytorch")


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: tests never depend on each other's draws."""
    return np.random.default_rng(1234)


@pytest.fixture
def root():
    """The repository root (the handout's scripts run from here)."""
    return ROOT
