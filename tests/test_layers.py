"""Dependencies point down (docs/architecture.md): no import circle in rag/ and ui/, no module below importing one
above, no private name imported from another module. Read from the source with ``ast``: every import counts, at the
top of a module, inside a function or under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The layers, lowest first; a module may import its own layer's and lower ones' (docs/architecture.md says why).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("rag.types", "rag.errors", "rag.i18n", "rag.threads", "rag.version"),
    ("rag.ingest", "rag.embed"),
    ("rag.config",),
    ("rag.store",),
    ("rag.retrieve",),
    ("rag.index",),
    ("rag", "rag.cli", "rag.langchain", "rag.evaluation", "rag.render", "ui"),
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported
    names: tuple[str, ...]  # the names taken from it (``from target import a, b``), else ()
    line: int


def modules() -> dict[str, Path]:
    found = {}
    for path in [*sorted((ROOT / "rag").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]:
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(known: dict[str, Path]) -> Iterator[Import]:
    """Every import of a known module by a known module (``from rag import store`` imports ``rag.store``)."""
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in known:
                        yield Import(name, alias.name, (), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*stem, base] if base else stem)
                submodules = [a.name for a in node.names if f"{base}.{a.name}" in known]
                for sub in submodules:
                    yield Import(name, f"{base}.{sub}", (), node.lineno)
                others = tuple(a.name for a in node.names if a.name not in submodules)
                if base in known and others:
                    yield Import(name, base, others, node.lineno)


def layer(module: str) -> int:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    assert best is not None, f"{module} is in no layer of tests/test_layers.py"
    return best[0]


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle() -> None:
    edges: dict[str, set[str]] = {}
    for imp in imports(modules()):
        if imp.target != imp.module:
            edges.setdefault(imp.module, set()).add(imp.target)
    assert circles(edges) == []


def test_no_module_imports_a_module_above_it() -> None:
    upward = [
        f"{imp.module}:{imp.line} imports {imp.target}"
        for imp in imports(modules())
        if layer(imp.target) > layer(imp.module)
    ]
    assert upward == []


def test_no_module_imports_a_private_name_of_another() -> None:
    private = [
        f"{imp.module}:{imp.line} imports {name} from {imp.target}"
        for imp in imports(modules())
        for name in imp.names
        if name.startswith("_") and not name.startswith("__") and imp.target != imp.module
    ]
    assert private == []


def test_the_checks_see_real_edges() -> None:
    """The reader finds imports of every form, so that the checks above cannot pass by seeing nothing."""
    found = {(i.module, i.target) for i in imports(modules())}
    assert ("rag.retrieve.retriever", "rag.store") in found  # from rag import store
    assert ("rag.retrieve.hits", "rag.retrieve.rank") in found  # from rag.retrieve import rank
    assert ("rag.cli", "rag.index") in found  # a local import inside a function
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("rag.store.backends.milvus") == 3 and layer("rag") == 6 and layer("rag.config") == 2


def test_the_command_line_starts_without_numpy_or_faiss() -> None:
    code = "import sys, rag.cli; print(sorted({'numpy', 'faiss'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
