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
the markers (input checks, bookkeeping) stay as they are, except for three smaller marks on text that only the
solution keeps:

  - in any .py file, a docstring section whose heading line ends with "(solution only):".  The heading and the
    lines below it indented deeper (its body) are dropped: shapes and conventions stay, derivations go.

        def fold_batchnorm(mlp):
            \"\"\"A new MLP without BatchNorm whose eval-mode forward equals mlp's eval-mode forward.

            Derivation (solution only):
                In eval mode BatchNorm is affine: ...

            mlp is left untouched.
            \"\"\"

  - in a notebook (examples/*.ipynb), a cell tagged "solution-only" (the cell's metadata "tags").  Every
    output and execution count is cleared too, so nothing computed by the solution reaches students;
  - in a Markdown file, the lines from "<!-- solution only -->" to "<!-- end solution only -->".

The handout is an allow-list (HANDOUT_PATHS): anything not named there stays with the instructor, so a new
instructor-only file can never leak by default.  Left out on purpose: tools/ (the reference oracle and this
script), tests/ (the project's own tests hold the solution's expectations), bench/ and .ci/.  The handout's
setup.py is tools/handout_setup.py (HANDOUT_SOURCES: numpy, and extras without the oracle's PyTorch), and its
README is tools/handout_README.md with the task table generated from the markers.

A malformed or unbalanced mark, a mark left anywhere in the handout, or a generated file that does not compile
is an error naming the file and line.  tools/handout_checks.py checks the built handout further (every file it
names exists; its notebooks stop at the first missing task, and run once the solution is back).
"""

import argparse
import fnmatch
import json
import re
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "autograder" / "hw1_autograder"))
import course  # noqa: E402  (the totals the handout README states)

# What a student receives, relative to the repository root.
HANDOUT_PATHS = ["mytorch", "hw1", "autograder", "data", "examples", "experiments", "create_tarball.sh"]
# Handout files written from a handout-only source instead of the repository's own file: {handout path: source}.
HANDOUT_SOURCES = {"setup.py": "tools/handout_setup.py"}
# Every .py file under these has its marked blocks replaced by stubs.
STUBBED_DIRS = ["mytorch", "hw1"]
# Files whose stubs answer `return None` instead of raising (multiple choice).
ANSWER_FILES = ["hw1/mc.py"]
# Never copied: caches, build products and the instructor's own training outputs (as in .gitignore).
EXCLUDED = [
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".hypothesis",
    "*.egg-info",
    ".ipynb_checkpoints",
    "hw1/*.png",
    "hw1/*.csv",
    "handin.tar",
    "results.json",
    "autograder/hw1_autograder/references/server/*",  # the server set never reaches students
    "autograder/hw1_autograder/references/*/MANIFEST.md",
]  # the instructors' key-by-key documentation
README_TEMPLATE = ROOT / "tools" / "handout_README.md"
TASKS_PLACEHOLDER = "<!-- TASKS -->"  # the README's task table, generated from the markers
NOTEBOOKS_PLACEHOLDER = "<!-- NOTEBOOKS -->"  # its table of notebooks, from their first cells

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION task (?P<task>[A-Za-z0-9][\w.]*): (?P<name>\S.*?)\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION\s*$")
ANY_MARKER = re.compile(r"\b(BEGIN|END) SOLUTION\b")
WRITEUP_SECTION = re.compile(r"^\d+(\.\d+)*$")
# The heading of a docstring section only the solution keeps: words alone on their line (never a line of code).
SECTION = re.compile(r"^[ \t]*[A-Za-z][\w ,'-]*\(solution only\):[ \t]*$")
NOTEBOOK_TAG = "solution-only"
MARKDOWN_BEGIN, MARKDOWN_END = "<!-- solution only -->", "<!-- end solution only -->"
# A notebook's first cell lists the tasks it needs on one line:  **Tasks needed:** 3.4, 3.3 and E02 (...).
TASKS_NEEDED = re.compile(r"^\*\*Tasks needed:\*\*(?P<tasks>.*)$", re.MULTILINE)
TASK_ID = re.compile(r"(?<![\w.])(\d+(?:\.\d+)*|E\d+)(?![\w.]*\w)")
# No file of the handout may contain these after processing (a mark the processing missed).
LEFTOVER_MARKS = (b"BEGIN SOLUTION", b"END SOLUTION", b"solution only", NOTEBOOK_TAG.encode())


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
        return [f"{block.indent}return None  # Task {block.task}: {block.name} — answer with one lower-case letter\n"]
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
                raise MarkerError(
                    f"{where}: BEGIN SOLUTION inside the block opened at line {open_block.first}; "
                    "blocks cannot nest: close it with '# END SOLUTION' first."
                )
            open_block = Block(path, number, 0, begin["indent"], begin["task"], begin["name"])
        elif end:
            if not open_block:
                raise MarkerError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it.")
            if end["indent"] != open_block.indent:
                raise MarkerError(
                    f"{where}: END SOLUTION is indented differently from its BEGIN SOLUTION at line "
                    f"{open_block.first}; put both at the indentation of the code they enclose."
                )
            open_block.last = number
            blocks.append(open_block)
            open_block = None
        else:
            raise MarkerError(
                f"{where}: malformed marker {line.strip()!r}; expected '# BEGIN SOLUTION task <id>: "
                "<name>' (for example '# BEGIN SOLUTION task 3.4.2: Linear.backward') or "
                "'# END SOLUTION', alone on its line."
            )
    if open_block:
        raise MarkerError(
            f"{path}:{open_block.first}: BEGIN SOLUTION task {open_block.task} is never closed; "
            "add '# END SOLUTION' after the solution body."
        )
    return blocks


