"""Preflight: is this a gradable submission?  Reads the source with ast only (student code is never run here).

- the required files exist and define the graded names (classes, methods, functions) with usable signatures;
- every .py in mytorch/ and hw1/ parses and imports nothing beyond numpy, the standard library and its own
  sibling modules (a `torch` import is reported by file and line: the course grader has no torch).

    problems = preflight.check(root)      # [] when all is well; else one message per problem
"""

import ast
import os
import sys

import course

# graded module -> {class or function name: {method: (positional parameters after self, keyword parameters
# required)}}; a function's entry maps the name itself to its signature. The files are course.py's.
REQUIRED_NAMES = {
    "activation": {
        "Activation": {},
        **{cls: {"forward": (1, ()), "derivative": (0, ())} for cls in ("Identity", "Sigmoid", "Tanh", "ReLU")},
    },
    "loss": {"Criterion": {}, "SoftmaxCrossEntropy": {"forward": (2, ()), "derivative": (0, ())}},
    "linear": {"Linear": {"__init__": (4, ()), "forward": (1, ()), "backward": (1, ())}},
    "batchnorm": {"BatchNorm": {"__init__": (1, ()), "forward": (1, ("eval",)), "backward": (1, ())}},
    "hw1": {
        "MLP": {
            "__init__": (8, ("momentum", "num_bn_layers")),
            "forward": (1, ()),
            "backward": (1, ()),
            "zero_grads": (0, ()),
            "step": (0, ()),
            "train": (0, ()),
            "eval": (0, ()),
            "total_loss": (1, ()),
            "error": (1, ()),
        },
        "get_training_stats": (4, ()),
    },
    "mc": {f"question_{i}": (0, ()) for i in range(1, 6)},
}
REQUIRED = {f"{course.GRADED_MODULES[module]}/{module}.py": names for module, names in REQUIRED_NAMES.items()}
REQUIRED_FILES = course.GRADED_FILES
ALLOWED_THIRD_PARTY = {"numpy"}


def standard_library():
    """Top-level names of the standard library (sys.stdlib_module_names; listed from the stdlib folder on 3.9)."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:
        import sysconfig

        folder = sysconfig.get_paths()["stdlib"]
        names = (
            set(sys.builtin_module_names)
            | {"__future__"}
            | {
                entry[:-3] if entry.endswith(".py") else entry
                for entry in os.listdir(folder)
                if entry.endswith(".py") or os.path.isfile(os.path.join(folder, entry, "__init__.py"))
            }
        )
        lib_dynload = os.path.join(folder, "lib-dynload")
        if os.path.isdir(lib_dynload):
            names |= {entry.split(".")[0] for entry in os.listdir(lib_dynload)}
    return set(names)


def allowed_imports(root):
    """Top-level names graded code may import: the standard library, numpy, and its own sibling modules."""
    return standard_library() | ALLOWED_THIRD_PARTY | local_modules(root)


def check(root):
    """All problems found under root (the folder holding mytorch/ and hw1/), as messages; [] if none."""
    problems = [f"{path} is missing." for path in REQUIRED_FILES if not os.path.isfile(os.path.join(root, path))]
    trees, allowed = {}, allowed_imports(root)
    for path in source_files(root):
        try:
            with open(os.path.join(root, path), encoding="utf-8") as stream:
                trees[path] = ast.parse(stream.read(), filename=path)
        except SyntaxError as error:
            problems.append(f"{path}:{error.lineno}: SyntaxError: {error.msg}.")
        except (UnicodeDecodeError, ValueError) as error:
            problems.append(f"{path}: cannot be read as Python source ({error}).")
    for path, tree in trees.items():
        problems += forbidden_imports(path, tree, allowed)
    for path, names in REQUIRED.items():
        if path in trees:
            problems += missing_names(path, trees[path], names)
    return problems


def source_files(root):
    """Relative paths of every .py file under mytorch/ and hw1/ (caches skipped), sorted."""
    found = []
    for folder in ("mytorch", "hw1"):
        for directory, subdirectories, files in os.walk(os.path.join(root, folder)):
            subdirectories[:] = sorted(d for d in subdirectories if d not in ("__pycache__", ".ipynb_checkpoints"))
            found += [
                os.path.relpath(os.path.join(directory, f), root).replace(os.sep, "/")
                for f in files
                if f.endswith(".py")
            ]
    return sorted(found)


def local_modules(root):
    """Names the graded code may import from its own folders: mytorch, hw1 and every sibling module."""
    names = {"mytorch", "hw1"}
    for folder in ("mytorch", "hw1"):
        directory = os.path.join(root, folder)
        if os.path.isdir(directory):
            names.update(entry[:-3] for entry in os.listdir(directory) if entry.endswith(".py"))
    return names


def forbidden_imports(path, tree, allowed):
    """Messages for imports of top-level names outside `allowed` (see allowed_imports)."""
    problems = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            top = name.partition(".")[0]
            if top not in allowed:
                problems.append(
                    f"{path}:{node.lineno}: imports {top}; graded code may import only numpy and the standard "
                    f"library (the course grader has no {top}). Remove the import."
                )
    return problems


def _called_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def missing_names(path, tree, required):
    """Messages for required classes, methods and functions that are absent or cannot take the grader's call."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    imported = {
        alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    problems = []
    for name, spec in required.items():
        if isinstance(spec, tuple):  # a module-level function
            if name not in functions:
                problems.append(f"{path}: function {name} is missing.")
            else:
                problems += _signature_problems(f"{path}: {name}", functions[name], *spec, method=False)
            continue
        if name not in classes:
            if name not in imported:  # a class imported from a sibling module is there at run time
                problems.append(f"{path}: class {name} is missing.")
            continue
        methods = _methods(classes[name], classes)
        for method, (positional, keywords) in spec.items():
            if method not in methods:
                problems.append(f"{path}: {name}.{method} is missing.")
            else:
                problems += _signature_problems(f"{path}: {name}.{method}", methods[method], positional, keywords)
    return problems


def _methods(cls, classes, seen=()):
    """Methods of a class, including those inherited from base classes defined in the same file."""
    methods = {}
    for base in reversed(cls.bases):
        if isinstance(base, ast.Name) and base.id in classes and base.id not in seen:
            methods.update(_methods(classes[base.id], classes, seen + (cls.name,)))
    methods.update({node.name: node for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))})
    return methods


def _signature_problems(where, function, positional, keywords, method=True):
    """Can function be called with `positional` arguments (after self) and with each of `keywords` by name?"""
    args = function.args
    params = [a.arg for a in args.posonlyargs + args.args][1 if method else 0 :]
    required = len(params) - len(args.defaults)
    takes = "(" + ", ".join((["self"] if method else []) + params) + ")"
    problems = []
    if not (required <= positional and (positional <= len(params) or args.vararg)):
        problems.append(f"{where}{takes} cannot be called with {positional} argument(s); see the handout's signature.")
    keyword_names = params + [a.arg for a in args.kwonlyargs]
    for keyword in keywords:
        if keyword not in keyword_names and not args.kwarg:
            problems.append(f"{where}{takes} has no parameter named {keyword!r}; the grader passes it by name.")
    return problems
