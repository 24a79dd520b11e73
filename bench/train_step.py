"""Time mytorch's training step against PyTorch eager, a bare numpy step and the bare matrix products (the BLAS floor).

    python3 bench/train_step.py             # the full table, 5-7 minutes on 2 cores
    python3 bench/train_step.py --quick     # a smoke run: every row, almost no repeats (timings meaningless)
    python3 bench/train_step.py --threads 1 --clock cpu   # steadier on a busy machine: 1 thread, CPU time
    python3 bench/train_step.py --baseline DIR   # also time the mytorch/ and hw1/ in DIR (another checkout)
    python3 bench/train_step.py --profile   # cProfile of mytorch's step (handout network, batch 100)

Results, method and the profile: bench/README.md.

A training step is zero_grads + forward + loss + backward + momentum step, on one fixed batch. Contenders:
  mytorch      hw1.MLP (float64, the graded code path)
  mytorch32    the same hw1.MLP with every array cast to float32 here (float32 inputs and labels)
  bare         the same step hand-written in float64 numpy with the solution's formulas: no layer objects, no
               input checks; mytorch / bare is the price of the layered, checked design
  baseline     with --baseline DIR: hw1.MLP of the checkout in DIR (e.g. `git worktree add DIR HEAD~1`)
  torch64/32   an equivalent hand-built PyTorch eager model on the CPU: addmm, F.batch_norm, F.cross_entropy
               (sum over the batch) and torch.optim.SGD with the homework's learning rates; its weights after
               two steps are checked against mytorch's (the "parity:" lines, bare's too) so that all do the same work
  floor        only the matrix products a step needs, in float64 numpy into preallocated arrays: x @ W for every
               layer, delta @ W.T for every layer but the first, x.T @ delta for every layer
Evaluation rows time the eval-mode forward of 10,000 examples (mytorch eval() vs torch.no_grad()).

Measurement: each contender runs in blocks of about --block seconds; the blocks of all contenders alternate for
--rounds rounds, so slow phases of a shared machine hit every contender alike, and the table shows medians over
the rounds. Ratios are taken between medians of the same run. Between blocks the script sleeps --pause seconds:
an idle OpenBLAS worker busy-waits about 0.1 s after each call (and OpenMP workers in PyTorch spin as well), so a
block started right after another library's block would share its cores with a spinning thread and run up to
2.5x slower. OPENBLAS_THREAD_TIMEOUT is left as the user has it (shown in the header): lowering it shortens the
spin but makes numpy's own consecutive calls pay to wake the workers again.
"""

import argparse
import ctypes
import gc
import importlib.util
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
sys.path.insert(0, ROOT)
from hw1 import hw1 as homework  # noqa: E402  (the module: MLP and the layers it imports)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the table then shows n/a in the PyTorch columns
    torch = None

LR, MOMENTUM = 1e-3, 0.856
ALPHA, EPS = 0.9, 1e-8  # BatchNorm's, as in mytorch
EVAL_EXAMPLES = 10_000
NETWORKS = {  # name: (hidden sizes, hidden activation)
    "handout": ([32, 32, 32], "sigmoid"),
    "large": ([256, 128, 100], "relu"),
}


# ----------------------------------------------------------------------------------------------- the contenders
def make_data(batch, seed=0):
    """Pixel-like inputs in [0, 1) and one-hot labels: x: (batch, 784), y: (batch, 10)."""
    rng = np.random.default_rng(seed)
    return rng.random((batch, 784)), np.eye(10)[rng.integers(0, 10, batch)]


def make_mytorch(hiddens, activation, bn, seed=0, homework=homework):
    """homework.MLP for one configuration; homework is a module holding MLP and the layers (hw1, or a baseline)."""
    rng = np.random.default_rng(seed)
    act = {"sigmoid": homework.Sigmoid, "relu": homework.ReLU}[activation]
    return homework.MLP(
        784,
        10,
        hiddens,
        [act() for _ in hiddens] + [homework.Identity()],
        lambda n_in, n_out: rng.standard_normal((n_in, n_out)) / np.sqrt(n_in),
        lambda n: np.zeros((1, n)),
        homework.SoftmaxCrossEntropy(),
        LR,
        MOMENTUM,
        num_bn_layers=len(hiddens) if bn else 0,
    )


def float32(mlp):
    """mlp with every float array of its layers cast to float32 (with float32 inputs and labels, numpy's weak
    scalars keep every later result float32 too)."""
    for layer in mlp.linear_layers + mlp.bn_layers:
        for name, value in vars(layer).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                setattr(layer, name, value.astype(np.float32))
    return mlp


