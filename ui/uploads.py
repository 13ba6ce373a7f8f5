"""Checks for uploaded documents: accepted types, size limit, safe file names, a non-clobbering destination; and
which message says what went wrong with an upload (``UploadRejected``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
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


class UploadRejected(Exception):
    """An uploaded file that is not added to the corpus; ``message(lang)`` says why (shown to the user; the texts are
    rag.i18n's ``upload.*``). ``str()`` gives the English message (logs, tests)."""

    def __init__(self, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(self.message("en"))

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


def reserve_destination(folder: Path, name: str, data: bytes, taken: Collection[str] = ()) -> Path:
    """Create ``folder/name`` (or ``name-2``, ``name-3``… when a file there, or a document in ``taken``, has that
    name) holding ``data``; the folder is created if needed. Never overwrites anything.
    """
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # defence in depth: safe_filename already prevents this
            raise UploadRejected("bad_name", name=name)
        if candidate.name in taken or candidate.exists():
            continue
        try:
            with open(candidate, "xb") as fh:  # exclusive create: a concurrent writer cannot be clobbered
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected("too_many", name=name)
