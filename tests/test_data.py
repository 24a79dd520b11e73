"""The dataset loaders (mytorch/data.py): the embedded MNIST subset, IDX folders and CSV files.

Expected values come from the files themselves: the tests write small IDX and CSV files with their own writer
(struct and plain text, not the code under test) or read the embedded .npz with np.load, and compare.
"""

import gzip
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from mytorch.data import EMBEDDED_PATH, load_dataset, load_mnist_5k, one_hot, read_csv, read_idx, split_stratified

# ---------------------------------------------------------------------------------------------------------------
# Independent writers for the test files.

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float64): 0x0E}


def write_idx(path, array):
    """Write array in the IDX format by hand: 0, 0, dtype code, ndim, big-endian uint32 sizes, big-endian values."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(payload)


def write_csv(path, images, labels, header=False):
    """Course format: label first, then the pixels, one example per line."""
    lines = ["label," + ",".join(f"pixel{i}" for i in range(images.shape[1]))] if header else []
    lines += [",".join(str(int(v)) for v in [label, *row]) for label, row in zip(labels, images)]
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def fake_digits(rng, per_class, classes=10):
    """(n, 28, 28) uint8 images and (n,) uint8 labels, per_class examples of each class in random order."""
    labels = rng.permutation(np.repeat(np.arange(classes), per_class)).astype(np.uint8)
    images = rng.integers(0, 256, size=(len(labels), 28, 28)).astype(np.uint8)
    return images, labels


def write_idx_folder(folder, rng, train_per_class=12, test_per_class=3, gz=False):
    suffix = ".gz" if gz else ""
    train_images, train_labels = fake_digits(rng, train_per_class)
    test_images, test_labels = fake_digits(rng, test_per_class)
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", train_images)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", train_labels)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", test_images)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", test_labels)
    return train_images, train_labels, test_images, test_labels


def npz_arrays(images, labels):
    """The six arrays of our .npz format, each split a copy of the same images (n, 784) and labels (n,)."""
    return {
        f"{split}_{kind}": value.copy()
        for split in ("train", "val", "test")
        for kind, value in (("images", images), ("labels", labels))
    }


def rows_as_set(x):
    return {row.tobytes() for row in x}


# ---------------------------------------------------------------------------------------------------------------
# The embedded data.


def test_embedded_data_matches_the_npz_and_is_scaled_and_one_hot():
    raw = np.load(EMBEDDED_PATH)
    dset = load_mnist_5k()
    for (x, y), split in zip(dset, ("train", "val", "test")):
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        assert images.dtype == np.uint8 and images.shape == (len(labels), 784)
        assert x.dtype == np.float64 and y.dtype == np.float64
        np.testing.assert_array_equal(x, images / 255.0)
        np.testing.assert_array_equal(y, np.eye(10)[labels])
        assert 0.0 <= x.min() and x.max() <= 1.0


def test_embedded_split_is_3000_1000_1000_with_equal_class_counts():
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = load_mnist_5k()
    assert (len(train_x), len(val_x), len(test_x)) == (3000, 1000, 1000)
    for y, per_class in ((train_y, 300), (val_y, 100), (test_y, 100)):
        np.testing.assert_array_equal(y.sum(axis=0), np.full(10, per_class))


def test_embedded_splits_hold_real_digits_not_noise():
    # Real MNIST: mostly background (0) pixels and a sizeable ink fraction; uniform noise has neither.
    (train_x, _), _, _ = load_mnist_5k()
    assert np.mean(train_x == 0) > 0.7
    assert 0.05 < np.mean(train_x > 0.5) < 0.25


def test_load_dataset_without_a_path_is_the_embedded_data():
    for (x, y), (x0, y0) in zip(load_dataset(), load_mnist_5k()):
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)


def test_flat_import_finds_the_module_not_the_data_folder(root):
    # data/ (no __init__.py) is only a namespace-package candidate; mytorch/data.py must win.
    code = "import sys; sys.path.append('mytorch'); import data; print(data.__file__); data.load_mnist_5k()"
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert os.path.samefile(result.stdout.strip(), os.path.join(root, "mytorch", "data.py"))


# ---------------------------------------------------------------------------------------------------------------
# one_hot and the stratified split.


def test_one_hot_matches_identity_rows(rng):
    labels = rng.integers(0, 10, size=50)
    encoded = one_hot(labels)
    assert encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded, np.eye(10)[labels])
    np.testing.assert_array_equal(one_hot([0, 2], classes=3), [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("labels", [[0, 10], [-1, 3], [0.5, 1.0]])
def test_one_hot_rejects_labels_outside_the_classes(labels):
    with pytest.raises(ValueError, match="label"):
        one_hot(np.array(labels))


def test_split_stratified_partitions_each_class_in_proportion(rng):
    labels = np.repeat(np.arange(10), [50, 60, 40, 50, 50, 70, 50, 50, 30, 50])
    parts = split_stratified(labels, (0.6, 0.2, 0.2), seed=3)
    joined = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(joined), np.arange(len(labels)))  # disjoint and complete
    class_sizes = np.bincount(labels)
    for part, fraction in zip(parts[1:], (0.2, 0.2)):
        np.testing.assert_array_equal(np.bincount(labels[part], minlength=10), np.round(class_sizes * fraction))
    again = split_stratified(labels, (0.6, 0.2, 0.2), seed=3)
    for first, second in zip(parts, again):
        np.testing.assert_array_equal(first, second)
    other = split_stratified(labels, (0.6, 0.2, 0.2), seed=4)
    assert not np.array_equal(parts[0], other[0])


def test_split_stratified_rejects_fractions_not_summing_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        split_stratified(np.zeros(10, dtype=int), (0.5, 0.2))


# ---------------------------------------------------------------------------------------------------------------
# IDX files.


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_returns_what_was_written(tmp_path, rng, dtype, suffix):
    array = (
        rng.integers(-1000, 1000, size=(4, 3, 5)) if dtype != np.uint8 else rng.integers(0, 256, size=(4, 3, 5))
    ).astype(dtype)
    write_idx(tmp_path / f"a-idx3{suffix}", array)
    read = read_idx(tmp_path / f"a-idx3{suffix}")
    assert read.dtype == dtype and read.dtype.isnative
    np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_gives_test_from_t10k_and_a_stratified_validation_from_train(tmp_path, rng, gz):
    train_images, train_labels, test_images, test_labels = write_idx_folder(tmp_path, rng, gz=gz)
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = load_dataset(tmp_path)
    np.testing.assert_array_equal(test_x, test_images.reshape(-1, 784) / 255.0)
    np.testing.assert_array_equal(test_y, np.eye(10)[test_labels])
    # 12 per class, validation takes round(12 / 6) = 2 of each; together train and validation are the train file.
    np.testing.assert_array_equal(val_y.sum(axis=0), np.full(10, 2))
    np.testing.assert_array_equal(train_y.sum(axis=0), np.full(10, 10))
    both = np.concatenate([train_x, val_x])
    assert rows_as_set(both) == rows_as_set(train_images.reshape(-1, 784) / 255.0)
    assert not rows_as_set(train_x) & rows_as_set(val_x)
    # each image keeps its own label
    by_image = {image.tobytes(): label for image, label in zip(train_images.reshape(-1, 784) / 255.0, train_labels)}
    for x, y in zip(both, np.concatenate([train_y, val_y])):
        assert by_image[x.tobytes()] == np.argmax(y)


def test_truncated_idx_file_is_reported_with_its_name(tmp_path, rng):
    write_idx_folder(tmp_path, rng)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: file is truncated"):
        load_dataset(tmp_path)


def test_idx_file_cut_inside_its_header_is_truncated(tmp_path):
    (tmp_path / "x").write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">I", 60000))  # 2 of 3 sizes missing
    with pytest.raises(ValueError, match=r"x: file is truncated: its IDX header declares 3 dimensions"):
        read_idx(tmp_path / "x")


def test_idx_file_longer_than_its_header_is_rejected(tmp_path, rng):
    write_idx(tmp_path / "x", rng.integers(0, 256, size=(2, 3)).astype(np.uint8))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="longer than its header"):
        read_idx(tmp_path / "x")


def test_wrong_magic_number_is_rejected(tmp_path):
    (tmp_path / "bad").write_bytes(b"PK\x03\x04" + bytes(100))  # e.g. a zip file under an IDX name
    with pytest.raises(ValueError, match=r"bad: not an IDX file; its magic number is 504b0304"):
        read_idx(tmp_path / "bad")


def test_truncated_gzip_is_reported(tmp_path, rng):
    write_idx(tmp_path / "x.gz", rng.integers(0, 256, size=(20, 30)).astype(np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "x.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"x.gz: damaged or truncated gzip"):
        read_idx(tmp_path / "x.gz")


def test_image_and_label_counts_must_match(tmp_path, rng):
    _, train_labels, _, _ = write_idx_folder(tmp_path, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte", train_labels[:-1])
    with pytest.raises(ValueError, match=r"120 images but 119 labels"):
        load_dataset(tmp_path)


def test_idx_label_out_of_range_is_rejected(tmp_path, rng):
    _, _, _, test_labels = write_idx_folder(tmp_path, rng)
    test_labels[5] = 10
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_labels)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: label 10 at index 5 is outside 0..9"):
        load_dataset(tmp_path)


def test_missing_idx_file_names_the_expected_files(tmp_path, rng):
    write_idx_folder(tmp_path, rng)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_dataset(tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# CSV files.


@pytest.mark.parametrize("name, header", [("d.csv", False), ("d.csv", True), ("d.csv.gz", False)])
def test_read_csv_returns_what_was_written(tmp_path, rng, name, header):
    images, labels = fake_digits(rng, 2)
    write_csv(tmp_path / name, images.reshape(-1, 784), labels, header=header)
    read_images, read_labels = read_csv(tmp_path / name)
    assert read_images.dtype == np.uint8
    np.testing.assert_array_equal(read_images, images.reshape(-1, 784))
    np.testing.assert_array_equal(read_labels, labels)


def test_csv_dataset_is_split_60_20_20_per_class(tmp_path, rng):
    images, labels = fake_digits(rng, 10)
    write_csv(tmp_path / "d.csv", images.reshape(-1, 784), labels)
    splits = load_dataset(tmp_path / "d.csv")
    for (x, y), per_class in zip(splits, (6, 2, 2)):
        np.testing.assert_array_equal(y.sum(axis=0), np.full(10, per_class))
    assert rows_as_set(np.concatenate([x for x, _ in splits])) == rows_as_set(images.reshape(-1, 784) / 255.0)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda rows: rows.__setitem__(1, rows[1] + ",0"), r"row 2 has 786 columns but the first has 785"),
        (lambda rows: rows.__setitem__(0, "12" + rows[0][1:]), r"label 12 at index 0 is outside 0..9"),
        (lambda rows: rows.__setitem__(2, rows[2].rsplit(",", 1)[0] + ",300"), r"pixels must lie in 0..255"),
        (lambda rows: rows.__setitem__(3, rows[3].rsplit(",", 1)[0] + ",x"), r"not all values are numbers"),
        (lambda rows: rows.__setitem__(3, rows[3].rsplit(",", 1)[0] + ",0.5"), r"row 4 holds a non-integer"),
    ],
)
def test_damaged_csv_rows_are_reported(tmp_path, rng, damage, message):
    images, labels = fake_digits(rng, 1)
    write_csv(tmp_path / "d.csv", images.reshape(-1, 784), labels)
    rows = (tmp_path / "d.csv").read_text().splitlines()
    damage(rows)
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"d.csv: " + message):
        read_csv(tmp_path / "d.csv")


def test_csv_with_the_wrong_width_says_what_is_expected(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"rows have 3 columns; expected 785"):
        read_csv(tmp_path / "d.csv")


# ---------------------------------------------------------------------------------------------------------------
# .npz files and unknown paths.


def test_npz_in_our_format_loads_and_a_missing_array_is_named(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    arrays = npz_arrays(images.reshape(-1, 784), labels)
    np.savez(tmp_path / "ok.npz", **arrays)
    for x, y in load_dataset(tmp_path / "ok.npz"):
        np.testing.assert_array_equal(x, images.reshape(-1, 784) / 255.0)
        np.testing.assert_array_equal(y, np.eye(10)[labels])
    del arrays["val_labels"]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz: missing arrays \['val_labels'\]"):
        load_dataset(tmp_path / "bad.npz")


def test_npz_count_mismatch_is_reported(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    arrays = npz_arrays(images.reshape(-1, 784), labels)
    arrays["test_labels"] = labels[:-2]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=r"d.npz \[test\]: 10 images but 8 labels"):
        load_dataset(tmp_path / "d.npz")


def test_npz_pixels_outside_0_255_or_not_finite_are_reported(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    arrays = npz_arrays(images.reshape(-1, 784).astype(float), labels)
    arrays["val_images"][3, 7] = 256.0
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=r"d.npz \[val\]: pixels must lie in 0..255; found values from 0.0 to 256.0"):
        load_dataset(tmp_path / "d.npz")
    arrays["val_images"][3, 7] = np.nan
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=r"d.npz \[val\]: pixels contain NaN"):
        load_dataset(tmp_path / "d.npz")


def test_damaged_npz_is_reported(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"d.npz: not a readable .npz"):
        load_dataset(tmp_path / "d.npz")


def test_unknown_file_type_and_missing_path(tmp_path):
    (tmp_path / "d.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_dataset(tmp_path / "d.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "nothing.npz")


# ---------------------------------------------------------------------------------------------------------------
# Bad files tried the way a student would (issue 12): each names load_dataset, the file and the problem.


def test_npz_splits_of_different_widths_are_rejected_naming_each_width(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    arrays = npz_arrays(images.reshape(-1, 784), labels)
    arrays["train_images"] = arrays["train_images"][:, :100]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"load_dataset: .*d.npz: the train, validation and test images have 100, 784 "
        r"and 784 pixels; every split needs the same number",
    ):
        load_dataset(tmp_path / "d.npz")


def test_npz_pixels_already_scaled_to_0_1_are_not_divided_by_255_again(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    arrays = npz_arrays(images.reshape(-1, 784) / 255.0, labels)
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"load_dataset: .*d.npz \[train\]: pixels must be whole numbers 0..255 .*"
        r"They look scaled to \[0, 1\] already",
    ):
        load_dataset(tmp_path / "d.npz")


def test_npz_float_pixels_holding_whole_numbers_load_like_integers(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    np.savez(tmp_path / "d.npz", **npz_arrays(images.reshape(-1, 784).astype(np.float32), labels))
    for x, _ in load_dataset(tmp_path / "d.npz"):
        assert x.dtype == np.float64
        np.testing.assert_array_equal(x, images.reshape(-1, 784) / 255.0)


@pytest.mark.parametrize(
    "content, start", [(b"1,2,3\n4,5,6\n", "b'1,2,'"), (b"\x93NUMPY\x01\x00", "b'\\x93NUM'")], ids=["text", "npy"]
)
def test_a_file_named_npz_that_is_not_a_zip_archive_says_so(tmp_path, content, start):
    (tmp_path / "d.npz").write_bytes(content)
    with pytest.raises(
        ValueError,
        match=r"load_dataset: .*d.npz: not an .npz file: an .npz is a zip archive.*"
        r"but this file starts with " + re.escape(start),
    ):
        load_dataset(tmp_path / "d.npz")


def test_idx_header_whose_sizes_overflow_int64_is_truncated_not_a_reshape_error(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 4)  # 2^64 bytes: int64 would wrap to 0
    (tmp_path / "x").write_bytes(header)
    with pytest.raises(
        ValueError,
        match=r"x: file is truncated: header declares shape \(2147483648, 2147483648, 4\) "
        r"of uint8 \(18446744073709551632 bytes in all\), but the file has 16 bytes",
    ):
        read_idx(tmp_path / "x")


@pytest.mark.parametrize("label, shown", [("inf", "inf"), ("nan", "nan"), ("-inf", "-inf")])
def test_csv_label_that_is_not_a_finite_number_is_named(tmp_path, rng, label, shown):
    images, labels = fake_digits(rng, 1)
    write_csv(tmp_path / "d.csv", images.reshape(-1, 784), labels)
    rows = (tmp_path / "d.csv").read_text().splitlines()
    rows[2] = label + rows[2][rows[2].index(",") :]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(
        ValueError,
        match=rf"load_dataset: .*d.csv: row 3 holds {shown} in column 1; labels and pixels "
        r"must be integers",
    ):
        load_dataset(tmp_path / "d.csv")


def test_csv_label_too_large_for_an_integer_is_out_of_range_not_a_wrapped_value(tmp_path, rng):
    images, labels = fake_digits(rng, 1)
    write_csv(tmp_path / "d.csv", images.reshape(-1, 784), labels)
    rows = (tmp_path / "d.csv").read_text().splitlines()
    rows[0] = "1e30" + rows[0][rows[0].index(",") :]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"d.csv: label 1e\+30 at index 0 is outside 0..9"):
        read_csv(tmp_path / "d.csv")


@pytest.mark.parametrize(
    "path, seed, fragment",
    [
        (5, 0, "path must be a file or folder name (str or os.PathLike) or None for the embedded data; got int"),
        (None, -1, "seed must be a non-negative integer; got -1"),
        (None, 1.5, "seed must be a non-negative integer; got 1.5"),
    ],
)
def test_load_dataset_names_arguments_of_the_wrong_kind(path, seed, fragment):
    with pytest.raises(ValueError, match=re.escape("load_dataset: " + fragment)):
        load_dataset(path, seed)
