"""Attacks on the grader: each is a handin built on the generated handout's stubs (honest score 0), on a partial
solution (honest score: the points of the modules it solves) or on the solution (95), graded by a copy of the
autograder exactly as a course server runs it:

    runner.py --handin handin.tar --json --gradescope results.json --references <copy>/references/server

Every attack must leave the honest score exactly, the runner's table and scores line (the last line of stdout, with
the 25 problem names) in place, results.json holding that score, and the autograder copy (runner, references) and
results.json's folder unchanged. Most attacks write what they tried and saw into a canary folder, so a test also
proves the attack ran and was refused (a test that passes because the attack never ran proves nothing).

Root-only attacks need the user switch (the worker runs as `nobody`, who cannot read the references, write the
runner's stdout through /proc or signal it). Same-user attacks (run as a non-root grader would, or as root with
--no-sandbox-user) check what holds without the user switch: processes the handin started are killed before
results.json is written, and a rewritten reference stops the next grading instead of costing it points.

The runs are independent, so they start together in a few threads when the first test asks for its result (only
the attacks the selected tests use); the file takes about a minute on two busy cores.
"""

import ast
import hashlib
import importlib.util
import io
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import textwrap
import threading
import time
import zlib
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder")
GRADER = os.path.join(AUTOGRADER, "hw1_autograder")
sys.path.insert(0, GRADER)

import course  # noqa: E402
import reference_sets  # noqa: E402
from programs import PROGRAMS  # noqa: E402

IS_ROOT = os.geteuid() == 0
try:
    HAS_NOBODY = pwd.getpwnam("nobody").pw_uid != 0
except KeyError:
    HAS_NOBODY = False
ROOT_ONLY = pytest.mark.skipif(
    not (IS_ROOT and HAS_NOBODY),
    reason=(
        "needs root and the user `nobody`: the user switch is what refuses these attacks (the worker runs as nobody); "
        "a non-root grader runs student code as itself, which the README documents as undefended"
    ),
)

PROBLEM_NAMES = [name for name, _ in course.problems()]
RUN_TIMEOUT = 240  # seconds for one runner, far above any attack's expected time


def points_without(*modules):
    """The honest score of a handin whose `modules` fail (or are stubs) and whose other modules are right."""
    return sum(test.points for test in course.GRADED if not set(PROGRAMS[test.program].needs) & set(modules))


PARTIAL_STUBS = ("mytorch/linear.py", "mytorch/batchnorm.py", "hw1/hw1.py")  # the partial handin's unsolved files
PARTIAL_SCORE = points_without("linear", "batchnorm", "hw1")  # multiple choice, activations, loss


def reference_hashes(folder=os.path.join(GRADER, "references")):
    """{relative path: sha256} of every file under folder."""
    found = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as stream:
                found[os.path.relpath(path, folder)] = hashlib.sha256(stream.read()).hexdigest()
    return found


REPOSITORY_REFERENCES = reference_hashes()

# --- the attacks' code ------------------------------------------------------------------------------------------------
# Placeholders replaced when a handin is built: CANARY_DIR, RESULTS_JSON, AUTOGRADER_DIR (the copy's
# hw1_autograder/), MEMORY_BYTES.

ATTACK_LIB = '''
"""The attacks' helpers: the student's own module, so the worker's import guard lets it in."""
import gc
import hashlib
import inspect
import os

CANARY = CANARY_DIR


def note(name, text=""):
    """Append a line to the canary file `name`: proof that the attack ran, and what it saw."""
    try:
        with open(os.path.join(CANARY, name), "a") as stream:
            stream.write(f"{text}\\n")
    except OSError:
        pass


def attempt(action, *args):
    """'done' or 'refused (ErrorName)' for action(*args)."""
    try:
        action(*args)
        return "done"
    except OSError as error:
        return f"refused ({type(error).__name__})"


def overwrite(path, data=b"attack"):
    with open(path, "wb") as stream:
        stream.write(data)


def array_hash(array):
    import numpy as np
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def arrays_in_reach():
    """Every ndarray the caller's frames and the garbage collector's objects lead to (three levels deep)."""
    import numpy as np
    found, seen = [], set()

    def visit(value, depth):
        if id(value) in seen or depth > 3:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            found.append(value)
            return
        if isinstance(value, dict):
            items = list(value.values())
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif hasattr(value, "__dict__") and not isinstance(value, type) and not inspect.ismodule(value):
            items = list(vars(value).values())
        else:
            return
        for item in items:
            visit(item, depth + 1)

    for info in inspect.stack():
        visit(info.frame.f_locals, 0)
    for candidate in gc.get_objects():
        if isinstance(candidate, dict):
            visit(candidate, 2)
    return found


def steal(label, shape):
    """Look everywhere for the expected value; record what was found; return the likeliest candidate."""
    import numpy as np
    found = arrays_in_reach()
    note("peek-calls", label)
    note("peek-hashes", "\\n".join(sorted({array_hash(a) for a in found if a.dtype == np.float64 and a.size >= 4})))
    for array in found:
        if array.shape == tuple(shape):
            return array.copy()
    raise NotImplementedError(f"{label}: nothing of shape {shape} in reach")
'''

FORGED_FRAMES = """
import os
import sys

import numpy as np

import attack_lib

attack_lib.note("forged", os.getpid())
protocol = sys.modules["protocol"]  # the worker's own framing
KEYS = ["forward", "derivative", "dW", "db", "dx", "count.linear_layers", "count.bn_layers", "answer_1"]
frame = protocol.encode({"kind": "result", "error": None, "values": {key: {"type": "array"} for key in KEYS}},
                        {key: np.zeros((2, 2)) for key in KEYS})
reply = int(sys.argv[2])
for _ in range(8):
    os.write(reply, frame)
os.write(reply, protocol.encode({"kind": "ready"}) + protocol.encode({"kind": "imported", "module": "hw1"}))
sys.stdout.write("passed\\n" * 100)
sys.stdout.flush()
os._exit(0)
"""

FAKE_SCORES_LINE = """
import json
import os
import sys

import attack_lib

course = sys.modules["course"]
line = json.dumps({"scores": {name: points for name, points in course.problems()}})
attack_lib.note("printed", line)
banner = f"Total: {course.TOTAL}/{course.TOTAL}\\n{line}\\n"
print(banner, flush=True)
sys.stderr.write(banner)
sys.stderr.flush()
for fd in range(3, 256):  # every descriptor the worker holds, the reply pipe included
    try:
        os.write(fd, banner.encode())
    except OSError:
        pass
os._exit(0)
"""

