"""Building an index: ``build_index`` (a folder: load → clean → chunk → embed only what changed → store, atomically),
``add_documents`` (documents added to an index without re-reading its corpus), ``remove_documents`` and
``replace_documents`` (taking them out, or putting new versions in, the rest reused), ``ensure_index`` (what a server runs
first). ``vectors`` holds what a build reuses; ``kept`` the documents added from other folders."""

from rag.index.build import (
    BuildReport,
    add_documents,
    build_from_documents,
    build_index,
    ensure_index,
    remove_documents,
    replace_documents,
)
from rag.index.vectors import embedding_text, text_key

__all__ = [
    "BuildReport",
    "add_documents",
    "build_from_documents",
    "build_index",
    "embedding_text",
    "ensure_index",
    "remove_documents",
    "replace_documents",
    "text_key",
]
