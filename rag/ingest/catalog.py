"""The catalogue of a folder of documents (``catalog.toml``): bibliographic data keyed by file path, read and written.

One table a document, its values strings (``title``, ``short_title``, ``date``, ``author``, ``lang``; other keys are
kept but not read by rag's loader). The corpus's catalogue is written by hand; the web app writes the one of its
uploads folder (``write_catalog``: the whole file replaced at once, so a reader sees the old or the new one).
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.errors import BadInputError
from rag.types import DocumentInfo

CATALOG_NAME = "catalog.toml"
FIELDS = ("title", "short_title", "date", "author", "lang")  # what a DocumentInfo takes from an entry


def load_catalog(folder: Path) -> dict[str, dict[str, Any]]:
    """Bibliographic entries keyed by file path relative to ``folder`` (its ``catalog.toml``; optional)."""
    path = folder / CATALOG_NAME
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: invalid TOML ({exc}); fix the file or remove it") from exc
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def described(info: DocumentInfo, entry: Mapping[str, Any] | None) -> DocumentInfo:
    """``info`` with the bibliographic data that the catalogue ``entry`` gives (the fields it does not give kept)."""
    given = {key: str(entry[key]) for key in FIELDS if entry and key in entry}
    return DocumentInfo(
        source=info.source,
        title=given.get("title") or info.title,
        short_title=given.get("short_title", info.short_title),
        date=given.get("date", info.date),
        author=given.get("author", info.author),
        lang=given.get("lang", info.lang),
        ocr=info.ocr,
    )


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_catalog(entries: Mapping[str, Mapping[str, str]], header: str = "") -> str:
    """The text of a catalogue holding ``entries`` (source → field → value; empty values are left out), in order."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for source, entry in entries.items():
        lines += ["", f"[{toml_string(source)}]"]
        lines += [f"{key} = {toml_string(str(value))}" for key, value in entry.items() if str(value)]
    return "\n".join(lines).lstrip("\n") + "\n"


def write_catalog(folder: Path, entries: Mapping[str, Mapping[str, str]], header: str = "") -> None:
    """Replace ``folder``'s catalogue by one holding ``entries``, durably and at once (a temporary file renamed)."""
    path = folder / CATALOG_NAME
    tmp = folder / f".{CATALOG_NAME}.tmp"
    data = format_catalog(entries, header).encode("utf-8")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if sys.platform != "win32":  # the rename itself made durable (Windows cannot open a folder; NTFS journals it)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