def load_baseline(folder):
    """hw1/hw1.py of another checkout as a module, with the flat mytorch modules it imports from folder/mytorch.

    hw1.py imports its layers flat ('activation', 'linear', ...), under the same names as this tree's: they are
    set aside while the baseline imports, so each MLP keeps its own layers.
    """
    path = os.path.join(folder, "hw1", "hw1.py")
    if not os.path.isfile(path):
        sys.exit(f"--baseline {folder}: no hw1/hw1.py there; give a checkout of this repository.")
    flat = ("activation", "batchnorm", "linear", "loss", "input_checks", "gradcheck", "data")
    ours = {name: sys.modules.pop(name) for name in flat if name in sys.modules}
    saved_path = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location("baseline_hw1", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for name in flat:
            sys.modules.pop(name, None)
        sys.modules.update(ours)
        sys.path[:] = saved_path


class TorchMLP:
    """The same network in PyTorch eager, with the homework's conventions for the gradients and the step.

    mytorch averages dW and db over the batch but sums dgamma and dbeta, so the loss is summed over the batch and
    W, b take steps of lr / batch.  torch's momentum  v = mu v + g;  p -= lr v  is mytorch's
    momentum_W = mu momentum_W - lr dW;  W = W + momentum_W  with momentum_W = -lr v.  gamma, beta: plain SGD.
    (F.batch_norm updates running_var with the unbiased variance, which costs the same as the biased one.)
    """

    def __init__(self, mlp, batch, dtype):
        def tensor(a):
            return torch.tensor(a, dtype=dtype, requires_grad=True)

        self.W = [tensor(layer.W) for layer in mlp.linear_layers]
        self.b = [tensor(layer.b[0]) for layer in mlp.linear_layers]
        self.gamma = [tensor(bn.gamma[0]) for bn in mlp.bn_layers]
        self.beta = [tensor(bn.beta[0]) for bn in mlp.bn_layers]
        self.running = [(torch.zeros(len(g), dtype=dtype), torch.ones(len(g), dtype=dtype)) for g in self.gamma]
        self.act = [torch.relu if type(a).__name__ == "ReLU" else torch.sigmoid for a in mlp.activations[:-1]]
        self.optimizer = torch.optim.SGD(
            [
                {"params": self.W + self.b, "lr": LR / batch, "momentum": MOMENTUM},
                {"params": self.gamma + self.beta, "lr": LR, "momentum": 0.0},
            ]
        )

    def forward(self, x, training=True):
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            x = torch.addmm(b, x, W)
            if i < len(self.gamma):
                mean, var = self.running[i]
                x = F.batch_norm(x, mean, var, self.gamma[i], self.beta[i], training=training, momentum=0.1, eps=1e-8)
            if i < len(self.act):
                x = self.act[i](x)
        return x

    def train_step(self, x, labels):
        self.optimizer.zero_grad()
        F.cross_entropy(self.forward(x), labels, reduction="sum").backward()
        self.optimizer.step()


def mytorch_step(mlp, x, y):
    mlp.zero_grads()
    mlp.forward(x)
    mlp.backward(y)
    mlp.step()


class BareMLP:
    """The same network and training step hand-written in numpy: plain arrays, the solution's formulas, no checks.

    It starts from mlp's weights; BatchNorm follows every hidden layer when mlp has BatchNorm layers.
    """

    def __init__(self, mlp):
        self.W = [layer.W.copy() for layer in mlp.linear_layers]
        self.b = [layer.b.copy() for layer in mlp.linear_layers]
        self.vW = [np.zeros_like(W) for W in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.gamma = [bn.gamma.copy() for bn in mlp.bn_layers]
        self.beta = [bn.beta.copy() for bn in mlp.bn_layers]
        self.running_mean = [bn.running_mean.copy() for bn in mlp.bn_layers]
        self.running_var = [bn.running_var.copy() for bn in mlp.bn_layers]
        self.sigmoid = type(mlp.activations[0]).__name__ == "Sigmoid"  # else ReLU; the output layer is Identity

    def forward(self, x, training=True):
        """Logits; keeps each layer's input, activation output, normalised value and 1 / std for backward."""
        self.inputs, self.outputs, self.norms, self.inv_stds = [], [], [], []
        last = len(self.W) - 1
        for i in range(len(self.W)):
            self.inputs.append(x)
            z = x @ self.W[i] + self.b[i]
            if i < len(self.gamma):
                if training:
                    mean, var = z.mean(axis=0, keepdims=True), z.var(axis=0, keepdims=True)
                    self.running_mean[i] = ALPHA * self.running_mean[i] + (1 - ALPHA) * mean
                    self.running_var[i] = ALPHA * self.running_var[i] + (1 - ALPHA) * var
                else:
                    mean, var = self.running_mean[i], self.running_var[i]
                inv_std = 1.0 / np.sqrt(var + EPS)
                norm = (z - mean) * inv_std
                self.norms.append(norm)
                self.inv_stds.append(inv_std)
                z = self.gamma[i] * norm + self.beta[i]
            if i < last:
                z = 0.5 * (1.0 + np.tanh(0.5 * z)) if self.sigmoid else np.maximum(z, 0.0)
                self.outputs.append(z)
            x = z
        return x

    def train_step(self, x, y):
        logits = self.forward(x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.loss = -(y * log_softmax).sum(axis=1)
        delta = np.exp(log_softmax) - y
        batch = len(x)
        for i in reversed(range(len(self.W))):
            if i < len(self.W) - 1:
                s = self.outputs[i]
                delta = delta * (s * (1.0 - s) if self.sigmoid else (s > 0))
            if i < len(self.gamma):
                norm, inv_std = self.norms[i], self.inv_stds[i]
                dgamma = (delta * norm).sum(axis=0, keepdims=True)
                dbeta = delta.sum(axis=0, keepdims=True)
                dnorm = delta * self.gamma[i]
                delta = inv_std * (
                    dnorm - dnorm.mean(axis=0, keepdims=True) - norm * (dnorm * norm).mean(axis=0, keepdims=True)
                )
                self.gamma[i] = self.gamma[i] - LR * dgamma
                self.beta[i] = self.beta[i] - LR * dbeta
            dW = self.inputs[i].T @ delta / batch
            db = delta.sum(axis=0, keepdims=True) / batch
            if i > 0:
                delta = delta @ self.W[i].T
            self.vW[i] = MOMENTUM * self.vW[i] - LR * dW
            self.vb[i] = MOMENTUM * self.vb[i] - LR * db
            self.W[i] = self.W[i] + self.vW[i]
            self.b[i] = self.b[i] + self.vb[i]


def floor_step(mlp, x):
    """The matrix products of one step, float64, into preallocated arrays: returns a function doing them."""
    Ws = [layer.W for layer in mlp.linear_layers]
    inputs = [x] + [np.random.random((len(x), W.shape[1])) for W in Ws[:-1]]
    outputs = [np.empty((len(x), W.shape[1])) for W in Ws]
    input_grads = [np.empty_like(a) for a in inputs]
    grads = [np.empty_like(W) for W in Ws]

    def step():
        for a, W, out in zip(inputs, Ws, outputs):
            np.matmul(a, W, out=out)
        for i in reversed(range(len(Ws))):
            if i > 0:  # dL/dx of the first layer is needed by nobody
                np.matmul(outputs[i], Ws[i].T, out=input_grads[i])
            np.matmul(inputs[i].T, outputs[i], out=grads[i])

    return step


def parity(mlp, x, y, other):
    """Max relative difference between mytorch's weights and other's (a function returning its W list) after two
    steps from the same start; other(mlp, x, y) runs its own two steps."""
    theirs = other(mlp, x, y)
    for _ in range(2):
        mytorch_step(mlp, x, y)
    return max(float(np.abs(layer.W - W).max() / np.abs(W).max()) for layer, W in zip(mlp.linear_layers, theirs))


def torch_weights(mlp, x, y):
    model, labels = TorchMLP(mlp, len(x), torch.float64), torch.tensor(y.argmax(axis=1))
    for _ in range(2):
        model.train_step(torch.tensor(x), labels)
    return [W.detach().numpy() for W in model.W]


def bare_weights(mlp, x, y):
    model = BareMLP(mlp)
    for _ in range(2):
        model.train_step(x, y)
    return model.W


def step_contenders(hiddens, activation, bn, batch, baseline=None):
    """name -> a function doing one training step, for one configuration."""
    x, y = make_data(batch)
    mlp = make_mytorch(hiddens, activation, bn)
    mlp32, x32, y32 = float32(make_mytorch(hiddens, activation, bn)), x.astype(np.float32), y.astype(np.float32)
    bare = BareMLP(mlp)
    contenders = {
        "mytorch": lambda: mytorch_step(mlp, x, y),
        "mytorch32": lambda: mytorch_step(mlp32, x32, y32),
        "bare": lambda: bare.train_step(x, y),
    }
    if baseline is not None:
        before = make_mytorch(hiddens, activation, bn, homework=baseline)
        contenders["baseline"] = lambda: mytorch_step(before, x, y)
    if torch is not None:
        labels = torch.tensor(y.argmax(axis=1))
        for name, dtype in (("torch64", torch.float64), ("torch32", torch.float32)):
            model, xt = TorchMLP(mlp, batch, dtype), torch.tensor(x, dtype=dtype)
            contenders[name] = lambda model=model, xt=xt: model.train_step(xt, labels)
    contenders["floor"] = floor_step(mlp, x)
    return contenders


def eval_contenders(hiddens, activation, bn, baseline=None):
    """name -> a function evaluating 10,000 examples in eval mode (forward only)."""
    x, y = make_data(EVAL_EXAMPLES)
    mlp = make_mytorch(hiddens, activation, bn)
    for _ in range(3):  # a few training steps, so that the running statistics are not the initial ones
        mytorch_step(mlp, x[:100], y[:100])
    mlp.eval()
    mlp32, x32 = float32(make_mytorch(hiddens, activation, bn)), x.astype(np.float32)
    mlp32.eval()
    bare = BareMLP(mlp)
    contenders = {
        "mytorch": lambda: mlp.forward(x),
        "mytorch32": lambda: mlp32.forward(x32),
        "bare": lambda: bare.forward(x, training=False),
    }
    if baseline is not None:
        before = make_mytorch(hiddens, activation, bn, homework=baseline)
        for _ in range(3):
            mytorch_step(before, x[:100], y[:100])
        before.eval()
        contenders["baseline"] = lambda: before.forward(x)
    if torch is not None:
        for name, dtype in (("torch64", torch.float64), ("torch32", torch.float32)):
            model, xt = TorchMLP(mlp, 100, dtype), torch.tensor(x, dtype=dtype)

            def forward(model=model, xt=xt):
                with torch.no_grad():
                    model.forward(xt, training=False)

            contenders[name] = forward
    Ws = [layer.W for layer in mlp.linear_layers]
    outputs = [np.empty((EVAL_EXAMPLES, W.shape[1])) for W in Ws]

    def floor():  # the forward matrix products only (each layer reads the previous product)
        a = x
        for W, out in zip(Ws, outputs):
            a = np.matmul(a, W, out=out)

    contenders["floor"] = floor
    return contenders


# ------------------------------------------------------------------------------------------------ measurement
def time_contenders(contenders, rounds, block, pause, clock=time.perf_counter):
    """Median seconds per call of each contender, from `rounds` alternating blocks of about `block` seconds."""
    calls = {}
    for name, fn in contenders.items():  # warm up, then size the blocks
        time.sleep(pause)
        fn()
        start = clock()
        fn()
        calls[name] = max(1, int(block / max(clock() - start, 1e-7)))
    samples = {name: [] for name in contenders}
    names = list(contenders)
    gc.disable()  # a collection in the middle of one block would be charged to one contender only
    try:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
                fn, n = contenders[name], calls[name]
                time.sleep(pause)
                start = clock()
                for _ in range(n):
                    fn()
                samples[name].append((clock() - start) / n)
    finally:
        gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}


def openblas_function(name):
    """A function of the OpenBLAS numpy loaded (e.g. "get_num_threads"), through its C API; None if not found.

    numpy's wheels rename the symbols (scipy_openblas_get_num_threads64_), so every spelling is tried.
    """
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        spellings = (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", ""), ("scipy_openblas", ""))
        for prefix, suffix in spellings:
            symbol = f"{prefix}_{name}{suffix}"
            if hasattr(lib, symbol):
                return getattr(lib, symbol)
    return None


def openblas_info():
    """(config string, thread count) of the OpenBLAS numpy loaded; None if numpy does not use OpenBLAS."""
    get_config, get_threads = openblas_function("get_config"), openblas_function("get_num_threads")
    if get_config is None or get_threads is None:
        return None
    get_config.restype = ctypes.c_char_p
    return get_config().decode().strip(), get_threads()


def set_threads(n):
    """Use n threads in OpenBLAS (numpy) and in PyTorch."""
    set_openblas = openblas_function("set_num_threads")
    if set_openblas is None:
        sys.exit("--threads: cannot find OpenBLAS's openblas_set_num_threads; set OPENBLAS_NUM_THREADS instead.")
    set_openblas(n)
    if torch is not None:
        torch.set_num_threads(n)


def header(args):
    lines = [f"machine: {os.cpu_count()} cores, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}"]
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info = openblas_info()
    threads = f", {info[1]} threads" if info else ""
    lines.append(
        f"numpy {np.__version__}, BLAS {blas.get('name')} {blas.get('version')}{threads}"
        + (f" ({info[0]})" if info else "")
    )
    lines.append(
        f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    if torch is not None:
        lines.append(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads "
            f"(BLAS: {'MKL' if torch.backends.mkl.is_available() else 'not MKL'})"
        )
    else:
        lines.append("torch not installed: PyTorch columns are n/a (pip install torch==2.13.0)")
    clock = "CPU time of the process" if args.clock == "cpu" else "wall-clock time"
    lines.append(
        f"rounds {args.rounds}, blocks of ~{args.block * 1e3:.0f} ms, pause {args.pause * 1e3:.0f} ms between "
        f"blocks; medians of {clock} in ms; ratios are mytorch / column from the same run"
    )
    return "\n".join(lines)


def fmt_ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1e3:.3f}"


def fmt_ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


def row_label(kind, net, bn, batch):
    return f"{kind} {net}{'+bn' if bn else ''} b{batch}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, tiny blocks, no pauses")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per row (default 15)")
    parser.add_argument("--block", type=float, default=0.1, help="seconds per timed block (default 0.1)")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds of sleep between blocks (default 0.2)")
    parser.add_argument("--only", default="", help="run only rows whose label contains this text, e.g. 'handout b100'")
    parser.add_argument("--threads", type=int, help="threads for OpenBLAS and PyTorch (default: as configured)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: time.process_time, steadier on a loaded machine with --threads 1 (default wall)",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also time the hw1/ and mytorch/ of the checkout in DIR (git worktree add DIR HEAD~1)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile mytorch's step and exit")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.block, args.pause = 1, 1e-4, 0.0
    if args.threads:
        set_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.profile:
        return profile()

    baseline = load_baseline(args.baseline) if args.baseline else None
    print(header(args))
    x, y = make_data(100)
    configurations = [(hiddens, activation, bn) for hiddens, activation in NETWORKS.values() for bn in (False, True)]
    if torch is not None:
        worst = max(parity(make_mytorch(*c), x, y, torch_weights) for c in configurations)
        print(f"parity: mytorch vs torch64 weights after two steps, max relative difference {worst:.1e}")
    worst = max(parity(make_mytorch(*c), x, y, bare_weights) for c in configurations)
    print(f"parity: mytorch vs bare weights after two steps, max relative difference {worst:.1e}")
    columns = ["mytorch", "mytorch32", "bare"] + (["baseline"] if baseline else []) + ["torch64", "torch32", "floor"]
    ratios = ["torch64", "bare"] + (["baseline"] if baseline else []) + ["floor"]
    print()
    print(f"{'row':<24}" + "".join(f"{c:>11}" for c in columns) + "".join(f"{'my/' + c:>12}" for c in ratios))
    rows = [("step", net, bn, batch) for net in NETWORKS for bn in (False, True) for batch in (100, 1000)]
    rows += [("eval", net, bn, EVAL_EXAMPLES) for net in NETWORKS for bn in (False, True)]
    for kind, net, bn, batch in rows:
        label = row_label(kind, net, bn, batch)
        if args.only and args.only not in label:
            continue
        hiddens, activation = NETWORKS[net]
        if kind == "step":
            contenders = step_contenders(hiddens, activation, bn, batch, baseline)
        else:
            contenders = eval_contenders(hiddens, activation, bn, baseline)
        t = time_contenders(contenders, args.rounds, args.block, args.pause, clock)
        print(
            f"{label:<24}"
            + "".join(f"{fmt_ms(t.get(c)):>11}" for c in columns)
            + "".join(f"{fmt_ratio(t['mytorch'], t.get(c)):>12}" for c in ratios),
            flush=True,
        )
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


def profile(steps=3000):
    """Where mytorch's step spends its time: the handout network, batch 100, float64."""
    import cProfile
    import pstats

    x, y = make_data(100)
    mlp = make_mytorch(*NETWORKS["handout"], bn=False)
    mytorch_step(mlp, x, y)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        mytorch_step(mlp, x, y)
    profiler.disable()
    print(f"cProfile of {steps} mytorch steps (handout network, batch 100, float64), by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
