"""Grade one submission: every selected test through the worker, judged against the references.  Trusted side.

    results = grade_submission(root, tests, references, limits, account)     {test name: scoring.Result}

Tests run in table order in one worker; a module whose import failed (or crashed the worker) fails every later
test that needs it without being imported again; a worker that crashes, hangs or misbehaves costs only the test
it was running, and a fresh one takes the next. Past the handin's time budget, the tests not reached say so.
"""

import time

import course
import protocol
import sandbox
import scoring
from programs import PROGRAMS


def grade_submission(root, tests, references, limits, account=None):
    """{test name: Result} for tests, run on the student's files under root."""
    results, import_failures = {}, {}
    budget_end = time.monotonic() + limits.budget
    with sandbox.Session(root, limits, account) as session:
        for test in tests:
            program = PROGRAMS[test.program]
            if test.case not in references:
                results[test.name] = scoring.Result(
                    "skipped",
                    "skipped: this reference set does not hold the "
                    f"{test.case!r} case (graded on the course server only)",
                )
                continue
            failed = [name for name in program.needs if name in import_failures]
            if failed:
                results[test.name] = scoring.Result("failed", import_failures[failed[0]])
                continue
            if time.monotonic() >= budget_end:
                results[test.name] = scoring.Result(
                    "failed",
                    f"not run: time budget ({limits.budget:g} s for the whole handin) used up by the tests before it",
                )
                continue
            reference = references[test.case]
            header = {
                "kind": protocol.RUN,
                "program": test.program,
                "args": list(test.args),
                "needs": list(program.needs),
                "time_limit": limits.time,
            }
            inputs = {key: reference[key] for key in program.input_keys(reference, *test.args)}
            reply = session.run(header, inputs, limits.time, budget_end)
            if reply.failure == "timeout" and time.monotonic() >= budget_end - 0.01:
                reply = reply._replace(
                    failure=f"budget:stopped: the handin's time budget ({limits.budget:g} s) ran out during this test"
                )
            result = scoring.judge(test, reference, reply)
            results[test.name] = result
            import_failures.update(
                {
                    module: scoring.clean(message)
                    for module, message in reply.import_failures.items()
                    if module in course.GRADED_MODULES
                }
            )
            if reply.failure and reply.importing in course.GRADED_MODULES:  # the import itself crashed or hung
                import_failures[reply.importing] = result.message
        output_total = session.output.total
    return results, output_total
