"""A reference set, loaded and verified before anything is graded against it.  Trusted side (the runner).

    references/public/     ships in the handout (students' local feedback)
    references/server/     other inputs and seeds; only on the course server (Autolab's autograde.tar, Gradescope)

Each set holds one .npz per case of course.py and MANIFEST.json: the SHA-256 of every file, the base seed and
each case as it was generated. Grading stops when a file's hash differs ("references modified") or when the
manifest's seeds or cases differ from course.py ("generated from other seeds than course.py declares"), instead of
grading against references that no longer mean what the tests say.
"""

import hashlib
import io
import json
import os

import course
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCES_DIR = os.path.join(HERE, "references")
MANIFEST = "MANIFEST.json"
# The instructors' reference generator, beside the autograder in the repository (a handout does not hold it).
GENERATOR = "tools/make_references.py"


def dataset_fingerprint(dataset):
    """sha256 (hex) of the training and validation arrays of dataset ((train_x, train_y), (val_x, val_y), ...):
    their dtypes, shapes and bytes. The oracle's reference training run stores the digest of the data it was
    trained on; train.py overlays those curves only when the data it loaded has the same digest."""
    digest = hashlib.sha256()
    (train_x, train_y), (val_x, val_y) = dataset[0], dataset[1]
    for array in (train_x, train_y, val_x, val_y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def regenerate_hint(set_name):
    """How to fix references that do not match course.py: the generator's command where it exists (an
    instructor's repository), else reinstalling them (a student's handout, a server bundle)."""
    repository = os.path.dirname(os.path.dirname(HERE))
    if os.path.isfile(os.path.join(repository, *GENERATOR.split("/"))):
        return f"regenerate with `python3 {GENERATOR} --set {set_name}`"
    return "reinstall the autograder's references/ folder from the handout or the course's bundle"


class ReferenceError(Exception):
    """The reference set cannot be trusted or used; the message says why and how to fix it."""


def default_directory():
    """The public set where it exists (a student's handout, the repository), else the server set (a course
    server's autograde.tar holds only that)."""
    for name in course.REFERENCE_SETS:
        directory = os.path.join(REFERENCES_DIR, name)
        if os.path.isfile(os.path.join(directory, MANIFEST)):
            return directory
    return os.path.join(REFERENCES_DIR, course.REFERENCE_SETS[0])


def case_record(case, seed):
    """How a case is recorded in a manifest: everything course.py declares that changes its arrays."""
    return {
        "recipe": case.recipe,
        "seed": [seed, case.offset],
        "hiddens": list(case.hiddens),
        "activations": list(case.activations),
        "options": {key: value for key, value in case.options.items() if key != "describe"},
    }


def file_hash(data):
    return hashlib.sha256(data).hexdigest()


class Reference:
    """The arrays of one case: reference["x"], "x" in reference, reference.alternatives("dW")."""

    def __init__(self, name, arrays):
        self.name, self.arrays = name, arrays

    def __getitem__(self, key):
        return self.arrays[key]

    def __contains__(self, key):
        return key in self.arrays

    def alternatives(self, key):
        """{hypothesis name: array} of the stored "KEY.alt.NAME" arrays (the oracle's known wrong conventions)."""
        prefix = key + ".alt."
        return {name[len(prefix) :]: value for name, value in self.arrays.items() if name.startswith(prefix)}


def load(directory):
    """{case name: Reference} of the set in directory, verified against its manifest and course.py."""
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as stream:
            manifest = json.load(stream)
        set_name, seed, hashes, cases = manifest["set"], manifest["seed"], manifest["files"], manifest["cases"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReferenceError(
            f"the reference set in {directory} has no readable {MANIFEST} ({error}); the autograder is incomplete."
        ) from None
    if set_name not in course.SEEDS:
        raise ReferenceError(f"{path} names the reference set {set_name!r}; course.py declares {sorted(course.SEEDS)}.")
    if seed != course.SEEDS[set_name]:
        raise ReferenceError(
            f"the references were generated from other seeds than course.py declares (the "
            f"{set_name} set: seed {seed}, course.py: {course.SEEDS[set_name]}): " + regenerate_hint(set_name) + "."
        )
    expected = {case.name: case_record(case, seed) for case in course.CASES if set_name in case.sets}
    for name, record in expected.items():
        if name not in cases:
            raise ReferenceError(
                f"the {set_name} references have no case {name!r}, which course.py declares: "
                + regenerate_hint(set_name)
                + "."
            )
        if cases[name] != record:
            what = "seeds" if cases[name].get("seed") != record["seed"] else "cases"
            raise ReferenceError(
                f"the references were generated from other {what} than course.py declares (case "
                f"{name}: {cases[name]} in the manifest, {record} in course.py): " + regenerate_hint(set_name) + "."
            )
    references = {}
    for name in expected:
        file_name = name + ".npz"
        try:
            with open(os.path.join(directory, file_name), "rb") as stream:
                data = stream.read()
        except OSError as error:
            raise ReferenceError(
                f"references modified: {file_name} cannot be read ({error.strerror}); reinstall the autograder."
            ) from None
        if file_hash(data) != hashes.get(file_name):
            raise ReferenceError(
                f"references modified: {os.path.join(directory, file_name)} does not match the "
                f"SHA-256 in {MANIFEST}; grading against it would be wrong. Reinstall the autograder "
                "(or " + regenerate_hint(set_name) + ")."
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            references[name] = Reference(name, {key: stored[key] for key in stored.files})
    return set_name, references
