"""rag: bilingual (French/English) retrieval that cites the exact passages of a document collection.

from rag import Retriever
hits = Retriever.load("index").search("Quand le groupe-pays Russie a-t-il été créé ?", k=5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["BuildReport", "Hit", "Passage", "RagError", "Results", "Retriever", "Span", "__version__", "build_index"]

if TYPE_CHECKING:
    __version__: str
    from rag.errors import RagError
    from rag.index import BuildReport, build_index
    from rag.retrieve.retriever import Retriever
    from rag.types import Hit, Passage, Results, Span

_LAZY = {
    "Retriever": "rag.retrieve.retriever",
    "build_index": "rag.index",
    "BuildReport": "rag.index",
    "Hit": "rag.types",
    "Passage": "rag.types",
    "Span": "rag.types",
    "Results": "rag.types",
    "RagError": "rag.errors",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import rag` (and the CLI's start-up) stays cheap.
    if name == "__version__":
        from rag.version import version

        return version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
