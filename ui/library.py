"""The app's handle on the index: searches with the current ``Retriever``; adds documents and swaps in a new one.

Searches keep using the retriever object they started with while a document is being indexed; the swap to the
freshly loaded retriever is guarded by a lock, and only one indexing runs at a time. An uploaded document is read
alone and added with ``rag.index.add_documents`` (the corpus is not read again); its file is kept in the uploads
folder, never in the corpus.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import Config
from rag.errors import NoPassageError, RagError
from rag.i18n import number, text
from rag.index import BuildReport, add_documents
from rag.ingest.load import SkipFile, load_file
from rag.ingest.ocr_cache import FOLDER as OCR_CACHE
from rag.retrieve.retriever import Retriever
from rag.types import Document, DocumentInfo, Passage, Results
from ui.uploads import UploadRejected, check_upload, reading_problem, reserve_destination, safe_filename

log = logging.getLogger("rag.ui")

DEFAULT_MAX_UPLOAD_BYTES = Config().max_upload_bytes
DEFAULT_K, DEFAULT_MODE = Config().k, Config().mode


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
        index = text(
            "upload.index", lang, documents=r.documents, total=r.passages, embedded=r.embedded, reused=r.reused,
            seconds=number(r.seconds, lang, ".1f"),
        )  # fmt: skip
        renamed = text("upload.renamed", lang, dest=self.stored_as) if self.stored_as != self.name else ""
        passages = text("upload.passage" if self.passages == 1 else "upload.passages", lang, n=self.passages)
        return text("upload.added", lang, name=self.name, renamed=renamed, passages=passages, index=index)


@dataclass(frozen=True)
class Answer:
    """The results of one search with the neighbouring passages of each hit (from the same retriever snapshot)."""

    results: Results
    contexts: list[list[Passage]]


class Library:
    """The index, the retriever currently serving searches, and the folder where uploaded documents are kept."""

    def __init__(
        self,
        index: str | Path,
        uploads: str | Path,
        retriever: Retriever | None = None,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        k: int = DEFAULT_K,
        mode: str = DEFAULT_MODE,
    ) -> None:
        self.index = Path(index)
        self.uploads = Path(uploads)
        self.max_upload_bytes = max_upload_bytes
        # The settings' defaults (rag.config: `k` and `mode`): passages shown at first, and how every search ranks.
        self.k, self.mode = k, mode
        self._retriever = retriever or Retriever.load(self.index)
        # The models load in the background: the first questions do not wait for the second opinion.
        threading.Thread(target=_warm, args=(self._retriever,), daemon=True, name="rag-warm").start()
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
        results = r.search(question, k=k, sources=sources or None, mode=self.mode)  # (a string is one source)
        return Answer(results, [r.context(hit, 1, 1) for hit in results])

    # -- adding documents ----------------------------------------------------------------------------------------

    def add_document(self, upload: str | Path, original_name: str | None = None) -> Added:
        """Validate an uploaded file, keep it in the uploads folder, add it to the index, swap in the new retriever.

        Returns what was added (``Added.message(lang)`` says it); raises ``UploadRejected`` (with the reason) and
        leaves the index and the uploads folder unchanged when the file cannot be added.
        """
        src = Path(upload)
        name = safe_filename(original_name or src.name)
        check_upload(src, name, self.max_upload_bytes)
        data = src.read_bytes()
        document = _readable(data, name, self.index / OCR_CACHE)
        with self._index_lock:
            current = self.retriever
            _reject_duplicate(current, document, name)
            dest = reserve_destination(self.uploads, name, data, taken={info.source for info in current.documents})
            try:
                new, report = self._add(current, _stored_as(document, dest.name))
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            with self._swap_lock:
                self._retriever = new
        return Added(name, dest.name, new.passage_count(dest.name), report)

    def _add(self, current: Retriever, document: Document) -> tuple[Retriever, BuildReport]:
        """Add one read document to the index with the current embedder; returns the new retriever."""
        source = document.info.source
        try:
            report = add_documents(self.index, [document], current.embedder, folder=self.uploads)
            return Retriever.load(self.index, embedder=current.embedder, second=current.second), report
        except NoPassageError as exc:
            log.warning("upload %s refused: %s", source, exc)
            raise UploadRejected("no_passage", name=source) from exc
        except RagError as exc:
            log.error("adding the upload %s to %s failed: %s", source, self.index, exc)
            raise UploadRejected("index_failed", name=source) from exc


def _warm(retriever: Retriever) -> None:
    try:
        retriever.warm()
    except Exception:  # the first question will load what failed here, and report it
        log.warning("loading the models in the background failed", exc_info=True)


def _readable(data: bytes, name: str, ocr_cache: Path) -> Document:
    """Load the file with rag's own readers in a private temporary folder (nothing else is touched; a scan's
    recognised pages are kept in the index's OCR cache, for the page view)."""
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        staged = Path(tmp) / name
        staged.write_bytes(data)
        try:
            return load_file(staged, name, ocr_cache=ocr_cache)
        except SkipFile as exc:
            log.warning("upload %s refused: %s", name, exc)
            raise UploadRejected(reading_problem(str(exc), name), name=name) from exc
        except Exception as exc:  # a reader failing in an unexpected way is still a bad file, not a crash
            log.warning("reading upload %s failed", name, exc_info=True)
            raise UploadRejected(reading_problem("", name), name=name) from exc


def _stored_as(document: Document, source: str) -> Document:
    """The document under the name its file was stored as (its title stays the one of the uploaded name)."""
    return dataclasses.replace(document, info=dataclasses.replace(document.info, source=source))


def _reject_duplicate(retriever: Retriever, document: Document, name: str) -> None:
    for info in retriever.documents:
        if retriever.document(info.source).sha256 == document.sha256:
            raise UploadRejected("duplicate", name=name, other=info.source, title=info.title)
