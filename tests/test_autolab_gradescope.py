"""The grader drops into Autolab and Gradescope unchanged: the scores line Autolab reads, --module-path, the course's
Makefile run literally on autograde.tar, a simulated Gradescope run on the zip, and bundles that rebuild byte for
byte. Also: the graded inputs are the course's (randn-scale logits), the extreme ones live in 0-point extra checks.

Expected totals come from course.py's points, and the Makefile is the course's own text, copied here from the
assessment (not from tools/make_autolab.py).
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
RUNNER = os.path.join(AUTOGRADER, "runner.py")
sys.path.insert(0, AUTOGRADER)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import course  # noqa: E402
import doctor  # noqa: E402
import grade_class  # noqa: E402
import make_autolab  # noqa: E402
import make_gradescope  # noqa: E402
import make_handout  # noqa: E402
import programs  # noqa: E402

PROBLEMS = [name for name, _ in course.problems()]
# The course's autograde-Makefile, as the 11-785 assessment has it.
COURSE_MAKEFILE_LINES = [
    "mkdir handin",
    "tar -xf handin.tar -C handin",
    "tar -xf autograde.tar",
    "cp autograde/setup.cfg handin/setup.cfg",
    "AUTOLAB=1 python3 autograde/runner.py --module-path=handin/",
]


def runner(*args, cwd=ROOT, env=None):
    environment = {key: value for key, value in os.environ.items() if key != "AUTOLAB"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, RUNNER, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def scores_and_table_total(stdout):
    scores = json.loads(stdout.strip().splitlines()[-1])["scores"]
    table_total = int(re.search(r"^Total: (\d+)/%d$" % course.TOTAL, stdout, re.M).group(1))
    return scores, table_total


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handout") / "handout"
    make_handout.build(folder)
    return folder


@pytest.fixture
def solution_folder(tmp_path):
    """The solution's mytorch/ and hw1/ in a folder of their own."""
    folder = tmp_path / "solution"
    for name in course.SUBMISSION_FOLDERS:
        shutil.copytree(os.path.join(ROOT, name), folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


# --- the scores line and --module-path -------------------------------------------------------------------------------


def test_the_scores_line_names_the_25_problems_exactly_and_adds_up_to_the_table_total(tmp_path, handout):
    grade_class.make_handin("bug", tmp_path / "bug.tar", handout)  # a partial score: 95 minus the MCQ's points
    completed = runner("--handin", str(tmp_path / "bug.tar"), "--json")
    scores, table_total = scores_and_table_total(completed.stdout)
    assert list(scores) == PROBLEMS and len(PROBLEMS) == 25
    assert sum(scores.values()) == table_total == course.TOTAL - course.TESTS_BY_NAME["test_mcq"].points


def test_autolab_1_in_the_environment_ends_with_the_scores_line_and_exit_status_0(handout):
    completed = runner("--module-path", str(handout), env={"AUTOLAB": "1"})
    scores, table_total = scores_and_table_total(completed.stdout)
    assert table_total == sum(scores.values()) == 0
    assert completed.returncode == 0  # make would print "Error 1" after the scores line otherwise


def test_module_path_grades_the_folder_it_names_not_the_working_folder(solution_folder, handout):
    from_handout = runner("--module-path", str(solution_folder), "--json", cwd=handout)
    assert scores_and_table_total(from_handout.stdout)[1] == course.TOTAL
    from_solution = runner("--module-path", str(handout), "--json", cwd=solution_folder)
    assert scores_and_table_total(from_solution.stdout)[1] == 0


def test_module_path_finds_the_two_folders_inside_one_top_level_folder(solution_folder, tmp_path):
    nested = tmp_path / "handin"
    nested.mkdir()
    shutil.move(str(solution_folder), nested / "hw1p1")
    completed = runner("--module-path", str(nested), "--json")
    assert scores_and_table_total(completed.stdout)[1] == course.TOTAL


# --- Autolab ----------------------------------------------------------------------------------------------------------


def test_the_autolab_makefile_is_the_courses_five_lines():
    lines = make_autolab.AUTOGRADE_MAKEFILE.splitlines()
    assert re.match(r"^[\w-]+:$", lines[0])  # one target; Autolab runs `make`
    assert [line[1:] for line in lines[1:]] == COURSE_MAKEFILE_LINES
    assert all(line.startswith("\t") for line in lines[1:])


def test_autograde_tar_is_flat_with_every_module_and_only_the_server_references(tmp_path):
    bundle = make_autolab.build(tmp_path / "autolab")
    with tarfile.open(bundle / "autograde.tar") as tar:
        names = set(tar.getnames())
        runner_source = tar.extractfile("autograde/runner.py").read().decode()
    assert all(name == "autograde" or name.startswith("autograde/") for name in names)
    imported = set(re.findall(r"^import (\w+)", runner_source, re.M)) | set(sandbox_files())
    local = {name for name in imported if os.path.exists(os.path.join(AUTOGRADER, name + ".py"))}
    assert {f"autograde/{name}.py" for name in local} <= names
    assert "autograde/setup.cfg" in names and "autograde/references/server/MANIFEST.json" in names
    assert {f"autograde/references/server/{case.name}.npz" for case in course.CASES if "server" in case.sets} <= names
    assert not [name for name in names if "/public" in name or name.endswith(("train.py", "test.py"))]


def sandbox_files():
    import sandbox

    return [name[:-3] for name in sandbox.WORKER_FILES]


def test_the_assessment_lists_every_problem_with_its_points(tmp_path):
    text = (make_autolab.build(tmp_path / "autolab") / "hw1p1.yml").read_text()
    names = [json.loads(value) for value in re.findall(r"^- name: (.+)$", text, re.M)]
    points = [int(value) for value in re.findall(r"^  max_score: (\d+)$", text, re.M)]
    assert list(zip(names, points)) == course.problems()
    assert sum(points) == course.TOTAL


def test_the_autolab_bundle_rebuilds_byte_for_byte(tmp_path):
    first = make_autolab.build(tmp_path / "one")
    second = make_autolab.build(tmp_path / "two")
    assert sorted(os.listdir(first)) == ["autograde-Makefile", "autograde.tar", "hw1p1.yml"]
    for name in os.listdir(first):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.slow
def test_the_course_makefile_gives_the_solution_95_and_the_handout_0(tmp_path, handout, monkeypatch):
    # As under `make release`: a parent make's variables must not add a "Leaving directory" line after the scores.
    monkeypatch.setenv("MAKELEVEL", "1")
    monkeypatch.setenv("MAKEFLAGS", "w")
    bundle = make_autolab.build(tmp_path / "autolab")
    for folder, expected in ((ROOT, course.TOTAL), (handout, 0)):
        run = make_autolab.simulate(make_autolab.make_tar(folder, tmp_path / "handin.tar"), bundle)
        assert run.returncode == 0, run.output
        assert list(run.scores) == PROBLEMS and sum(run.scores.values()) == expected, run.output
        assert "against the server references" in run.output


# --- Gradescope -------------------------------------------------------------------------------------------------------


def test_the_gradescope_zip_has_its_scripts_at_the_root_executable_and_rebuilds_byte_for_byte(tmp_path):
    first = make_gradescope.build(tmp_path / "one.zip").read_bytes()
    assert make_gradescope.build(tmp_path / "two.zip").read_bytes() == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert modes["runner.py"] == 0o644 and "references/server/MANIFEST.json" in modes
    assert not [name for name in modes if "public" in name]
    assert list(modes) == sorted(modes)


def test_the_gradescope_scripts_are_valid_bash_and_setup_pins_a_supported_numpy(tmp_path):
    for name, text in (("setup.sh", make_gradescope.SETUP_SH), ("run_autograder", make_gradescope.RUN_AUTOGRADER)):
        (tmp_path / name).write_text(text)
        checked = subprocess.run(["bash", "-n", str(tmp_path / name)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
    assert f'numpy=={make_gradescope.NUMPY_PIN}"' in make_gradescope.SETUP_SH
    assert doctor.numpy_problem(make_gradescope.NUMPY_PIN) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "upload, expected",
    [("solution handin.tar", course.TOTAL), ("solution folders", course.TOTAL), ("handout handin.tar", 0)],
)
def test_a_simulated_gradescope_run_scores_and_writes_a_valid_results_json(tmp_path, handout, upload, expected):
    zip_path = make_gradescope.build(tmp_path / "autograder.zip")
    source = handout if upload.startswith("handout") else ROOT
    if upload.endswith("folders"):
        submission = tmp_path / "upload"
        for name in course.SUBMISSION_FOLDERS:
            shutil.copytree(os.path.join(source, name), submission / "hw1p1" / name)
    else:
        submission = make_autolab.make_tar(source, tmp_path / "handin.tar")
    run = make_gradescope.simulate(submission, zip_path)
    assert run.returncode == 0, run.output
    results = run.results
    assert make_gradescope.results_problems(results) == []
    assert results["score"] == expected
    assert set(results) >= {"score", "execution_time", "output", "stdout_visibility", "tests"}
    graded = [test for test in results["tests"] if test["max_score"] > 0]
    assert [(test["name"], test["max_score"]) for test in graded] == course.problems()
    assert all(set(test) >= {"name", "score", "max_score", "output", "visibility"} for test in results["tests"])


# --- the graded inputs are the course's ------------------------------------------------------------------------------


@pytest.mark.parametrize("reference_set", course.REFERENCE_SETS)
def test_graded_logits_are_randn_scale_and_the_extreme_ones_are_only_in_extra_checks(reference_set):
    with np.load(os.path.join(AUTOGRADER, "references", reference_set, "loss.npz")) as stored:
        logits, extreme = stored["logits"], stored["extreme.logits"]
    assert np.max(np.abs(logits)) < 30
    assert np.max(np.abs(extreme)) >= 1e3
    for test in course.TESTS:
        if test.case != "loss":
            continue
        keys = programs.PROGRAMS[test.program].inputs
        if any(key.startswith("extreme.") for key in keys):
            assert test.extra and test.points == 0, test.name
        else:
            assert "logits" in keys, test.name
    assert any(test.extra and test.program == "loss_extreme" for test in course.TESTS)


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