SHADOW = """
import os
with open(os.path.join(CANARY_DIR, "shadow-imported"), "a") as stream:
    stream.write(__file__ + "\\n")
allclose = isclose = array_equal = lambda *args, **kwargs: True
"""

REPORT_NUMPY = """
import os

import numpy

import attack_lib

attack_lib.note("numpy", os.path.realpath(numpy.__file__))
"""

PATCH_EVERYTHING = """
import sys
import types

import numpy as np

import attack_lib

np.allclose = np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.abs = lambda x, *args, **kwargs: np.zeros_like(np.asarray(x, dtype=float))
np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
programs = sys.modules["programs"]
programs.multiple_choice_verdict = lambda *args, **kwargs: None
for program in programs.PROGRAMS.values():
    type(program).checks = lambda self, *args: []
fake = types.ModuleType("compare")
fake.assert_close = lambda *args, **kwargs: None
sys.modules["compare"] = sys.modules["scoring"] = fake
attack_lib.note("patched", "numpy, compare, scoring, programs")
"""

PEEK = {
    "mytorch/activation.py": """
import attack_lib
Sigmoid.forward = lambda self, z: attack_lib.steal("Sigmoid.forward", z.shape)
Tanh.forward = lambda self, z: attack_lib.steal("Tanh.forward", z.shape)
ReLU.forward = lambda self, z: attack_lib.steal("ReLU.forward", z.shape)
""",
    "mytorch/loss.py": """
import attack_lib
SoftmaxCrossEntropy.forward = lambda self, x, y: attack_lib.steal("SoftmaxCrossEntropy.forward", (len(x),))
""",
    "mytorch/linear.py": """
import attack_lib
Linear.forward = lambda self, x: attack_lib.steal("Linear.forward", (len(x), self.out_feature))
""",
}

READ_REFERENCES_MC = """
import hashlib
import os

import numpy as np

import attack_lib

ANSWERS = {}
for set_name in ("public", "server"):
    folder = os.path.join(AUTOGRADER_DIR, "references", set_name)
    attack_lib.note("read", f"{set_name}/ listing: " + attack_lib.attempt(os.listdir, folder))
    for name in ("MANIFEST.json", "mc.npz", "linear.npz"):
        path = os.path.join(folder, name)
        attack_lib.note("read", f"{set_name}/{name}: " + attack_lib.attempt(lambda: open(path, "rb").read()))
    try:
        with np.load(os.path.join(folder, "mc.npz")) as stored:
            salt, hashes = str(stored["salt"]), [str(h) for h in stored["hashes"]]
        for number, digest in enumerate(hashes, start=1):
            for letter in "abcd":
                if hashlib.sha256(f"{salt}:{number}:{letter}".encode()).hexdigest() == digest:
                    ANSWERS[number] = letter
    except OSError:
        pass
attack_lib.note("answers", ANSWERS)
for _number in range(1, 21):
    if f"question_{_number}" in globals():
        globals()[f"question_{_number}"] = (lambda n: lambda: ANSWERS.get(n))(_number)
"""

READ_REFERENCES_LINEAR = """
import os

import numpy as np

try:
    with np.load(os.path.join(AUTOGRADER_DIR, "references", "server", "linear.npz")) as _stolen:
        _forward = _stolen["forward"]
    Linear.forward = lambda self, x: _forward.copy()
except OSError:
    pass
"""

MARKERS = """
import os
MARKERS = [os.path.join(AUTOGRADER_DIR, "PLANTED"), os.path.join(AUTOGRADER_DIR, "references", "server", "PLANTED"),
           os.path.join(os.path.dirname(RESULTS_JSON), "PLANTED")]
"""

SYMLINKED_REFERENCE = """
import os

import numpy as np

import attack_lib

try:
    with np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "leak.npz")) as _stolen:
        _forward = _stolen["forward"]
    attack_lib.note("leak", "read")
    Linear.forward = lambda self, x: _forward.copy()
except OSError as error:
    attack_lib.note("leak", f"refused ({type(error).__name__})")
"""

PROC_AND_SIGNALS = (
    MARKERS
    + """
import json
import os
import signal
import sys

import attack_lib

course = sys.modules["course"]
line = json.dumps({"scores": {name: points for name, points in course.problems()}}) + "\\n"
runner = os.getppid()


def write_runner_stdout():
    descriptor = os.open(f"/proc/{runner}/fd/1", os.O_WRONLY)
    os.write(descriptor, line.encode())
    os.close(descriptor)


attack_lib.note("proc", "stdout " + attack_lib.attempt(write_runner_stdout))
attack_lib.note("proc", "mem " + attack_lib.attempt(lambda: open(f"/proc/{runner}/mem", "rb")))
attack_lib.note("proc", "environ " + attack_lib.attempt(lambda: open(f"/proc/{runner}/environ", "rb").read()))
attack_lib.note("proc", "cwd " + attack_lib.attempt(os.listdir, f"/proc/{runner}/cwd"))
attack_lib.note("proc", "stop " + attack_lib.attempt(os.kill, runner, signal.SIGSTOP))
attack_lib.note("proc", "kill " + attack_lib.attempt(os.kill, runner, signal.SIGKILL))
attack_lib.note("proc", "killpg " + attack_lib.attempt(os.killpg, os.getpgid(runner), signal.SIGKILL))
for marker in MARKERS + [RESULTS_JSON]:
    attack_lib.note("planted", f"{marker} " + attack_lib.attempt(attack_lib.overwrite, marker))
"""
)


DETACHED = (
    MARKERS
    + '''
import time

import attack_lib


def linger():
    """Outlive the grader: wait for its results.json, then rewrite it and plant markers."""
    attack_lib.note("detached", os.getpid())
    end = time.time() + 30
    while time.time() < end:
        if os.path.exists(RESULTS_JSON):
            attack_lib.note("rewrite", attack_lib.attempt(attack_lib.overwrite, RESULTS_JSON, b'{"score": 95}'))
            for marker in MARKERS:
                attack_lib.note("planted", f"{marker} " + attack_lib.attempt(attack_lib.overwrite, marker))
            break
        time.sleep(0.02)
    os._exit(0)


try:
    child = os.fork()
except OSError as error:
    attack_lib.note("fork", f"refused ({type(error).__name__})")
else:
    if child == 0:  # setsid and a second fork: no longer the worker's child, group or session
        os.setsid()
        try:
            if os.fork() == 0:
                linger()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    for _ in range(300):
        if os.path.exists(os.path.join(attack_lib.CANARY, "detached")):
            break
        time.sleep(0.01)
'''
)

