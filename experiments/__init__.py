"""The two classic exercises beside Homework 1, measured and explained.

    python3 -m experiments.zero_init     # every weight and bias 0: what trains, what does not, and why
    python3 -m experiments.fold_demo     # fold a trained BatchNorm into the preceding Linear layer

Each module has a function the notebooks in examples/ call (zero_init.analyse, fold_demo.run) and a report
function that turns its results into the printed text.  The submodules are not imported here, so that
`python3 -m experiments.zero_init` runs the module exactly once.
"""

import os
import sys

# numpy's OpenBLAS starts a thread per core for every matrix product.  For these small products on a busy machine
# the threads mostly wait for each other: measured here, one run took 4-20 s with two threads and 0.6 s with one.
# The setting only takes effect if numpy is not loaded yet (as under `python3 -m experiments.zero_init`), and an
# explicit OPENBLAS_NUM_THREADS wins.
if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