def _depth(line):
    return len(line) - len(line.lstrip(" \t"))


def find_sections(lines, path):
    """The solution-only docstring sections of a file, as 1-based line ranges (first, last) to delete.

    A section is its heading line (ending with "(solution only):") and the lines below it that are blank or
    indented deeper.  The range also takes the blank lines after the body; when the body is followed directly by
    a line no deeper than the heading (the closing quotes), it takes the blank line before the heading instead,
    so the text around the section keeps one blank line between paragraphs.  A heading with no deeper-indented
    line below it is a MarkerError (file:line): the paragraph meant to go would otherwise stay.
    """
    sections, i = [], 0
    while i < len(lines):
        if not SECTION.match(lines[i].rstrip("\r\n")):
            i += 1
            continue
        depth, end = _depth(lines[i]), i + 1
        while end < len(lines) and (not lines[end].strip() or _depth(lines[end]) > depth):
            end += 1
        body_end = end
        while body_end > i + 1 and not lines[body_end - 1].strip():
            body_end -= 1
        if body_end == i + 1:
            raise MarkerError(
                f"{path}:{i + 1}: {lines[i].strip()!r} starts a solution-only section, but no line "
                "below it is indented deeper; indent the text the handout must drop under the heading."
            )
        blank_before = i > 0 and not lines[i - 1].strip()
        first, last = i + 1, end  # 1-based, inclusive
        if end > body_end and not blank_before:
            last -= 1  # keep one blank line between the paragraphs around the section
        elif end == body_end and blank_before:
            first -= 1
        sections.append((first, last))
        i = end
    return sections


def strip_sections(text, path):
    """text without its solution-only docstring sections."""
    lines = text.splitlines(keepends=True)
    for first, last in reversed(find_sections(lines, path)):
        del lines[first - 1 : last]
    return "".join(lines)


def strip_solutions(text, path, answer=False):
    """(handout text, blocks): every marked block of text replaced by its stub and every solution-only docstring
    section dropped.  Errors name the solution's line numbers."""
    lines = text.splitlines(keepends=True)
    blocks = find_blocks(lines, path)
    edits = [(block.first, block.last, stub_lines(block, answer)) for block in blocks]
    for first, last in find_sections(lines, path):
        overlapping = [block for block in blocks if block.first <= last and first <= block.last]
        if any(not block.first <= first <= last <= block.last for block in overlapping):
            raise MarkerError(
                f"{path}:{first}: a solution-only section runs into the solution block at line "
                f"{overlapping[0].first}; end the section before the block."
            )
        if not overlapping:  # a section inside a block goes with the block
            edits.append((first, last, []))
    for first, last, replacement in sorted(edits, key=lambda edit: edit[0], reverse=True):  # bottom up
        lines[first - 1 : last] = replacement
    return "".join(lines), blocks


def strip_markdown(text, path):
    """text without the lines from MARKDOWN_BEGIN to MARKDOWN_END, both included."""
    kept, opened = [], None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        mark = line.strip()
        if mark == MARKDOWN_BEGIN:
            if opened:
                raise MarkerError(f"{path}:{number}: {MARKDOWN_BEGIN} inside the one opened at line {opened}.")
            opened = number
        elif mark == MARKDOWN_END:
            if not opened:
                raise MarkerError(f"{path}:{number}: {MARKDOWN_END} without a {MARKDOWN_BEGIN} before it.")
            opened = None
        elif not opened:
            kept.append(line)
    if opened:
        raise MarkerError(f"{path}:{opened}: {MARKDOWN_BEGIN} is never closed; add {MARKDOWN_END} after the text.")
    return "".join(kept)


def handout_notebook(text, path):
    """A notebook as students get it: no cell tagged NOTEBOOK_TAG, no outputs, no execution counts."""
    try:
        notebook = json.loads(text)
    except ValueError as error:
        raise MarkerError(f"{path}: not a readable notebook ({error}).") from None
    cells = []
    for cell in notebook.get("cells", []):
        if NOTEBOOK_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)  # the timings of someone's run
        cells.append(cell)
    notebook["cells"] = cells
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"  # nbformat's own layout


def notebook_tasks(notebook):
    """The task ids a notebook's first cell lists after "**Tasks needed:**", or None if it has no such line."""
    cells = notebook.get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        return None
    match = TASKS_NEEDED.search("".join(cells[0].get("source", [])))
    return TASK_ID.findall(match["tasks"]) if match else None


