"""The README's Quickstart is what CI runs, so a new user's two commands are the tested ones."""

import re
from pathlib import Path

import numpy as np
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


def readme_error_messages():
    """The messages quoted under "Errors say what, where, and what to do", continuation lines joined."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Errors say what", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    messages = []
    for line in block.splitlines():
        if line.startswith("  "):
            messages[-1] += " " + line.strip()
        elif line.strip():
            messages.append(line.strip())
    return messages


def test_the_readmes_quoted_error_messages_are_what_the_code_says():
    from hw1.hw1 import MLP
    from mytorch.activation import Identity, Sigmoid
    from mytorch.batchnorm import BatchNorm
    from mytorch.linear import Linear
    from mytorch.loss import SoftmaxCrossEntropy

    def zeros(n):
        return np.zeros((1, n))

    def mlp(hiddens, activations):
        return MLP(784, 10, hiddens, activations, np.random.randn, zeros, SoftmaxCrossEntropy(), 0.1)

    labels = np.eye(10)[[0, 1, 2, 3]]
    labels[3, 4] = 1  # row 3 sums to 2
    x_with_nan = np.zeros((2, 32))
    x_with_nan[0, 3] = np.nan
    shared = Sigmoid()
    calls = [
        lambda: Linear(784, 10, np.random.randn, zeros).forward(np.zeros((784, 20))),
        lambda: SoftmaxCrossEntropy().forward(np.zeros((4, 10)), labels),
        lambda: BatchNorm(32).forward(np.zeros((1, 32))),
        lambda: mlp([], [Sigmoid(), Identity()]),
        lambda: mlp([32, 32], [shared, shared, Identity()]),
        lambda: Linear(32, 10, np.random.randn, zeros).forward(x_with_nan),
    ]
    quoted = readme_error_messages()
    assert len(quoted) == len(calls), quoted
    for call, message in zip(calls, quoted):
        with pytest.raises(ValueError) as raised:
            call()
        assert str(raised.value) == message
