"""Recognised pages kept on disk, by file hash and page, so that a rebuild never recognises a page again.

The cache is a folder of the index (``<index>/ocr/``, never the corpus): ``<sha256 of the file>/<engine>-<page>.json``
holds one ``OcrPage`` (its text, and its words with their offsets, boxes and confidences). The page view reads the
word boxes from it too. Each page is written as soon as it is recognised (to a temporary name, then renamed), so
that a file stopped by the reader's time limit continues where it stopped when it is read again.

Invalidation: the file name holds the engine (``rag.ingest.ocr.engine``: Tesseract's version, the languages, the
resolution, the stored format); pages recognised by another engine are not read and are deleted by ``prune``.
Bounds: ``prune``, run after every full build, keeps only the files of the documents indexed or read in that build,
so the cache holds at most the pages of the collection (about 10-20 KB a page).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import SkipFile
from rag.ingest.ocr import MAX_PAGES, OcrPage, engine, recognise, require

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("rag")

FOLDER = "ocr"  # in the index folder
MARKER = "rag-ocr-cache.json"  # says that the folder is rag's (rag.store.generations.check_folder)
_SHA = re.compile(r"[0-9a-f]{64}")


def _safe(engine: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]", "_", engine)


class OcrCache:
    """The recognised pages in ``folder`` for one engine."""

    def __init__(self, folder: str | os.PathLike[str], engine: str) -> None:
        self.folder = Path(folder)
        self.engine = _safe(engine)

    def path(self, sha256: str, page: int) -> Path:
        if not _SHA.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self.folder / sha256 / f"{self.engine}-{page:05d}.json"

    def get(self, sha256: str, page: int) -> OcrPage | None:
        """Page ``page`` (0-based) of the file, as recognised by this engine; None when not cached or unreadable."""
        try:
            return OcrPage.from_dict(json.loads(self.path(sha256, page).read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("OCR cache %s: unreadable entry, recognising the page again (%s)", self.path(sha256, page), exc)
            return None

    def put(self, sha256: str, page: int, result: OcrPage) -> None:
        """Keep a recognised page (a cache that cannot be written only costs recognising it again)."""
        target = self.path(sha256, page)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            marker = self.folder / MARKER
            if not marker.exists():
                marker.write_text(json.dumps({"format": 1, "what": "rag's recognised pages (rag.ingest.ocr_cache)"}))
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(result.to_dict(), out, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("OCR cache %s: cannot write (%s); the page will be recognised again next time", target, exc)


def prune(folder: str | os.PathLike[str], keep: Iterable[str], engine: str | None) -> int:
    """Delete the cached pages of files not in ``keep`` (SHA-256s) and those of other engines than ``engine`` (None:
    unknown, Tesseract is not installed: keep them); returns how many files' folders were removed. Only names this
    module writes are touched."""
    root = Path(folder)
    if not (root / MARKER).is_file():
        return 0
    kept, prefix, removed = set(keep), None if engine is None else _safe(engine) + "-", 0
    for entry in root.iterdir():
        if not (entry.is_dir() and _SHA.fullmatch(entry.name)):
            continue
        if entry.name not in kept:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
            continue
        for page in entry.iterdir():
            # (and what a reader stopped in the middle of a write left behind)
            stale = prefix is not None and page.suffix == ".json" and not page.name.startswith(prefix)
            if page.name.startswith(".tmp-") or stale:
                page.unlink(missing_ok=True)
    return removed


def find(folder: str | os.PathLike[str], sha256: str, page: int, text: str) -> OcrPage | None:
    """The cached recognition of page ``page`` (0-based) of a file whose text is ``text``, by whichever engine
    produced it (the page view needs no Tesseract: the text it was indexed with says which entry is the right one)."""
    if not _SHA.fullmatch(sha256):
        return None
    for path in sorted((Path(folder) / sha256).glob(f"*-{page:05d}.json")):
        try:
            result = OcrPage.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
        if result.text == text:
            return result
    return None

@dataclass
class OcrJob:
    """How one file's pages are recognised: the cache and the file's hash (none: no cache), and ``started(i)``,
    called before page ``i`` is recognised (the reader's child reports it, and its time limit grows by a page)."""

    cache_folder: str | None = None
    sha256: str = ""
    started: Callable[[int], None] | None = None

    def run(self, indices: list[int], render: Callable[[int], tuple[Image.Image, float]]) -> dict[int, OcrPage]:
        """The pages ``indices`` (0-based), from the cache when there, else rendered with ``render(i)`` and
        recognised (and cached at once). Raises ``OcrUnavailable`` when a page must be recognised and cannot be."""
        if len(indices) > MAX_PAGES:
            raise SkipFile(f"has {len(indices)} pages to recognise (more than {MAX_PAGES}); split it")
        require()
        cache = OcrCache(self.cache_folder, engine()) if self.cache_folder and self.sha256 else None
        pages: dict[int, OcrPage] = {}
        for i in indices:
            cached = cache.get(self.sha256, i) if cache is not None else None
            if cached is not None:
                pages[i] = cached
                continue
            if self.started is not None:
                self.started(i)
            image, dpi = render(i)
            pages[i] = recognise(image, dpi)
            if cache is not None:
                cache.put(self.sha256, i, pages[i])
        return pages

