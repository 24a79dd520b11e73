"""handin.extract_handin: an honest archive unpacks; every hostile one raises HandinError naming the member and the
rule, quickly and in little memory, and nothing is ever written outside the destination.

Each archive is built here, in tmp_path, with tarfile or (for headers tarfile refuses to write) by hand.
"""

import gzip
import io
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRADER = os.path.join(ROOT, "autograder", "hw1_autograder")
sys.path.insert(0, AUTOGRADER)

import handin
from handin import HandinError, extract_handin, submission_root

MB = 2**20
HONEST = {
    "mytorch/linear.py": b"class Linear:\n    pass\n",
    "mytorch/activation.py": b"x = 1\n",
    "hw1/hw1.py": b"class MLP:\n    pass\n",
    "hw1/train_loss.png": b"\x89PNG\r\n\x1a\n" + bytes(100),
}


# --- building archives ---------------------------------------------------------------------------------------------


def entry(name, data=b"x = 1\n", kind=tarfile.REGTYPE, linkname="", mode=0o644):
    """(TarInfo, data) for write_tar; data is bytes, or an int for that many zero bytes (streamed, not allocated)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    if kind == tarfile.REGTYPE:
        info.size = data if isinstance(data, int) else len(data)
    return info, (data if kind == tarfile.REGTYPE else None)


def folder(name):
    return entry(name, kind=tarfile.DIRTYPE, mode=0o755)


class Zeros(io.RawIOBase):
    """`size` zero bytes, made as they are read."""

    def __init__(self, size):
        self.left = size

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def write_tar(path, members, compression="", **options):
    with tarfile.open(path, "w:" + compression, **options) as tar:
        for info, data in members:
            source = None if data is None else Zeros(data) if isinstance(data, int) else io.BytesIO(data)
            tar.addfile(info, source)
    return path


def honest_members(prefix=""):
    members = [folder(prefix + "mytorch"), folder(prefix + "hw1")]
    return members + [entry(prefix + name, data) for name, data in HONEST.items()]


def raw_header(name, size, typeflag):
    """A 512-byte ustar header written by hand, claiming `size` bytes of data (tarfile never writes a lying one)."""
    header = bytearray(512)
    header[0 : len(name)] = name
    header[100:108], header[108:116], header[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    header[124:136], header[136:148] = b"%011o\0" % size, b"%011o\0" % 0
    header[148:156], header[156:157], header[257:265] = b" " * 8, typeflag, b"ustar\x0000"
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def raw_member(name, data):
    return raw_header(name, len(data), b"0") + data + bytes(-len(data) % 512)


END = bytes(1024)


def write_header_bomb(path, typeflag, claimed=512 * MB):
    """A .tar.gz of about 0.5 MB: an extended header of type `typeflag` claiming `claimed` bytes, followed by that
    many zero bytes and then an honest member.  The zeros are one 1 MB gzip member repeated (a gzip file may hold
    many), so building it costs milliseconds and no memory."""
    megabyte_of_zeros = gzip.compress(bytes(MB), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(raw_header(b"././@LongLink", claimed, typeflag)))
        out.writelines(megabyte_of_zeros for _ in range(claimed // MB))
        out.write(gzip.compress(raw_member(b"mytorch/linear.py", b"x = 1\n") + END))
    return path


def everything_under(folder, but=None):
    return sorted(str(path) for path in folder.rglob("*") if but is None or but not in path.parents and path != but)


def rejected(tmp_path, archive, *fragments):
    """Extract `archive` into tmp_path/out expecting HandinError with every fragment in its message; check nothing
    appeared outside tmp_path/out.  Returns the message."""
    destination = tmp_path / "out"
    before = everything_under(tmp_path.parent, but=destination)
    with pytest.raises(HandinError) as caught:
        extract_handin(str(archive), str(destination))
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert everything_under(tmp_path.parent, but=destination) == before
    return message


# --- honest archives -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_honest_archive_unpacks_with_its_top_level_as_submission_root(tmp_path, compression):
    archive = write_tar(tmp_path / f"handin.tar.{compression}", honest_members(), compression)
    destination = tmp_path / "out"
    root = extract_handin(str(archive), str(destination))
    assert root == str(destination.resolve())
    for name, data in HONEST.items():
        assert (destination / name).read_bytes() == data


def test_compression_is_recognised_by_content_not_by_name(tmp_path):
    archive = write_tar(tmp_path / "handin.tar", honest_members(), "gz")
    extract_handin(str(archive), str(tmp_path / "out"))
    assert (tmp_path / "out" / "hw1" / "hw1.py").read_bytes() == HONEST["hw1/hw1.py"]


def test_single_top_level_folder_is_descended_to_the_submission_root(tmp_path):
    archive = write_tar(
        tmp_path / "handin.tar", [folder("handin"), folder("handin/hw1p1")] + honest_members("handin/hw1p1/")
    )
    destination = tmp_path / "out"
    assert extract_handin(str(archive), str(destination)) == str((destination / "handin" / "hw1p1").resolve())
    assert submission_root(str(destination / "handin")) == str((destination / "handin" / "hw1p1").resolve())


def test_two_top_level_folders_without_mytorch_leave_the_top_level_as_root(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert submission_root(str(tmp_path)) == str(tmp_path)


def test_files_get_fresh_permissions_not_the_archives(tmp_path):
    archive = write_tar(tmp_path / "handin.tar", [entry("hw1/run.py", mode=0o4777), folder("mytorch")])
    os.chmod(archive, 0o644)
    umask = os.umask(0)
    os.umask(umask)
    extract_handin(str(archive), str(tmp_path / "out"))
    assert stat.S_IMODE((tmp_path / "out" / "hw1" / "run.py").stat().st_mode) == 0o644 & ~umask
    assert stat.S_IMODE((tmp_path / "out" / "hw1").stat().st_mode) == 0o755 & ~umask


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_names_within_the_limits_are_accepted_in_gnu_and_pax_format(tmp_path, tar_format):
    name = "hw1/" + "/".join(["d" * 200] * 4) + "/é.py"  # 813 bytes, 6 names deep: needs an extended header
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry(name)], format=tar_format)
    extract_handin(str(archive), str(tmp_path / "out"))
    assert (tmp_path / "out" / name).read_bytes() == b"x = 1\n"


@pytest.mark.skipif(not shutil.which("tar"), reason="no tar program")
@pytest.mark.parametrize("tar_format", ["gnu", "pax"])
def test_archive_made_by_the_tar_program_unpacks(tmp_path, tar_format):
    """As create_tarball.sh runs it, with a name over 100 bytes (GNU tar writes a long-name or PAX header)."""
    homework = tmp_path / "homework"
    long_name = "hw1/" + "plot_" * 30 + ".png"
    for name, data in {**HONEST, long_name: b"\x89PNG"}.items():
        (homework / name).parent.mkdir(parents=True, exist_ok=True)
        (homework / name).write_bytes(data)
    subprocess.run(
        ["tar", f"--format={tar_format}", "-czf", str(tmp_path / "handin.tar"), "mytorch", "hw1"],
        cwd=homework,
        check=True,
    )
    root = extract_handin(str(tmp_path / "handin.tar"), str(tmp_path / "out"))
    assert (tmp_path / "out" / long_name).read_bytes() == b"\x89PNG" and root == str((tmp_path / "out").resolve())


def test_global_pax_header_as_git_archive_writes_it_is_accepted(tmp_path):
    archive = write_tar(
        tmp_path / "handin.tar",
        honest_members(),
        format=tarfile.PAX_FORMAT,
        pax_headers={"comment": "3f786850e387550fdab836ed7e6dc881de23001b"},
    )
    extract_handin(str(archive), str(tmp_path / "out"))
    assert (tmp_path / "out" / "hw1" / "hw1.py").read_bytes() == HONEST["hw1/hw1.py"]


def test_a_repeated_folder_is_harmless(tmp_path):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [folder("hw1"), folder("./hw1/")])
    extract_handin(str(archive), str(tmp_path / "out"))


def test_limits_are_inclusive(tmp_path):
    deep = "/".join(["d"] * (handin.MAX_DEPTH - 1)) + "/x.py"
    wide = "hw1/" + "n" * handin.MAX_NAME_COMPONENT_BYTES
    members = honest_members() + [entry(deep), entry(wide), entry("hw1/big.bin", handin.MAX_MEMBER_BYTES)]
    archive = write_tar(tmp_path / "handin.tar.gz", members, "gz")
    extract_handin(str(archive), str(tmp_path / "out"))
    assert (tmp_path / "out" / "hw1" / "big.bin").stat().st_size == handin.MAX_MEMBER_BYTES


# --- names and paths -----------------------------------------------------------------------------------------------


def test_name_component_over_255_bytes_is_rejected(tmp_path):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry("mytorch/" + "a" * 300 + ".py")])
    message = rejected(
        tmp_path,
        archive,
        "has a name of 303 bytes",
        "the limit is 255 bytes per file or folder name",
        "'mytorch/aaaa",
        "...'",
        "create_tarball.sh",
    )
    assert len(message) < 400  # the 300-byte name is shown truncated


def test_path_over_1024_bytes_is_rejected(tmp_path):
    name = "mytorch/" + "/".join(["d" * 250] * 16) + "/x.py"  # about 4 KB
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry(name)])
    rejected(tmp_path, archive, f"has a path of {len(name)} bytes; the limit is 1024", "'mytorch/ddd")


def test_nesting_deeper_than_the_limit_is_rejected(tmp_path):
    name = "/".join(["d"] * handin.MAX_DEPTH) + "/x.py"
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry(name)])
    rejected(tmp_path, archive, f"is {handin.MAX_DEPTH + 1} names deep; the limit is {handin.MAX_DEPTH}", "'d/d/d")


@pytest.mark.parametrize(
    "name, rule",
    [
        ("/tmp/escaped-absolute.py", "has an absolute path"),
        ("C:/escaped.py", "has an absolute path"),
        ("mytorch/../../escaped.py", "contains '..'"),
        ("..\\escaped.py", "contains '..'"),
        ("mytorch/a\nb.py", "control character"),
    ],
)
def test_unsafe_names_are_rejected(tmp_path, name, rule):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry(name)])
    rejected(tmp_path, archive, f"member {name!a}", rule)
    assert not os.path.exists("/tmp/escaped-absolute.py") and not (tmp_path.parent / "escaped.py").exists()


def test_name_that_is_not_utf8_is_rejected(tmp_path):
    archive = write_tar(
        tmp_path / "handin.tar",
        honest_members() + [entry("mytorch/\xff.py")],
        format=tarfile.GNU_FORMAT,
        encoding="latin-1",
    )
    rejected(tmp_path, archive, "member 'mytorch/\\udcff.py'", "not valid UTF-8")


@pytest.mark.parametrize(
    "first, second, rule",
    [
        (entry("hw1/extra"), entry("hw1/extra/x.py"), "needs 'hw1/extra' to be a folder"),
        (entry("hw1/extra/x.py"), entry("hw1/extra"), "is a file, but the archive already holds a folder"),
        (folder("hw1/extra"), entry("hw1/extra"), "is a file, but the archive already holds a folder"),
        (entry("hw1/extra"), folder("hw1/extra"), "is a folder, but the archive already holds a file"),
    ],
)
def test_file_and_folder_of_the_same_name_are_rejected(tmp_path, first, second, rule):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [first, second])
    rejected(tmp_path, archive, f"member {second[0].name!a}", rule)


def test_duplicate_file_is_rejected(tmp_path):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [entry("hw1/mc.py"), entry("./hw1//mc.py")])
    rejected(tmp_path, archive, "member './hw1//mc.py' appears twice")


# --- kinds of member -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member, rule",
    [
        (entry("mytorch/link.py", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), "is a symbolic link"),
        (entry("mytorch/hard.py", kind=tarfile.LNKTYPE, linkname="mytorch/linear.py"), "is a hard link"),
        (entry("mytorch/pipe", kind=tarfile.FIFOTYPE), "is a FIFO"),
        (entry("mytorch/tty", kind=tarfile.CHRTYPE), "is a device file"),
        (entry("mytorch/disk", kind=tarfile.BLKTYPE), "is a device file"),
        (entry("mytorch/volume", kind=b"V"), "is not a regular file or folder"),
    ],
)
def test_links_devices_and_other_kinds_are_rejected(tmp_path, member, rule):
    archive = write_tar(tmp_path / "handin.tar", honest_members() + [member])
    rejected(tmp_path, archive, f"member {member[0].name!a} {rule}", "only regular files and folders")


def test_gnu_sparse_member_is_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(raw_header(b"mytorch/sparse.py", 0, b"S") + END)
    rejected(tmp_path, archive, "member 'mytorch/sparse.py' is a sparse file")


def pax_header(records):
    payload = b"".join(b"%d %s\n" % (len(record) + 2 + len(str(len(record) + 3)), record) for record in records)
    return raw_header(b"./PaxHeaders/x", len(payload), b"x") + payload + bytes(-len(payload) % 512)


def test_pax_sparse_member_is_rejected_before_tarfile_reads_its_map(tmp_path):
    archive = tmp_path / "handin.tar"
    sparse = pax_header([b"GNU.sparse.major=1", b"GNU.sparse.minor=0", b"GNU.sparse.name=mytorch/x.py"])
    archive.write_bytes(sparse + raw_header(b"mytorch/x.py", 512, b"0") + b"99999999999\n".ljust(512, b"1") + END)
    rejected(tmp_path, archive, "holds a sparse file", "only regular files and folders")


# --- sizes and counts ----------------------------------------------------------------------------------------------


def test_too_many_members_are_rejected(tmp_path):
    members = [entry(f"hw1/f{index}.py", b"") for index in range(handin.MAX_MEMBERS + 1)]
    archive = write_tar(tmp_path / "handin.tar.gz", members, "gz")
    rejected(tmp_path, archive, f"more than {handin.MAX_MEMBERS} members (at member 'hw1/f{handin.MAX_MEMBERS}.py')")


def test_oversized_member_is_rejected_before_its_data_is_written(tmp_path):
    archive = write_tar(tmp_path / "handin.tar.gz", honest_members() + [entry("hw1/data.npz", 21 * MB)], "gz")
    rejected(tmp_path, archive, "member 'hw1/data.npz' is 21 MB; the limit is 20 MB per file")
    assert not (tmp_path / "out" / "hw1" / "data.npz").exists()


def test_members_adding_past_the_archive_limit_are_rejected(tmp_path):
    members = honest_members() + [entry(f"hw1/part{index}.bin", 18 * MB) for index in range(3)]
    archive = write_tar(tmp_path / "handin.tar.gz", members, "gz")
    assert archive.stat().st_size < MB
    rejected(tmp_path, archive, "unpacks to more than 50 MB (at member 'hw1/part2.bin')")
    assert not (tmp_path / "out" / "hw1" / "part2.bin").exists()


def test_archive_file_over_the_limit_is_rejected_unread(tmp_path):
    archive = tmp_path / "handin.tar"
    with open(archive, "wb") as out:
        out.truncate(handin.MAX_ARCHIVE_BYTES + 1)
    rejected(tmp_path, archive, "is 50 MB; the limit is 50 MB", "did data or a virtual environment get in?")


# --- bombs: rejected in under a second and 100 MB -----------------------------------------------------------------

PROBE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import handin
if len(sys.argv) > 4:
    handin.MAX_EXTENDED_HEADER_BYTES = int(sys.argv[4])  # switch the header check off: the stream limit alone
scale = 1 if sys.platform == "darwin" else 1024
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
start = time.perf_counter()
try:
    handin.extract_handin(sys.argv[2], sys.argv[3])
    message = None
except handin.HandinError as error:
    message = str(error)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale - before
print(json.dumps({"seconds": seconds, "grown": grown, "message": message}))
"""


