"""Judge the worker's replies against the references, score them, and write every output.  Trusted side.

    result = judge(test, reference, reply)         Result("passed" | "failed" | "skipped", message)
    rows = score(results)                          one row per test of course.py, in table order
    report(rows, what) / scores_line(rows) / gradescope_results(rows, summary, seconds)

The replies come from the untrusted worker: every value is an array loaded without pickles, a string, or a
type name; nothing in a reply can stop the judging (a reply that breaks a check fails that check).
"""

import json
import os
import re
import tempfile
import textwrap
from collections import namedtuple

import course
from compare import assert_close
from programs import PROGRAMS, Skipped

Result = namedtuple("Result", "status message")
PASSED = Result("passed", "")
MAX_MESSAGE = 3000  # characters of a message from the worker


def clean(text):
    """A message from the worker made safe to print: no control characters, bounded length."""
    text = re.sub(r"[^\S\n]+", " ", re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "?", str(text)))
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."


class _Named:
    """Stands in for a non-array value the student's code returned, so messages can name its type."""


def _stand_in(entry, arrays, key):
    kind = entry.get("type") if isinstance(entry, dict) else None
    if kind == "array" and key in arrays:
        return arrays[key]
    if kind == "none":
        return None
    if kind == "str":
        return str(entry.get("value"))
    if kind == "missing":
        return _Missing(str(entry.get("name"))[:80])
    name = re.sub(r"\W", "_", str(entry.get("name", "object") if isinstance(entry, dict) else "object"))[:60]
    if name in ("list", "tuple"):
        return [] if name == "list" else ()
    return type(name or "object", (_Named,), {})()


class _Missing:
    def __init__(self, name):
        self.name = name


def failure_message(failure, importing):
    """The student-facing text for a worker that crashed, hung, sent a malformed reply or never started."""
    kind, _, detail = failure.partition(":")
    where = (
        f"importing {course.GRADED_MODULES[importing]}/{importing}.py "
        if importing in course.GRADED_MODULES
        else "this test "
    )
    if kind == "timeout":
        return (
            f"{where}did not finish in time and could not be interrupted, so the grader stopped it (an "
            "infinite loop that catches the time-limit exception?)"
        )
    if kind == "crash":
        return f"{where}crashed the grading process ({detail})"
    if kind == "startup":
        return f"the grading worker could not start ({detail})"
    if kind == "budget":
        return detail
    return (
        f"the grading worker's reply was malformed ({detail}): the graded code may not write to the "
        "grader's pipes. This test fails."
    )


def judge(test, reference, reply):
    """Result of one test from the worker's reply (see sandbox.Reply)."""
    if reply.failure:
        return Result("failed", clean(failure_message(reply.failure, reply.importing)))
    program = PROGRAMS[test.program]
    values = {key: _stand_in(entry, reply.arrays, key) for key, entry in reply.values.items()}
    error = clean(reply.error) if reply.error else None
    for check in program.checks(reference, *test.args):
        if check.key not in values:
            return Result(
                "failed", error or f"{check.quantity}: the grading worker returned no value for it (a malformed reply)."
            )
        value = values[check.key]
        try:
            if isinstance(value, _Missing):
                raise AssertionError(
                    f"{check.quantity}: the attribute {value.name!r} does not exist; the grader "
                    "reads the handout's attribute names (W, b, dW, db, gamma, beta, ...)."
                )
            if check.verify is not None:
                check.verify(value, reference, values)
            else:
                key = check.reference_key or check.key
                context = {"batch": check.batch, "alternatives": reference.alternatives(key)}
                assert_close(value, reference[key], check.quantity, rtol=check.rtol, atol=check.atol, context=context)
        except Skipped as skipped:
            return Result("skipped", f"skipped: {skipped}")
        except NotImplementedError as missing:
            return Result("failed", f"not implemented yet: {missing}")
        except AssertionError as wrong:
            return Result("failed", clean(str(wrong)))
        except Exception as broken:  # noqa: BLE001 - a reply no check expected (e.g. a structured dtype)
            return Result(
                "failed",
                clean(
                    f"{check.quantity}: the grader could not compare this value ({type(broken).__name__}: {broken})."
                ),
            )
    if error:
        return Result("failed", error)
    return PASSED


