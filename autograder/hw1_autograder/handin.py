"""Unpack a student's handin archive for grading, or reject it with a message that names the member and the rule.

    root = extract_handin("handin.tar", scratch)    # -> the folder holding mytorch/ and hw1/

This runs in the trusted grader process, on bytes anyone can upload: standard library only, never the student's code.
Every input either unpacks into `destination` or raises HandinError (never another exception, never a partial result
the caller should trust: on HandinError the caller deletes `destination`, which may hold what was written so far).

What a handin may hold (anything else is rejected):
- a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz, recognised by its first bytes, not its file name;
- regular files and folders only: no symbolic or hard links, devices, FIFOs or sparse files;
- relative names without '..', each name at most MAX_NAME_COMPONENT_BYTES, each path at most MAX_PATH_BYTES and
  MAX_DEPTH names deep, valid UTF-8 without control characters;
- each path once, and never both a file and a folder;
- at most MAX_MEMBERS members, each file at most MAX_MEMBER_BYTES, MAX_ARCHIVE_BYTES in all.

Files are created with O_EXCL | O_NOFOLLOW and fresh permissions (0o644 files, 0o755 folders; the archive's modes,
owners and times are ignored), and a path is checked to lie inside `destination` before anything is written to it.

How a bomb is stopped before it is paid for.  `tarfile` reads a GNU long-name or PAX payload with one
`read(size)`, where `size` comes from the header, so a 0.5 MB .tar.gz whose long-name header says 512 MB would
allocate 512 MB before any member is seen.  Two guards stop that, each enough on its own:
1. _LimitedStream, the decompressed bytes tarfile reads, refuses any read that would take the total past
   MAX_ARCHIVE_BYTES *before* reading (decompression is on demand, never more than asked for).
2. _CheckedTarInfo looks at each header before tarfile acts on it: an extended header (GNU 'L'/'K', PAX 'x'/'g')
   larger than MAX_EXTENDED_HEADER_BYTES, more than MAX_EXTENDED_HEADERS of them in front of one member, or a
   PAX payload that is not well-formed records (at most MAX_PAX_RECORDS, digit runs of at most MAX_DIGIT_RUN,
   no GNU sparse keys) is rejected before tarfile reads or parses it.  The last two keep tarfile's own PAX parsing
   linear: its `hdrcharset` search is quadratic in a run of digits (measured 3.6 s for 64 KB of them), and its GNU
   sparse 1.0 reader collects numbers until they run out.
"""

import bz2
import gzip
import lzma
import os
import re
import tarfile
import zlib

from course import SUBMISSION_FOLDERS

MAX_ARCHIVE_BYTES = 50 * 2**20  # the archive file, and separately everything decompressed from it
MAX_MEMBER_BYTES = 20 * 2**20  # one file
MAX_MEMBERS = 2000  # a handin holds a few dozen files
MAX_NAME_COMPONENT_BYTES = 255  # one file or folder name (NAME_MAX on Linux, macOS and Windows)
MAX_PATH_BYTES = 1024  # a whole member path; the scratch folder's path still fits in Linux's PATH_MAX 4096
MAX_DEPTH = 16  # names in a path: handin/mytorch/linear.py is 3; a tarred home folder is still < 16
MAX_EXTENDED_HEADER_BYTES = 64 * 2**10  # one GNU long-name/long-link or PAX payload (macOS tar puts xattrs there)
MAX_EXTENDED_HEADERS = 8  # extended headers in front of one member (tarfile handles each chain recursively)
MAX_PAX_RECORDS = 64  # records in one member's PAX headers (global ones included)
MAX_DIGIT_RUN = 64  # consecutive digits in a PAX payload (a time with nanoseconds has about 20)

MAKE_IT = "Make it with `sh create_tarball.sh` in your homework folder."

_CHUNK_BYTES = 2**20
_LONG_NAME_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_PAX_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_KINDS = (
    (tarfile.TarInfo.issym, "a symbolic link"),
    (tarfile.TarInfo.islnk, "a hard link"),
    (tarfile.TarInfo.isfifo, "a FIFO"),
    (tarfile.TarInfo.isdev, "a device file"),
    (tarfile.TarInfo.issparse, "a sparse file"),
)


