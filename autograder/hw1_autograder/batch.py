"""Grade a whole class in one command: every handin under a folder into one gradebook.  Trusted side.

    python3 runner.py --handin-dir handins/ --gradebook grades.csv [--jobs N] [--regrade]

Which files are handins: every *.tar (also .tar.gz, .tgz, .tar.bz2, .tar.xz) under the folder, names starting with
a dot left out. The student id is the file name without its suffix (handins/alice.tar -> alice), or the folder's
name when the file is alone in a folder or is called handin.tar (handins/alice/handin.tar -> alice); where two
files would get one id, both take their path instead (alice/handin.tar -> alice/handin).

The gradebook (CSV, one row per handin, sorted by id):

    id, total, <the 25 problem names of course.problems(), in the course's order>, status, seconds, sha256

The problem columns are the keys of Autolab's scores line, so a row and an Autolab score read alike. status is
`graded`, `rejected: <why>` (the archive broke a rule; zeros), `time budget` (the handin's time budget ran out:
the tests not reached score 0), or `error: <why>` (the runner died without a scores line; zeros). seconds is the
handin's wall-clock time; sha256 the archive's. The full table and diagnoses of each handin are in
<gradebook name>_logs/<id>.txt beside the gradebook.

References: --references if given, else the server set where it is present (a class is graded as Autolab and
Gradescope grade it), else the runner's default.

Resuming: a handin whose id already has a row with the same SHA-256 is skipped (an `error` row is retried);
--regrade grades everything again. The gradebook is rewritten atomically (a temporary file and a rename) after
every finished handin, so a killed batch keeps every row it finished.

Isolation: no student code runs in this process. Each handin is graded by its own `runner.py --handin X --json`
subprocess (the runner kills everything the handin started when it is done); its row comes from the scores line it
prints last and the results.json it writes. A runner that dies, hangs past its time budget plus
RUNNER_ALLOWANCE, or prints no valid scores line costs only its own row.

Exit status: 0 every handin has a row; 1 some rows are errors; 2 nothing to grade or unusable arguments;
3 the grader cannot grade at all (the runner's own exit status 3, e.g. modified references): the batch stops;
130 interrupted (Ctrl-C): the runners in flight are killed, the finished rows are kept.
"""

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import course
import reference_sets
import sandbox
import scoring

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.path.join(HERE, "runner.py")
SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
RUNNER_ALLOWANCE = 120.0  # seconds past the time budget: extraction, the sandbox-user check, worker start-ups
BUDGET_MESSAGE = re.compile(r"^(not run|stopped): .*time budget")  # grading.py's words when the budget ran out
REJECTED_PREFIX = re.compile(r"^Rejected .*?: ")  # runner.reject's "Rejected <archive>: <why>"
STATUS_WIDTH = 300  # characters of a status's <why>
# The runner's own numpy work is small comparisons: one BLAS thread each, so `--jobs` runners share the cores
# instead of spinning idle BLAS threads against each other (measured: 40 handins on 2 cores 20.1 s -> 17.9 s).
RUNNER_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SERVER_SET = "server"  # a class is graded as the course server grades it, where this set is present

Handin = namedtuple("Handin", "id path")


def columns():
    """The gradebook's header: id, total, the problem names (course.problems()), status, seconds, sha256."""
    return ["id", "total"] + [name for name, _ in course.problems()] + ["status", "seconds", "sha256"]


# --- finding handins --------------------------------------------------------------------------------------------------


def _stem(name):
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def find_handins(directory):
    """[Handin(id, path)] of every archive under directory, sorted by id (see the module docstring for ids)."""
    found = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        archives = sorted(
            name
            for name in files
            if not name.startswith(".") and _stem(name) and os.path.isfile(os.path.join(folder, name))
        )
        relative = os.path.relpath(folder, directory).replace(os.sep, "/")
        for name in archives:
            path_id = _stem(name) if relative == "." else f"{relative}/{_stem(name)}"
            alone = relative != "." and (len(archives) == 1 or _stem(name) == "handin")
            found.append((relative if alone else path_id, path_id, os.path.join(folder, name)))
    counts = {}
    for short, _, _ in found:
        counts[short] = counts.get(short, 0) + 1
    return sorted(Handin(short if counts[short] == 1 else path_id, path) for short, path_id, path in found)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def log_name(handin_id):
    """The log file of a handin: its id with anything but letters, digits and . @ + - replaced by _."""
    return re.sub(r"[^\w.@+-]", "_", handin_id).lstrip(".") + ".txt"


