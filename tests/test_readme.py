"""The README's Quickstart is what CI runs, so a new user's two commands are the tested ones."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_readme_quickstart_has_two_commands_install_and_run_then_test():
    commands = quickstart_commands()
    assert len(commands) == 2, commands
    assert "pip install -e" in commands[0] and "runner.py" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_exactly_the_readme_quickstart_commands():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in quickstart_commands():
        assert command in ci_lines, f".ci/run does not run the README command: {command}"


@pytest.mark.slow
def test_readme_api_example_runs_as_written():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The API in one example", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md (API example)", "exec"), namespace)
    folded, mlp, x = namespace["small"], namespace["mlp"], namespace["train_x"][:50]
    assert folded.bn_layers == [] and abs(folded.forward(x) - mlp.forward(x)).max() < 1e-9
