"""Page views of an index's hits: which file and page, checks, a bounded cache, the drawing in a child process.

``PageViews.view(retriever, passage_id, highlights)`` gives the PNG of the passage's page with its lines marked
and its answering sentences (``highlights``: spans of the passage's text, as ``Hit.highlights``) marked more
strongly, and the marks themselves. Only pages of documents in the index are drawn, from the file the index was
built from (the corpus folder, or the folder an added document lives in), and only while that file still has the
content that was indexed (its SHA-256): otherwise the offsets would point elsewhere. Drawing runs in the reader's
child process (``rag.ingest.extraction``) with a time and a memory limit; finished pages are kept in memory
(``cache_bytes``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.ingest.ocr_cache import FOLDER as OCR_FOLDER
from rag.render.boxes import PageRef
from rag.types import Document, Passage

if TYPE_CHECKING:
    from rag.ingest.extraction import Extractor
    from rag.retrieve.retriever import Retriever

PAGINATED = ("pdf", "image")
WIDTH = 1000  # pixels, what the web app shows
RENDER_SECONDS = 15.0
RENDER_MEMORY = 1536 * 2**20
CACHE_BYTES = 64 * 2**20


class PageUnavailable(RagError):
    """The page of a hit cannot be shown; the message says why (and what to do)."""


@dataclass(frozen=True)
class PageView:
    """A drawn page: PNG bytes and what is marked on it (``rag.render.page.Marks.to_dict``)."""

    png: bytes
    marks: dict[str, Any]
    source: str
    page: int


class PageViews:
    """Draws the pages of one index's documents (thread-safe: one drawing at a time; cached pages at once)."""

    def __init__(self, index_dir: str | os.PathLike[str], cache_bytes: int = CACHE_BYTES) -> None:
        self.index_dir = Path(index_dir)
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[Any, ...], PageView] = OrderedDict()
        self._cached = 0
        self._lock = threading.Lock()  # the child draws one page at a time
        self._cache_lock = threading.Lock()
        self._extractor: Extractor | None = None
        self._hashes: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → SHA-256 of the file

    def close(self) -> None:
        with self._lock:
            if self._extractor is not None:
                self._extractor.close()
                self._extractor = None

    def view(
        self,
        retriever: Retriever,
        passage_id: str,
        highlights: Sequence[tuple[int, int]] = (),
        page: int | None = None,
        width: int = WIDTH,
    ) -> PageView:
        """The page of ``passage_id`` (or ``page``, one the passage spans) with the passage and ``highlights`` marked."""
        passage = self._passage(retriever, passage_id)
        document = retriever.document(passage.source)
        if document.format not in PAGINATED or not document.page_starts:
            raise PageUnavailable(f"{passage.source} has no pages to show (only PDF files and images have)")
        first, last = document.page_at(passage.start) or 1, document.page_at(max(passage.start, passage.end - 1)) or 1
        page = first if page is None else page
        if not first <= page <= last:
            raise PageUnavailable(f"{passage_id} is on page {first}" + (f" to {last}" if last > first else ""))
        row = retriever.view.row_of(passage.id)
        assert row is not None  # _passage found it
        sentences = tuple(retriever.view.document_span(row, s, e) for s, e in _checked(highlights, len(passage.text)))
        width = max(200, min(int(width), 1600))
        key = (document.sha256, page, passage.start, passage.end, sentences, width)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        path = self.file_of(retriever, document)
        request = {
            "op": "call", "target": "rag.render.worker:render_page", "ref": PageRef.of(path, document, page).to_dict(),
            "passage": [passage.start, passage.end],
            "sentences": [list(s) for s in sentences], "width": width, "ocr_folder": str(self.index_dir / OCR_FOLDER),
        }  # fmt: skip
        reply = self._draw(request, passage.source, page)
        drawn = {**reply["marks"], "start": passage.start, "end": passage.end, "sentence_spans": [list(x) for x in sentences]}
        result = PageView(base64.b64decode(reply["png"]), drawn, passage.source, page)
        self._keep(key, result)
        return result

    def file_of(self, retriever: Retriever, document: Document) -> Path:
        """The indexed document's file, checked to hold what was indexed."""
        manifest = retriever.manifest
        entry = (manifest.get("documents") or {}).get(document.info.source) or {}
        folder = entry.get("folder") if isinstance(entry, dict) else None
        folder = folder or manifest.get("corpus")
        if not folder:
            raise PageUnavailable(f"the index does not say where {document.info.source} is; run `rag index` again")
        root = Path(folder).resolve()
        path = (root / document.info.source).resolve()
        if not path.is_relative_to(root):
            raise PageUnavailable(f"{document.info.source} is outside its folder {root}")
        try:
            stat = path.stat()
        except OSError as exc:
            raise PageUnavailable(f"the file of {document.info.source} cannot be read ({exc.strerror or exc})") from exc
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        digest = self._hashes.get(key)
        if digest is None:
            digest = self._hashes[key] = _sha256(path)
        if digest != document.sha256:
            raise PageUnavailable(f"{path} changed since it was indexed; run `rag index` again to show its pages")
        return path

    def _passage(self, retriever: Retriever, passage_id: str) -> Passage:
        row = retriever.view.row_of(passage_id)
        if row is None:
            raise PageUnavailable(f"no passage {passage_id!r} in the index")
        return retriever.data.passages[row]

    def _draw(self, request: dict[str, Any], source: str, page: int) -> dict[str, Any]:
        from rag.errors import SkipFile
        from rag.ingest.extraction import Extractor

        with self._lock:
            if self._extractor is None:
                self._extractor = Extractor(memory_bytes=RENDER_MEMORY)
            try:
                reply = self._extractor.call(request, RENDER_SECONDS)
            except SkipFile as exc:
                raise PageUnavailable(f"page {page} of {source} could not be drawn: it {exc}") from exc
        if "error" in reply:
            raise PageUnavailable(f"page {page} of {source} could not be drawn ({reply['error']})")
        return reply

    def _keep(self, key: tuple[Any, ...], view: PageView) -> None:
        with self._cache_lock:
            if key in self._cache:
                return
            self._cache[key] = view
            self._cached += len(view.png)
            while self._cached > self.cache_bytes and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cached -= len(old.png)



def _checked(spans: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Spans within a passage of ``length`` characters (at most 20: a hit has a few answering sentences)."""
    out = []
    for start, end in list(spans)[:20]:
        if not 0 <= start < end <= length:
            raise PageUnavailable(f"highlight {start}-{end} is not within the passage (0-{length})")
        out.append((start, end))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