def probe(tmp_path, archive, *extra):
    """Extract in a fresh interpreter; its time, peak memory growth (bytes) and HandinError message."""
    pytest.importorskip("resource")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, AUTOGRADER, str(archive), str(tmp_path / "out"), *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "long-name": write_header_bomb(folder / "longname.tar.gz", b"L"),
        "pax": write_header_bomb(folder / "pax.tar.gz", b"x"),
    }


@pytest.mark.parametrize(
    "kind, rule", [("long-name", "GNU long-name header of 512 MB"), ("pax", "PAX header of 512 MB")]
)
def test_extended_header_bomb_is_rejected_fast_in_little_memory(tmp_path, bombs, kind, rule):
    assert bombs[kind].stat().st_size < MB
    outcome = probe(tmp_path, bombs[kind])
    assert outcome["message"] and rule in outcome["message"] and "the limit is 64 KB" in outcome["message"]
    assert outcome["seconds"] < 1.0 and outcome["grown"] < 100 * MB, outcome


@pytest.mark.parametrize("kind", ["long-name", "pax"])
def test_stream_limit_alone_stops_an_extended_header_bomb(tmp_path, bombs, kind):
    outcome = probe(tmp_path, bombs[kind], str(2**40))
    assert outcome["message"] and "the archive unpacks to more than 50 MB" in outcome["message"], outcome
    assert outcome["seconds"] < 1.0 and outcome["grown"] < 100 * MB, outcome