def _notebook_table(texts):
    """The README's table of the handout's notebooks: link, the tasks each needs, its title."""
    rows = ["| Notebook | Tasks needed | What it does |", "| --- | --- | --- |"]
    for relative in sorted(path for path in texts if path.startswith("examples/") and path.endswith(".ipynb")):
        notebook = json.loads(texts[relative])
        tasks = notebook_tasks(notebook)
        if not tasks:
            raise MarkerError(
                f"{relative}: its first cell needs a line '**Tasks needed:** 3.4, 3.5, ...' naming the "
                "tasks it runs (the README's table of notebooks lists them)."
            )
        first = "".join(notebook["cells"][0]["source"]).splitlines()
        title = next((line[2:].strip() for line in first if line.startswith("# ")), Path(relative).stem)
        rows.append(f"| [`{relative}`]({relative}) | {', '.join(tasks)} | {title} |")
    return "\n".join(rows)


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
    return any(
        fnmatch.fnmatch(relative, pattern) or any(fnmatch.fnmatch(part, pattern) for part in parts)
        for pattern in EXCLUDED
    )


def handout_files(root=ROOT):
    """{handout relative path: source file} of every file the handout gets, except the generated README."""
    files = {}
    for name in HANDOUT_PATHS:
        source = root / name
        if not source.exists():
            raise FileNotFoundError(
                f"{source} is missing, but the handout needs it (HANDOUT_PATHS in {Path(__file__).name})."
            )
        for path in [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            if not _excluded(relative):
                files[relative] = path
    for relative, source in HANDOUT_SOURCES.items():
        if not (root / source).is_file():
            raise FileNotFoundError(
                f"{root / source} is missing, but the handout's {relative} is made from it "
                f"(HANDOUT_SOURCES in {Path(__file__).name})."
            )
        files[relative] = root / source
    return files


def _handout_text(relative, source):
    """The handout's text of a file that is not stubbed, or None to copy it byte for byte (data, scripts)."""
    if source.suffix not in (".py", ".md", ".ipynb"):
        return None
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".md":
        return strip_markdown(text, relative)
    if source.suffix == ".ipynb":
        return handout_notebook(text, relative)
    text = strip_sections(text, relative)
    compile(text, relative, "exec")  # a SyntaxError names the generated file and line
    return text


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
    """No file of the handout may still hold a mark (bytes search: data and text alike)."""
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for token in LEFTOVER_MARKS:
            at = data.find(token)
            if at >= 0:
                line = data.count(b"\n", 0, at) + 1
                raise MarkerError(
                    f"{path.relative_to(out).as_posix()}:{line}: the handout still contains "
                    f"'{token.decode()}' after processing: blocks are stubbed only in mytorch/ and "
                    "hw1/, and a docstring section is dropped only when its heading line ends with "
                    "'(solution only):'."
                )


def _safe_to_replace(out, root):
    out, root = out.resolve(), root.resolve()
    if out == root or out in root.parents or (out / ".git").exists():
        raise ValueError(
            f"refusing to write the handout into {out}: it is (or contains) the "
            "repository. Pass --out with a new directory such as dist/handout."
        )


def build(out, root=ROOT):
    """Write the handout tree into out (replaced if present).  Returns the list of stubbed blocks."""
    root, out = Path(root), Path(out)
    _safe_to_replace(out, root)
    # Generate every file before writing anything: an error leaves no half-made handout, and the solution
    # versions of the stubbed files are never copied, not even for a moment.
    texts, blocks = {}, []
    for relative, (lines, file_blocks) in solution_blocks(root).items():
        text, _ = strip_solutions("".join(lines), relative, answer=relative in ANSWER_FILES)
        compile(text, relative, "exec")  # a SyntaxError names the generated file and line
        texts[relative] = text
        blocks.extend(file_blocks)
    sources = handout_files(root)
    for relative, source in sources.items():
        if relative not in texts:
            texts[relative] = _handout_text(relative, source)
    readme = README_TEMPLATE.read_text(encoding="utf-8")
    for placeholder, what in ((TASKS_PLACEHOLDER, "the task table"), (NOTEBOOKS_PLACEHOLDER, "the notebooks")):
        if placeholder not in readme:
            raise ValueError(f"{README_TEMPLATE}: the template lost its {placeholder} line ({what}).")
    readme = readme.replace(TASKS_PLACEHOLDER, _task_table(blocks))
    readme = readme.replace("{TOTAL}", str(course.TOTAL)).replace("{HAND_POINTS}", str(course.HAND_GRADED[1]))
    texts["README.md"] = readme.replace(NOTEBOOKS_PLACEHOLDER, _notebook_table(texts))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for relative, text in sorted(texts.items()):
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            shutil.copy2(sources[relative], out / relative)
            continue
        (out / relative).write_text(text, encoding="utf-8")
        if relative in sources:
            shutil.copymode(sources[relative], out / relative)
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
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "dist" / "handout",
        help="handout directory (default: dist/handout); the tar is written beside it",
    )
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
