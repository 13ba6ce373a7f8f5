"""Checks for uploaded documents: accepted types, size limit, safe file names, a non-clobbering destination."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ACCEPTED = (".txt", ".md", ".pdf", ".docx", ".html")
MAX_STEM_CHARS = 80


class UploadRejected(Exception):
    """An uploaded file that is not added to the corpus; the message says why (shown to the user)."""


def max_upload_bytes() -> int:
    """The upload size limit, resolved by ``rag.config`` (``--max-upload-mb`` > ``$RAG_MAX_UPLOAD_MB`` > rag.toml > 20)."""
    from rag.config import max_upload_bytes as configured

    return configured()


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


def check_upload(path: Path, name: str, limit: int | None = None) -> None:
    """Raise ``UploadRejected`` when the file's type or size is not acceptable."""
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        shown = suffix or "(no extension)"
        raise UploadRejected(f"{name}: unsupported file type {shown}; accepted: {' '.join(ACCEPTED)}")
    limit = max_upload_bytes() if limit is None else limit
    size = path.stat().st_size
    if size == 0:
        raise UploadRejected(f"{name}: the file is empty")
    if size > limit:
        raise UploadRejected(f"{name}: too large ({size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB)")


def reserve_destination(folder: Path, name: str, data: bytes) -> Path:
    """Create ``folder/name`` (or ``name-2``, ``name-3``… when a different file has that name) holding ``data``.

    Raises ``UploadRejected`` when an identical file is already there. Never overwrites anything.
    """
    root = folder.resolve()
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 1000):
        candidate = root / (name if n == 1 else f"{stem}-{n}{suffix}")
        if candidate.parent != root:  # defence in depth: safe_filename already prevents this
            raise UploadRejected(f"{name}: invalid file name")
        if candidate.exists():
            if candidate.is_file() and candidate.read_bytes() == data:
                raise UploadRejected(f"{name}: this file is already in the corpus as {candidate.name}")
            continue
        try:
            with open(candidate, "xb") as fh:  # exclusive create: a concurrent writer cannot be clobbered
                fh.write(data)
        except FileExistsError:
            continue
        return candidate
    raise UploadRejected(f"{name}: too many files with this name in the corpus")