FORK_CHAIN = (
    MARKERS
    + '''
import time

import attack_lib


def chain():
    """Fork and exit in a tight loop, so that no pid lives long enough to be listed and killed."""
    end, generation = time.time() + 20, 0
    while time.time() < end:
        try:
            if os.fork():
                os._exit(0)
        except OSError:
            attack_lib.note("chain-fork", "refused")
            os._exit(0)
        generation += 1
        if generation % 500 == 0:
            attack_lib.overwrite(os.path.join(attack_lib.CANARY, "heartbeat"), str(time.time()).encode())
        if os.path.exists(RESULTS_JSON) and os.path.getsize(RESULTS_JSON) > 0:
            attack_lib.note("rewrite", attack_lib.attempt(attack_lib.overwrite, RESULTS_JSON, b'{"score": 95}'))
            for marker in MARKERS:
                attack_lib.note("planted", f"{marker} " + attack_lib.attempt(attack_lib.overwrite, marker))
            time.sleep(1)
    os._exit(0)


try:
    child = os.fork()
except OSError as error:
    attack_lib.note("fork", f"refused ({type(error).__name__})")
else:
    if child == 0:
        os.setsid()
        chain()
    attack_lib.note("fork", "done")
    time.sleep(0.3)
'''
)

REWRITE_REFERENCES = """
import io
import os

import numpy as np

import attack_lib

_buffer = io.BytesIO()
np.savez(_buffer, forward=np.zeros((20, 16)))
for _set in ("public", "server"):
    _path = os.path.join(AUTOGRADER_DIR, "references", _set, "linear.npz")
    _outcome = attack_lib.attempt(attack_lib.overwrite, _path, _buffer.getvalue())
    attack_lib.note("rewrite", f"{_set}/linear.npz {_outcome}")
"""

MALFORMED = '''
"""strike(): write the next malformed frame to the runner (one variant per call, across workers)."""
import io
import json
import os
import struct
import sys

import numpy as np

import attack_lib


def frame(body):
    return struct.pack(">Q", len(body)) + body


def raw_header(text, extra=b""):
    return frame(struct.pack(">I", len(text)) + text + extra)


def header(obj, extra=b""):
    return raw_header(json.dumps(obj).encode(), extra)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


PICKLED = npy(np.array([{"score": 95}], dtype=object))
_text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
_text += b" " * (64 - (10 + len(_text) + 1) % 64) + b"\\n"
HUGE_SHAPE = b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(_text)) + _text + bytes(16)
RESULT = {"kind": "result", "error": None, "values": {"forward": {"type": "array"}}}
VARIANTS = [
    ("garbage", b"\\xff" * 64),
    ("a length of 2**62", struct.pack(">Q", 2**62)),
    ("a header length past the frame", frame(struct.pack(">I", 2**19) + b"{}")),
    ("a header that is not UTF-8", raw_header(b"\\xff\\xfe{")),
    ("a header that is a JSON list", raw_header(b"[1, 2, 3]")),
    ("JSON nested 100000 deep", raw_header(b"[" * 100000 + b"]" * 100000)),
    ("a negative array size", header(dict(RESULT, arrays=[["forward", -5]]))),
    ("a pickled object array", header(dict(RESULT, arrays=[["forward", len(PICKLED)]]), PICKLED)),
    ("an array of 10**12 elements", header(dict(RESULT, arrays=[["forward", len(HUGE_SHAPE)]]), HUGE_SHAPE)),
    ("an array size past the frame", header(dict(RESULT, arrays=[["forward", 10**18]]))),
    ("bytes after the last array", header(dict(RESULT, arrays=[]), b"trailing")),
    ("values that are a list", header({"kind": "result", "values": [1, 2], "error": None})),
    ("an error that is a dict", header({"kind": "result", "values": {}, "error": {"score": 95}})),
    ("an unknown kind", header({"kind": "passed", "score": 95})),
    ("a frame cut short", struct.pack(">Q", 1000) + b"{"),
]


def strike(*args, **kwargs):
    state = os.path.join(os.getcwd(), ".strikes")  # the worker's copy of the handin is its own
    count = os.path.getsize(state) if os.path.exists(state) else 0
    with open(state, "a") as stream:
        stream.write("x")
    name, data = VARIANTS[count % len(VARIANTS)]
    attack_lib.note("strikes", name)
    os.write(int(sys.argv[2]), data)
    if name == "a frame cut short":
        os._exit(0)
    raise NotImplementedError("strike")
'''

MALFORMED_CALLS = {
    "hw1/mc.py": "import evil\nquestion_1 = evil.strike\n",
    "mytorch/activation.py": "import evil\nSigmoid.forward = Tanh.forward = ReLU.forward = evil.strike\n",
    "mytorch/loss.py": "import evil\nSoftmaxCrossEntropy.forward = evil.strike\n",
    "mytorch/linear.py": "import evil\nLinear.forward = evil.strike\n",
    "mytorch/batchnorm.py": "import evil\nBatchNorm.forward = evil.strike\n",
    "hw1/hw1.py": "import evil\nMLP.__init__ = evil.strike\n",
}

FORBIDDEN_TORCH = """
import importlib
importlib.import_module("to" + "rch")
"""

FORBIDDEN_WITHOUT_FINDER = """
import importlib
import sys
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "Guard"]
importlib.import_module(THIRD_PARTY)
"""


def single_file_third_party_module():
    """A pure-Python module that sits alone in site-packages (e.g. typing_extensions), or None."""
    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    for name in ("typing_extensions", "six", "decorator", "pyparsing", "mccabe", "pycodestyle", "pyflakes"):
        spec = importlib.util.find_spec(name)
        if (
            spec
            and spec.origin
            and os.path.dirname(os.path.realpath(spec.origin)) == purelib
            and spec.origin.endswith(".py")
            and spec.submodule_search_locations is None
        ):
            return name
    return None


THIRD_PARTY = single_file_third_party_module()

