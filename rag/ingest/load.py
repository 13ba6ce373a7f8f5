"""Files → ``Document``s: the corpus folder, the catalogue, and each file through its reader (``rag.ingest.formats``).

A file that cannot be read is skipped with a warning naming it (``logging``), never a crash. PDF, .docx and HTML
files are read in a child process with a time and a memory limit (``rag.ingest.extraction``): a hostile or damaged
file is skipped instead of holding up the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import BadInputError
from rag.errors import SkipFile as SkipFile  # re-exported: callers of load_file catch it from here
from rag.ingest.catalog import CATALOG_NAME as CATALOG_NAME  # re-exported: the loader's names
from rag.ingest.catalog import load_catalog as load_catalog
from rag.ingest.extraction import Extractor
from rag.ingest.formats import read_text
from rag.ingest.titles import title_of
from rag.types import Document, DocumentInfo

log = logging.getLogger("rag")

SUPPORTED = {
    ".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html",
    # images are read by OCR (rag.ingest.ocr)
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".tif": "image", ".tiff": "image",
}  # fmt: skip
IMAGE_SUFFIXES = tuple(suffix for suffix, fmt in SUPPORTED.items() if fmt == "image")
MAX_FILE_BYTES = 200 * 1024 * 1024
IN_CHILD = {"pdf", "docx", "html", "image"}  # formats whose libraries can be made to work without end by a small file


def title_from_filename(path: Path) -> str:
    stem = re.sub(r"^\d{4}(-\d{2}){0,2}[_ -]+", "", path.stem)
    return re.sub(r"[_-]+", " ", stem).strip().capitalize() or path.stem


def date_from_filename(path: Path) -> str:
    """The date a file name starts with (``2022-09-23_...``), "" when it starts with none."""
    match = re.match(r"^(\d{4}(?:-\d{2}){0,2})", path.stem)
    return match.group(1) if match else ""


def document_info(
    source: str, path: Path, entry: dict[str, Any] | None, ocr: tuple[tuple[int, float], ...] = (), title: str = ""
) -> DocumentInfo:
    """A document's bibliographic data: its catalogue ``entry``, else what the document says of itself (``title``,
    see ``rag.ingest.titles``), else what its file name says."""
    entry = entry or {}
    date = str(entry.get("date", "")) or date_from_filename(path)
    return DocumentInfo(
        source=source,
        title=str(entry.get("title") or title or title_from_filename(path)),
        short_title=str(entry.get("short_title", "")),
        date=date,
        author=str(entry.get("author", "")),
        lang=str(entry.get("lang", "")),
        ocr=ocr,
    )


def load_file(
    path: Path,
    source: str,
    entry: dict[str, Any] | None = None,
    extractor: Extractor | None = None,
    ocr_cache: str | os.PathLike[str] | None = None,
) -> Document:
    """Read one file. Raises ``SkipFile`` (with the reason) when it cannot or should not be indexed.

    ``extractor``: the child process that reads PDF, .docx, HTML and image files (one is started for this file when
    None). ``ocr_cache``: the folder where pages recognised by OCR are kept (``rag.ingest.ocr_cache``; the index's).
    """
    fmt = SUPPORTED.get(path.suffix.lower())
    if fmt is None:
        raise SkipFile(f"unsupported file type {path.suffix!r} (supported: {', '.join(sorted(SUPPORTED))})")
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > MAX_FILE_BYTES:
        raise SkipFile(f"too large ({size // 2**20} MiB > {MAX_FILE_BYTES // 2**20} MiB)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if fmt not in IN_CHILD:
        extracted = read_text(path, fmt)
    else:
        with contextlib.nullcontext(extractor) if extractor is not None else Extractor() as reader:
            extracted = reader.read(path, fmt, digest, ocr_cache)
            if reader.recognised:
                log.info("%s: %d page(s) recognised by OCR", path, reader.recognised)
    if not extracted.text.strip():
        raise SkipFile("no text (empty or whitespace only)")
    own = "" if (entry or {}).get("title") else title_of(extracted.text, fmt, extracted.title)
    info = document_info(source, path, entry, extracted.ocr, own)
    return Document(info, extracted.text, fmt, digest, extracted.pages)


def iter_files(corpus: Path) -> Iterator[tuple[Path, str]]:
    """Supported files under ``corpus`` (sorted, recursive), with their source path relative to it.

    Symbolic links are not followed, so a link cannot pull files from outside the corpus into the index.
    """
    root = corpus.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [d for d in dirnames if not d.startswith(".") and os.path.islink(os.path.join(dirpath, d))]:
            log.warning("skipped %s: symbolic link to a folder (not followed)", Path(dirpath) / name)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or name == CATALOG_NAME:
                continue
            if path.is_symlink():
                log.warning("skipped %s: symbolic link (not followed)", path)
                continue
            if path.suffix.lower() not in SUPPORTED:
                log.warning("skipped %s: unsupported file type %r", path, path.suffix)
                continue
            source = path.relative_to(root).as_posix()
            try:
                source.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8 in a name (os.walk gives them as surrogates)
                log.warning("skipped %s: file name is not valid UTF-8 (it cannot be cited); rename the file", path)
                continue
            yield path, source


def load_corpus(
    corpus: str | os.PathLike[str],
    keep: set[str] | frozenset[str] = frozenset(),
    ocr_cache: str | os.PathLike[str] | None = None,
    read: set[str] | None = None,
) -> list[Document]:
    """All readable documents of a folder; unreadable ones are logged and skipped.

    Of files with the same content, one is indexed: the one in ``keep`` (those already indexed), else the one the
    catalogue describes, else the first in path order; the others are skipped with a warning naming it.
    ``ocr_cache``: see ``load_file``. ``read``, when given, receives the SHA-256 of every file read (skipped or not):
    what the OCR cache keeps (a scan stopped by the time limit continues where it stopped at the next run).
    """
    root = Path(corpus)
    if not root.is_dir():
        raise BadInputError(f"corpus folder not found: {root} (give a folder of .txt/.md/.pdf/.docx/.html files)")
    catalog = load_catalog(root)
    kept: dict[str, tuple[Path, Document]] = {}  # content hash -> the file indexed for it, in path order

    def rank(source: str) -> tuple[bool, bool]:
        return source in keep, source in catalog

    with Extractor() as extractor:  # one child for the whole folder, started at its first PDF/.docx/HTML file
        for path, source in iter_files(root):
            try:
                if read is not None and path.suffix.lower() in (".pdf", *IMAGE_SUFFIXES):
                    read.add(hashlib.sha256(path.read_bytes()).hexdigest())
                document = load_file(path, source, catalog.get(source), extractor, ocr_cache)
            except SkipFile as exc:
                log.warning("skipped %s: %s", path, exc)
                continue
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("skipped %s: cannot read (%s)", path, exc)
                continue
            if document.sha256 in kept:
                other, twin = kept[document.sha256]
                if rank(source) <= rank(twin.info.source):
                    log.warning("skipped %s: same content as %s", path, twin.info.source)
                    continue
                log.warning("skipped %s: same content as %s", other, source)
                del kept[document.sha256]  # inserted again below: the documents stay in path order
            kept[document.sha256] = (path, document)
    return [document for _, document in kept.values()]
