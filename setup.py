"""pip install -e .            -> mytorch and hw1, with numpy as the only runtime requirement.
pip install -e ".[dev]"     -> also the autograder runner's, tooling's and tests' requirements."""

import re
from pathlib import Path

from setuptools import setup

# The version is declared once, in mytorch/__init__.py (read as text: numpy may not be installed yet).
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (Path(__file__).parent / "mytorch" / "__init__.py").read_text(), flags=re.MULTILINE
).group(1)

EXTRAS = {
    # The project's tests (the autograder itself needs numpy only).
    "test": ["pytest>=7", "hypothesis>=6"],
    # Plots of the training statistics (autograder/hw1_autograder/train.py).
    "plot": ["matplotlib>=3.5"],
    # The independent oracle behind the stored references (tools/make_references.py) and the benchmarks.
    "oracle": ["torch==2.13.0"],
    # The lint (make lint; settings in pyproject.toml), pinned so that a new release cannot fail CI by itself.
    "lint": ["ruff==0.17.6"],
    # Executing the example notebooks.
    "notebooks": ["nbclient>=0.7", "nbformat>=5", "ipykernel>=6", "matplotlib>=3.5"],
}
EXTRAS["dev"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="mytorch",
    version=VERSION,
    description="A numpy-only educational deep-learning library, its homework solution and local autograder",
    packages=["mytorch", "hw1"],
    python_requires=">=3.9",
    install_requires=["numpy>=1.26"],
    extras_require=EXTRAS,
)
