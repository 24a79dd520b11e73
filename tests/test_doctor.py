"""The environment doctor (runner.py --doctor) finds what breaks a student's set-up, and says how to fix it.

Problems are planted for real, in a subprocess: a fake `mytorch` package or a fake flat `linear.py` first on
PYTHONPATH (what a stale install or another checkout does), a fake `numpy` package reporting an unsupported
version, a pickled or truncated reference file.  Nothing in doctor.py has a test-only switch.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
DOCTOR = os.path.join(AUTOGRADER, "doctor.py")
sys.path.insert(0, AUTOGRADER)

import doctor  # noqa: E402


def run_doctor(cwd=ROOT, pythonpath=None, script=DOCTOR, args=()):
    """(exit status, output) of the doctor run as a student would, with PYTHONPATH set to pythonpath only."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MYTORCH_GRADING_ROOT")}
    if pythonpath:
        env["PYTHONPATH"] = os.fspath(pythonpath)
    result = subprocess.run(
        [sys.executable, script, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return result.returncode, result.stdout + result.stderr


def failures(output):
    """The FAIL lines of a report, each joined with its fix line."""
    lines = output.splitlines()
    return [
        line + "\n" + (lines[i + 1] if i + 1 < len(lines) else "")
        for i, line in enumerate(lines)
        if line.strip().startswith("FAIL")
    ]


def write_package(folder, name, text=""):
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(text)


def test_a_healthy_checkout_passes_every_check():
    status, output = run_doctor()
    assert failures(output) == [], output
    assert status == 0, output
    assert "No problems found." in output


def test_runner_doctor_flag_runs_the_doctor():
    status, output = run_doctor(script=os.path.join(AUTOGRADER, "runner.py"), args=["--doctor"])
    assert "MyTorch environment doctor" in output, output
    assert status == 0, output


@pytest.mark.parametrize("version", ["1.26.0", "1.26.4", "2.0.0", "2.1.3", "2.4.6", "2.3.0rc1"])
def test_supported_numpy_versions_are_accepted(version):
    assert doctor.numpy_problem(version) is None


@pytest.mark.parametrize("version", ["1.25.2", "1.21.6", "1.9.0", "3.0.0", "unknown"])
def test_unsupported_numpy_versions_are_named(version):
    assert doctor.numpy_problem(version)


@pytest.mark.parametrize("version", ["1.21.6", "3.0.0"])
def test_doctor_fails_on_an_unsupported_numpy_with_the_pip_fix(tmp_path, version):
    write_package(tmp_path, "numpy", f"__version__ = {version!r}\n")
    status, output = run_doctor(pythonpath=tmp_path)
    [numpy_line] = [line for line in failures(output) if "numpy" in line]
    assert f"numpy {version}" in numpy_line
    assert 'pip install "numpy>=1.26,<3"' in numpy_line
    assert status == 1


def test_doctor_catches_a_mytorch_copy_shadowing_the_working_tree(tmp_path):
    write_package(tmp_path, "mytorch", "# an old copy\n")
    status, output = run_doctor(pythonpath=tmp_path)
    [line] = [line for line in failures(output) if "import mytorch" in line]
    assert os.path.join(str(tmp_path), "mytorch", "__init__.py") in line
    assert f"fix: remove {tmp_path} from PYTHONPATH" in line
    assert status == 1


def test_doctor_catches_a_flat_module_shadowing_the_handout_files(tmp_path):
    (tmp_path / "linear.py").write_text("# another homework's linear.py\n")
    status, output = run_doctor(pythonpath=tmp_path)
    [line] = [line for line in failures(output) if "import linear" in line]
    assert "flat `import linear` loads " + os.path.join(str(tmp_path), "linear.py") in line
    assert "instead of mytorch/linear.py" in line
    assert status == 1


def test_a_shadowing_copy_not_on_pythonpath_gets_the_pip_fix(monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    fix = doctor.shadow_fix("/usr/lib/python3/site-packages/mytorch/__init__.py", "mytorch", "/home/student/hw1p1")
    python = doctor.python_command()  # python3, or this interpreter's full path if python3 is another one
    assert fix == f'{python} -m pip uninstall -y mytorch && {python} -m pip install -e "/home/student/hw1p1"'


def test_doctor_names_the_folder_to_run_from(tmp_path):
    status, output = run_doctor(cwd=tmp_path)
    [line] = [line for line in failures(output) if "grading root" in line]
    assert f"fix: cd {ROOT} " in line
    assert status == 1


def test_a_modified_reference_file_is_reported_with_the_fix(tmp_path):
    public = tmp_path / "public"
    shutil.copytree(os.path.join(ROOT, "autograder", "hw1_autograder", "references", "public"), public)
    (public / "loss.npz").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    check = doctor.check_references(str(public))
    assert check.status == "FAIL"
    assert "references modified" in check.text and "loss.npz" in check.text
    assert "restore autograder/hw1_autograder/references/" in check.fix


def test_no_references_at_all_is_a_failure(tmp_path):
    check = doctor.check_references(str(tmp_path))
    assert check.status == "FAIL" and "MANIFEST.json" in check.text


def test_a_missing_data_file_is_reported_with_its_fix(tmp_path):
    [check] = doctor.check_data(str(tmp_path))
    assert check.status == "FAIL"
    assert "data/mnist_5k.npz is missing" in check.text.replace(os.sep, "/")
    assert "data/README.md" in check.fix


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
