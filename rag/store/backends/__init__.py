"""Where an index keeps its vectors: the index folder's own files (FAISS, the default) or a vector database.

The index folder always holds the manifest, the journal, and per generation the documents, the passages and the
BM25 index: the manifest switch stays the commit point of a build. A backend named by the manifest's ``store`` record
holds the passage vectors, the sentence vectors and the payload of citations instead of ``vectors.npy``,
``sentences.npy`` and ``faiss.index``. Serving sees the same three things either way (``rag.store.backends.base``): rows of
passage vectors, rows of sentence vectors (``Rows``), and a search over passage vectors that ``rag.store.ann.search``
calls.

``milvus`` (``rag.store.backends.milvus``, the ``rag[milvus]`` extra): ``milvus://HOST:PORT`` for a Milvus server or
cluster, ``milvus:///path/to/folder.db`` for a local folder served in-process by milvus-lite.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from rag.config import store_address
from rag.errors import BadInputError, RagError
from rag.store.backends.base import FAISS, Backend, RowSearch

__all__ = ["FAISS", "Backend", "RowSearch", "backend_for", "check_store", "store_record"]


def store_record(uri: str, previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The manifest's ``store`` record for a build into ``uri`` (None: the FAISS files); the previous index's
    collection is kept when it used the same store, so that an update touches only what changed."""
    check_store(uri)
    if uri == FAISS:
        return None
    from rag.store.backends.milvus import new_record

    if previous and previous.get("backend") == "milvus" and previous.get("uri") == uri:
        return dict(previous)
    return new_record(uri)


def check_store(uri: str) -> None:
    """Raise ``BadInputError`` unless ``uri`` names a store (before a build reads and embeds anything)."""
    try:
        store_address(uri)
    except ValueError as exc:
        raise BadInputError(f"--store {uri}: {exc}") from None


def backend_for(record: dict[str, Any] | None) -> Backend | None:
    """The backend of a manifest's ``store`` record (None: the FAISS files of the index folder)."""
    if not record:
        return None
    kind = record.get("backend") if isinstance(record, dict) else None
    if kind != "milvus":
        raise RagError(f"this index keeps its vectors in an unknown store ({kind!r}); rebuild it with `rag index`")
    if importlib.util.find_spec("pymilvus") is None:
        raise RagError("this index keeps its vectors in Milvus: pip install 'rag[milvus]' (or pip install -e '.[milvus]')")
    from rag.store.backends.milvus import MilvusBackend

    return MilvusBackend(record)