def test_pax_digit_run_that_makes_tarfile_quadratic_is_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(pax_header([b"comment=" + b"1" * 60000]) + raw_member(b"hw1/hw1.py", b"x = 1\n") + END)
    rejected(tmp_path, archive, "PAX header at byte 0 of the unpacked archive has a run of more than 64 digits")


def test_malformed_pax_records_are_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    payload = b"999 path=hw1/x.py\n"
    archive.write_bytes(
        raw_header(b"./PaxHeaders/x", len(payload), b"x")
        + payload.ljust(512, b"\0")
        + raw_member(b"hw1/hw1.py", b"x = 1\n")
        + END
    )
    rejected(tmp_path, archive, "PAX header at byte 0", "malformed record at offset 0")


def test_negative_size_from_a_pax_header_is_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(pax_header([b"size=-1000"]) + raw_member(b"hw1/hw1.py", b"x = 1\n") + END)
    rejected(tmp_path, archive, "member 'hw1/hw1.py' has a negative size")


def test_too_many_pax_records_are_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    records = [b"LIBARCHIVE.xattr.k%d=v" % index for index in range(handin.MAX_PAX_RECORDS + 1)]
    archive.write_bytes(pax_header(records) + raw_member(b"hw1/hw1.py", b"x = 1\n") + END)
    rejected(tmp_path, archive, f"{handin.MAX_PAX_RECORDS + 1} records; the limit is {handin.MAX_PAX_RECORDS}")