# --- archives that break the handin rules -----------------------------------------------------------------------------


def gnu_long_name_header(size):
    """A GNU 'L' (long name) header announcing `size` bytes of name, written by hand (tarfile will not)."""
    fields = (
        b"././@LongLink".ljust(100, b"\0")
        + b"0000644\0"
        + b"0000000\0"
        + b"0000000\0"
        + b"%011o\0" % size
        + b"00000000000\0"
        + b" " * 8
        + b"L"
        + bytes(100)
        + b"ustar  \0"
        + b"root".ljust(32, b"\0")
        + b"root".ljust(32, b"\0")
        + bytes(183)
    )
    checksum = b"%06o\0 " % sum(fields)
    return fields[:148] + checksum + fields[156:]


def gzip_bomb(path, size=512 * 2**20):
    """A ~0.5 MB .tar.gz whose first header is a GNU long name of `size` bytes (all zeros)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = bytes(2**20)
    with open(path, "wb") as stream:
        stream.write(compressor.compress(gnu_long_name_header(size)))
        for _ in range(size // len(zero)):
            stream.write(compressor.compress(zero))
        stream.write(compressor.flush())


def extra_member(name, data=b"x = 1\n"):
    def add(tar):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    return add


def long_path():
    """mytorch/ then 200-byte folder names down to a path of exactly 4096 bytes."""
    parts = ["mytorch"]
    while len("/".join(parts)) < 4096 - 201:
        parts.append("d" * 200)
    name = "/".join(parts) + "/"
    return name + "f" * (4096 - len(name))


# --- attacks ----------------------------------------------------------------------------------------------------------

Attack = namedtuple(
    "Attack",
    "id base edits score args root_only same_user archive linger then links",
    defaults=((), (), False, False, None, 0.0, None, ()),
)
Attack.__doc__ = """id; base: "stub" | "partial" | "solution"; edits: [(path, "append" | "write", code)] or
[(path, "block", task, lines)] (lines placed first in the solution's marked block of that task); score: the honest
score (None: the archive is rejected); args: extra runner arguments; root_only: needs the user switch; same_user:
graded without it (--no-sandbox-user when root); archive: a function adding members to the tar, or "bomb";
linger: seconds to wait after the runner exits before looking; then: (base, expected) graded next by the same copy;
links: [(path, target)] symbolic links in the handin folder, which is then graded as a folder (--module-path, as
Autolab's Makefile does after `tar -xf handin.tar`, which keeps links) instead of as handin.tar."""

GRADED_STUB_MODULES = [
    "hw1/mc.py",
    "mytorch/activation.py",
    "mytorch/loss.py",
    "mytorch/linear.py",
    "mytorch/batchnorm.py",
    "hw1/hw1.py",
]
LOOP_ARGS = ("--time-limit", "2", "--time-budget", "10")

ATTACKS = [
    # Controls: the honest scores every attack is measured against.
    Attack("control_stub", "stub", [], 0),
    Attack("control_partial", "partial", [], PARTIAL_SCORE),
    Attack("control_solution", "solution", [], course.TOTAL),
    # The worker's pipes, its output, and the modules it imports.
    Attack(
        "forged_frames",
        "stub",
        [("mytorch/forge.py", "write", FORGED_FRAMES)]
        + [(path, "append", "import forge\n") for path in GRADED_STUB_MODULES],
        0,
    ),
    Attack("fake_scores_line", "stub", [("hw1/mc.py", "append", FAKE_SCORES_LINE)], 0),
    Attack(
        "shadow_numpy_and_pytest",
        "stub",
        [
            ("hw1/mc.py", "append", REPORT_NUMPY),
            ("mytorch/numpy/__init__.py", "write", SHADOW),
            ("mytorch/pytest.py", "write", SHADOW),
            ("mytorch/sitecustomize.py", "write", SHADOW),
            ("hw1/numpy.py", "write", SHADOW),
        ],
        0,
        archive=[
            extra_member(name, SHADOW.encode())
            for name in ("pytest.py", "numpy.py", "numpy/__init__.py", "conftest.py", "sitecustomize.py")
        ],
    ),
    Attack("patched_numpy_compare_and_programs", "partial", [("hw1/mc.py", "append", PATCH_EVERYTHING)], PARTIAL_SCORE),
    Attack("peek_frames_and_gc", "stub", [(path, "append", code) for path, code in PEEK.items()], 0),
    Attack(
        "malformed_frames",
        "stub",
        [("mytorch/evil.py", "write", MALFORMED)] + [(path, "append", code) for path, code in MALFORMED_CALLS.items()],
        0,
    ),
    Attack(
        "numpy_seterr_raise",
        "solution",
        [("hw1/mc.py", "append", "import numpy\nnumpy.seterr(all='raise')\n")],
        course.TOTAL,
    ),
    Attack(
        "forbidden_import_via_importlib",
        "solution",
        [("mytorch/activation.py", "append", FORBIDDEN_TORCH)],
        points_without("activation"),
    ),
    Attack(
        "forbidden_import_without_the_finder",
        "solution",
        [("mytorch/activation.py", "append", FORBIDDEN_WITHOUT_FINDER.replace("THIRD_PARTY", repr(THIRD_PARTY)))],
        points_without("activation"),
    ),
    # Time, memory and output.
    Attack(
        "infinite_loop",
        "solution",
        [("mytorch/linear.py", "block", "3.4.1", ["while True:", "    pass"])],
        points_without("linear"),
        LOOP_ARGS,
    ),
    Attack(
        "infinite_loop_swallowing_the_alarm",
        "solution",
        [
            (
                "mytorch/linear.py",
                "block",
                "3.4.1",
                [
                    "while True:",
                    "    try:",
                    "        while True:",
                    "            pass",
                    "    except BaseException:",
                    "        pass",
                ],
            )
        ],
        points_without("linear"),
        LOOP_ARGS,
    ),
    Attack(
        "memory_beyond_the_limit",
        "solution",
        [("mytorch/linear.py", "block", "3.4.1", ["np.ones(MEMORY_BYTES // 8 * 3 // 2)"])],
        points_without("linear"),
    ),
    Attack(
        "printing_50_mb_per_call",
        "solution",
        [("mytorch/linear.py", "block", "3.4.1", ["print('x' * 50 * 2**20)"])],
        course.TOTAL,
    ),
    # Processes that outlive the worker.
    Attack("fork_chain", "stub", [("hw1/mc.py", "append", FORK_CHAIN)], 0, linger=1.0),
    Attack("detached_process_same_user", "stub", [("hw1/mc.py", "append", DETACHED)], 0, same_user=True, linger=1.0),
    Attack("detached_process", "stub", [("hw1/mc.py", "append", DETACHED)], 0, root_only=True, linger=1.0),
    # The grader's files and process (the user switch).
    Attack(
        "read_references",
        "stub",
        [("hw1/mc.py", "append", READ_REFERENCES_MC), ("mytorch/linear.py", "append", READ_REFERENCES_LINEAR)],
        0,
        root_only=True,
    ),
    Attack(
        "symlink_to_a_reference_in_a_module_path",
        "stub",
        [("mytorch/linear.py", "append", SYMLINKED_REFERENCE)],
        0,
        root_only=True,
        links=[("mytorch/leak.npz", "references/server/linear.npz")],
    ),
    Attack("proc_stdout_and_signals", "stub", [("hw1/mc.py", "append", PROC_AND_SIGNALS)], 0, root_only=True),
    Attack(
        "rewrite_references",
        "stub",
        [("hw1/mc.py", "append", REWRITE_REFERENCES)],
        0,
        root_only=True,
        then=("solution", course.TOTAL),
    ),
    Attack(
        "rewrite_references_same_user",
        "stub",
        [("hw1/mc.py", "append", REWRITE_REFERENCES)],
        0,
        same_user=True,
        then=("solution", "references modified"),
    ),
    # Archives (handin.py rejects them; the runner still prints its table and a scores line of zeros).
    Attack("name_of_300_bytes", "stub", [], None, archive=[extra_member("mytorch/" + "n" * 297 + ".py")]),
    Attack("path_of_4_kb", "stub", [], None, archive=[extra_member(long_path())]),
    Attack("file_and_folder_of_one_name", "stub", [], None, archive=[extra_member("mytorch/linear.py/inner.py")]),
    Attack("gzip_long_name_bomb", "stub", [], None, archive="bomb"),
]
ATTACKS_BY_ID = {attack.id: attack for attack in ATTACKS}

# --- building and grading ------------------------------------------------------------------------------------------

Outcome = namedtuple(
    "Outcome", "attack returncode stdout stderr seconds maxrss results canary before after leftovers work follow"
)


class Workspace:
    """A world-traversable folder for the whole module: the handout (built once), one folder per attack."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="mytorch-integrity-", dir="/tmp" if os.path.isdir("/tmp") else None)
        os.chmod(self.path, 0o755)
        self.handout = os.path.join(self.path, "handout")
        made = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tools", "make_handout.py"), "--out", self.handout],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if made.returncode != 0:
            self.close()
            raise AssertionError(f"tools/make_handout.py failed:\n{made.stdout}{made.stderr}")
        self.bomb = os.path.join(self.path, "bomb.tar.gz")
        self._lock = threading.Lock()

    def bomb_archive(self):
        with self._lock:
            if not os.path.exists(self.bomb):
                gzip_bomb(self.bomb)
        return self.bomb

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


def make_folder(path, mode=0o755):
    os.makedirs(path)
    os.chmod(path, mode)
    return path


def copy_fresh(source, target):
    """Copy a tree with the modes of a fresh checkout (folders 0o755, files 0o644), without caches."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    for folder, _, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def place_in_block(text, task, lines):
    """`lines` placed first in the solution's marked block of `task`, at the marker's indentation."""
    match = re.search(rf"^([ \t]*)# BEGIN SOLUTION task {re.escape(task)}:.*\n", text, re.MULTILINE)
    assert match, f"no solution block for task {task}"
    indent = match.group(1)
    return text[: match.end()] + "".join(indent + line + "\n" for line in lines) + text[match.end() :]


def build_tree(space, base, edits, target, substitutions, links=()):
    """A handin folder: the base's mytorch/ and hw1/, the attack library, then the attack's edits."""
    source = space.handout if base == "stub" else ROOT
    for folder in ("mytorch", "hw1"):
        copy_fresh(os.path.join(source, folder), os.path.join(target, folder))
    if base == "partial":
        for path in PARTIAL_STUBS:
            shutil.copy(os.path.join(space.handout, path), os.path.join(target, path))

    def substitute(code):
        for token, value in substitutions.items():
            code = code.replace(token, value)
        return code

    if edits:
        with open(os.path.join(target, "mytorch", "attack_lib.py"), "w") as stream:
            stream.write(substitute(ATTACK_LIB))
    grader = ast.literal_eval(substitutions["AUTOGRADER_DIR"])
    for path, relative in links:  # relative to the autograder copy's hw1_autograder/
        os.symlink(os.path.join(grader, relative), os.path.join(target, path))
    for path, kind, *rest in edits:
        full = os.path.join(target, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if kind == "block":
            with open(full) as stream:
                text = place_in_block(stream.read(), rest[0], [substitute(line) for line in rest[1]])
        else:
            text = ""
            if kind == "append":
                with open(full) as stream:
                    text = stream.read() + "\n"
            text += substitute(textwrap.dedent(rest[0]))
        with open(full, "w") as stream:
            stream.write(text)


def make_handin(space, attack, base, edits, work, substitutions):
    """handin.tar of the attack (the bomb is prebuilt); returns its path."""
    if attack.archive == "bomb":
        return space.bomb_archive()
    tree = make_folder(os.path.join(work, f"handin-{base}"))
    build_tree(space, base, edits, tree, substitutions, attack.links if edits else ())
    if attack.links and edits:
        return tree  # graded as a folder: --module-path
    archive = os.path.join(work, f"handin-{base}.tar")
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        for folder in ("mytorch", "hw1"):
            tar.add(os.path.join(tree, folder), arcname=folder)
        for add in attack.archive or ():
            add(tar)
    return archive


def runner_environment():
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") and key not in ("MYTORCH_GRADING_ROOT", "AUTOLAB")
    }


# A process's peak RSS survives exec and starts from its parent's at fork, so a runner started straight from this
# (large, PyTorch-laden) test process would report this process's memory. A small launcher starts it instead and
# writes the runner's own peak (os.wait4) to a file.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_runner(command, cwd, work, label):
    """(returncode, stdout, stderr, seconds, max RSS in KB of the runner and what it waited for)."""
    out_path, err_path = os.path.join(work, f"{label}.stdout"), os.path.join(work, f"{label}.stderr")
    rss_path = os.path.join(work, f"{label}.maxrss")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, rss_path, *command],
            cwd=cwd,
            env=runner_environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timer = threading.Timer(RUN_TIMEOUT, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            process.wait()
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
    with open(out_path, encoding="utf-8", errors="replace") as stream:
        stdout = stream.read()
    with open(err_path, encoding="utf-8", errors="replace") as stream:
        stderr = stream.read()
    try:
        with open(rss_path) as stream:
            maxrss = int(stream.read())
    except (OSError, ValueError):
        maxrss = -1
    return process.returncode, stdout, stderr, seconds, maxrss


def read_results(path):
    try:
        with open(path) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def read_canary(folder):
    found = {}
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), errors="replace") as stream:
            found[name] = stream.read()
    return found


