"""The app's handle on the index: searches with the current ``Retriever``; adds documents and swaps in a new one.

Searches keep using the retriever object they started with while a document is being indexed; the swap to the
freshly loaded retriever is guarded by a lock, and only one indexing runs at a time.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag import store
from rag.embed import DEFAULT_EMBEDDER, Embedder
from rag.errors import IndexIncompatibleError, RagError
from rag.index import BuildReport, build_index
from rag.load import SkipFile, load_file
from rag.retriever import Retriever
from rag.types import Document, DocumentInfo, Hit, Passage
from ui.uploads import UploadRejected, check_upload, message, number, reserve_destination, safe_filename

log = logging.getLogger("rag.ui")


def ensure_index(
    index: str | Path, corpus: str | Path, progress: bool = False, embedder: Embedder | str | None = None
) -> BuildReport | None:
    """Build the index from ``corpus`` when it is missing; rebuild it when an older rag wrote it from this corpus.

    The rebuild reuses the old index's vectors (nothing is embedded again), so upgrading rag does not stop the app
    from starting. A damaged index, or one built from another folder, is left alone and reported (one line).
    """
    path = Path(index)
    if not (path / store.MANIFEST).is_file():
        return build_index(corpus, path, embedder=embedder or DEFAULT_EMBEDDER, progress=progress)
    try:
        store.read_manifest(path)
        return None
    except IndexIncompatibleError as exc:
        current_error = exc
    old = store.read_manifest(path, reuse_old=True)  # raises for a damaged index or one from a newer rag
    if old.get("corpus") != str(Path(corpus).resolve()):
        raise current_error
    log.warning("%s was written by an older rag (format %s): rebuilding it from %s", path, old["format_version"], corpus)
    spec = embedder or (old.get("embedder") or {}).get("spec") or DEFAULT_EMBEDDER
    return build_index(corpus, path, embedder=spec, progress=progress)


@dataclass(frozen=True)
class Added:
    """A document added from the web app: its uploaded name, the name it was stored under, its passages, the build."""

    name: str
    stored_as: str
    passages: int
    report: BuildReport

    def message(self, lang: str = "en") -> str:
        """What the app says about it, in ``lang`` (``fr`` or English)."""
        r = self.report
        index = message(
            lang, "index", documents=r.documents, total=r.passages, embedded=r.embedded, reused=r.reused,
            seconds=number(r.seconds, lang, ".1f"),
        )  # fmt: skip
        renamed = message(lang, "renamed", dest=self.stored_as) if self.stored_as != self.name else ""
        passages = message(lang, "passage" if self.passages == 1 else "passages", n=self.passages)
        return message(lang, "added", name=self.name, renamed=renamed, passages=passages, index=index)


@dataclass(frozen=True)
class Answer:
    """Hits of one search with the neighbouring passages of each (from the same retriever snapshot)."""

    hits: list[Hit]
    contexts: list[list[Passage]]


class Library:
    """The corpus folder, its index, and the retriever currently serving searches."""

    def __init__(self, index: str | Path, corpus: str | Path, retriever: Retriever | None = None) -> None:
        self.index = Path(index)
        self.corpus = Path(corpus)
        self._retriever = retriever or Retriever.load(self.index)
        self._swap_lock = threading.Lock()
        self._index_lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        with self._swap_lock:
            return self._retriever

    def documents(self) -> list[tuple[DocumentInfo, int]]:
        """Indexed documents with their number of passages."""
        r = self.retriever
        return [(info, r.passage_count(info.source)) for info in r.documents]

    def search(self, question: str, k: int, sources: Sequence[str] | None = None) -> Answer:
        """Search and fetch each hit's context with one retriever (safe against a concurrent swap)."""
        r = self.retriever
        hits = r.search(question, k=k, sources=sources or None)  # (a string is one source)
        return Answer(hits, [r.context(hit, 1, 1) for hit in hits])

    # -- adding documents ----------------------------------------------------------------------------------------

    def add_document(self, upload: str | Path, original_name: str | None = None) -> Added:
        """Validate an uploaded file, store it in the corpus, re-index, swap in the new retriever.

        Returns what was added (``Added.message(lang)`` says it); raises ``UploadRejected`` (with the reason) and
        leaves the corpus unchanged when the file cannot be added.
        """
        src = Path(upload)
        name = safe_filename(original_name or src.name)
        check_upload(src, name)
        data = src.read_bytes()
        document = _readable(data, name)
        with self._index_lock:
            current = self.retriever
            _reject_duplicate(current, document, name)
            dest = reserve_destination(self.corpus, name, data)
            try:
                new, report = self._reindex(current, dest.name)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            with self._swap_lock:
                self._retriever = new
        return Added(name, dest.name, new.passage_count(dest.name), report)

    def _reindex(self, current: Retriever, source: str) -> tuple[Retriever, BuildReport]:
        """Incremental re-index with the current embedder; the new document must come out searchable."""
        try:
            report = build_index(self.corpus, self.index, embedder=current.embedder)
            new = Retriever.load(self.index, embedder=current.embedder)
        except RagError as exc:
            raise UploadRejected("index_failed", name=source, reason=str(exc)) from exc
        if new.passage_count(source) == 0:
            raise UploadRejected("no_passage", name=source)
        return new, report


def _readable(data: bytes, name: str) -> Document:
    """Load the file with rag's own readers in a private temporary folder (the corpus is not touched)."""
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        staged = Path(tmp) / name
        staged.write_bytes(data)
        try:
            return load_file(staged, name)
        except SkipFile as exc:
            raise UploadRejected("unindexable", name=name, reason=str(exc)) from exc
        except Exception as exc:  # a reader failing in an unexpected way is still a bad file, not a crash
            log.warning("reading upload %s failed", name, exc_info=True)
            raise UploadRejected("unreadable", name=name, reason=exc.__class__.__name__) from exc


def _reject_duplicate(retriever: Retriever, document: Document, name: str) -> None:
    for info in retriever.documents:
        if retriever.document(info.source).sha256 == document.sha256:
            raise UploadRejected("duplicate", name=name, other=info.source, title=info.title)
