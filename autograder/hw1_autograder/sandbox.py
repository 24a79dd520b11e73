"""Runs one handin's student code in a worker process that can reach nothing of the grader's.  Trusted side.

    with Session(root, limits, user) as session:          # a fresh copy of root's mytorch/ and hw1/
        reply = session.run(test_header, inputs, deadline)  # Reply(values, error, failure)

The worker (worker.py) is `python3 -I -B`, started in a copy of the student's files, with only the worker's own
modules beside it; it talks to the runner over two pipes the runner owns, and its printed output goes to a third
that the runner reads, keeping the first limits.output bytes. A worker that crashes, hangs past the deadline or
sends a malformed reply is killed with everything it started and replaced by a fresh one for the next test.

When the runner is root, the worker runs as an unprivileged user (default nobody) who cannot read the references,
the results or the runner's /proc. On Linux the runner is a child subreaper, so processes the student's code
detaches (setsid, double fork) are re-parented to it and killed when the handin is done, root or not. The worker
may not start processes at all (RLIMIT_NPROC 1), which also stops a fork chain too fast to be killed; only a
worker running as root (--no-sandbox-user) ignores that limit.
"""

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple

import protocol

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_FILES = ("worker.py", "programs.py", "protocol.py", "course.py")
KILL_GRACE = 2.0  # seconds past the time limit before a worker whose alarm did not stop the test is killed
STARTUP_ALLOWANCE = 30.0  # seconds for a worker to start and import numpy on a busy machine

Limits = namedtuple("Limits", "time budget memory output file_size")
Reply = namedtuple("Reply", "values arrays error failure importing import_failures", defaults=(None, {}))
Reply.__doc__ = """values: {key: header entry}; arrays: {key: array}; error: the student's exception, described by
the worker; failure: what went wrong with the worker itself ("crash:...", "timeout", "malformed:...", ...) or None;
importing: the graded module being imported when the worker stopped; import_failures: {module: message} of imports
that failed during this test."""


class SandboxError(Exception):
    """Grading cannot start at all (e.g. the sandbox user cannot run Python); the message says how to fix it."""


def become_subreaper():
    """Make orphaned descendants re-parent to this process (Linux prctl PR_SET_CHILD_SUBREAPER); False elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def sandbox_account(name):
    """(uid, gid) of the user the worker runs as, or None to run as the caller. Only root can switch users."""
    if name is None or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(
            f"the sandbox user {name!r} does not exist. Create it, choose another with "
            "--sandbox-user NAME, or run student code as the caller with --no-sandbox-user."
        ) from None
    if entry.pw_uid == 0:
        raise SandboxError(f"the sandbox user {name!r} is root; choose an unprivileged user with --sandbox-user.")
    return entry.pw_uid, entry.pw_gid


def check_account_can_run_python(account, name):
    """Stop with one message if the sandbox user cannot start this interpreter or import numpy."""
    if account is None:
        return
    uid, gid = account
    command = [sys.executable, "-I", "-c", "import numpy"]
    try:
        completed = subprocess.run(
            command,
            user=uid,
            group=gid,
            extra_groups=[],
            cwd="/",
            env=_worker_env("/"),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        problem = (
            completed.returncode != 0
            and (
                completed.stderr.decode(errors="replace").strip().splitlines()
                or ["exit code %d" % completed.returncode]
            )[-1]
        )
    except (OSError, subprocess.SubprocessError) as error:
        problem = str(error)
    if problem:
        raise SandboxError(
            f"the sandbox user {name!r} cannot run {sys.executable} with numpy ({problem}). The worker runs student "
            f"code as {name!r}, so the interpreter and numpy must be readable by that user: install them outside "
            "private home folders (e.g. a virtual environment under /opt, or chmod o+rx on the folders above it), "
            "choose another user with --sandbox-user NAME, or run student code as the caller with "
            "--no-sandbox-user."
        )


def _reachable_temp(account):
    """The temporary folder, or /tmp where another user could not pass through it (a private TMPDIR): the sandbox
    user must reach the worker's files."""
    base = tempfile.gettempdir()
    if account is None:
        return base
    path = os.path.realpath(base)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return "/tmp"
        parent = os.path.dirname(path)
        if parent == path:
            return base
        path = parent