# --- the gradebook ----------------------------------------------------------------------------------------------------


class GradebookError(Exception):
    """The gradebook cannot be read or belongs to another course layout; the message says what to do."""


def read_gradebook(path):
    """{id: row} of an existing gradebook ({} when there is none)."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            header, rows = reader.fieldnames, list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GradebookError(f"{path} cannot be read as a gradebook ({error}); pass another --gradebook.") from None
    if header is None:
        return {}
    if header != columns():
        raise GradebookError(
            f"{path} has other columns than this course's gradebook (its header starts "
            f"{header[:3]}...); it was written for another course.py. Pass a new --gradebook, or "
            "move the old one away."
        )
    return {row["id"]: row for row in rows}


def write_gradebook(path, rows):
    """Write {id: row} as CSV through a temporary file and a rename: a reader never sees half a gradebook."""

    def write(stream):
        writer = csv.DictWriter(stream, fieldnames=columns())
        writer.writeheader()
        for handin_id in sorted(rows):
            writer.writerow(rows[handin_id])

    scoring.write_atomically(path, write, prefix=".gradebook-", newline="")


def logs_directory(gradebook):
    """grades.csv -> grades_logs/, beside the gradebook."""
    base = os.path.splitext(os.path.abspath(gradebook))[0]
    return base + "_logs"


# --- grading one handin in its own runner -----------------------------------------------------------------------------


class Runners:
    """The runner subprocesses in flight, so a timed-out or interrupted one is killed with what it left behind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pids = set()

    def start(self, command, cwd, env):
        with self.lock:  # registered before any sweep can see it as an orphan
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self.pids.add(process.pid)
        return process

    def finish(self, process):
        with self.lock:
            self.pids.discard(process.pid)
            self.kill_orphans()

    def kill(self, process):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.kill()

    def kill_orphans(self):
        """Kill (and reap) every child of this process that is not a runner in flight: the workers of a runner that
        was killed re-parent here (this process is a subreaper). Holds the lock."""
        for pid in sandbox._children(os.getpid()):
            if pid in self.pids:
                continue
            stack, everyone = [pid], []
            while stack:
                found = stack.pop()
                everyone.append(found)
                stack += sandbox._children(found)
            for found in everyone:
                try:
                    os.kill(found, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def runner_options(args):
    """The runner's options that the batch passes through to each handin's runner."""
    options = [
        "--time-limit",
        repr(args.time_limit),
        "--time-budget",
        repr(args.time_budget),
        "--memory-limit",
        repr(args.memory_limit),
        "--sandbox-user",
        args.sandbox_user,
    ]
    if args.no_sandbox_user:
        options.append("--no-sandbox-user")
    options += ["--references", reference_directory(args)]
    return options


def reference_directory(args):
    """--references if given, else the server set where it exists (as on Autolab and Gradescope), else the
    runner's default."""
    if args.references:
        return os.path.abspath(args.references)
    server = os.path.join(reference_sets.REFERENCES_DIR, SERVER_SET)
    if os.path.isfile(os.path.join(server, reference_sets.MANIFEST)):
        return server
    return reference_sets.default_directory()


def parse_scores(stdout):
    """{problem: points} from the runner's last line, or None unless it is a scores line with exactly the course's
    problems and points within their maxima."""
    lines = stdout.strip().splitlines()
    if not lines or not lines[-1].startswith('{"scores"'):
        return None
    try:
        scores = json.loads(lines[-1])["scores"]
    except (ValueError, KeyError, TypeError):
        return None
    maxima = dict(course.problems())
    if not isinstance(scores, dict) or set(scores) != set(maxima):
        return None
    if not all(isinstance(value, int) and 0 <= value <= maxima[name] for name, value in scores.items()):
        return None
    return scores


def _short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= STATUS_WIDTH else text[:STATUS_WIDTH] + " ..."


def status_of(returncode, results):
    """The row's status from a runner that printed a valid scores line, and its results.json (or None)."""
    outputs = [str(test.get("output", "")) for test in (results or {}).get("tests", []) if isinstance(test, dict)]
    if returncode == 2:
        why = REJECTED_PREFIX.sub("", outputs[0]) if outputs else "nothing gradable"
        return "rejected: " + _short(why.splitlines()[0] if why else "nothing gradable")
    if any(BUDGET_MESSAGE.match(output) for output in outputs):
        return "time budget"
    return "graded"


def grade_one(handin, options, logs, runners, timeout):
    """(row, runner exit status) of one handin, graded by its own runner; never raises (an error row instead)."""
    try:
        return _grade(handin, options, logs, runners, timeout)
    except Exception as error:  # noqa: BLE001 - e.g. the archive vanished or cannot be read: one error row
        row = {
            "id": handin.id,
            "total": 0,
            **{name: 0 for name, _ in course.problems()},
            "status": "error: " + _short(f"{type(error).__name__}: {error}"),
            "seconds": "0.0",
            "sha256": "",
        }
        return row, None


def _grade(handin, options, logs, runners, timeout):
    started = time.monotonic()
    digest = file_sha256(handin.path)
    env = {key: value for key, value in os.environ.items() if key != "AUTOLAB"}  # keep the runner's exit statuses
    env.update(RUNNER_THREADS)
    with tempfile.TemporaryDirectory(prefix="mytorch-batch-") as scratch:
        results_path = os.path.join(scratch, "results.json")
        command = [
            sys.executable,
            RUNNER,
            "--handin",
            os.path.abspath(handin.path),
            "--json",
            "--gradescope",
            results_path,
            *options,
        ]
        process = runners.start(command, scratch, env)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            problem = None
        except subprocess.TimeoutExpired:
            runners.kill(process)
            stdout, stderr = process.communicate()
            problem = f"the runner did not finish in {timeout:g} s and was stopped"
        finally:
            runners.finish(process)
        stdout, stderr = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
        try:
            with open(results_path, encoding="utf-8") as stream:
                results = json.load(stream)
        except (OSError, ValueError):
            results = None
    seconds = time.monotonic() - started
    scores = None if problem else parse_scores(stdout)
    if process.returncode == 3:
        lines = stdout.strip().splitlines()
        status = "error: the grader cannot grade: " + _short(lines[-1] if lines else stderr.strip()[-300:])
    elif scores is None:
        status = "error: " + (
            problem or f"the runner stopped ({sandbox.describe_returncode(process.returncode)}) without a scores line"
        )
    else:
        status = status_of(process.returncode, results)
    scores = scores or {name: 0 for name, _ in course.problems()}
    row = {
        "id": handin.id,
        "total": sum(scores.values()),
        **scores,
        "status": status,
        "seconds": f"{seconds:.1f}",
        "sha256": digest,
    }
    with open(os.path.join(logs, log_name(handin.id)), "w", encoding="utf-8") as stream:
        stream.write(
            f"handin:  {handin.path}\nsha256:  {digest}\nstatus:  {status}\n"
            f"total:   {row['total']}/{course.TOTAL}\nseconds: {seconds:.1f}\n\n{stdout}"
        )
        if stderr.strip():
            stream.write("\n--- the runner's standard error ---\n" + stderr)
    return row, process.returncode


# --- progress ---------------------------------------------------------------------------------------------------------


class Progress:
    """A bar with an ETA on a terminal (stderr a tty); otherwise a plain line every 10 % or every minute."""

    def __init__(self, total, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.started = total, 0, time.monotonic()
        self.tty = self.stream.isatty()
        self.last_line, self.last_step = self.started, 0

    def eta(self):
        elapsed = time.monotonic() - self.started
        if not self.done:
            return "ETA --:--"
        left = elapsed / self.done * (self.total - self.done)
        return f"ETA {int(left) // 60}:{int(left) % 60:02d}"

    def update(self, finished=0):
        self.done += finished
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            rate = self.done / max(time.monotonic() - self.started, 1e-9) * 60
            self.stream.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} handins  "
                f"{rate:.0f}/min  {self.eta()} "
            )
            self.stream.flush()
            return
        step = 10 * self.done // max(self.total, 1)
        if finished and (step > self.last_step or time.monotonic() - self.last_line > 60):
            self.last_step, self.last_line = step, time.monotonic()
            print(f"graded {self.done}/{self.total} handins, {self.eta()}", file=self.stream, flush=True)

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --- the batch --------------------------------------------------------------------------------------------------------


