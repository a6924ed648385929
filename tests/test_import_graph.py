"""No import cycles in `fer/`, lazy imports included.

The graph is read from the source, not from `sys.modules`: every `import` and `from ... import`
statement of every module under `fer/` is an edge, wherever it sits (module level, inside a
function, under `if TYPE_CHECKING`), with relative imports resolved and `from . import x`
counted as an import of the submodule `x`. An import inside a function hides a cycle from Python
but not from a reader, who still has to know both modules to change either.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Every module of the package under `package_dir`, by dotted name (a package is its
    `__init__.py`)."""
    top = package_dir.name
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [top, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name `from <level dots><target> import ...` means inside `module`."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """For each module of the package, the package's modules it imports."""
    modules = module_names(package_dir)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, is_package, node.level, node.module)
                # `from pkg import sub` imports the submodule `pkg.sub` when there is one, else
                # a name defined in `pkg`
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            for target in targets:
                # a dotted name that is not a module (an attribute) means its nearest module
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                graph[name] |= _runs(name, target)
    return graph


def _runs(importer: str, target: str) -> set[str]:
    """The modules that importing `target` from `importer` may execute: `target` and each
    package above it, except the packages that hold `importer` (already imported by then)."""
    ran = set()
    held = {importer.rsplit(".", k)[0] for k in range(importer.count(".") + 1)}
    while target:
        if target not in held:
            ran.add(target)
        target = target.rpartition(".")[0]
    return ran


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `[a, b, ..., a]`, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that reach each other through imports (the strongly connected
    components of more than one module), so that a failure names every cycle at once."""
    reach = {node: _reachable(graph, node) for node in graph}
    groups = {frozenset(n for n in reach[node] if node in reach[n]) for node in graph}
    return sorted((set(g) for g in groups if len(g) > 1), key=sorted)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_fer_has_no_import_cycles():
    graph = import_graph(ROOT / "fer")
    found = [
        " -> ".join(find_cycle({n: graph[n] & group for n in group})) for group in tangles(graph)
    ]
    assert not found, "import cycles in fer/:\n  " + "\n  ".join(found)
    assert find_cycle(graph) is None


def test_graph_covers_every_module_and_sees_lazy_imports():
    """The graph is the real one: every file under fer/ is in it, and imports at module level,
    inside functions and relative ones all show up as edges."""
    graph = import_graph(ROOT / "fer")
    files = [p for p in (ROOT / "fer").rglob("*.py") if "__pycache__" not in p.parts]
    assert len(graph) == len(files)
    assert {"fer", "fer.training", "fer.serving.analyzer", "fer.training.gradcam"} <= set(graph)
    assert "fer.config" in graph["fer"]  # `from .config import AnalysisConfig` in __init__
    assert "fer.training.tf_runtime" in graph["fer.training.gradcam"]  # inside a function


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_cycle_through_a_lazy_import_is_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import thing\n",
            "pkg/b.py": "def thing():\n    from .a import other\n    return other\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    assert find_cycle(import_graph(package)) == ["pkg.a", "pkg.b", "pkg.a"]


def test_submodules_and_parent_relative_imports_resolve(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from . import sub\n",
            "pkg/base.py": "X = 1\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/leaf.py": "from .. import base\nfrom ..base import X\nfrom . import mod\n",
            "pkg/sub/mod.py": "def f():\n    from pkg.sub.leaf import g\n",
            "pkg/other.py": "import pkg.sub.leaf\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg"] == {"pkg.sub"}
    assert graph["pkg.sub.leaf"] == {"pkg.base", "pkg.sub.mod"}
    # importing a submodule also runs the packages above it that the importer is not in
    assert graph["pkg.other"] == {"pkg.sub", "pkg.sub.leaf"}
    assert find_cycle(graph) == ["pkg.sub.leaf", "pkg.sub.mod", "pkg.sub.leaf"]
