"""The typed candidates of a generation's passages (``rag.ingest.annotations``) on disk: two open-format files.

- ``annotations.npy``: int32 ``(n, 5)``, one row per annotation, ``[passage, start, end, kind, detail]`` (offsets into
  the passage's cleaned text), sorted by passage then start (``allow_pickle=False``);
- ``annotations.json``: ``{"version": 1, "columns": [...], "kinds": [...], "details": [...]}``: the kind codes and the
  detail strings (a count's noun, an amount's currency) the rows index.

Which annotator wrote them is in the manifest (``annotator``), as the embedder is: an index annotated by another is
re-annotated by ``rag index``, never read as if the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.ingest.annotations import COLUMNS, KINDS, AnnotationTable
from rag.store import files

VERSION = 1


def save(rows_path: Path, meta_path: Path, table: AnnotationTable) -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, table.rows, allow_pickle=False)
    files.write_bytes(rows_path, buffer.getvalue())
    meta = {"version": VERSION, "columns": list(COLUMNS), "kinds": list(KINDS), "details": list(table.details)}
    files.write_bytes(meta_path, json.dumps(meta, ensure_ascii=False).encode("utf-8"))


def load(rows_path: Path, meta_path: Path, lengths: Sequence[int]) -> AnnotationTable:
    """The table, checked against the passages' text lengths; raises ``ValueError`` for files that do not fit."""
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        raise ValueError(f"{meta_path.name} has version {meta.get('version') if isinstance(meta, dict) else None!r}")
    if meta.get("columns") != list(COLUMNS) or meta.get("kinds") != list(KINDS[: len(meta.get("kinds") or [])]):
        raise ValueError(f"{meta_path.name} names columns or kinds this rag does not know")
    details = meta.get("details")
    if not isinstance(details, list) or not all(isinstance(d, str) for d in details):
        raise ValueError(f"{meta_path.name}: details must be a list of strings")
    rows = np.load(rows_path, allow_pickle=False)
    if rows.dtype != np.int32:
        raise ValueError(f"{rows_path.name} holds {rows.dtype}, not int32")
    table = AnnotationTable(rows, details)
    table.check(lengths)
    return table
