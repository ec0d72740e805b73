"""The shape of seqrec, checked from its source with `ast` (nothing is imported):

- the stages in one direction: a module imports only modules of its own stage or of earlier ones (STAGES), at
  module level and inside functions alike, with no exceptions;
- no import cycle between seqrec's modules, counting module-level and function-level imports alike;
- seqrec never imports the app (streamlit, plotly, studio);
- a function-level import inside seqrec says why on its line or the line above (e.g. a lazy torch import);
- seqrec.runtime imports nothing of seqrec but its error type.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "seqrec"
APP_LIBRARIES = ("streamlit", "plotly", "studio")

# The pipeline, first to last: a module may import its own stage and the stages before it, never a later one. The
# first entries are single modules everything may use; "seqrec" is the package's facade (seqrec/__init__.py, which
# re-exports the public names) and sits above the command line, so nothing inside the package imports it.
STAGES = ("errors", "version", "runtime", "config", "data", "model", "evaluation", "runs", "training",
          "inspect", "service", "cli", "seqrec")


def stage_of(module: str) -> int:
    """The position in STAGES of a seqrec module (seqrec.data.split -> "data"; seqrec.__main__ counts as the CLI)."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "seqrec"
    return STAGES.index("cli" if name == "__main__" else name)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "seqrec.runs.files"
    target: str  # what it imports, resolved to a module where possible, e.g. "seqrec.runs.run"
    line: int
    in_function: bool


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against the importing module)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _function_nodes(tree: ast.AST) -> set[int]:
    """Ids of the import nodes that sit inside a function (at any depth)."""
    inside = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return inside


