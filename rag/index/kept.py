"""Documents added to an index from other folders (the web app's uploads), kept by every build.

The manifest records, for each document added with ``add_documents``, the folder its file lives in (``folder``, an
absolute path); the others live in the corpus (``corpus``). ``add_documents`` keeps every current document
(``KEEP_ALL``); a rebuild from the corpus keeps the added ones (``KEEP_ADDED``), re-read when their file changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from rag import store
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError
from rag.ingest.catalog import described, load_catalog
from rag.ingest.chunk import Chunk, ChunkSettings
from rag.ingest.load import SkipFile, load_file
from rag.ingest.ocr_cache import FOLDER as OCR_CACHE
from rag.types import Document

log = logging.getLogger("rag")


Keep = Literal["all", "added"]
KEEP_ALL: Keep = "all"
KEEP_ADDED: Keep = "added"


Chunked = dict[str, list[Chunk]]  # source → its passages as stored (with their sentences and offset maps)


def with_kept(
    path: Path,
    documents: list[Document],
    folder: str | os.PathLike[str] | None,
    keep: Keep | None,
    settings: ChunkSettings,
    drop: Collection[str] = (),
) -> tuple[list[Document], dict[str, str], Chunked]:
    """``documents`` with the current index's documents that ``keep`` names (but those in ``drop``: removed or
    replaced), the folder of each added one, and the stored passages of the kept documents that need no chunking
    again (unchanged, same chunking settings)."""
    folders = {d.info.source: str(Path(folder).resolve()) for d in documents} if folder is not None else {}
    current = _current(path, keep) if keep is not None else None
    if current is None:
        return documents, folders, {}
    manifest, old = current
    entries = manifest.get("documents") or {}
    added = {s: str(e["folder"]) for s, e in entries.items() if isinstance(e, dict) and e.get("folder") and s not in drop}
    previous = {d.info.source: d for d in old.documents} if old is not None else {}
    stored = {source: d for source, d in previous.items() if source not in drop}
    if keep == KEEP_ALL:
        kept = list(stored.values())
        _refuse_known(kept, documents)
        merged = [*kept, *documents]
    else:
        cache = path / OCR_CACHE
        catalogs = {f: load_catalog(Path(f)) for f in sorted(set(added.values()))}
        kept = [
            d for s, f in added.items() if (d := _reread(Path(f), s, stored.get(s), cache, catalogs[f].get(s))) is not None
        ]
        merged = [*_skip_clashes(documents, kept, added), *kept]
    folders = {**{d.info.source: added[d.info.source] for d in kept if d.info.source in added}, **folders}
    chunked: Chunked = {}
    if old is not None and old.offsets is not None and manifest.get("chunking") == settings.to_dict():
        # Passages depend on the text, the name and the format only: a kept document whose bibliographic data alone
        # changed (a title corrected), or one given again with the same text, keeps its passages.
        again = documents if keep == KEEP_ALL else []
        unchanged = {d.info.source for d in [*kept, *again] if _same_text(previous.get(d.info.source), d)}
        for passage, spans, offsets in zip(old.passages, old.sentence_spans, old.offsets, strict=True):
            if passage.source in unchanged:
                chunked.setdefault(passage.source, []).append(Chunk(passage, spans, offsets))
    return merged, folders, chunked


def _same_text(old: Document | None, new: Document) -> bool:
    return old is not None and (old is new or (old.format == new.format and old.text == new.text))


def _current(path: Path, keep: Keep) -> tuple[dict[str, Any], store.IndexData | None] | None:
    """The current index's manifest and data (None: nothing to keep). Adding to it (``KEEP_ALL``) needs both; a
    rebuild keeping the added documents (``KEEP_ADDED``) can read them from their files when the data is damaged."""
    try:
        manifest = store.read_manifest(path, reuse_old=True)
    except IndexMissingError:
        if keep == KEEP_ALL:
            raise
        return None
    except IndexIncompatibleError as exc:
        if keep == KEEP_ALL:
            raise
        log.warning("documents added to %s from other folders cannot be listed, so they are not kept: %s", path, exc)
        return None
    entries = manifest.get("documents") or {}
    if keep == KEEP_ADDED and not any(isinstance(e, dict) and e.get("folder") for e in entries.values()):
        return None
    try:
        return manifest, store.load(path, with_vectors=False, reuse_old=True)
    except IndexIncompatibleError:
        if keep == KEEP_ALL:
            raise
        return manifest, None


def _refuse_known(indexed: list[Document], documents: list[Document]) -> None:
    """Raise ``BadInputError`` when one of ``documents`` has the name or the content of an indexed document."""
    known = {d.info.source: d.info.source for d in indexed} | {d.sha256: d.info.source for d in indexed}
    for doc in documents:
        for key in (doc.info.source, doc.sha256):
            if key in known:
                raise BadInputError(f"{doc.info.source}: {known[key]} is already in the index (same name or content)")


def _skip_clashes(documents: list[Document], kept: list[Document], added: dict[str, str]) -> list[Document]:
    """``documents`` without those that have the name or content of a kept added document (which stays indexed)."""
    taken = {d.info.source: d.info.source for d in kept} | {d.sha256: d.info.source for d in kept}
    newcomers = []
    for doc in documents:
        clash = taken.get(doc.info.source) or taken.get(doc.sha256)
        if clash:
            log.warning("skipped %s: same name or content as %s, added from %s", doc.info.source, clash, added[clash])
            continue
        newcomers.append(doc)
    return newcomers


def _reread(
    folder: Path, source: str, stored: Document | None, ocr_cache: Path, entry: dict[str, Any] | None = None
) -> Document | None:
    """An added document as its file and its folder's catalogue ``entry`` now are: the stored one when neither
    changed, None when the file is gone."""
    file = folder / source
    try:
        if not file.resolve().is_relative_to(folder.resolve()):
            raise OSError(f"{source} is outside {folder}")
        data = file.read_bytes()
    except OSError as exc:
        log.warning("%s is no longer indexed: its file %s cannot be read (%s)", source, file, exc.strerror or exc)
        return None
    if stored is not None and stored.sha256 == hashlib.sha256(data).hexdigest():
        info = described(stored.info, entry)
        return stored if info == stored.info else dataclasses.replace(stored, info=info)
    try:
        return load_file(file, source, entry, ocr_cache=ocr_cache)
    except (SkipFile, OSError, UnicodeDecodeError) as exc:
        log.warning("%s is no longer indexed: its file %s changed and cannot be read (%s)", source, file, exc)
        return None
