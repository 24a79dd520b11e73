"""runner.py --handin-dir: a whole class into one gradebook, one correct row per handin whatever the handin does,
resumable, and never run in the batch's own process.

The handins are built with bench/grade_class.py's make_handin (the benchmark grades the same kinds); their expected
totals come from course.py's points (the solution earns every point, a wrong multiple-choice answer loses exactly
test_mcq's), not from a previous run.
"""

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
RUNNER = os.path.join(AUTOGRADER, "runner.py")
sys.path.insert(0, AUTOGRADER)
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import batch  # noqa: E402
import course  # noqa: E402
import grade_class  # noqa: E402
import make_handout  # noqa: E402

PROBLEMS = [name for name, _ in course.problems()]
FAST = ["--time-limit", "1", "--time-budget", "5"]


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return reader.fieldnames, {row["id"]: row for row in reader}


def run_batch(handins, gradebook, *options):
    return subprocess.run(
        [sys.executable, RUNNER, "--handin-dir", str(handins), "--gradebook", str(gradebook), *FAST, *options],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


# --- finding handins, the gradebook's columns -------------------------------------------------------------------


def test_gradebook_columns_are_id_total_the_25_problem_names_status_seconds_sha256():
    assert len(PROBLEMS) == 25
    assert batch.columns() == ["id", "total"] + PROBLEMS + ["status", "seconds", "sha256"]


def test_student_ids_come_from_file_names_or_their_folder(tmp_path):
    for relative in (
        "alice.tar",
        "bob/handin.tar",
        "carol/submission-3.tar",
        "dave/a.tar",
        "dave/b.tar",
        "erin.tar",
        "erin/handin.tar",
        ".hidden.tar",
        "frank/notes.txt",
        "gina.tgz",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    found = {handin.id: os.path.relpath(handin.path, tmp_path) for handin in batch.find_handins(str(tmp_path))}
    assert found == {
        "alice": "alice.tar",
        "bob": "bob/handin.tar",
        "carol": "carol/submission-3.tar",
        "dave/a": "dave/a.tar",
        "dave/b": "dave/b.tar",
        "erin": "erin.tar",
        "erin/handin": "erin/handin.tar",
        "gina": "gina.tgz",
    }
    # two files that would share the id "erin": the nested one takes its path, and the ids stay unique
    assert len({handin.id for handin in batch.find_handins(str(tmp_path))}) == 8


def test_log_names_stay_inside_the_logs_folder():
    assert batch.log_name("alice") == "alice.txt"
    assert "/" not in batch.log_name("dave/../../etc/passwd")
    assert not batch.log_name("../x").startswith(".")


def test_a_scores_line_with_other_problems_or_impossible_points_is_not_trusted():
    good = {name: points for name, points in course.problems()}
    assert batch.parse_scores("table\n" + json.dumps({"scores": good}) + "\n") == good
    assert batch.parse_scores(json.dumps({"scores": good}) + "\nmore after it") is None
    assert batch.parse_scores(json.dumps({"scores": {**good, "Bonus": 1}})) is None
    assert batch.parse_scores(json.dumps({"scores": {**good, PROBLEMS[0]: 1000}})) is None
    assert batch.parse_scores("") is None


def test_a_gradebook_of_another_course_layout_is_refused_not_overwritten(tmp_path):
    gradebook = tmp_path / "grades.csv"
    gradebook.write_text("id,score\nalice,3\n")
    (tmp_path / "handins").mkdir()
    grade_class.write_tar(tmp_path / "handins" / "alice.tar", {"hw1/mc.py": b""})
    completed = run_batch(tmp_path / "handins", gradebook)
    assert completed.returncode == 2 and "other columns" in completed.stdout
    assert gradebook.read_text() == "id,score\nalice,3\n"


def test_progress_shows_a_bar_with_an_eta_on_a_terminal_and_plain_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = batch.Progress(10, stream)
        for _ in range(10):
            progress.update(1)
        progress.close()
    assert "\r[" in terminal.getvalue() and "10/10 handins" in terminal.getvalue() and "ETA" in terminal.getvalue()
    assert "\r" not in log.getvalue() and "graded 10/10 handins" in log.getvalue()
    assert len(log.getvalue().splitlines()) <= 10


# --- a runner that misbehaves costs only its own row ---------------------------------------------------------------

FAKE_BATCH = textwrap.dedent("""
    import sys
    sys.path.insert(0, {autograder!r})
    import batch, runner
    batch.RUNNER = sys.argv[1]
    batch.RUNNER_ALLOWANCE = 3.0
    sys.exit(batch.main(runner.parse_args(sys.argv[2:])))
""")
FAKE_RUNNERS = {
    "killed": "import os, signal\nprint('half a table')\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "hangs": "import time\nprint('thinking')\ntime.sleep(600)\n",
    "liar": "import json\nprint(json.dumps({'scores': {'Everything': 1000}}))\n",
}


@pytest.mark.parametrize(
    "kind, says", [("killed", "signal 9"), ("hangs", "did not finish"), ("liar", "without a scores line")]
)
def test_a_runner_that_dies_hangs_or_lies_gives_an_error_row_of_zeros_and_the_batch_goes_on(tmp_path, kind, says):
    fake = tmp_path / "fake_runner.py"
    fake.write_text(FAKE_RUNNERS[kind])
    script = tmp_path / "fake_batch.py"
    script.write_text(FAKE_BATCH.format(autograder=AUTOGRADER))
    handins = tmp_path / "handins"
    for name in ("a", "b"):
        grade_class.write_tar(handins / f"{name}.tar", {"hw1/mc.py": name.encode()})
    gradebook = tmp_path / "grades.csv"
    completed = subprocess.run(
        [
            sys.executable,
            str(script),
            str(fake),
            "--handin-dir",
            str(handins),
            "--gradebook",
            str(gradebook),
            "--time-budget",
            "1",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    _, rows = read_rows(gradebook)
    assert set(rows) == {"a", "b"}
    for row in rows.values():
        assert row["status"].startswith("error: ") and says in row["status"], row["status"]
        assert row["total"] == "0" and all(row[name] == "0" for name in PROBLEMS)


# --- a class of real handins -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handout") / "handout"
    make_handout.build(folder)
    return folder


@pytest.mark.slow
def test_a_class_gets_one_correct_row_each_resumes_and_regrades(tmp_path, handout):
    handins = tmp_path / "handins"
    kinds = {
        "sol-a": "solution",
        "sol-b": "solution",
        "stubs": "handout",
        "wrong-mc": "bug",
        "symlink": "hostile",
        "loops": "loop",
    }
    for number, (handin_id, kind) in enumerate(kinds.items()):
        grade_class.make_handin(
            kind, handins / (f"{handin_id}.tar" if number % 2 else f"{handin_id}/handin.tar"), handout
        )
    gradebook = tmp_path / "grades.csv"
    completed = run_batch(handins, gradebook, "--jobs", "2")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    header, rows = read_rows(gradebook)
    assert header == batch.columns()
    assert grade_class.row_problems(rows, kinds) == []
    assert set(rows) == set(kinds)
    assert rows["wrong-mc"]["Multiple Choice Questions"] == "0"
    assert "symbolic link" in rows["symlink"]["status"]
    assert 0 < int(rows["loops"]["total"]) < course.TOTAL  # the tests before Linear passed, the budget stopped it
    for handin_id, row in rows.items():
        assert int(row["total"]) == sum(int(row[name]) for name in PROBLEMS)
        path = handins / f"{handin_id}.tar"
        path = path if path.exists() else handins / handin_id / "handin.tar"
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        log = (tmp_path / "grades_logs" / f"{handin_id}.txt").read_text()
        assert f"status:  {row['status']}" in log and "Total:" in log
    assert "Rejected" in (tmp_path / "grades_logs" / "symlink.txt").read_text()
    assert (
        "Linear.forward" in (tmp_path / "grades_logs" / "loops.txt").read_text()
        or "linear.py" in (tmp_path / "grades_logs" / "loops.txt").read_text()
    )

    before = gradebook.read_bytes()
    rerun = run_batch(handins, gradebook)
    assert rerun.returncode == 0 and "0 to grade, 6 already in" in rerun.stdout, rerun.stdout
    assert gradebook.read_bytes() == before  # every row kept as it was, seconds included

    (handins / "stubs" / "handin.tar").unlink()
    grade_class.make_handin("solution", handins / "stubs" / "handin.tar", handout)  # a resubmission
    changed = run_batch(handins, gradebook)
    assert "1 to grade, 5 already in" in changed.stdout, changed.stdout
    assert read_rows(gradebook)[1]["stubs"]["total"] == str(course.TOTAL)

    regraded = run_batch(handins, gradebook, "--regrade", "--jobs", "1")
    assert regraded.returncode == 0 and "6 to grade, 0 already in" in regraded.stdout, regraded.stdout
    assert grade_class.row_problems(read_rows(gradebook)[1], {**kinds, "stubs": "solution"}) == []


@pytest.mark.slow
def test_an_interrupted_batch_keeps_the_rows_it_finished_and_leaves_no_process_behind(tmp_path, handout):
    handins = tmp_path / "handins"
    grade_class.make_handin("solution", handins / "a-first.tar", handout)
    token = f"# looping handin of {tmp_path}"  # found in the worker's copy of linear.py, wherever it runs
    files = grade_class.submission_files(ROOT)
    files["mytorch/linear.py"] += (grade_class.FOREVER + token + "\n").encode()
    grade_class.write_tar(handins / "b-loops.tar", files)
    gradebook = tmp_path / "grades.csv"
    process = subprocess.Popen(
        [
            sys.executable,
            RUNNER,
            "--handin-dir",
            str(handins),
            "--gradebook",
            str(gradebook),
            "--jobs",
            "1",
            "--time-limit",
            "30",
            "--time-budget",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not _processes_running(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_running(token), "the looping handin's worker never started"
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 130 and b"Interrupted" in stdout, stdout
    _, rows = read_rows(gradebook)
    assert set(rows) == {"a-first"} and rows["a-first"]["total"] == str(course.TOTAL)
    time.sleep(0.5)
    assert not _processes_running(token)


def _processes_running(token):
    """Pids of the processes whose working folder holds a mytorch/linear.py containing token."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cwd/mytorch/linear.py", encoding="utf-8", errors="replace") as stream:
                if token in stream.read():
                    found.append(pid)
        except OSError:
            continue
    return found


# Subprocesses, grading runs, notebooks or long training: left out of `python3 -m pytest -m "not slow"`.
pytestmark = pytest.mark.slow
