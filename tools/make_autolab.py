"""The course-server bundle for Autolab:  dist/autolab/  (upload its three files to the assessment).

    python3 tools/make_autolab.py                 # writes <repo>/dist/autolab/
    python3 tools/make_autolab.py --out DIR

    autograde.tar        autograde/: the runner and every module it imports, flattened at the top (runner.py
                         finds them beside itself), the server reference set only (autograde/references/server/;
                         reference_sets.default_directory() falls back to it when no public set is there), and
                         setup.cfg, which the Makefile copies into handin/ (only copied; nothing reads it)
    autograde-Makefile   the course's five lines (AUTOGRADE_MAKEFILE), unchanged
    hw1p1.yml            the assessment: one problem per course.problems() entry, named as the scores line names it

Both bundles are byte-identical across builds (make_handout.write_tar: sorted members, fixed times and owners).

Release step (tools/release.py's STEPS holds step_autolab(dist) -> (problems, summary)): check(bundle) builds
dist/autolab/, checks that a second build is byte-identical, and runs the Makefile literally (as Makefile, with
`make`, in a fresh folder holding handin.tar and autograde.tar, as Autolab's Tango does) on the solution's handin
(95) and on the handout's stubs (0); simulate(handin_tar, bundle) is one such run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import namedtuple
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUTOGRADER = ROOT / "autograder" / "hw1_autograder"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(AUTOGRADER))

import course  # noqa: E402
import make_handout  # noqa: E402

SERVER_SET = "server"
NOT_SHIPPED = ("train.py", "test.py")  # the training-statistics script and its alias: students run them, not servers
ASSESSMENT = "hw1p1"
AUTOGRADE_TIMEOUT = int(course.TIME_BUDGET) + 180  # seconds Autolab allows one job: the budget, start-up, unpacking
SETUP_CFG = """\
# Copied into handin/ by the course's autograde-Makefile (cp autograde/setup.cfg handin/setup.cfg).
# The autograder reads nothing from it; it only keeps a pytest run inside handin/ from collecting the handin.
[tool:pytest]
testpaths =
"""
# The course's Makefile, as Autolab's assessment has it: Tango copies it in as Makefile and runs `make`.
AUTOGRADE_MAKEFILE = """\
all:
\tmkdir handin
\ttar -xf handin.tar -C handin
\ttar -xf autograde.tar
\tcp autograde/setup.cfg handin/setup.cfg
\tAUTOLAB=1 python3 autograde/runner.py --module-path=handin/
"""

Run = namedtuple("Run", "scores output returncode")


def server_files():
    """[(relative path in the bundle, source Path)]: the grader's modules (flat) and the server reference set."""
    modules = sorted(path for path in AUTOGRADER.glob("*.py") if path.name not in NOT_SHIPPED)
    reference_dir = AUTOGRADER / "references" / SERVER_SET
    if not (reference_dir / "MANIFEST.json").is_file():
        raise FileNotFoundError(
            f"{reference_dir} has no MANIFEST.json: generate the server set first "
            f"(python3 tools/make_references.py --set {SERVER_SET})."
        )
    references = sorted(path for path in reference_dir.iterdir() if path.is_file())
    return [(path.name, path) for path in modules] + [
        (f"references/{SERVER_SET}/{path.name}", path) for path in references
    ]


def stage(folder, extra=None):
    """Copy server_files() (and extra {relative path: text}) into folder, with plain 0o644 permissions."""
    folder = Path(folder)
    for relative, source in server_files():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / relative)
    for relative, text in (extra or {}).items():
        (folder / relative).write_text(text, encoding="utf-8")
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def assessment_yaml():
    """hw1p1.yml: the assessment's problems in the course's order (names quoted as JSON strings, valid YAML)."""
    lines = [
        "---",
        "general:",
        f"  name: {ASSESSMENT}",
        f"  display_name: {json.dumps(course.HOMEWORK)}",
        "  handin_filename: handin.tar",
        "  max_submissions: -1",
        "problems:",
    ]
    for name, points in course.problems():
        lines += [f"- name: {json.dumps(name)}", "  description: ''", f"  max_score: {points}", "  optional: false"]
    lines += [
        "autograder:",
        f"  autograde_timeout: {AUTOGRADE_TIMEOUT}",
        "  autograde_image: autograding_image",
        "  release_score: true",
    ]
    return "\n".join(lines) + "\n"


