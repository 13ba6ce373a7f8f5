"""Files → ``Document``s: format readers, encoding detection, the corpus catalogue.

A file that cannot be read is skipped with a warning naming it (``logging``), never a crash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomllib

from rag.errors import BadInputError
from rag.types import Document, DocumentInfo

log = logging.getLogger("rag")

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
CATALOG_NAME = "catalog.toml"
MAX_FILE_BYTES = 200 * 1024 * 1024


class SkipFile(Exception):
    """Raised by a reader for a file that must be skipped; the message says why."""


def decode_text(data: bytes) -> str:
    """Decode a text file: BOMs first, then strict UTF-8, then cp1252 (legacy French), then latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:4096]:
        raise SkipFile("looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f") + text.count("\x7f")
    if controls > max(8, len(text) // 100):
        raise SkipFile("looks binary (not text in UTF-8, cp1252 or latin-1)")
    return text


def _read_pdf(path: Path) -> tuple[str, tuple[int, ...]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise SkipFile("PDF is encrypted") from exc
        pages = [page.extract_text() or "" for page in reader.pages]
    except SkipFile:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise SkipFile(f"unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    if not any(p.strip() for p in pages):
        raise SkipFile("PDF has no text layer (scanned images?); run OCR on it first")
    # Pages are separated by a form feed, as pdftotext does, so page starts are offsets in one text.
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        parts.append(page)
        offset += len(page) + 1
    return "\f".join(parts), tuple(starts)


def _read_docx(path: Path) -> str:
    import zipfile

    try:
        import docx

        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SkipFile(f"not a valid .docx ({exc.__class__.__name__})") from exc
    except Exception as exc:  # python-docx raises its own PackageNotFoundError and friends
        raise SkipFile(f"not a valid .docx ({exc.__class__.__name__}: {exc})") from exc
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(p for p in paragraphs if p.strip())


BLOCK_TAGS = "p div section article header footer li ul ol h1 h2 h3 h4 h5 h6 tr table blockquote br pre main aside"


def _read_html(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        tag.decompose()
    # Paragraph-like elements are separated by blank lines so the cleaner sees paragraphs.
    for tag in soup.find_all(BLOCK_TAGS.split()):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = soup.get_text()
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text).strip()


def read_text(path: Path, fmt: str) -> tuple[str, tuple[int, ...]]:
    """The document's text as rag cites it, and page start offsets for paginated formats."""
    if fmt == "pdf":
        return _read_pdf(path)
    if fmt == "docx":
        return _read_docx(path), ()
    data = path.read_bytes()
    if fmt == "html":
        return _read_html(data), ()
    return decode_text(data), ()


def title_from_filename(path: Path) -> str:
    stem = re.sub(r"^\d{4}(-\d{2}){0,2}[_ -]+", "", path.stem)
    return re.sub(r"[_-]+", " ", stem).strip().capitalize() or path.stem


def load_catalog(corpus: Path) -> dict[str, dict[str, Any]]:
    """Bibliographic entries keyed by file path relative to the corpus (``catalog.toml``; optional)."""
    path = corpus / CATALOG_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: invalid TOML ({exc}); fix the file or remove it") from exc
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def document_info(source: str, path: Path, entry: dict[str, Any] | None) -> DocumentInfo:
    entry = entry or {}
    date = str(entry.get("date", ""))
    if not date:
        match = re.match(r"^(\d{4}(?:-\d{2}){0,2})", path.stem)
        date = match.group(1) if match else ""
    return DocumentInfo(
        source=source,
        title=str(entry.get("title") or title_from_filename(path)),
        short_title=str(entry.get("short_title", "")),
        date=date,
        author=str(entry.get("author", "")),
        lang=str(entry.get("lang", "")),
    )


def load_file(path: Path, source: str, entry: dict[str, Any] | None = None) -> Document:
    """Read one file. Raises ``SkipFile`` (with the reason) when it cannot or should not be indexed."""
    fmt = SUPPORTED.get(path.suffix.lower())
    if fmt is None:
        raise SkipFile(f"unsupported file type {path.suffix!r} (supported: {', '.join(sorted(SUPPORTED))})")
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("empty file")
    if size > MAX_FILE_BYTES:
        raise SkipFile(f"too large ({size // 2**20} MiB > {MAX_FILE_BYTES // 2**20} MiB)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    text, pages = read_text(path, fmt)
    if not text.strip():
        raise SkipFile("no text (empty or whitespace only)")
    return Document(document_info(source, path, entry), text, fmt, digest, pages)


def iter_files(corpus: Path) -> Iterator[tuple[Path, str]]:
    """Supported files under ``corpus`` (sorted, recursive), with their source path relative to it.

    Symbolic links are not followed, so a link cannot pull files from outside the corpus into the index.
    """
    root = corpus.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
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
            yield path, path.relative_to(root).as_posix()


def load_corpus(corpus: str | os.PathLike[str]) -> list[Document]:
    """All readable documents of a folder; unreadable ones are logged and skipped."""
    root = Path(corpus)
    if not root.is_dir():
        raise BadInputError(f"corpus folder not found: {root} (give a folder of .txt/.md/.pdf/.docx/.html files)")
    catalog = load_catalog(root)
    documents: list[Document] = []
    seen: dict[str, str] = {}
    for path, source in iter_files(root):
        try:
            document = load_file(path, source, catalog.get(source))
        except SkipFile as exc:
            log.warning("skipped %s: %s", path, exc)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("skipped %s: cannot read (%s)", path, exc)
            continue
        if document.sha256 in seen:
            log.warning("skipped %s: same content as %s", path, seen[document.sha256])
            continue
        seen[document.sha256] = source
        documents.append(document)
    return documents
