"""Homework 1 Part 1 (MyTorch): install your mytorch and hw1 as packages.  Optional: everything also runs from
this folder without installing anything.

pip install -e .                 -> mytorch and hw1 from this folder; numpy is the only requirement.
pip install -e ".[plot]"         -> also matplotlib, for the training plots (autograder/hw1_autograder/test.py).
pip install -e ".[notebooks]"    -> also Jupyter and matplotlib, for the notebooks in examples/.
pip install -e ".[test]"         -> also pytest, for tests you write yourself (the autograder needs only numpy).
"""

import re
from pathlib import Path

from setuptools import setup

# The version is declared once, in mytorch/__init__.py (read as text: numpy may not be installed yet).
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (Path(__file__).parent / "mytorch" / "__init__.py").read_text(), flags=re.MULTILINE
).group(1)

EXTRAS = {
    "plot": ["matplotlib>=3.5"],
    "notebooks": ["notebook>=7", "ipykernel>=6", "matplotlib>=3.5"],
    "test": ["pytest>=7"],
}

setup(
    name="mytorch",
    version=VERSION,
    description="Homework 1 Part 1: MyTorch, a numpy-only deep-learning library you write yourself",
    packages=["mytorch", "hw1"],
    python_requires=">=3.9",
    install_requires=["numpy>=1.26"],
    extras_require=EXTRAS,
)