def test_long_chain_of_extended_headers_is_rejected(tmp_path):
    archive = tmp_path / "handin.tar"
    long_name = raw_header(b"././@LongLink", 11, b"L") + b"hw1/abc.py\0".ljust(512, b"\0")
    archive.write_bytes(long_name * (handin.MAX_EXTENDED_HEADERS + 1) + raw_member(b"hw1/x.py", b"") + END)
    rejected(tmp_path, archive, f"more than {handin.MAX_EXTENDED_HEADERS} extended headers in a row")


# --- files that are not (whole) archives ---------------------------------------------------------------------------


def test_missing_empty_and_folder_archives_are_rejected(tmp_path):
    rejected(tmp_path, tmp_path / "handin.tar", "handin.tar does not exist", "create_tarball.sh")
    (tmp_path / "handin.tar").write_bytes(b"")
    rejected(tmp_path, tmp_path / "handin.tar", "handin.tar is empty")
    rejected(tmp_path, tmp_path, "is not a file")


@pytest.mark.parametrize(
    "content, rule",
    [
        (b"def forward(self, x):\n    return x\n" * 20, "is not a readable tar archive"),
        (gzip.compress(b"not a tar\n" * 100), "is gzip data, but what it holds is not a readable tar archive"),
        (b"PK\x03\x04" + bytes(100), "is a zip file; the course takes a tar archive"),
        (END, "holds no files"),
    ],
)
def test_files_that_are_not_tar_archives_are_rejected(tmp_path, content, rule):
    archive = tmp_path / "handin.tar"
    archive.write_bytes(content)
    rejected(tmp_path, archive, rule, "create_tarball.sh")


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_truncated_archive_is_rejected_as_cut_short(tmp_path, compression):
    members = honest_members() + [entry("hw1/noise.bin", random.Random(0).randbytes(50000))]
    archive = write_tar(tmp_path / "handin.tar", members, compression)
    archive.write_bytes(archive.read_bytes()[:-20000])
    rejected(tmp_path, archive, "cut short")