def build(out=ROOT / "dist" / "autolab"):
    """Write autograde.tar, autograde-Makefile and hw1p1.yml into out (replaced); returns out."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="mytorch-autolab-") as scratch:
        tree = Path(scratch) / "autograde"
        tree.mkdir()
        stage(tree, {"setup.cfg": SETUP_CFG})
        make_handout.write_tar(tree, out / "autograde.tar", arcname="autograde")
    (out / "autograde-Makefile").write_text(AUTOGRADE_MAKEFILE, encoding="utf-8")
    (out / f"{ASSESSMENT}.yml").write_text(assessment_yaml(), encoding="utf-8")
    return out


# --- the release step: the Makefile run literally ---------------------------------------------------------------------


def simulate(handin_tar, bundle=ROOT / "dist" / "autolab", timeout=600):
    """Run(scores or None, output, make's exit status) of `make -f autograde-Makefile` in a fresh folder holding
    handin.tar and autograde.tar, with `python3` resolving to this interpreter. scores come from the last line of
    the combined output, as Autolab reads it (None if that line is not a scores line)."""
    bundle = Path(bundle)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    # Autolab runs make at top level. Under `make release` these variables would make the inner make print
    # "Leaving directory ..." after the scores line, which Autolab would then read as the last line.
    for name in ("AUTOLAB", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="mytorch-autolab-job-") as job:
        shutil.copyfile(handin_tar, Path(job) / "handin.tar")
        shutil.copyfile(bundle / "autograde.tar", Path(job) / "autograde.tar")
        shutil.copyfile(bundle / "autograde-Makefile", Path(job) / "Makefile")
        completed = subprocess.run(
            ["make", "-f", "Makefile"],
            cwd=job,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    lines = completed.stdout.strip().splitlines()
    try:
        scores = json.loads(lines[-1])["scores"] if lines else None
    except (ValueError, KeyError, TypeError):
        scores = None
    return Run(scores, completed.stdout, completed.returncode)


def run_problems(run, expected_total, what):
    """What is wrong with one simulated run: it must end with a scores line naming every problem, summing to
    expected_total, and make must succeed."""
    names = [name for name, _ in course.problems()]
    if run.scores is None:
        return [f"{what}: the last line of the output is not a scores line:\n{run.output[-2000:]}"]
    problems = []
    if list(run.scores) != names:
        problems.append(f"{what}: the scores line names {sorted(run.scores)}; Autolab's problems are {names}")
    total = sum(run.scores.values())
    if total != expected_total:
        problems.append(f"{what}: scored {total}/{course.TOTAL}; expected {expected_total}:\n{run.output[-3000:]}")
    if run.returncode != 0:
        problems.append(f"{what}: make exited with status {run.returncode}")
    return problems


def make_tar(folder, tar_path):
    """handin.tar of folder's mytorch/ and hw1/, as create_tarball.sh makes it (no caches)."""
    with tarfile.open(tar_path, "w") as tar:
        for name in course.SUBMISSION_FOLDERS:
            tar.add(
                Path(folder) / name,
                arcname=name,
                filter=lambda info: None if "__pycache__" in info.name or info.name.endswith(".pyc") else info,
            )
    return tar_path


def check(bundle):
    """What is wrong with the bundle in folder bundle (rebuilt there): it must rebuild byte-identically, and the
    Makefile must give the solution full marks and the handout's stubs 0. [] when all is well."""
    bundle = build(bundle)
    first = {path.name: path.read_bytes() for path in bundle.iterdir()}
    build(bundle)
    problems = [
        f"{name} differs between two builds" for name, data in first.items() if (bundle / name).read_bytes() != data
    ]
    with tempfile.TemporaryDirectory(prefix="mytorch-autolab-release-") as scratch:
        handout = Path(scratch) / "handout"
        make_handout.build(handout)
        solution = make_tar(ROOT, Path(scratch) / "solution.tar")
        stubs = make_tar(handout, Path(scratch) / "stubs.tar")
        problems += run_problems(simulate(solution, bundle), course.TOTAL, "the solution's handin")
        problems += run_problems(simulate(stubs, bundle), 0, "the handout's stubs")
    return problems


def step_autolab(dist):
    """tools/release.py's step: (problems, summary) of check() on the bundle in dist."""
    return check(Path(dist) / "autolab"), (
        f"dist/autolab/ rebuilds byte-identically; the course's Makefile gives the "
        f"solution {course.TOTAL}/{course.TOTAL} and the handout 0"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=f"Write the Autolab bundle (autograde.tar, autograde-Makefile, {ASSESSMENT}.yml)."
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "autolab", help="default: dist/autolab")
    parser.add_argument("--check", action="store_true", help="also run the Makefile on the solution and the handout")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for problem in problems:
            print(f"make_autolab: {problem}", file=sys.stderr)
        if problems:
            return 1
    else:
        build(args.out)
    print(
        f"make_autolab: {args.out}/ holds autograde.tar, autograde-Makefile and {ASSESSMENT}.yml "
        f"({len(course.problems())} problems, {course.TOTAL} points)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