def imports_of(path: Path, known: set[str], root: Path = PACKAGE) -> list[Import]:
    """Every import statement of one file. `from a import b` targets the module a.b when that is a known module
    (a submodule), else the module a."""
    module = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    inside = _function_nodes(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(module, a.name, node.lineno, id(node) in inside) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append(Import(module, sub if sub in known else base, node.lineno, id(node) in inside))
    return out


def all_imports(root: Path = PACKAGE) -> list[Import]:
    files = sorted(root.rglob("*.py"))
    known = {module_name(f, root) for f in files}
    return [imp for f in files for imp in imports_of(f, known, root)]


def import_graph(imports: list[Import], prefix: str) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (an import of a module inside a package counts as an import
    of that module only; Python running the package's __init__ first is not an edge)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.module, set())
        if imp.target == prefix or imp.target.startswith(prefix + "."):
            if imp.target != imp.module:
                graph[imp.module].add(imp.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def uncommented_function_imports(root: Path = PACKAGE) -> list[str]:
    """'file:line' of every function-level import with no comment on its line or on the line above. A comment above
    a block of consecutive imports covers the whole block (one reason, e.g. "torch loads only now", for several)."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        inside = _function_nodes(tree)
        import_lines = {n for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                        for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
        for node in sorted((n for n in ast.walk(tree) if id(n) in inside), key=lambda n: n.lineno):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                above = node.lineno - 1
                while above in import_lines and "#" not in lines[above - 1]:  # climb to the top of the block
                    above -= 1
                said = "#" in lines[node.lineno - 1] or (above >= 1 and "#" in lines[above - 1]
                                                         and (above in import_lines
                                                              or lines[above - 1].strip().startswith("#")))
                if not said:
                    bad.append(f"{path.relative_to(root.parent)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return bad


def app_imports(imports: list[Import]) -> list[str]:
    return [f"{i.module}:{i.line} imports {i.target}" for i in imports
            if i.target.split(".")[0] in APP_LIBRARIES]


# ------------------------------------------------------------------------------------------------------------------
# The rules
# ------------------------------------------------------------------------------------------------------------------

def upward_imports(imports: list[Import]) -> list[str]:
    """Every import of a later stage by an earlier one, as 'module:line imports target (stage -> later stage)'."""
    bad = []
    for i in imports:
        if i.target.split(".")[0] != "seqrec" or i.target == i.module:
            continue
        src, dst = stage_of(i.module), stage_of(i.target)
        if dst > src:
            bad.append(f"{i.module}:{i.line} imports {i.target} ({STAGES[src]} -> {STAGES[dst]})")
    return bad


def test_every_seqrec_module_has_a_stage():
    files = sorted(PACKAGE.rglob("*.py"))
    assert [module_name(f) for f in files if module_name(f).split(".")[1:2] and
            module_name(f).split(".")[1] not in STAGES + ("__main__",)] == []


def test_stages_import_only_their_own_or_earlier_stages():
    assert upward_imports(all_imports()) == []


def test_seqrec_has_no_import_cycle():
    cycle = find_cycle(import_graph(all_imports(), "seqrec"))
    assert cycle is None, "import cycle inside seqrec: " + " -> ".join(cycle)


def test_seqrec_never_imports_the_app():
    assert app_imports(all_imports()) == []


def test_every_function_level_import_in_seqrec_says_why():
    assert uncommented_function_imports() == []


def test_runtime_imports_nothing_of_seqrec_but_its_errors():
    runtime = [i for i in all_imports() if i.module == "seqrec.runtime"]
    assert runtime, "seqrec/runtime.py not found or imports nothing at all"
    assert [i.target for i in runtime if i.target.split(".")[0] == "seqrec" and i.target != "seqrec.errors"] == []


# ------------------------------------------------------------------------------------------------------------------
# The checks catch what they are meant to catch (on a small package written to tmp_path)
# ------------------------------------------------------------------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "seqrec"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {"a.py": "from seqrec.b import g\n",
                               "b.py": "def g():\n    from seqrec import a  # lazy\n",
                               "c.py": "from seqrec.a import g\n"})
    assert find_cycle(import_graph(all_imports(root), "seqrec")) == ["seqrec.a", "seqrec.b", "seqrec.a"]


def test_a_relative_import_cycle_inside_a_subpackage_is_found(tmp_path):
    root = _package(tmp_path, {"data/__init__.py": "", "data/x.py": "from .y import f\n",
                               "data/y.py": "from seqrec.data import x\n"})
    assert find_cycle(import_graph(all_imports(root), "seqrec")) == ["seqrec.data.x", "seqrec.data.y",
                                                                     "seqrec.data.x"]


def test_an_acyclic_package_passes(tmp_path):
    root = _package(tmp_path, {"a.py": "import os\nfrom seqrec.b import g\n", "b.py": "import numpy\n"})
    assert find_cycle(import_graph(all_imports(root), "seqrec")) is None


def test_an_app_import_is_found_at_any_depth(tmp_path):
    root = _package(tmp_path, {"a.py": "def f():\n    import plotly.express as px  # lazy\n",
                               "b.py": "from studio.copy import TEXT\n", "c.py": "import streamlit as st\n"})
    assert app_imports(all_imports(root)) == ["seqrec.a:2 imports plotly.express", "seqrec.b:1 imports studio.copy",
                                              "seqrec.c:1 imports streamlit"]


def test_an_uncommented_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {"a.py": "def f():\n    # torch is slow to import\n    import torch\n\n"
                                       "def g():\n    import json  # lazy: only here\n\n"
                                       "def h():\n    x = 1  # a comment, but not about the import\n    import re\n\n"
                                       "class K:\n    def m(self):\n        from seqrec import b\n\n"
                                       "def block():\n    # torch loads only now\n    import torch\n"
                                       "    from seqrec.c import (d,\n        e)\n    import os\n\n"
                                       "def unsaid_block():\n    import torch\n    import os\n"})
    assert uncommented_function_imports(root) == ["seqrec/a.py:10: import re", "seqrec/a.py:14: from seqrec import b",
                                                  "seqrec/a.py:24: import torch", "seqrec/a.py:25: import os"]


def test_an_upward_import_is_found_at_any_depth(tmp_path):
    root = _package(tmp_path, {"data/__init__.py": "",
                               "data/x.py": "def f():\n    from seqrec.model import m  # lazy\n",
                               "model/__init__.py": "", "model/m.py": "from seqrec.data import x\n",
                               "cli.py": "from seqrec.model import m\n", "runs/__init__.py": "",
                               "runs/r.py": "import seqrec\n"})
    assert upward_imports(all_imports(root)) == ["seqrec.data.x:2 imports seqrec.model.m (data -> model)",
                                                 "seqrec.runs.r:1 imports seqrec (runs -> seqrec)"]


@pytest.mark.parametrize("text, ok", [("import os\nimport torch\n", True), ("from seqrec.errors import E\n", True),
                                      ("from seqrec.config import C\n", False),
                                      ("def f():\n    from seqrec import config  # lazy\n", False)])
def test_a_runtime_that_imports_seqrec_is_found(tmp_path, text, ok):
    root = _package(tmp_path, {"runtime.py": text, "errors.py": "", "config.py": ""})
    runtime = [i.target for i in all_imports(root) if i.module == "seqrec.runtime"]
    assert ([t for t in runtime if t.split(".")[0] == "seqrec" and t != "seqrec.errors"] == []) is ok