def test_corrupt_gzip_is_rejected_as_damaged(tmp_path):
    archive = write_tar(
        tmp_path / "handin.tar", honest_members() + [entry("hw1/noise.bin", bytes(range(256)) * 200)], "gz"
    )
    data = bytearray(archive.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    archive.write_bytes(bytes(data))
    rejected(tmp_path, archive, "handin.tar is damaged", "create_tarball.sh")


@pytest.mark.parametrize("compression", ["", "gz"])
def test_any_corrupted_bytes_give_handin_error_or_a_clean_extraction(tmp_path, compression):
    """Random damage to an honest archive: each case either unpacks inside its folder or raises HandinError."""
    archive = write_tar(
        tmp_path / "base.tar",
        honest_members() + [entry("hw1/mc.py", b"answer = 'a'\n")],
        compression,
        format=tarfile.PAX_FORMAT,
    )
    original = archive.read_bytes()
    generator = random.Random(12)
    for case in range(150):
        data = bytearray(original)
        for _ in range(generator.randint(1, 8)):
            data[generator.randrange(len(data))] = generator.randrange(256)
        if generator.random() < 0.2:
            data = data[: generator.randrange(len(data))]
        (tmp_path / "case.tar").write_bytes(bytes(data))
        try:
            extract_handin(str(tmp_path / "case.tar"), str(tmp_path / "out" / str(case)))
        except HandinError as error:
            assert str(error)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["base.tar", "case.tar", "out"]