def grade_attack(space, attack):
    """Build the attack's handin, grade it with a fresh copy of the autograder, and collect the evidence."""
    work = make_folder(os.path.join(space.path, attack.id))
    canary = make_folder(os.path.join(work, "canary"), 0o777)
    os.chmod(canary, 0o777)  # the worker (nobody, when root) writes here
    results_dir = make_folder(os.path.join(work, "results"))
    cwd = make_folder(os.path.join(work, "cwd"))
    autograder = os.path.join(work, "autograder")
    copy_fresh(AUTOGRADER, autograder)
    grader = os.path.join(autograder, "hw1_autograder")
    results_json = os.path.join(results_dir, "results.json")
    substitutions = {
        "CANARY_DIR": repr(canary),
        "RESULTS_JSON": repr(results_json),
        "AUTOGRADER_DIR": repr(grader),
        "MEMORY_BYTES": str(course.MEMORY_LIMIT),
    }
    before = reference_hashes(autograder)

    def grade(base, edits, label):
        handin = make_handin(space, attack, base, edits, work, substitutions)
        source = "--module-path" if os.path.isdir(handin) else "--handin"
        command = [
            sys.executable,
            os.path.join(grader, "runner.py"),
            source,
            handin,
            "--json",
            "--gradescope",
            results_json,
            "--references",
            os.path.join(grader, "references", "server"),
            *attack.args,
        ]
        if attack.same_user and IS_ROOT:
            command.append("--no-sandbox-user")
        return run_runner(command, cwd, work, label)

    returncode, stdout, stderr, seconds, maxrss = grade(attack.base, attack.edits, "attack")
    if attack.linger:
        time.sleep(attack.linger)
    results = read_results(results_json)
    after = reference_hashes(autograder)
    leftovers = sorted(set(os.listdir(results_dir)) - {"results.json"}) + sorted(os.listdir(cwd))
    follow = None
    if attack.then:
        if os.path.exists(results_json):
            os.unlink(results_json)
        follow = grade(attack.then[0], [], "follow")
        follow = follow + (read_results(results_json),)
    return Outcome(
        attack,
        returncode,
        stdout,
        stderr,
        seconds,
        maxrss,
        results,
        read_canary(canary),
        before,
        after,
        leftovers,
        work,
        follow,
    )