# --- scoring and reporting -----------------------------------------------------------------------------------------


def score(results, tests=None):
    """Rows [{test, title, points, earned, status, message, extra}] for the tests run (all of course.py's graded
    tests when tests is None: one not run scores 0)."""
    tests = course.TESTS if tests is None else tests
    rows = []
    for test in tests:
        status, message = results.get(test.name, Result("failed", "not run"))
        rows.append(
            {
                "test": test,
                "name": test.name,
                "title": test.title,
                "problem": test.problem,
                "points": test.points,
                "earned": test.points if status == "passed" else 0,
                "status": status,
                "message": message,
                "extra": test.extra,
            }
        )
    return rows


def report(rows, what, subset=False, notes=()):
    """The table a student reads, as text."""
    graded = [row for row in rows if not row["extra"]]
    extras = [row for row in rows if row["extra"]]
    earned, possible = sum(r["earned"] for r in graded), sum(r["points"] for r in graded)
    width = max([len(r["title"]) for r in rows] + [20])
    lines = [f"Grading {what}", "", f"{'Test':<{width}}  Points"]
    for row in graded:
        lines += _row_lines(row, width, f"{row['earned']:>2}/{row['points']:<2}")
    if extras:
        lines += ["", "Extra checks (0 points)"]
        for row in extras:
            lines += _row_lines(row, width, {"passed": "ok   ", "skipped": "skip "}.get(row["status"], "FAIL "))
    counted = [row for row in rows if row["status"] != "skipped"]
    total = f"Total: {earned}/{possible}" if subset else f"Total: {earned}/{course.TOTAL}"
    if subset:
        total += f" for the selected tests; the full autograded total is {course.TOTAL}"
    title, hand_points = course.HAND_GRADED
    lines += [
        "",
        total,
        f"{sum(r['status'] == 'passed' for r in counted)} of {len(counted)} local checks passed.",
        f"Training statistics ({hand_points} points) are graded by hand from the plots, not here "
        "(make them with: python3 autograder/hw1_autograder/train.py --outpath hw1).",
    ]
    return "\n".join(list(notes) + lines if notes else lines)


def _row_lines(row, width, score_text):
    message = row["message"].splitlines() if row["status"] != "passed" else []
    lines = [f"{row['title']:<{width}}  {score_text}  " + (message[0] if message else "")]
    for line in message[1:]:
        lines += textwrap.wrap(
            line.strip(), 120, initial_indent="    ", subsequent_indent="      ", break_long_words=False
        )
    return [line.rstrip() for line in lines]


def scores(rows):
    """Autolab's scores: every problem name of course.py, 0 where not earned or not run."""
    earned = {row["name"]: row["earned"] for row in rows}
    return {test.problem: earned.get(test.name, 0) for test in course.GRADED}


def scores_line(rows):
    return json.dumps({"scores": scores(rows)})


def gradescope_results(rows, summary, seconds):
    """Gradescope's results.json: the score, the run's summary and one entry per test (extras: max_score 0)."""
    return {
        "score": sum(r["earned"] for r in rows if not r["extra"]),
        "execution_time": round(seconds, 3),
        "output": summary,
        "stdout_visibility": "visible",
        "tests": [
            {
                "name": r["problem"] if not r["extra"] else r["title"] + " (extra check)",
                "score": r["earned"],
                "max_score": r["points"],
                "output": "passed" if r["status"] == "passed" else r["message"],
                "visibility": "visible",
            }
            for r in rows
        ],
    }


def write_atomically(path, write, prefix=".tmp-", newline=None):
    """Call write(stream) on a temporary file beside path, then rename it over path: a reader never sees half a
    file, and a crash leaves the old one."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(descriptor, "w", newline=newline, encoding="utf-8") as stream:
            write(stream)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_json_atomically(path, data):
    """Write data as JSON to path (write_atomically)."""
    write_atomically(path, lambda stream: json.dump(data, stream, indent=2), prefix=".results-")
