"""The messages between the runner (trusted) and the worker (untrusted), over two pipes the runner owns.

A message is one frame: an 8-byte big-endian length, then a JSON header of that frame's length prefix, then the
arrays it names, each as the bytes np.save writes (loaded back with allow_pickle=False):

    frame   = length(8) header_length(4) header(JSON, UTF-8) array bytes ...
    header  = {"kind": ..., ..., "arrays": [[key, byte count], ...]}

The runner reads every frame with a deadline and a size cap, and treats anything malformed as the worker's
failure (ProtocolError), never its own: the worker runs the student's code and may send anything at all.
Standard library and numpy only (both sides import it).
"""

import io
import json
import os
import select
import struct
import time

import numpy as np

MAX_FRAME_BYTES = 64 * 2**20  # a test's inputs or outputs are a few MB at most

# The kinds of message. Runner -> worker: a test to run ({"program", "args", "needs", "time_limit"} and its inputs).
# Worker -> runner: READY once started; IMPORTING / IMPORTED / IMPORT_FAILED around each graded module's import
# (so a crash is attributed to the right file); RESULT with the emitted values and the student's error, if any.
RUN, READY, IMPORTING, IMPORTED, IMPORT_FAILED, RESULT = (
    "run",
    "ready",
    "importing",
    "imported",
    "import_failed",
    "result",
)
MAX_HEADER_BYTES = 2**20


class ProtocolError(Exception):
    """A frame that is malformed, too large, or cut short; the message says which."""


class Timeout(Exception):
    """No complete frame arrived before the deadline."""


class Closed(Exception):
    """The other side closed the pipe (the worker exited or crashed)."""


def encode(header, arrays=None):
    """One frame's bytes: header (a JSON-able dict) and arrays ({key: array-like})."""
    blobs, index = [], []
    for key, value in (arrays or {}).items():
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(value), allow_pickle=False)
        blobs.append(buffer.getvalue())
        index.append([key, len(blobs[-1])])
    text = json.dumps({**header, "arrays": index}).encode("utf-8")
    body = struct.pack(">I", len(text)) + text + b"".join(blobs)
    return struct.pack(">Q", len(body)) + body


def decode(body):
    """(header, {key: array}) from a frame's body; ProtocolError if it is not what encode() writes."""
    if len(body) < 4:
        raise ProtocolError("a frame shorter than its header length")
    (header_length,) = struct.unpack(">I", body[:4])
    if header_length > MAX_HEADER_BYTES or 4 + header_length > len(body):
        raise ProtocolError(f"a header length of {header_length} bytes does not fit the frame")
    try:
        header = json.loads(body[4 : 4 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"a header that is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise ProtocolError("a header that is not a JSON object with an array list")
    arrays, position = {}, 4 + header_length
    for entry in header.pop("arrays", []):
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], int)
            or entry[1] < 0
            or position + entry[1] > len(body)
        ):
            raise ProtocolError(f"an array entry {str(entry)[:80]!r} that does not fit the frame")
        key, size = entry
        try:
            arrays[key] = np.load(io.BytesIO(body[position : position + size]), allow_pickle=False)
        except Exception as error:  # noqa: BLE001 - any bytes at all may arrive here
            raise ProtocolError(f"array {key[:80]!r} is not an .npy array ({type(error).__name__})") from None
        position += size
    if position != len(body):
        raise ProtocolError(f"{len(body) - position} bytes after the last array")
    return header, arrays


def send(fd, header, arrays=None, deadline=None):
    """Write one frame to fd (blocking, or non-blocking with a deadline: Timeout if the reader stalls)."""
    data = memoryview(encode(header, arrays))
    while data:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                raise Timeout("the worker did not read its input in time")
        try:
            written = os.write(fd, data[:65536])
        except BlockingIOError:
            continue
        except (BrokenPipeError, OSError) as error:
            raise Closed(f"the pipe closed while writing ({error.strerror or error})") from None
        data = data[written:]


def receive(fd, deadline=None, limit=MAX_FRAME_BYTES):
    """Read one frame from fd: (header, arrays). Timeout past the deadline, Closed at end of file, ProtocolError
    for a frame larger than limit or malformed."""
    (length,) = struct.unpack(">Q", _read_exactly(fd, 8, deadline))
    if length > limit:
        raise ProtocolError(f"a reply of {length} bytes, over the {limit // 2**20} MB limit")
    return decode(_read_exactly(fd, length, deadline))


def _read_exactly(fd, count, deadline):
    chunks, remaining = [], count
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Timeout("no reply before the deadline")
        try:
            chunk = os.read(fd, min(remaining, 2**20))
        except BlockingIOError:
            continue
        if not chunk:
            raise Closed("end of file")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
