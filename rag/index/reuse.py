"""What a build reuses of the index it replaces: every stored vector that is intact, whatever else is damaged.

Vectors are reused by the key of the text they embed (``rag.index.vectors.text_key``), for the same embedder only.
Each vector file of the previous index is read the first of these ways that works:

1. its record and keys (``rag.store.vector_files``, format 6 on): nothing else is needed, not even the manifest, so
   a damaged or missing manifest, FAISS index, BM25 index, documents or passages file costs nothing. The manifest's
   generation is tried first, then the others rag wrote there (a build killed after writing its vectors included);
2. the manifest (its embedder and block checksums) with the keys computed from the stored documents and passages,
   checked: older formats, and a damaged record or keys file.

Only rows whose block checksum holds and that are finite unit vectors are reused (``sound_rows``). A damaged passage
vector is read from the FAISS index instead when that is intact (it holds exact copies); any other damaged vector is
embedded again. Each loss is a warning naming the file, and ``Previous.lost`` the texts concerned (the build report
counts those it embedded again).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag import store
from rag.errors import IndexIncompatibleError, IndexMissingError
from rag.index.lookup import Lookup, Reader
from rag.index.vectors import embedding_text, sound_rows, text_key
from rag.retrieve.calibration import null_questions, null_questions_sha256
from rag.store import directory, generations, vector_files
from rag.store.rows import NpyRows, Rows, SpanTable, Vectors
from rag.store.vector_files import Keys, key_array, key_strings
from rag.types import Passage

log = logging.getLogger("rag")

Vector = npt.NDArray[np.float32]
# The vector files a build reuses, the cache each fills, and what it holds.
KINDS = {"vectors": "passage vectors", "sentences": "sentence vectors", "questions": "calibration questions' vectors",
         "second": "second opinion's passage vectors"}  # fmt: skip


@dataclass
class Previous:
    """What a build can reuse of the current index: where its vectors are by text key (``vectors``: the embedder's,
    passages, sentences and calibration questions; ``second``: the second opinion's passage vectors; read from the
    files when needed: ``rag.index.lookup``), its documents, and the keys of the texts whose stored vectors were
    damaged (``lost``)."""

    vectors: Lookup = field(default_factory=Lookup)
    second: Lookup = field(default_factory=Lookup)
    sources: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    lost_second: set[str] = field(default_factory=set)


def previous_vectors(index_dir: Path, embedder_id: str, second_id: str | None = None) -> Previous:
    """The sound vectors of the index at ``index_dir`` by text key (none when there is none, or it used another
    embedder; the second opinion's when it used ``second_id``)."""
    previous = Previous()
    manifest = _manifest(index_dir)
    if manifest is not None and isinstance(manifest.get("documents"), dict):
        previous.sources = set(manifest["documents"])
    owners = {"vectors": embedder_id, "sentences": embedder_id, "questions": embedder_id, "second": second_id}
    fallback = _ByManifest(index_dir, manifest)
    for kind, owner in owners.items():
        if owner is None:
            continue
        cache, lost = (previous.second, previous.lost_second) if kind == "second" else (previous.vectors, previous.lost)
        found = _from_records(index_dir, manifest, kind, owner) or fallback.rows(kind, owner)
        if found is None:
            continue
        where, keys, rows = found
        damaged = _reuse(keys, rows, cache) if rows is not None else _absent(keys, np.arange(len(keys)), cache)
        if damaged and kind == "vectors":
            damaged = fallback.from_faiss(damaged, cache)
        if damaged:
            lost.update(damaged)
            log.warning("%s: %d %s are damaged; they are embedded again", where, len(damaged), KINDS[kind])
        if not previous.sources and kind == "vectors":
            previous.sources = fallback.sources
    return previous


def _manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        return store.read_manifest(index_dir, reuse_old=True)
    except IndexMissingError:
        return None
    except IndexIncompatibleError as exc:
        if (index_dir / store.MANIFEST).exists():
            log.warning("%s; the vectors are reused from their own records", exc)
        return None


def _generations(index_dir: Path, manifest: dict[str, Any] | None) -> list[Path]:
    """The generation folders that may hold reusable vectors: the manifest's, then the others rag wrote, newest first."""
    names = [manifest["generation"]] if manifest is not None and isinstance(manifest.get("generation"), str) else []
    journal = generations.read_journal(index_dir)
    try:
        present = [p.name for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("gen-")]
    except OSError:
        present = []
    names += sorted({n for n in [*journal, *present] if generations.GENERATION_NAME.fullmatch(n)}, reverse=True)
    return [index_dir / name for name in dict.fromkeys(names) if (index_dir / name).is_dir()]


Found = tuple[str, Keys, Rows | Vectors | None]  # where, the key of each row, the rows (None: all lost)


def _from_records(index_dir: Path, manifest: dict[str, Any] | None, kind: str, owner: str) -> Found | None:
    """Way 1: the first generation whose record of ``kind`` is intact and names ``owner``'s vectors."""
    name = vector_files.record_name(directory.VECTOR_FILES[kind])
    for folder in _generations(index_dir, manifest):
        path = folder / name
        if not path.exists():
            continue
        try:
            record = vector_files.read_record(path)
            if record.embedder != owner:
                return None  # another model's vectors: none of this index's are reusable
            keys = vector_files.read_key_array(folder, record)
        except IndexIncompatibleError as exc:
            log.warning("%s; the %s are looked for elsewhere", exc, KINDS[kind])
            continue
        try:
            return str(folder / record.vectors), keys, vector_files.open_vectors(folder, record)
        except IndexIncompatibleError as exc:  # its keys say what is lost
            log.warning("%s", exc)
            return str(folder / record.vectors), keys, None
    return None


class _ByManifest:
    """Way 2: the manifest's generation, its rows keyed by the texts of its documents and passages (read once)."""

    def __init__(self, index_dir: Path, manifest: dict[str, Any] | None) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.sources: set[str] = set()
        self._texts: tuple[list[Passage], SpanTable, Keys] | None = None

    def rows(self, kind: str, owner: str) -> Found | None:
        m = self.manifest
        if m is None:
            return None
        recorded = (m.get("second_opinion") if kind == "second" else m.get("embedder")) or {}
        if recorded.get("id") != owner or (kind in ("questions", "second") and kind not in m["files"]):
            return None
        where = str(self.index_dir / m["files"].get(kind, m["files"]["passages"]))
        try:
            if kind == "questions":
                return self._questions(where)
            passages, spans, keys = self._passage_keys()
            rows = directory.stored_rows(self.index_dir, m, kind, passages, spans)
        except IndexIncompatibleError as exc:
            log.warning("%s; the %s of the previous index are embedded again", exc, KINDS[kind])
            return None
        if kind == "sentences":
            keys = key_array([text_key(p.text[s:e]) for p, sp in zip(passages, spans, strict=True) for s, e in sp])
        return where, keys, rows

    def _passage_keys(self) -> tuple[list[Passage], SpanTable, Keys]:
        """The stored passages, their sentences and their keys (read once for all the vector files)."""
        if self._texts is None:
            assert self.manifest is not None
            documents, passages, spans = directory.read_texts(self.index_dir, self.manifest)
            self.sources = {d.info.source for d in documents}
            titles = {d.info.source: d.info.title for d in documents}
            keys = key_array([text_key(embedding_text(titles.get(p.source, ""), p.text)) for p in passages])
            self._texts = passages, spans, keys
        return self._texts

    def _questions(self, where: str) -> Found | None:
        """The calibration questions' vectors, when they were the questions of today (in the same order)."""
        assert self.manifest is not None
        calibration = self.manifest.get("calibration") or {}
        if calibration.get("questions_sha256") != null_questions_sha256():
            return None
        path = self.index_dir / self.manifest["files"]["questions"]
        keys = key_array([text_key(q.question, "query") for q in null_questions()])
        checksum = (self.manifest.get("checksums") or {}).get(self.manifest["files"]["questions"])
        try:
            if checksum is not None and checksum != store.files.sha256(path):
                raise ValueError("its checksum does not match")
            vectors = np.load(path, allow_pickle=False)  # small, read whole
            if vectors.ndim != 2 or len(vectors) != len(keys):
                raise ValueError(f"{vectors.shape} vectors for {len(keys)} questions")
        except FileNotFoundError:
            log.warning("%s is missing", path)
            return where, keys, None
        except (OSError, ValueError, EOFError) as exc:  # (no checksum in older formats: np.load says what is wrong)
            log.warning("%s is damaged (%s)", path, exc)
            return where, keys, None
        return where, keys, vectors

    def from_faiss(self, damaged: dict[str, int], cache: Lookup) -> dict[str, int]:
        """Damaged passage vectors read from the FAISS index when it is intact; returns those still missing."""
        m = self.manifest
        if m is None or "faiss" not in m["files"] or m.get("store"):
            return damaged
        try:
            faiss_rows = directory.stored_faiss(self.index_dir, m)
        except IndexIncompatibleError:
            return damaged
        if len(faiss_rows) <= max(damaged.values(), default=-1):
            return damaged
        keys = list(damaged)
        rows = np.asarray(faiss_rows[np.asarray([damaged[k] for k in keys], dtype=np.int64)])
        sound = np.array([vector is not None for vector in sound_rows(rows)], dtype=bool)
        cache.add_rows(key_array(keys), rows, sound)  # (a few rows: held)
        left = {key: damaged[key] for key, ok in zip(keys, sound.tolist(), strict=True) if not ok}
        if len(left) < len(damaged):
            log.warning("%d damaged passage vectors are read from %s instead", len(damaged) - len(left), m["files"]["faiss"])
        return left


def _reuse(keys: Keys, rows: Rows | Vectors, cache: Lookup) -> dict[str, int]:
    """Add the sound rows to ``cache`` (read from the file when needed, after one pass that checks them all);
    returns the damaged ones' keys (key → row)."""
    sound = np.array([vector is not None for vector in sound_rows(rows)], dtype=bool)
    if isinstance(rows, NpyRows):
        # Read again only for the rows the build reuses; each block's checksum is checked again then.
        path, shape, dtype = rows.path, rows.shape, rows.dtype
        checksums, block_bytes = rows.checksums, rows.block_bytes
        rows.close()
        cache.add(keys, _file_reader(path, shape, dtype, checksums, block_bytes), sound)
    else:
        cache.add_rows(keys, rows, sound)
    damaged = np.flatnonzero(~sound)
    return _absent(keys[damaged], damaged, cache)  # a text stored twice, once intact: not lost


def _absent(keys: Keys, rows: npt.NDArray[np.integer[Any]], cache: Lookup) -> dict[str, int]:
    """key → row of those of ``keys`` that ``cache`` lacks (the first row of each)."""
    out: dict[str, int] = {}
    if not len(keys):
        return out
    for key, row, known in zip(key_strings(keys), rows.tolist(), cache.contains(keys).tolist(), strict=True):
        if not known:
            out.setdefault(key, row)
    return out


def _file_reader(
    path: Path, shape: tuple[int, int], dtype: np.dtype[Any], checksums: Sequence[str] | None, block_bytes: int
) -> Reader:
    """Rows of a vector file opened for each read (a build keeps no file open between reads), blocks checked."""

    def read(wanted: npt.NDArray[np.int64]) -> Vector:
        rows = NpyRows.salvage(path, shape, dtype, checksums, block_bytes) if checksums is not None else NpyRows(path)
        try:
            return np.asarray(rows[wanted], dtype=np.float32)
        finally:
            rows.close()

    return read
