"""Generate the student handout from the solution:  dist/handout/  and  dist/handout.tar.

    python3 tools/make_handout.py                 # from anywhere; writes <repo>/dist/
    python3 tools/make_handout.py --out DIR       # the handout tree in DIR, the tar beside it (DIR.tar)

The solution is the one source of truth.  Every body a student writes is marked in mytorch/ and hw1/:

        # BEGIN SOLUTION task 3.4.2: Linear.backward
        ...the solution...
        # END SOLUTION

and the handout replaces each marked block, markers included, by a stub generated from the marker, at the
marker's indentation:

        raise NotImplementedError("Task 3.4.2: implement Linear.backward — see the writeup section 3.4.2")

In hw1/mc.py the stub is `return None` (an unanswered question).  Signatures, docstrings and the code outside
the markers (input checks, bookkeeping) stay as they are.

The handout is an allow-list (HANDOUT_PATHS): anything not named there stays with the instructor, so a new
instructor-only file can never leak by default.  Left out on purpose: tools/ (the reference oracle and this
script), tests/ (the project's own tests hold the solution's expectations), bench/, .ci/, and examples/ and
experiments/ (their notebooks and scripts drive the finished hw1, so in a fresh handout they would only raise
NotImplementedError, and executed notebooks carry outputs computed by the solution).

A malformed or unbalanced marker, a marker left anywhere in the handout, or a generated file that does not
compile is an error naming the file and line.
"""