def main(args):
    """Grade args.handin_dir into args.gradebook (runner.py --handin-dir); returns the exit status."""
    for flag, given in (
        ("-k", args.k),
        ("--task", args.task),
        ("--check", args.check),
        ("--gradescope", args.gradescope),
    ):
        if given:
            print(f"--handin-dir grades every test of every handin into the gradebook; {flag} does not apply.")
            return 2
    jobs = args.jobs or os.cpu_count() or 1
    if jobs < 1:
        print(f"--jobs must be at least 1 (got {jobs}).")
        return 2
    if not os.path.isdir(args.handin_dir):
        print(f"--handin-dir {args.handin_dir}: no such folder.")
        return 2
    try:
        rows = read_gradebook(args.gradebook)
    except GradebookError as error:
        print(error)
        return 2
    handins = find_handins(args.handin_dir)
    if not handins:
        print(f"No handins (*.tar) under {args.handin_dir}: nothing to grade.")
        return 2
    logs = logs_directory(args.gradebook)
    os.makedirs(logs, exist_ok=True)
    todo = [handin for handin in handins if args.regrade or not _already_graded(rows.get(handin.id), handin.path)]
    skipped = len(handins) - len(todo)
    print(
        f"{len(handins)} handins under {args.handin_dir}: {len(todo)} to grade, {skipped} already in "
        f"{args.gradebook} (same SHA-256){'' if args.regrade else '; --regrade grades them again'}. "
        f"{jobs} at a time, against {reference_directory(args)}.",
        flush=True,
    )
    sandbox.become_subreaper()  # the workers of a runner killed here re-parent to this process, which kills them
    runners, options = Runners(), runner_options(args)
    timeout = args.time_budget + RUNNER_ALLOWANCE
    progress = Progress(len(todo))
    counts, stopped, interrupted = {}, None, False
    executor = ThreadPoolExecutor(max_workers=jobs)
    try:
        pending = {executor.submit(grade_one, handin, options, logs, runners, timeout) for handin in todo}
        while pending:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            finished = [future for future in finished if not future.cancelled()]
            for future in finished:
                row, returncode = future.result()
                rows[row["id"]] = row
                write_gradebook(args.gradebook, rows)
                kind = row["status"].split(":")[0]
                counts[kind] = counts.get(kind, 0) + 1
                if returncode == 3 and stopped is None:
                    stopped = row["status"]
                    for other in pending:
                        other.cancel()
            progress.update(len(finished))
    except KeyboardInterrupt:  # stop the runners in flight; their workers re-parent here and are killed as well
        interrupted = True
        with runners.lock:
            for pid in list(runners.pids):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        progress.close()
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "nothing new"
    print(f"Gradebook {args.gradebook}: {summary}; {skipped} skipped (already graded). Logs in {logs}/.")
    if interrupted:
        print("Interrupted: the gradebook keeps every handin finished; run the same command again for the rest.")
        return 130
    if stopped:
        print(f"Batch stopped: {stopped}. Fix the grader, then run the same command again to grade the rest.")
        return 3
    return 1 if counts.get("error") else 0


def _already_graded(row, path):
    return row is not None and not row["status"].startswith("error") and row["sha256"] == file_sha256(path)
