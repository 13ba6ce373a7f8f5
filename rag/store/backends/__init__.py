"""Where an index keeps its vectors, chosen by the scheme of the store's address: a registry of ``Backend`` classes
(``rag.store.backends.base``) that plug-ins and tests can extend (``register_backend``), as ``rag.embed`` does for
embedders.

Built in: ``faiss`` (``rag.store.backends.faiss_files``, the default: the index folder's own files) and ``milvus://``
(``rag.store.backends.milvus``, the ``rag[milvus]`` extra): ``milvus://HOST:PORT`` for a Milvus server or cluster,
``milvus:///path/to/folder.db`` for a local folder served in-process by milvus-lite. The index folder always holds the
manifest, the journal, and per generation the documents, the passages and the BM25 index: the manifest switch stays
the commit point of a build, whatever the store. The manifest's ``store`` record names the backend (``backend``: its
scheme); an index without one keeps its vectors in its files.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.errors import BadInputError, RagError
from rag.store.backends.base import FAISS, Backend, Generation, RowSearch

__all__ = [
    "FAISS", "Backend", "Generation", "RowSearch", "address_problem", "backend_for", "check_store", "register_backend",
    "scheme_of", "store_record",
]  # fmt: skip


@dataclass(frozen=True)
class Registered:
    """A backend by name: ``load()`` imports its class (only when an index uses it); ``package``/``extra``: what it
    needs installed, for the message when it is not."""

    load: Callable[[], type[Backend]]
    package: str | None = None
    extra: str | None = None


def _faiss_files() -> type[Backend]:
    from rag.store.backends.faiss_files import FaissFiles

    return FaissFiles


def _milvus() -> type[Backend]:
    from rag.store.backends.milvus import MilvusBackend

    return MilvusBackend


BACKENDS: dict[str, Registered] = {FAISS: Registered(_faiss_files), "milvus": Registered(_milvus, "pymilvus", "milvus")}


def register_backend(scheme: str, load: Callable[[], type[Backend]], package: str | None = None) -> None:
    """Make ``SCHEME://…`` addresses (and records whose ``backend`` is ``scheme``) use the class ``load()`` returns."""
    if not scheme.isidentifier():
        raise ValueError(f"a store scheme is a word, not {scheme!r}")
    BACKENDS[scheme] = Registered(load, package)


def scheme_of(uri: str) -> str:
    """``faiss`` for ``faiss``, else the part before ``://``."""
    return uri if uri == FAISS else uri.partition("://")[0]


def _class(scheme: str, what: str) -> type[Backend]:
    registered = BACKENDS[scheme]
    if registered.package is not None and importlib.util.find_spec(registered.package) is None:
        extra = registered.extra or scheme
        raise BadInputError(f"{what} needs the {extra} extra: pip install 'rag[{extra}]' (or pip install -e '.[{extra}]')")
    return registered.load()


def address_problem(uri: str) -> str | None:
    """What is wrong with ``uri`` as a store's address, saying what a valid one looks like (None: nothing). The backend
    need not be installed (that is checked when a build uses it: ``check_store``)."""
    scheme = scheme_of(uri)
    if scheme not in BACKENDS or (scheme != FAISS and "://" not in uri):
        forms = " or ".join(BACKENDS[s].load().address for s in BACKENDS)
        return f"unknown store {uri!r}: use {forms}"
    try:
        BACKENDS[scheme].load().check_address(uri)
    except ValueError as exc:
        return str(exc)
    return None


def check_store(uri: str) -> None:
    """Raise ``BadInputError`` unless ``uri`` names a store whose backend is installed (before a build reads and
    embeds anything)."""
    problem = address_problem(uri)
    if problem:
        raise BadInputError(f"--store {uri}: {problem}")
    _class(scheme_of(uri), f"--store {uri}")


def store_record(uri: str, previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The manifest's ``store`` record for a build into ``uri`` (None: the FAISS files); the previous index's
    collection is kept when it used the same store, so that an update touches only what changed."""
    check_store(uri)
    return _class(scheme_of(uri), f"--store {uri}").new_record(uri, previous)


def backend_for(record: dict[str, Any] | None) -> Backend:
    """The backend of a manifest's ``store`` record (none: the FAISS files of the index folder)."""
    if not record:
        return _class(FAISS, FAISS)(None)
    scheme = record.get("backend") if isinstance(record, dict) else None
    if not isinstance(scheme, str) or scheme == FAISS or scheme not in BACKENDS:
        raise RagError(f"this index keeps its vectors in an unknown store ({scheme!r}); rebuild it with `rag index`")
    try:
        backend = _class(scheme, f"this index keeps its vectors in {scheme}: it")
    except BadInputError as exc:
        raise RagError(str(exc)) from None
    return backend(record)