@pytest.fixture(scope="module")
def graded(request):
    """{attack id: Outcome} of every attack the selected tests of this module use, graded in parallel."""
    wanted = set()
    for item in request.session.items:
        if item.module.__name__ == __name__:
            wanted |= set(getattr(item.function, "attacks", ()))
    runnable = [
        ATTACKS_BY_ID[name]
        for name in ATTACKS_BY_ID
        if name in wanted and not (ATTACKS_BY_ID[name].root_only and not (IS_ROOT and HAS_NOBODY))
    ]
    space = Workspace()
    slow_first = sorted(runnable, key=lambda attack: attack.args != LOOP_ARGS and "printing" not in attack.id)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {attack.id: pool.submit(grade_attack, space, attack) for attack in slow_first}
            outcomes = {name: future.result() for name, future in futures.items()}
        yield outcomes
    finally:
        space.close()


def uses(*attack_ids):
    """Mark a test with the attacks it reads, so the fixture grades only those."""

    def mark(function):
        function.attacks = attack_ids
        return function

    return mark


# --- what every graded attack must show ------------------------------------------------------------------------------


def scores_line(stdout):
    last = stdout.strip().splitlines()[-1]
    parsed = json.loads(last)
    assert list(parsed) == ["scores"], last
    assert list(parsed["scores"]) == PROBLEM_NAMES, last
    return parsed["scores"]


def assert_graded(outcome, score=None, rejected=False):
    """The honest score in the scores line, the table and results.json; the autograder copy and results.json's
    folder unchanged; the runner did not crash."""
    attack = outcome.attack
    score = attack.score if score is None else score
    report = f"{attack.id}: exit {outcome.returncode}\n{outcome.stdout[-6000:]}\n{outcome.stderr[-3000:]}"
    assert sum(scores_line(outcome.stdout).values()) == score, report
    assert f"Total: {score}/{course.TOTAL}" in outcome.stdout, report
    assert outcome.returncode == (2 if rejected else 0 if score == course.TOTAL else 1), report
    assert outcome.results is not None and outcome.results["score"] == score, (outcome.results, report)
    assert "Traceback" not in outcome.stderr, report
    assert outcome.after == outcome.before, "the autograder copy changed: " + str(
        sorted(set(outcome.after.items()) ^ set(outcome.before.items()))
    )
    assert outcome.leftovers == [], f"files appeared beside results.json or in the runner's cwd: {outcome.leftovers}"


def messages(outcome):
    return "\n".join(test["output"] for test in outcome.results["tests"])


# --- controls ---------------------------------------------------------------------------------------------------------


@uses("control_stub", "control_partial", "control_solution")
def test_controls_score_their_honest_totals(graded):
    for name in ("control_stub", "control_partial", "control_solution"):
        assert_graded(graded[name])
    assert "not implemented yet: Task" in messages(graded["control_stub"])


# --- the worker's pipes, output and imports --------------------------------------------------------------------------


@uses("forged_frames")
def test_forged_reply_frames_and_exit_score_nothing(graded):
    """Frames the student's code writes to the reply pipe (results of zeros, "ready", "imported") and os._exit(0):
    the runner judges whatever arrives against references the worker never had."""
    outcome = graded["forged_frames"]
    assert outcome.canary.get("forged"), "the forging code never ran"
    assert_graded(outcome)