def _worker_env(home):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": home,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def copy_regular_files(source, target):
    """Copy the folders and regular files under source (a folder, not a link) to target, leaving out symbolic
    links, FIFOs, devices and caches. A graded folder may come from `tar -xf` (Autolab's Makefile, then
    --module-path), which keeps links: the runner may read what a link points to (the references), the worker
    may not, so a link is never followed here; and reading a FIFO would block the runner."""
    if os.path.islink(source) or not os.path.isdir(source):
        return
    pending = [(source, target)]
    while pending:  # a stack, not recursion: a deep folder cannot exhaust Python's recursion limit
        folder, copy = pending.pop()
        os.mkdir(copy, 0o755)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, os.path.join(copy, entry.name)))
                elif entry.is_file(follow_symlinks=False):
                    shutil.copyfile(entry.path, os.path.join(copy, entry.name), follow_symlinks=False)


class OutputSink(threading.Thread):
    """Reads the worker's stdout and stderr: keeps the first `limit` bytes, counts the rest."""

    def __init__(self, fd, limit):
        super().__init__(daemon=True)
        self.fd, self.limit, self.kept, self.total = fd, limit, bytearray(), 0

    def run(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.total += len(chunk)
            room = self.limit - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]


class Session:
    """One handin: a scratch folder, a worker (restarted as needed), its output, and the cleanup."""

    def __init__(self, root, limits, account=None):
        self.limits, self.account = limits, account
        self.scratch = tempfile.mkdtemp(prefix="mytorch-grading-", dir=_reachable_temp(account))
        os.chmod(self.scratch, 0o711)  # others may pass through to the worker's folders, not list this one
        self.code = os.path.join(self.scratch, "worker")
        self.handin = os.path.join(self.scratch, "handin")
        self.private = os.path.join(self.scratch, "private")
        os.mkdir(self.private, 0o700)
        os.mkdir(self.code, 0o755)
        for name in WORKER_FILES:
            shutil.copy(os.path.join(HERE, name), os.path.join(self.code, name))
            os.chmod(os.path.join(self.code, name), 0o644)
        os.mkdir(self.handin, 0o755)
        for folder in ("mytorch", "hw1"):
            copy_regular_files(os.path.join(root, folder), os.path.join(self.handin, folder))
        if account is not None:
            for directory, folders, files in os.walk(self.handin):
                for name in [directory] + [os.path.join(directory, f) for f in folders + files]:
                    os.chown(name, *account, follow_symlinks=False)
        self.fault = open(os.path.join(self.private, "faults"), "w+b")
        self.output_read, self.output_write = os.pipe()
        self.output = OutputSink(self.output_read, limits.output)
        self.output.start()
        self.process = None

    # --- the worker ------------------------------------------------------------------------------------------------

    def _start(self):
        request_read, self.request_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        # RLIMIT_NPROC 1: the worker may start no process or thread (it counts the user's, and the worker is one).
        # A process that forks and exits in a tight loop is never alive long enough to be listed and killed, so
        # detaching is refused at the source; kill_descendants is the second line. Root ignores the limit.
        rlimits = {
            "RLIMIT_AS": self.limits.memory,
            "RLIMIT_FSIZE": self.limits.file_size,
            "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": 1,
        }
        command = [
            sys.executable,
            "-I",
            "-B",
            os.path.join(self.code, "worker.py"),
            str(request_read),
            str(reply_write),
            str(self.fault.fileno()),
            self.handin,
            json.dumps(rlimits),
        ]
        user = {} if self.account is None else {"user": self.account[0], "group": self.account[1], "extra_groups": []}
        self.process = subprocess.Popen(
            command,
            cwd=self.handin,
            env=_worker_env(self.handin),
            stdin=subprocess.DEVNULL,
            stdout=self.output_write,
            stderr=self.output_write,
            start_new_session=True,
            pass_fds=(request_read, reply_write, self.fault.fileno()),
            **user,
        )
        os.close(request_read)
        os.close(reply_write)
        os.set_blocking(self.request_write, False)

    def _start_and_wait(self):
        """Start a worker and wait for its "ready"; a failure description, or None."""
        self._start()
        fault_start = self.fault.seek(0, os.SEEK_END)
        try:
            reply, _ = protocol.receive(self.reply_read, deadline=time.monotonic() + STARTUP_ALLOWANCE)
            if reply.get("kind") != protocol.READY:
                raise protocol.ProtocolError("no ready message")
        except protocol.Timeout:
            self._stop()
            return "startup:did not start within %g s" % STARTUP_ALLOWANCE
        except (protocol.Closed, protocol.ProtocolError) as error:
            self._stop()
            return (
                "startup:"
                + describe_returncode(self.returncode)
                + self._crash_location(fault_start)
                + f" ({error})"
                + self._output_tail()
            )
        return None

    def _output_tail(self):
        time.sleep(0.05)  # let the reader take the last lines
        lines = bytes(self.output.kept[-2000:]).decode("utf-8", errors="replace").strip().splitlines()
        return f": {lines[-1]}" if lines else ""

    def _stop(self):
        """Kill the worker and everything it started (its process group, then any re-parented descendant)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.kill()
        self.process.wait()
        self.returncode = self.process.returncode
        kill_descendants()
        for fd in (self.request_write, self.reply_read):
            os.close(fd)
        self.process = None

    def run(self, header, inputs, time_limit, budget_end):
        """Send one test to the worker and wait for its result (time_limit + KILL_GRACE seconds, and never past
        budget_end); returns (Reply, the module being imported when it stopped) and never raises."""
        if self.process is None:
            failure = self._start_and_wait()
            if failure:
                return Reply({}, {}, None, failure)
        deadline = min(time.monotonic() + time_limit + KILL_GRACE, budget_end)
        fault_start = self.fault.seek(0, os.SEEK_END)
        importing, import_failures = None, {}
        try:
            protocol.send(self.request_write, header, inputs, deadline=deadline)
            while True:
                reply, arrays = protocol.receive(self.reply_read, deadline=deadline)
                kind = reply.get("kind")
                if kind == protocol.IMPORTING:
                    importing = str(reply.get("module"))
                elif kind == protocol.IMPORTED:
                    importing = None
                elif kind == protocol.IMPORT_FAILED:
                    import_failures[str(reply.get("module"))] = str(reply.get("message"))
                    importing = None
                elif kind == protocol.RESULT:
                    values = reply.get("values")
                    error = reply.get("error")
                    if not isinstance(values, dict) or not (error is None or isinstance(error, str)):
                        raise protocol.ProtocolError("a result without its values")
                    return Reply(values, arrays, error, None, importing, import_failures)
                else:
                    raise protocol.ProtocolError(f"an unknown message kind {str(kind)[:40]!r}")
        except protocol.Timeout:
            self._stop()
            return Reply({}, {}, None, "timeout", importing, import_failures)
        except protocol.Closed:
            self._stop()
            return Reply(
                {},
                {},
                None,
                "crash:" + describe_returncode(self.returncode) + self._crash_location(fault_start),
                importing,
                import_failures,
            )
        except protocol.ProtocolError as error:
            self._stop()
            return Reply({}, {}, None, f"malformed:{error}", importing, import_failures)

    def _crash_location(self, start):
        """', at mytorch/linear.py:4, in forward' from faulthandler's report of a fatal signal, or ''."""
        self.fault.seek(start)
        text = self.fault.read(1 << 16).decode("utf-8", errors="replace")
        for path, line, function in re.findall(r'File "(.+?)", line (\d+) in (\S+)', text):
            real = os.path.realpath(path)
            if os.path.isabs(path) and os.path.commonpath([real, self.handin]) == self.handin:
                return f", at {os.path.relpath(real, self.handin)}:{line}, in {function}"
        return ""

    def close(self):
        self._stop()
        kill_descendants()
        os.close(self.output_write)
        self.output.join(timeout=5)
        os.close(self.output_read)
        self.fault.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def describe_returncode(returncode):
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode}, {name}"
    return f"exit code {returncode}"


def _children(pid):
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def kill_descendants(rounds=50):
    """SIGKILL every process below this one, and reap them; orphans of the student's code re-parent here (the
    runner is a subreaper), so this catches detached processes too."""
    me = os.getpid()
    for _ in range(rounds):
        stack, everyone = _children(me), []
        while stack:
            pid = stack.pop()
            everyone.append(pid)
            stack += _children(pid)
        if not everyone:
            return
        for pid in everyone:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if not _children(me):
                    break
                time.sleep(0.005)