class HandinError(Exception):
    """The archive cannot be graded safely; the message says which member and why (a student reads it)."""


def extract_handin(archive, destination):
    """Unpack `archive` into the folder `destination` (created if missing) and return the submission root.

    Raises HandinError, and nothing else, for any archive that breaks a rule or cannot be read.
    """
    archive, destination = os.fspath(archive), os.fspath(destination)
    _check_archive_file(archive)
    os.makedirs(destination, exist_ok=True)
    destination = os.path.realpath(destination)
    compression = None
    try:
        with open(archive, "rb") as raw:
            compression, source = _decompressed(raw, archive)
            with source:
                stream = _LimitedStream(source, MAX_ARCHIVE_BYTES)
                try:
                    tar = tarfile.TarFile(
                        fileobj=stream, mode="r", tarinfo=_CheckedTarInfo, encoding="utf-8", errors="surrogateescape"
                    )
                except tarfile.ReadError as error:
                    if str(error).startswith("zlib error"):  # tarfile's name for a zlib.error while reading a header
                        raise _damaged(archive, compression, error) from None
                    inside = f" is {compression} data, but what it holds" if compression else ""
                    raise HandinError(f"{archive}{inside} is not a readable tar archive ({error}). {MAKE_IT}") from None
                with tar:
                    _extract_members(tar, stream, destination, archive)
    except HandinError:
        raise
    except EOFError:
        raise HandinError(
            f"{archive} is cut short: its {compression or 'tar'} data ends early (an interrupted upload or "
            f"copy?). {MAKE_IT}"
        ) from None
    except (OSError, zlib.error, lzma.LZMAError, tarfile.TarError) as error:  # e.g. gzip.BadGzipFile, bz2's OSError
        raise _damaged(archive, compression, error) from None
    except Exception as error:  # noqa: BLE001 - hostile bytes may raise anything (ValueError, RecursionError, ...)
        raise HandinError(f"{archive} cannot be unpacked ({type(error).__name__}: {error}). {MAKE_IT}") from None
    return submission_root(destination)