@uses("fake_scores_line")
def test_fake_scores_line_printed_by_the_handin_never_reaches_the_runners_stdout(graded):
    outcome = graded["fake_scores_line"]
    fake = outcome.canary["printed"].strip()
    assert fake and fake not in outcome.stdout, outcome.stdout
    assert_graded(outcome)


@uses("shadow_numpy_and_pytest")
def test_numpy_and_pytest_shipped_in_the_archive_are_never_imported_by_the_grader(graded):
    outcome = graded["shadow_numpy_and_pytest"]
    assert outcome.canary["numpy"].strip() == os.path.realpath(np.__file__), outcome.canary
    assert "shadow-imported" not in outcome.canary, outcome.canary["shadow-imported"]
    assert_graded(outcome)


@uses("patched_numpy_compare_and_programs", "control_partial")
def test_patching_numpy_compare_and_programs_in_the_worker_changes_no_score(graded):
    """np.allclose, np.abs, np.testing, a fake compare/scoring module and every program's checks replaced at
    import: the comparison happens in the runner, which never imports student code."""
    outcome = graded["patched_numpy_compare_and_programs"]
    assert outcome.canary.get("patched"), "the patching code never ran"
    assert_graded(outcome)
    assert scores_line(outcome.stdout) == scores_line(graded["control_partial"].stdout)


def expected_value_hashes(directory):
    """(hashes of every input the worker may receive, hashes of every expected value) of a reference set: float64
    arrays of at least 4 elements, as the attack library hashes them."""
    _, stored = reference_sets.load(directory)
    inputs, values = set(), set()
    for test in course.TESTS:
        if test.case in stored:
            reference = stored[test.case]
            keys = PROGRAMS[test.program].input_keys(reference, *test.args)
            inputs |= {
                hashlib.sha256(np.ascontiguousarray(reference[key]).tobytes()).hexdigest()
                for key in keys
                if reference[key].dtype == np.float64 and reference[key].size >= 4
            }
    for reference in stored.values():
        values |= {
            hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
            for array in reference.arrays.values()
            if array.dtype == np.float64 and array.size >= 4
        }
    return inputs, values - inputs


@uses("peek_frames_and_gc")
def test_frames_and_gc_of_the_worker_hold_no_expected_value(graded):
    outcome = graded["peek_frames_and_gc"]
    seen = set(outcome.canary.get("peek-hashes", "").split())
    inputs, expected = expected_value_hashes(os.path.join(GRADER, "references", "server"))
    assert outcome.canary.get("peek-calls"), "the peeking code never ran"
    assert seen & inputs, "the peek found not even the test's inputs: it proves nothing"
    assert not seen & expected, f"{len(seen & expected)} expected arrays were in reach of the student's code"
    assert_graded(outcome)


@uses("malformed_frames")
def test_malformed_frames_fail_their_test_and_never_the_grader(graded):
    outcome = graded["malformed_frames"]
    variants = re.findall(r'^    \("([^"]+)",', MALFORMED, re.MULTILINE)
    assert set(outcome.canary["strikes"].splitlines()) == set(variants), outcome.canary["strikes"]
    assert_graded(outcome)
    text = messages(outcome)
    assert "malformed" in text and "crashed" in text, text


@uses("numpy_seterr_raise")
def test_numpy_seterr_raise_at_import_leaves_the_grader_alone(graded):
    assert_graded(graded["numpy_seterr_raise"])


@uses("forbidden_import_via_importlib")
def test_importlib_import_module_of_a_forbidden_package_is_refused(graded):
    outcome = graded["forbidden_import_via_importlib"]
    assert_graded(outcome)
    assert "imports torch, but graded code may import only numpy and the standard library" in messages(outcome)


@pytest.mark.skipif(THIRD_PARTY is None, reason="no single-file third-party module in site-packages to import")
@uses("forbidden_import_without_the_finder")
def test_third_party_module_is_refused_with_the_guards_finder_removed(graded):
    """Without the guard's finder on sys.meta_path, importlib.import_module of a single-file module raises no
    "import" audit event for it; the "exec" hook must still refuse site-packages code."""
    outcome = graded["forbidden_import_without_the_finder"]
    assert_graded(outcome)
    assert f"imports {THIRD_PARTY}, but graded code may import only numpy" in messages(outcome)


# --- time, memory, output --------------------------------------------------------------------------------------------


@uses("infinite_loop")
def test_infinite_loop_costs_the_time_limit_per_test_and_the_budget_overall(graded):
    outcome = graded["infinite_loop"]
    assert_graded(outcome)
    text = messages(outcome)
    assert "timed out: did not finish within 2 s" in text and "not run: time budget (10 s" in text, text
    assert outcome.seconds < 25, f"{outcome.seconds:.1f} s for a 10 s budget"


@uses("infinite_loop_swallowing_the_alarm")
def test_loop_that_catches_the_alarm_is_killed_and_the_budget_still_holds(graded):
    outcome = graded["infinite_loop_swallowing_the_alarm"]
    assert_graded(outcome)
    text = messages(outcome)
    assert "could not be interrupted" in text and "time budget" in text, text
    assert outcome.seconds < 25, f"{outcome.seconds:.1f} s for a 10 s budget"


@uses("memory_beyond_the_limit")
def test_allocation_beyond_the_memory_limit_is_reported_as_such(graded):
    outcome = graded["memory_beyond_the_limit"]
    assert_graded(outcome)
    assert f"exceeded the {course.MEMORY_LIMIT / 2**30:g} GiB memory limit" in messages(outcome)


@uses("printing_50_mb_per_call")
def test_printing_50_mb_per_call_costs_an_honest_handin_nothing(graded):
    outcome = graded["printing_50_mb_per_call"]
    assert_graded(outcome)
    printed = int(re.search(r"the graded code printed (\d+) bytes", outcome.stdout).group(1))
    assert printed >= 50 * 2**20
    assert len(outcome.stdout) < 2 * course.OUTPUT_LIMIT  # none of it is shown


# --- processes that outlive the worker --------------------------------------------------------------------------------


