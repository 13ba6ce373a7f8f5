"""The shape of a manifest, checked once when it is read: the code that uses it can then index it without guarding
every access, and an error deeper in is a bug to report, not a damaged index."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag.errors import IndexIncompatibleError

# A file of the index folder as a manifest names it: relative, inside the folder.
_NAME = re.compile(r"(?!/)(?!.*(^|/)\.\.?(/|$))[^\\\0]+")


def check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Raise ``IndexIncompatibleError`` naming ``path`` (the manifest) when a field rag reads has the wrong shape."""
    problem = _problem(manifest)
    if problem:
        raise IndexIncompatibleError(f"{path} is damaged ({problem}); re-run `rag index` to rebuild it")


def _problem(m: dict[str, Any]) -> str | None:
    files = m.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and _is_name(v) for k, v in files.items()):
        return "its file list is not a mapping of file names"
    # (an index in a vector database names its keys file: checked once its backend is known to be installed)
    stored = () if isinstance(m.get("store"), dict) else ("vectors", "sentences", "faiss")
    missing = [kind for kind in ("documents", "passages", "bm25", *stored) if kind not in files]
    if missing:
        return f"its file list lacks {', '.join(missing)}"
    for key, kind in (("sizes", int), ("checksums", str)):
        value = m.get(key)
        if value is not None and not _mapping(value, kind):
            return f"{key} is not a mapping of file names"
    if m["format_version"] >= 3:
        blocks = m.get("block_checksums")
        if not isinstance(blocks, dict) or type(blocks.get("block_bytes")) is not int or blocks["block_bytes"] <= 0:
            return "no block checksums"
        listed = blocks.get("files")
        if not isinstance(listed, dict) or not all(
            isinstance(v, list) and all(isinstance(c, str) for c in v) for v in listed.values()
        ):
            return "its block checksums are not lists of checksums"
        if not isinstance(m.get("generation"), str):
            return "no generation"
    embedder = m.get("embedder")
    if not isinstance(embedder, dict) or type(embedder.get("dim", 0)) is not int or not isinstance(embedder.get("id", ""), str):
        return "its embedder is not a record with an id and a dimension"
    for key in ("documents", "second_opinion", "calibration", "chunking", "annotator"):
        if m.get(key) is not None and not isinstance(m[key], dict):
            return f"{key} is not a record"
    second = m.get("second_opinion")
    if isinstance(second, dict) and not isinstance(second.get("id"), str):
        return "the second opinion has no id"
    if m.get("store") is not None and not isinstance(m["store"], dict):
        return "store is not a record"
    return None


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(_NAME.fullmatch(value)) and not Path(value).is_absolute()


def _mapping(value: object, kind: type) -> bool:
    return isinstance(value, dict) and all(_is_name(k) and type(v) is kind for k, v in value.items())
