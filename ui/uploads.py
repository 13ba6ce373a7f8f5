"""Checks for uploaded documents: accepted types, size limit, safe file names, a free name in the uploads folder, the
title, date and author a person gives; and which message says what went wrong (``Refused``, ``UploadRejected``)."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Collection, Mapping
from pathlib import Path

from rag.i18n import number, text

ACCEPTED = (".txt", ".md", ".pdf", ".docx", ".html", ".png", ".jpg", ".jpeg", ".tif", ".tiff")  # images: by OCR
MAX_STEM_CHARS = 80


# Why a reader refused a file (its English reason, as ``rag.ingest.load`` words it) → the message that says what to do.
# Checked in order; a reason none of them matches gets the generic message of its format.
READING_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("encrypted", "password"), "encrypted"),
    (("ocr is not installed", "no text layer (scanned"), "scanned"),
    (("looks binary",), "not_text"),
    (("no text", "empty"), "no_text"),
    (("too large", "too big", "too many", "too long", "too deep", "limit", "timed out", "time out", "seconds"), "too_complex"),
)
UNREADABLE = {".pdf": "unreadable_pdf", ".docx": "unreadable_docx"}


def reading_problem(reason: str, name: str) -> str:
    """The message key for a file that rag's readers refused for ``reason``."""
    text = reason.lower()
    for words, key in READING_PROBLEMS:
        if any(word in text for word in words):
            return key
    return UNREADABLE.get(Path(name).suffix.lower(), "unreadable")


class Refused(Exception):
    """A change of the collection that the app does not make; ``message(lang)`` says why and what to do (shown to
    the user; the texts are rag.i18n's ``library.*``). ``str()`` gives the English message (logs, tests)."""

    area = "library"

    def __init__(self, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        return text(f"{self.area}.{self.key}", lang, **self.params)


class UploadRejected(Refused):
    """An uploaded file that is not added to the collection (the texts are rag.i18n's ``upload.*``)."""

    area = "upload"

    def message(self, lang: str = "en") -> str:
        # Sizes in MB are numbers: written with the reader's decimal separator.
        params = {
            k: number(v, lang, ".1f" if k == "size" else "g") if k in ("size", "limit") and isinstance(v, float) else v
            for k, v in self.params.items()
        }
        key = "no_extension" if self.key == "type" and not params.get("suffix") else self.key
        return text(f"upload.{key}", lang, **params)


def safe_filename(name: str) -> str:
    """Basename only, ASCII letters/digits/``._-``, no leading dot, lower-case extension, bounded length."""
    base = re.split(r"[/\\]", name)[-1]
    base = unicodedata.normalize("NFKD", base)
    base = "".join(c for c in base if not unicodedata.combining(c))
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem.replace(".", "_"))
    stem = re.sub(r"_+", "_", stem).strip("_-")[:MAX_STEM_CHARS] or "document"
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())
    return f"{stem}.{ext}" if ext else stem


def check_upload(path: Path, name: str, limit: int) -> None:
    """Raise ``UploadRejected`` when the file's type or size (``limit``, in bytes) is not acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        raise UploadRejected("type", name=name, suffix=suffix, accepted=" ".join(ACCEPTED))
    size = path.stat().st_size
    if size == 0:
        raise UploadRejected("empty", name=name)
    if size > limit:
        raise UploadRejected("too_large", name=name, size=size / 2**20, limit=limit / 2**20)


def free_name(folder: Path, name: str, taken: Collection[str] = ()) -> str:
    """``name``, or ``name-2``, ``name-3``… when a file of ``folder`` (or a document in ``taken``) has it."""
    root = folder.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = name if n == 1 else f"{stem}-{n}{suffix}"
        if (root / candidate).parent != root:  # defence in depth: safe_filename already prevents this
            raise UploadRejected("bad_name", name=name)
        if candidate not in taken and not (root / candidate).exists() and not (root / f".{candidate}.tmp").exists():
            return candidate
    raise UploadRejected("too_many", name=name)


MAX_TITLE_CHARS = 300
MAX_AUTHOR_CHARS = 200
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")  # 15/03/2024, as French readers write it
_MONTH_FIRST = re.compile(r"^(\d{1,2})[/.](\d{4})$")  # 03/2024
_ISO = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def check_date(value: str) -> str:
    """A date as citations give it (``2024``, ``2024-03``, ``2024-03-15``; ``15/03/2024`` and ``03/2024`` are read
    too); "" for none. Raises ``Refused`` for anything else."""
    value = value.strip()
    if not value:
        return ""
    if match := _DAY_FIRST.match(value):
        day, month, year = (int(g) for g in match.groups())
        value = f"{year:04d}-{month:02d}-{day:02d}"
    elif match := _MONTH_FIRST.match(value):
        value = f"{int(match.group(2)):04d}-{int(match.group(1)):02d}"
    if not _ISO.match(value):
        raise Refused("bad_date", date=value)
    parts = [int(p) for p in value.split("-")]
    try:
        datetime.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise Refused("bad_date", date=value) from None
    return value


def check_details(details: Mapping[str, str | None], title_required: bool) -> dict[str, str]:
    """The title, date and author a person gives a document, each on one line and checked ("" when not given;
    ``title_required``: a title must be given). Raises ``Refused`` saying what to write instead."""
    title = " ".join(str(details.get("title") or "").split())
    author = " ".join(str(details.get("author") or "").split())
    if title_required and not title:
        raise Refused("no_title")
    if len(title) > MAX_TITLE_CHARS:
        raise Refused("long_title", limit=MAX_TITLE_CHARS)
    if len(author) > MAX_AUTHOR_CHARS:
        raise Refused("long_author", limit=MAX_AUTHOR_CHARS)
    return {"title": title, "date": check_date(str(details.get("date") or "")), "author": author}
