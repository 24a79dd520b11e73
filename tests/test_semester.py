"""The three recipes of the README's "Customising for a semester", each applied to course.py alone (plus the
references it regenerates) in a temporary clone, followed by the release, which must pass and show the change."""

import json
import os

import pytest
from semester import clone, edit_course, run

pytestmark = pytest.mark.slow


def release(folder):
    result = run(folder, "tools/release.py", "--skip-oracle-check")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return result.stdout


def scores_of(folder, *args):
    result = run(folder, "autograder/hw1_autograder/runner.py", "--json", *args)
    return json.loads(result.stdout.strip().splitlines()[-1])["scores"]


def test_recipe_change_points(tmp_path):
    folder = clone(tmp_path)
    edit_course(folder, """Test("test_momentum", "Momentum", 10,""", """Test("test_momentum", "Momentum", 15,""")
    output = release(folder)
    assert "0/100" in output and "100/100 on the public and server reference sets" in output
    scores = scores_of(folder)
    assert scores["Momentum"] == 15 and sum(scores.values()) == 100
    assert "/100" in open(os.path.join(folder, "dist", "handout", "README.md"), encoding="utf-8").read()


def test_recipe_add_a_case(tmp_path):
    folder = clone(tmp_path)
    edit_course(
        folder,
        """    Case("batchnorm_train",""",
        """    Case("mystery_4", "mlp_forward_backward", 21, (48, 24), ("Tanh", "ReLU", "Identity")),
    Case("batchnorm_train",""",
    )
    edit_course(
        folder,
        """    Test("test_momentum", "Momentum", 10,""",
        """    Test("test_mystery_hidden_forward4", "N Hidden Layer (forward) 4", 5, "Mystery hidden layers forward 4",
         "3.5", "mystery_4", "mlp_forward"),
    Test("test_mystery_hidden_backward4", "N Hidden Layer (backward) 4", 5, "Mystery hidden layers backward 4",
         "3.5", "mystery_4", "mlp_backward"),
    Test("test_momentum", "Momentum", 10,""",
    )
    regenerated = run(folder, "tools/make_references.py")
    assert regenerated.returncode == 0, regenerated.stderr
    output = release(folder)
    assert "105/105 on the public and server reference sets" in output
    scores = scores_of(folder)
    assert scores["N Hidden Layer (backward) 4"] == 5 and sum(scores.values()) == 105


def test_recipe_reseed_everything(tmp_path):
    folder = clone(tmp_path)
    edit_course(
        folder, """SEEDS = {"public": 11785, "server": 20261130}""", """SEEDS = {"public": 4242, "server": 20270115}"""
    )
    stale = run(folder, "autograder/hw1_autograder/runner.py")
    assert stale.returncode == 3 and "generated from other seeds than course.py declares" in stale.stdout
    regenerated = run(folder, "tools/make_references.py")
    assert regenerated.returncode == 0, regenerated.stderr
    release(folder)
    manifest = json.load(
        open(
            os.path.join(folder, "autograder", "hw1_autograder", "references", "server", "MANIFEST.json"),
            encoding="utf-8",
        )
    )
    assert manifest["seed"] == 20270115
    assert sum(scores_of(folder).values()) == 95
