"""Handin: create_tarball.sh builds a clean handin.tar that grades full marks through `runner.py --handin`, and the
runner refuses archives that could write outside their temporary folder (../, absolute paths, links, devices,
oversize) without writing anything, and never touches the caller's working tree.
"""

import io
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
RUNNER = os.path.join(AUTOGRADER, "runner.py")
sys.path.insert(0, AUTOGRADER)

import course  # noqa: E402
import handin  # noqa: E402

REFERENCES_READY = os.path.isdir(os.path.join(AUTOGRADER, "references"))


@pytest.fixture
def homework(tmp_path):
    """A student's homework folder: the solution's mytorch/ and hw1/, create_tarball.sh and the autograder."""
    folder = tmp_path / "homework"
    folder.mkdir()
    for package in ("mytorch", "hw1"):
        shutil.copytree(
            os.path.join(ROOT, package),
            folder / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.png", "*.csv"),
        )
    shutil.copy(os.path.join(ROOT, "create_tarball.sh"), folder)
    (folder / "autograder").mkdir()
    os.symlink(AUTOGRADER, folder / "autograder" / "hw1_autograder")
    return folder


def make_tarball(folder, *args):
    return subprocess.run(["sh", "create_tarball.sh", *args], cwd=folder, capture_output=True, text=True, timeout=120)


def run_runner(cwd, *args, env=None):
    return subprocess.run(
        [sys.executable, RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, **(env or {})),
    )


def snapshot(folder):
    """Every path under folder with its size and modification time."""
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if not p.is_symlink())


def test_create_tarball_holds_code_and_plots_without_caches(homework):
    (homework / "mytorch" / "__pycache__").mkdir()
    (homework / "mytorch" / "__pycache__" / "linear.cpython-311.pyc").write_bytes(b"\0")
    (homework / "hw1" / ".ipynb_checkpoints").mkdir()
    (homework / "hw1" / "train_loss.png").write_bytes(b"\x89PNG")
    result = make_tarball(homework)
    assert result.returncode == 0, result.stderr
    assert "Preflight passed" in result.stdout and "Created handin.tar" in result.stdout
    with tarfile.open(homework / "handin.tar") as tar:
        names = tar.getnames()
    assert {"mytorch/linear.py", "mytorch/activation.py", "hw1/hw1.py", "hw1/mc.py", "hw1/train_loss.png"} <= set(names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc") or "checkpoints" in name]
    assert all(name.split("/")[0] in ("mytorch", "hw1") for name in names)


def test_create_tarball_refuses_a_missing_file(homework):
    os.remove(homework / "hw1" / "mc.py")
    result = make_tarball(homework)
    assert result.returncode == 1 and not (homework / "handin.tar").exists()
    assert "not creating handin.tar: missing hw1/mc.py" in result.stderr


def test_create_tarball_refuses_a_torch_import_unless_forced(homework):
    linear = homework / "mytorch" / "linear.py"
    linear.write_text("import torch\n" + linear.read_text())
    result = make_tarball(homework)
    assert result.returncode == 1 and not (homework / "handin.tar").exists()
    assert "mytorch/linear.py:1: imports torch" in result.stdout
    forced = make_tarball(homework, "--force")
    assert forced.returncode == 0 and (homework / "handin.tar").exists()


@pytest.mark.skipif(not REFERENCES_READY, reason="references not generated yet")
def test_handin_from_create_tarball_grades_full_marks_without_touching_the_caller(homework, tmp_path):
    assert make_tarball(homework).returncode == 0
    # The caller's own tree is broken: only the tarball's code may be graded, and the tree must stay as it is.
    linear = homework / "mytorch" / "linear.py"
    linear.write_text(linear.read_text().replace("return x @ self.W + self.b", "return x @ self.W"))
    before = snapshot(homework)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_runner(homework, "--handin", "handin.tar", "--json", env={"TMPDIR": str(scratch)})
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Total: {course.TOTAL}/{course.TOTAL}" in result.stdout
    assert snapshot(homework) == before
    assert list(scratch.iterdir()) == []  # the extraction folder is cleaned up


def write_tar(path, members):
    """A tar with the given members: (TarInfo fields..., data) tuples built by the tests."""
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def member(name, data=b"x = 1\n", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (data if kind == tarfile.REGTYPE else None)


GOOD = [member("mytorch/linear.py"), member("hw1/hw1.py")]
EVIL = {
    "dot_dot": ([member("mytorch/../../escaped.py")], "contains '..'"),
    "absolute": ([member("/tmp/escaped-absolute.py")], "has an absolute path"),
    "symlink": ([member("mytorch/link.py", kind=tarfile.SYMTYPE, linkname="/etc/passwd")], "is a symbolic link"),
    "hardlink": ([member("mytorch/hard.py", kind=tarfile.LNKTYPE, linkname="mytorch/linear.py")], "is a hard link"),
    "fifo": ([member("mytorch/pipe", kind=tarfile.FIFOTYPE)], "is a FIFO"),
    "device": ([member("mytorch/disk", kind=tarfile.CHRTYPE)], "is a device file"),
    "duplicate": ([member("hw1/mc.py"), member("hw1/mc.py")], "appears twice"),
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_unsafe_archive_is_rejected_and_nothing_is_written(case, tmp_path):
    members, reason = EVIL[case]
    work = tmp_path / "caller"
    work.mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    write_tar(work / "handin.tar", GOOD + members)
    result = run_runner(work, "--handin", "handin.tar", env={"TMPDIR": str(scratch)})
    assert result.returncode == 2
    assert result.stdout.startswith("Rejected handin.tar: member") and reason in result.stdout
    assert sorted(p.name for p in work.iterdir()) == ["handin.tar"]
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "escaped.py").exists() and not os.path.exists("/tmp/escaped-absolute.py")


def test_not_a_tar_is_rejected_with_a_fix(tmp_path):
    (tmp_path / "handin.tar").write_text("not a tar")
    result = run_runner(tmp_path, "--handin", "handin.tar", "--json")
    assert result.returncode == 2 and "is not a readable tar archive" in result.stdout
    assert "sh create_tarball.sh" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith('{"scores": {"Multiple Choice Questions": 0')


def test_archive_wrapped_in_one_folder_is_found(tmp_path):
    write_tar(tmp_path / "handin.tar", [member("homework/mytorch/linear.py"), member("homework/hw1/hw1.py")])
    root = handin.extract_handin(str(tmp_path / "handin.tar"), str(tmp_path / "out"))
    assert root == os.path.realpath(tmp_path / "out" / "homework")
    assert oct(os.stat(os.path.join(root, "mytorch", "linear.py")).st_mode & 0o777) == "0o644"


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