def submission_root(folder):
    """The folder holding mytorch/ or hw1/: `folder` itself, or else its only subfolder's submission root."""
    for _ in range(MAX_DEPTH + 1):
        if any(os.path.isdir(os.path.join(folder, name)) for name in SUBMISSION_FOLDERS):
            return folder
        with os.scandir(folder) as entries:
            subfolders = [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
        if len(subfolders) != 1:
            return folder
        folder = subfolders[0]
    return folder


# --- reading the archive -------------------------------------------------------------------------------------------


def _check_archive_file(archive):
    if not os.path.exists(archive):
        raise HandinError(f"{archive} does not exist. {MAKE_IT}")
    if not os.path.isfile(archive):
        raise HandinError(f"{archive} is not a file. {MAKE_IT}")
    size = os.path.getsize(archive)
    if size == 0:
        raise HandinError(f"{archive} is empty (0 bytes). {MAKE_IT}")
    if size > MAX_ARCHIVE_BYTES:
        raise HandinError(
            f"{archive} is {_size(size)}; the limit is {_size(MAX_ARCHIVE_BYTES)}. A handin holds only "
            f"code and plots (did data or a virtual environment get in?). {MAKE_IT}"
        )


def _damaged(archive, compression, error):
    return HandinError(f"{archive} is damaged: its {compression or 'tar'} data cannot be read ({error}). {MAKE_IT}")


def _decompressed(raw, archive):
    """(name of the compression or None, a file object of the decompressed bytes), chosen by the first bytes."""
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return "gzip", gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return "bzip2", bz2.BZ2File(raw, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return "xz", lzma.LZMAFile(raw, "rb")
    if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise HandinError(f"{archive} is a zip file; the course takes a tar archive. {MAKE_IT}")
    return None, raw


class _LimitedStream:
    """The archive's decompressed bytes as tarfile reads them: forward only, never more than `limit` in total.

    A read that would take the total past the limit is refused before anything is read or allocated, because
    tarfile asks for a whole GNU long-name or PAX payload in one read(size).  `peek` lets _CheckedTarInfo look at
    a payload before tarfile parses it.  `member` names the last member seen, for messages.
    """

    def __init__(self, source, limit):
        self._source, self._limit = source, limit
        self._position = 0  # bytes handed out (tell())
        self._pending = b""  # bytes peeked and not yet handed out
        self.member = None
        self.extended_headers = 0  # extended headers in the chain being read (see _CheckedTarInfo)

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._limit - self._position + 1
        if self._position + size > self._limit:
            after = f" (after member {_shown(self.member)})" if self.member else ""
            raise HandinError(
                f"the archive unpacks to more than {_size(self._limit)}{after}. A handin holds only "
                f"code and plots (did data or a virtual environment get in?). {MAKE_IT}"
            )
        chunks = [self._pending[:size]]
        self._pending = self._pending[size:]
        count = len(chunks[0])
        while count < size:
            chunk = self._source.read(size - count)
            if not chunk:
                break
            chunks.append(chunk)
            count += len(chunk)
        self._position += count
        return b"".join(chunks)

    def peek(self, size):
        data = self.read(size)
        self._position -= len(data)
        self._pending = data + self._pending
        return data

    def tell(self):
        return self._position

    def seek(self, position, whence=os.SEEK_SET):
        if whence != os.SEEK_SET or position < self._position:
            near = f" (after member {_shown(self.member)})" if self.member else ""
            raise HandinError(f"the archive is damaged: a header points back into data already read{near}. {MAKE_IT}")
        while self._position < position:
            if not self.read(min(position - self._position, _CHUNK_BYTES)):
                break
        return self._position


class _CheckedTarInfo(tarfile.TarInfo):
    """tarfile's header reader, with each header checked before tarfile acts on it (see the module docstring).

    `_proc_member` is tarfile's documented hook for subclasses; `archive` is the TarFile, whose fileobj is the
    _LimitedStream.
    """

    def _proc_member(self, archive):
        stream = archive.fileobj
        where = f"at byte {self.offset} of the unpacked archive"
        if self.size < 0:
            raise HandinError(f"the archive is damaged: the header {where} gives a negative size. {MAKE_IT}")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise HandinError(
                f"member {_shown(self.name)} is a sparse file; a handin may hold only regular files and "
                f"folders. {MAKE_IT}"
            )
        if self.type not in _LONG_NAME_TYPES + _PAX_TYPES:
            return super()._proc_member(archive)
        kind = "GNU long-name" if self.type in _LONG_NAME_TYPES else "PAX"
        if self.size > MAX_EXTENDED_HEADER_BYTES:
            raise HandinError(
                f"the archive has a {kind} header of {_size(self.size)} {where}; the limit is "
                f"{_size(MAX_EXTENDED_HEADER_BYTES)} (and a path at most {MAX_PATH_BYTES} bytes). "
                f"{MAKE_IT}"
            )
        if stream.extended_headers >= MAX_EXTENDED_HEADERS:
            raise HandinError(
                f"the archive has more than {MAX_EXTENDED_HEADERS} extended headers in a row {where}. {MAKE_IT}"
            )
        if self.type in _PAX_TYPES:
            payload = stream.peek(self._block(self.size))
            previous = len(archive.pax_headers) if self.type == tarfile.XGLTYPE else 0
            _check_pax_payload(payload, previous, where)
        stream.extended_headers += 1
        try:
            return super()._proc_member(archive)
        finally:
            stream.extended_headers -= 1


def _check_pax_payload(payload, previous, where):
    """PAX records are "LENGTH KEYWORD=VALUE\\n", back to back until NUL padding; check them as tarfile will read
    them, so that its parsing stays linear and bounded.  `previous` counts global records already in force."""
    problem, position, keywords = None, 0, []
    digits = re.search(rb"[0-9]{%d}" % (MAX_DIGIT_RUN + 1), payload)
    if digits:
        problem = f"a run of more than {MAX_DIGIT_RUN} digits"
    while not problem and position < len(payload) and payload[position] != 0:
        space = payload.find(b" ", position, position + 21)
        length = int(payload[position:space]) if space > position and payload[position:space].isdigit() else 0
        record = payload[space + 1 : position + length]
        if (
            length <= space - position + 3
            or position + length > len(payload)
            or not record.endswith(b"\n")
            or record.find(b"=") < 1
        ):
            problem = f"a malformed record at offset {position}"
            break
        keywords.append(record[: record.find(b"=")])
        position += length
    if not problem and len(keywords) + previous > MAX_PAX_RECORDS:
        problem = f"{len(keywords) + previous} records; the limit is {MAX_PAX_RECORDS}"
    if problem:
        raise HandinError(f"the archive's PAX header {where} has {problem}. {MAKE_IT}")
    if any(keyword.startswith(b"GNU.sparse.") for keyword in keywords):
        raise HandinError(
            f"the archive holds a sparse file (PAX header {where}); a handin may hold only regular "
            f"files and folders. {MAKE_IT}"
        )


# --- writing the members -------------------------------------------------------------------------------------------


def _extract_members(tar, stream, destination, archive):
    """Check each member as it is read, then write it; raises HandinError at the first member that breaks a rule."""
    kinds = {}  # path ("mytorch/linear.py") -> "file" or "folder", for duplicates and file/folder clashes
    members = total = files = 0
    while True:
        member = tar.next()
        if member is None:
            break
        tar.members.clear()  # tarfile keeps every TarInfo; this pass needs none of them again
        stream.member = member.name
        members += 1
        if members > MAX_MEMBERS:
            raise HandinError(
                f"the archive has more than {MAX_MEMBERS} members (at member {_shown(member.name)}); "
                f"a handin holds a few dozen files (did data or a virtual environment get in?). "
                f"{MAKE_IT}"
            )
        parts = _checked_parts(member)
        _record_kind(kinds, parts, member)
        if member.isdir():
            _make_folders(destination, parts)
            continue
        total += member.size
        if total > MAX_ARCHIVE_BYTES:
            raise HandinError(
                f"the archive unpacks to more than {_size(MAX_ARCHIVE_BYTES)} (at member "
                f"{_shown(member.name)}). A handin holds only code and plots (did data or a virtual "
                f"environment get in?). {MAKE_IT}"
            )
        _make_folders(destination, parts[:-1])
        _write_file(destination, parts, member, stream)
        files += 1
    if not files:
        raise HandinError(f"{archive} holds no files. {MAKE_IT}")


def _checked_parts(member):
    """The member's path as a list of names ("./a//b" -> ["a", "b"]); HandinError if it breaks a rule."""
    name, shown = member.name, _shown(member.name)
    for test, kind in _KINDS:
        if test(member):
            break
    else:
        kind = None if member.isfile() or member.isdir() else "not a regular file or folder"
    if kind:
        raise HandinError(f"member {shown} is {kind}; a handin may hold only regular files and folders. {MAKE_IT}")
    if any(ord(character) < 32 or ord(character) == 127 for character in name):
        raise HandinError(f"member {shown} has a control character in its name; rename it. {MAKE_IT}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise HandinError(f"member {shown} has a name that is not valid UTF-8; rename it. {MAKE_IT}") from None
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise HandinError(
            f"member {shown} has an absolute path; members must be relative (mytorch/..., hw1/...). {MAKE_IT}"
        )
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise HandinError(f"member {shown} contains '..'; members must stay inside the archive's folder. {MAKE_IT}")
    if size > MAX_PATH_BYTES:
        raise HandinError(
            f"member {shown} has a path of {size} bytes; the limit is {MAX_PATH_BYTES}. Move the "
            f"file somewhere shorter. {MAKE_IT}"
        )
    if len(parts) > MAX_DEPTH:
        raise HandinError(f"member {shown} is {len(parts)} names deep; the limit is {MAX_DEPTH}. {MAKE_IT}")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_NAME_COMPONENT_BYTES:
            raise HandinError(
                f"member {shown} has a name of {len(part.encode('utf-8'))} bytes ({_shown(part)}); "
                f"the limit is {MAX_NAME_COMPONENT_BYTES} bytes per file or folder name. Rename it. "
                f"{MAKE_IT}"
            )
    if member.size < 0:
        raise HandinError(f"member {shown} has a negative size; the archive is damaged. {MAKE_IT}")
    if not parts and not member.isdir():
        raise HandinError(f"member {shown} has no file name. {MAKE_IT}")
    if member.isfile() and member.size > MAX_MEMBER_BYTES:
        raise HandinError(
            f"member {shown} is {_size(member.size)}; the limit is {_size(MAX_MEMBER_BYTES)} per file. "
            f"A handin holds only code and plots. {MAKE_IT}"
        )
    if len(member.pax_headers) > MAX_PAX_RECORDS:
        raise HandinError(
            f"member {shown} has {len(member.pax_headers)} PAX records; the limit is {MAX_PAX_RECORDS}. {MAKE_IT}"
        )
    return parts


def _record_kind(kinds, parts, member):
    """Remember what each path is; HandinError for a second file of one name, or a file and a folder of one name."""
    shown = _shown(member.name)
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if kinds.setdefault(folder, "folder") == "file":
            raise HandinError(
                f"member {shown} needs {_shown(folder)} to be a folder, but the archive already holds a "
                f"file of that name; a file and a folder cannot share a name. {MAKE_IT}"
            )
    if not parts:
        return
    path, kind = "/".join(parts), "folder" if member.isdir() else "file"
    previous = kinds.get(path)
    kinds.setdefault(path, kind)
    if previous == "file" and kind == "file":
        raise HandinError(f"member {shown} appears twice in the archive. {MAKE_IT}")
    if previous and previous != kind:
        raise HandinError(
            f"member {shown} is a {kind}, but the archive already holds a {previous} of that name; a "
            f"file and a folder cannot share a name. {MAKE_IT}"
        )


def _make_folders(destination, parts):
    for depth in range(1, len(parts) + 1):
        folder = os.path.join(destination, *parts[:depth])
        try:
            os.mkdir(folder, 0o755)
        except FileExistsError:
            if os.path.islink(folder) or not os.path.isdir(folder):
                raise HandinError(
                    f"{_shown('/'.join(parts[:depth]))} is a file and a folder in the archive. {MAKE_IT}"
                ) from None
        except OSError as error:
            raise HandinError(
                f"folder {_shown('/'.join(parts[:depth]))} cannot be created ({error.strerror}). {MAKE_IT}"
            ) from None


def _write_file(destination, parts, member, stream):
    """Copy the member's data, read straight from the stream, into a new file; nothing is ever overwritten."""
    target, shown = os.path.join(destination, *parts), _shown(member.name)
    folder = os.path.realpath(os.path.dirname(target))
    if os.path.commonpath([folder, destination]) != destination:
        raise HandinError(f"member {shown} would be written outside the grading folder. {MAKE_IT}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(target, flags, 0o644)
    except FileExistsError:
        raise HandinError(f"member {shown} appears twice in the archive. {MAKE_IT}") from None
    except OSError as error:
        raise HandinError(f"member {shown} cannot be written ({error.strerror}). {MAKE_IT}") from None
    with os.fdopen(descriptor, "wb") as out:
        stream.seek(member.offset_data)
        remaining = member.size
        while remaining > 0:
            chunk = stream.read(min(remaining, _CHUNK_BYTES))
            if not chunk:
                raise HandinError(
                    f"the archive ends in the middle of member {shown}: it is cut short (an "
                    f"interrupted upload or copy?). {MAKE_IT}"
                )
            try:
                out.write(chunk)
            except OSError as error:
                raise HandinError(f"member {shown} cannot be written ({error.strerror}). {MAKE_IT}") from None
            remaining -= len(chunk)


def _shown(name):
    """A name for a message: ASCII-safe, and at most 60 characters of it."""
    return ascii(name if len(name) <= 60 else name[:60] + "...")


def _size(count):
    """2**20 -> '1 MB', 1536 -> '1.5 KB', 300 -> '300 bytes'."""
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f}".rstrip("0").rstrip(".") + " " + unit
    return f"{count} bytes"