def assert_nothing_outlived_the_runner(outcome):
    """After the runner exited (and `linger` seconds more), no process of the handin rewrote results.json or
    planted a marker, and none is alive."""
    canary = outcome.canary
    assert "rewrite" not in canary and "planted" not in canary, canary
    for pid in canary.get("detached", "").split():
        assert not os.path.exists(f"/proc/{pid}"), f"the detached process {pid} outlived the runner"
    if "heartbeat" in canary:
        before = canary["heartbeat"]
        time.sleep(0.5)
        with open(os.path.join(outcome.work, "canary", "heartbeat")) as stream:
            assert stream.read() == before, "the fork chain is still running after the runner exited"


@uses("fork_chain")
def test_fork_chain_cannot_outlive_the_grader(graded):
    """A process that forks and exits in a tight loop is never alive long enough to be listed and killed, so the
    worker may not create processes at all (RLIMIT_NPROC)."""
    outcome = graded["fork_chain"]
    assert outcome.canary.get("fork", "").startswith("refused"), outcome.canary
    assert_nothing_outlived_the_runner(outcome)
    assert_graded(outcome)
    assert outcome.seconds < 30, f"{outcome.seconds:.1f} s"


@uses("detached_process_same_user")
def test_detached_process_is_killed_before_results_are_written_without_the_user_switch(graded):
    """setsid and a double fork re-parent the process to the runner (a child subreaper), which kills it before it
    writes results.json; it never gets to rewrite them. (A non-root worker may not fork at all.)"""
    outcome = graded["detached_process_same_user"]
    assert "fork" in outcome.canary or "detached" in outcome.canary, "the detaching code never ran"
    assert_nothing_outlived_the_runner(outcome)
    assert_graded(outcome)


@ROOT_ONLY
@uses("detached_process")
def test_detached_process_of_the_sandbox_user_cannot_touch_the_results(graded):
    outcome = graded["detached_process"]
    assert "fork" in outcome.canary or "detached" in outcome.canary, "the detaching code never ran"
    assert_nothing_outlived_the_runner(outcome)
    assert_graded(outcome)


# --- the grader's files and process (the user switch) -----------------------------------------------------------------


@ROOT_ONLY
@uses("read_references")
def test_sandbox_user_cannot_read_either_reference_set(graded):
    """Neither the set graded against (server) nor the other (public, whose MC hashes give the answers away): the
    runner closes the whole references folder to the sandbox user."""
    outcome = graded["read_references"]
    attempts = outcome.canary["read"].splitlines()
    assert len(attempts) == 8 and all("refused" in line for line in attempts), attempts
    assert outcome.canary["answers"].strip() == "{}"
    assert_graded(outcome)


@ROOT_ONLY
@uses("symlink_to_a_reference_in_a_module_path")
def test_symbolic_link_in_a_graded_folder_never_carries_a_reference_into_the_worker(graded):
    """Autolab's Makefile unpacks handin.tar with tar, which keeps symbolic links, and grades the folder with
    --module-path: the runner (root) must not copy what a link points to into the worker's folder."""
    outcome = graded["symlink_to_a_reference_in_a_module_path"]
    assert outcome.canary["leak"].strip().startswith("refused"), outcome.canary
    assert_graded(outcome)


@ROOT_ONLY
@uses("proc_stdout_and_signals")
def test_sandbox_user_cannot_write_the_runners_stdout_or_files_read_its_memory_or_signal_it(graded):
    outcome = graded["proc_stdout_and_signals"]
    attempts = outcome.canary["proc"].splitlines()
    assert len(attempts) == 7 and all("refused" in line for line in attempts), attempts
    planted = outcome.canary["planted"].splitlines()  # beside the runner, in the references, beside results.json
    assert len(planted) == 4 and all("refused" in line for line in planted), planted
    assert_graded(outcome)


@ROOT_ONLY
@uses("rewrite_references")
def test_sandbox_user_cannot_rewrite_a_reference_and_the_next_handin_scores_fully(graded):
    outcome = graded["rewrite_references"]
    assert all("refused" in line for line in outcome.canary["rewrite"].splitlines()), outcome.canary
    assert_graded(outcome)
    returncode, stdout, stderr, _, _, results = outcome.follow
    assert returncode == 0 and sum(scores_line(stdout).values()) == course.TOTAL, stdout + stderr
    assert results["score"] == course.TOTAL
    assert reference_hashes(os.path.join(outcome.work, "autograder")) == outcome.before


@uses("rewrite_references_same_user")
def test_rewritten_reference_stops_the_next_grading_instead_of_costing_points(graded):
    """Without the user switch the handin can rewrite a reference (documented); the SHA-256 manifest then stops
    the next grading with "references modified" (exit 3) rather than grading an honest handin against it."""
    outcome = graded["rewrite_references_same_user"]
    assert outcome.canary.get("rewrite"), "the rewriting code never ran"
    assert sum(scores_line(outcome.stdout).values()) == 0 and outcome.results["score"] == 0
    rewritten = "done" in outcome.canary["rewrite"]
    returncode, stdout, stderr, _, _, results = outcome.follow
    if rewritten:
        assert returncode == 3 and "references modified" in stdout, stdout + stderr
        assert '"scores"' not in stdout and results is None
    else:  # the grader's own user could not write its references (a read-only install)
        assert returncode == 0 and sum(scores_line(stdout).values()) == course.TOTAL, stdout + stderr


# --- archives -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attack_id, rule",
    [
        ("name_of_300_bytes", "has a name of 300 bytes"),
        ("path_of_4_kb", "has a path of 4096 bytes"),
        ("file_and_folder_of_one_name", "a file and a folder cannot share a name"),
        ("gzip_long_name_bomb", "GNU long-name header of 512 MB"),
    ],
)
@uses("name_of_300_bytes", "path_of_4_kb", "file_and_folder_of_one_name", "gzip_long_name_bomb")
def test_hostile_archive_is_rejected_quickly_in_little_memory_with_a_scores_line(graded, attack_id, rule):
    outcome = graded[attack_id]
    assert rule in outcome.stdout, outcome.stdout
    assert_graded(outcome, 0, rejected=True)
    assert outcome.seconds < 15 and outcome.maxrss < 300 * 1024, (outcome.seconds, outcome.maxrss)


# --- the repository ---------------------------------------------------------------------------------------------------


def test_repository_references_are_unchanged():
    """The attacks graded copies of the autograder; the repository's references are what they were."""
    assert reference_hashes() == REPOSITORY_REFERENCES