import argparse
import fnmatch
import re
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a student receives, relative to the repository root.
HANDOUT_PATHS = ["mytorch", "hw1", "autograder", "data", "create_tarball.sh", "setup.py"]
# Every .py file under these has its marked blocks replaced by stubs.
STUBBED_DIRS = ["mytorch", "hw1"]
# Files whose stubs answer `return None` instead of raising (multiple choice).
ANSWER_FILES = ["hw1/mc.py"]
# Never copied: caches, build products and the instructor's own training outputs (as in .gitignore).
EXCLUDED = ["__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "*.egg-info", "hw1/*.png", "hw1/*.csv",
            "handin.tar", "results.json",
            "autograder/hw1_autograder/references/server/*"]  # the server set never reaches students
README_TEMPLATE = ROOT / "tools" / "handout_README.md"
TASKS_PLACEHOLDER = "<!-- TASKS -->"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION task (?P<task>[A-Za-z0-9][\w.]*): (?P<name>\S.*?)\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
ANY_MARKER = re.compile(r"\b(BEGIN|END) SOLUTION\b")
WRITEUP_SECTION = re.compile(r"^\d+(\.\d+)*$")


class MarkerError(ValueError):
    """A solution marker is missing, unbalanced or malformed; the message names the file and line."""


@dataclass
class Block:
    """One marked solution body: lines first..last (1-based, markers included) of path."""

    path: str
    first: int
    last: int
    indent: str
    task: str
    name: str


def stub_message(task, name):
    """The NotImplementedError text for a task: it names the task and where to read about it."""
    if WRITEUP_SECTION.match(task):
        where = f"see the writeup section {task}"
    else:  # an exercise beyond the writeup (e.g. E02), described in the handout's README
        where = f"see exercise {task} in README.md"
    return f"Task {task}: implement {name} — {where}"


def stub_lines(block, answer):
    if answer:
        return [f'{block.indent}return None  # Task {block.task}: {block.name} — answer with one lower-case letter\n']
    return [f"{block.indent}raise NotImplementedError({stub_message(block.task, block.name)!r})\n"]


def find_blocks(lines, path):
    """The marked blocks of a file, in order.  Raises MarkerError (file:line) on any malformed marker."""
    blocks, open_block = [], None
    for number, line in enumerate(lines, start=1):
        if not ANY_MARKER.search(line):
            continue
        where = f"{path}:{number}"
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_block:
                raise MarkerError(f"{where}: BEGIN SOLUTION inside the block opened at line {open_block.first}; "
                                  "blocks cannot nest: close it with '# END SOLUTION' first.")
            open_block = Block(path, number, 0, begin["indent"], begin["task"], begin["name"])
        elif end:
            if not open_block:
                raise MarkerError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it.")
            if end["indent"] != open_block.indent:
                raise MarkerError(f"{where}: END SOLUTION is indented differently from its BEGIN SOLUTION at line "
                                  f"{open_block.first}; put both at the indentation of the code they enclose.")
            open_block.last = number
            blocks.append(open_block)
            open_block = None
        else:
            raise MarkerError(f"{where}: malformed marker {line.strip()!r}; expected '# BEGIN SOLUTION task <id>: "
                              "<name>' (for example '# BEGIN SOLUTION task 3.4.2: Linear.backward') or "
                              "'# END SOLUTION', alone on its line.")
    if open_block:
        raise MarkerError(f"{path}:{open_block.first}: BEGIN SOLUTION task {open_block.task} is never closed; "
                          "add '# END SOLUTION' after the solution body.")
    return blocks


def strip_solutions(text, path, answer=False):
    """(handout text, blocks): every marked block of text replaced by its stub."""
    lines = text.splitlines(keepends=True)
    blocks = find_blocks(lines, path)
    for block in reversed(blocks):  # from the bottom up, so earlier line numbers stay valid
        lines[block.first - 1:block.last] = stub_lines(block, answer)
    return "".join(lines), blocks


def solution_blocks(root=ROOT):
    """{relative path: (source lines, blocks)} for every file the handout stubs."""
    found = {}
    for directory in STUBBED_DIRS:
        for path in sorted((root / directory).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if _excluded(relative):
                continue
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            found[relative] = (lines, find_blocks(lines, relative))
    return found


def _excluded(relative):
    parts = relative.split("/")
    return any(fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts)
               for pattern in EXCLUDED)


def _copy_tree(root, out, skip):
    """Copy the allow-listed paths from root to out, except the relative paths in skip."""
    for name in HANDOUT_PATHS:
        source = root / name
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing, but the handout needs it "
                                    f"(HANDOUT_PATHS in {Path(__file__).name}).")
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in files:
            relative = path.relative_to(root).as_posix()
            if _excluded(relative) or relative in skip:
                continue
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out / relative)


def _task_order(block):
    """Writeup sections in numeric order (2.1 < 3.1.1 < 3.10), then exercises such as E02."""
    if WRITEUP_SECTION.match(block.task):
        return (0, tuple(int(part) for part in block.task.split(".")), "")
    return (1, (), block.task)


def _task_table(blocks):
    rows = ["| Task | Implement | File |", "| --- | --- | --- |"]
    for block in sorted(blocks, key=_task_order):
        rows.append(f"| {block.task} | `{block.name}` | `{block.path}` |")
    return "\n".join(rows)


def _check_no_markers(out):
    """No file of the handout may still hold a marker (bytes search: also catches data and text alike)."""
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for token in (b"BEGIN SOLUTION", b"END SOLUTION"):
            at = data.find(token)
            if at >= 0:
                line = data.count(b"\n", 0, at) + 1
                raise MarkerError(f"{path.relative_to(out).as_posix()}:{line}: the handout still contains "
                                  f"'{token.decode()}' after processing; only mytorch/ and hw1/ are stubbed.")


def _safe_to_replace(out, root):
    out, root = out.resolve(), root.resolve()
    if out == root or out in root.parents or (out / ".git").exists():
        raise ValueError(f"refusing to write the handout into {out}: it is (or contains) the "
                         "repository. Pass --out with a new directory such as dist/handout.")


def build(out, root=ROOT):
    """Write the handout tree into out (replaced if present).  Returns the list of stubbed blocks."""
    root, out = Path(root), Path(out)
    _safe_to_replace(out, root)
    # Generate and compile every stubbed file before writing anything: an error leaves no half-made handout,
    # and the solution versions of these files are never copied, not even for a moment.
    stubbed, blocks = {}, []
    for relative, (lines, file_blocks) in solution_blocks(root).items():
        text, _ = strip_solutions("".join(lines), relative, answer=relative in ANSWER_FILES)
        compile(text, relative, "exec")  # a SyntaxError names the generated file and line
        stubbed[relative] = text
        blocks.extend(file_blocks)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _copy_tree(root, out, skip=set(stubbed))
    for relative, text in stubbed.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text, encoding="utf-8")
    readme = README_TEMPLATE.read_text(encoding="utf-8")
    if TASKS_PLACEHOLDER not in readme:
        raise ValueError(f"{README_TEMPLATE}: the template lost its {TASKS_PLACEHOLDER} line (the task table).")
    (out / "README.md").write_text(readme.replace(TASKS_PLACEHOLDER, _task_table(blocks)), encoding="utf-8")
    _check_no_markers(out)
    return blocks


REPRODUCIBLE_MTIME = 315532800  # 1980-01-01, as the reference .npz files: the same tree gives the same bytes


def reproducible(info):
    """A tar member with no instructor user or group names, a fixed time and plain permissions."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = REPRODUCIBLE_MTIME
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    return info


def write_tar(out, tar_path, arcname="handout"):
    """tar of the tree under a top-level folder, byte-identical for identical trees (sorted members, fixed times
    and owners)."""
    with open(tar_path, "wb") as stream, tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(out, arcname=arcname, filter=reproducible)  # tarfile.add walks folders in sorted order


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the student handout (stubs from the solution markers).")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "handout",
                        help="handout directory (default: dist/handout); the tar is written beside it")
    args = parser.parse_args(argv)
    try:
        blocks = build(args.out)
    except (MarkerError, SyntaxError, FileNotFoundError, ValueError) as error:
        print(f"make_handout: {error}", file=sys.stderr)
        return 1
    tar_path = args.out.with_suffix(".tar")
    write_tar(args.out, tar_path)
    files = len({block.path for block in blocks})
    print(f"make_handout: {len(blocks)} solution blocks stubbed in {files} files -> {args.out}/ and {tar_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
