"""Helpers for the tests that change course.py in a temporary clone of the repository and run the release there."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join("autograder", "hw1_autograder", "course.py")


# What a clone leaves out: version control, virtual environments, build products and caches (as .gitignore does).
NOT_CLONED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "dist",
    "build",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".pytest_cache",
    ".hypothesis",
    "handin.tar",
)


def clone(destination):
    """A copy of the repository's files in destination (works in a clone that has no .git as well)."""
    shutil.copytree(ROOT, destination, ignore=NOT_CLONED, dirs_exist_ok=True)
    return str(destination)


def edit_course(folder, old, new):
    """Replace the text old (which must occur exactly once) by new in the clone's course.py."""
    path = os.path.join(folder, COURSE)
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in course.py"
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text.replace(old, new))


def run(folder, *command, timeout=1500):
    """Run a repository command (e.g. "tools/release.py") with this interpreter in the clone."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        [sys.executable, *command], cwd=folder, capture_output=True, text=True, timeout=timeout, env=env
    )
