"""Files → ``Document``s: format readers, encoding detection, the corpus catalogue.

A file that cannot be read is skipped with a warning naming it (``logging``), never a crash.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import BadInputError
from rag.types import Document, DocumentInfo

log = logging.getLogger("rag")

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
CATALOG_NAME = "catalog.toml"
MAX_FILE_BYTES = 200 * 1024 * 1024


class SkipFile(Exception):
    """Raised by a reader for a file that must be skipped; the message says why."""


# Signatures of binary formats that are sometimes given a text extension by mistake (the start of the file).
BINARY_SIGNATURES = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a zip archive (.docx, .odt, .zip...)",
    b"\xd0\xcf\x11\xe0": "an old Office document (.doc, .xls)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\x7fELF": "a program",
    b"{\\rtf": "an RTF document",
}


def decode_text(data: bytes) -> str:
    """Decode a text file: BOMs first, then strict UTF-8, then cp1252 (legacy French; latin-1 for its undefined bytes).

    UTF-8 with a few invalid bytes (a damaged or truncated file) stays UTF-8, the bad bytes becoming U+FFFD:
    decoding it as cp1252 would turn every accented letter into mojibake ("Ã©").
    """
    return _decode(data)[0]


def _decode(data: bytes) -> tuple[str, str | None]:
    """The text, and a note for the user when bytes had to be replaced."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _utf8(data[3:])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    for signature, kind in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise SkipFile(f"looks binary: it is {kind}, not text (give it its real extension)")
    if b"\x00" in data[:4096]:
        raise SkipFile("looks binary (contains NUL bytes)")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text, note = _utf8(data)
    if note is not None and _mostly_utf8(text):
        return text, note
    # cp1252, its five undefined bytes read as latin-1 (as browsers do): one stray byte must not turn every
    # typographic apostrophe of the file into a control character.
    text = data.decode("cp1252", errors="surrogateescape")
    text = re.sub("[\udc80-\udcff]", lambda m: chr(ord(m.group()) - 0xDC00), text)
    # C0 and C1 control characters never occur in text.
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise SkipFile("looks binary (not text in UTF-8, cp1252 or latin-1)")
    return text, None


def _utf8(data: bytes) -> tuple[str, str | None]:
    """UTF-8, invalid bytes replaced by U+FFFD, with a note saying how many."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    return text, f"invalid UTF-8 ({bad} bad byte sequence(s) replaced by U+FFFD)"


def _mostly_utf8(text: str) -> bool:
    """True when correctly decoded non-ASCII characters outnumber the replaced sequences (a damaged UTF-8 file).

    A legacy cp1252 file has (almost) no valid multi-byte UTF-8 sequence: each accented letter is a bad byte.
    """
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return bad <= max(8, len(text) // 100) and good > bad


def _read_pdf(path: Path) -> tuple[str, tuple[int, ...]]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise SkipFile(f"PDF is encrypted and cannot be opened ({exc.__class__.__name__})") from exc
            if opened == PasswordType.NOT_DECRYPTED:  # decrypt() returns this instead of raising
                raise SkipFile("PDF is encrypted with a password; save a copy without the password to index it")
        pages = [page.extract_text() or "" for page in reader.pages]
    except SkipFile:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise SkipFile(f"unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:  # a damaged file can make pypdf fail anywhere (AttributeError, LimitReachedError...)
        raise SkipFile(f"unreadable PDF, probably damaged ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
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
        raise SkipFile(f"not a valid .docx ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
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
    text, note = _decode(data)
    if note:
        log.warning("%s: %s", path, note)
    return text, ()


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


def load_corpus(corpus: str | os.PathLike[str], keep: set[str] | frozenset[str] = frozenset()) -> list[Document]:
    """All readable documents of a folder; unreadable ones are logged and skipped.

    Of files with the same content, one is indexed: the one in ``keep`` (those already indexed), else the one the
    catalogue describes, else the first in path order; the others are skipped with a warning naming it.
    """
    root = Path(corpus)
    if not root.is_dir():
        raise BadInputError(f"corpus folder not found: {root} (give a folder of .txt/.md/.pdf/.docx/.html files)")
    catalog = load_catalog(root)
    kept: dict[str, tuple[Path, Document]] = {}  # content hash -> the file indexed for it, in path order

    def rank(source: str) -> tuple[bool, bool]:
        return source in keep, source in catalog

    for path, source in iter_files(root):
        try:
            document = load_file(path, source, catalog.get(source))
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
