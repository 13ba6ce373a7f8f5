"""``build_index``: load → clean → chunk → embed (only what changed) → store, atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag import ann, store
from rag.chunk import ChunkSettings, chunk_document
from rag.embed import DEFAULT_EMBEDDER, Embedder, get_embedder
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError
from rag.load import load_corpus
from rag.rows import Rows, Vectors
from rag.sentences import split_sentences
from rag.types import Document, Passage

log = logging.getLogger("rag")


@dataclass(frozen=True)
class BuildReport:
    """What a build did: counts, and how many texts were embedded versus reused from the previous index."""

    documents: int
    passages: int
    embedded: int
    reused: int
    removed_documents: int
    seconds: float
    index_type: str

    def summary(self) -> str:
        return (
            f"{self.documents} documents, {self.passages} passages ({self.index_type} index); "
            f"embedded {self.embedded} texts, reused {self.reused}; "
            f"{self.removed_documents} documents removed; {self.seconds:.1f} s"
        )


def embedding_text(title: str, text: str) -> str:
    """What the model embeds for a passage: its document's title gives it context ("selon l'OTAN")."""
    return f"{title}\n{text}" if title else text


def text_key(text: str) -> str:
    """Content hash of a text as embedded (vectors are reused by this key, for the same embedder only)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _previous_vectors(index_dir: Path, embedder_id: str) -> tuple[dict[str, npt.NDArray[np.float32]], set[str]]:
    """Vectors of the current index by text hash (empty when there is none, or it used another embedder).

    An index in an older format is read too (``reuse_old``): moving to a new format re-embeds nothing. Only sound
    vectors are reused (``_sound_rows``): a damaged one is embedded again.
    """
    try:
        old = store.load(index_dir, with_vectors=False, reuse_old=True)
    except IndexMissingError:
        return {}, set()
    except IndexIncompatibleError as exc:
        log.warning("previous index not reused: %s", exc)
        return {}, set()
    sources = {d.info.source for d in old.documents}
    if old.manifest.get("embedder", {}).get("id") != embedder_id:
        return {}, sources
    cache: dict[str, npt.NDArray[np.float32]] = {}
    titles = {d.info.source: d.info.title for d in old.documents}
    damaged = 0
    for passage, vector in zip(old.passages, _sound_rows(old.vectors), strict=True):
        if vector is None:
            damaged += 1
        else:
            cache[text_key(embedding_text(titles.get(passage.source, ""), passage.text))] = vector
    # Sentence vectors are read in blocks (served indexes read them from disk on demand; one read per row is slow).
    sentence_rows = _sound_rows(old.sentence_vectors)
    for passage, spans in zip(old.passages, old.sentence_spans, strict=True):
        for s, e in spans:
            vector = next(sentence_rows)
            if vector is None:
                damaged += 1
            else:
                cache.setdefault(text_key(passage.text[s:e]), vector)
    if damaged:
        log.warning("%s: %d vectors of the previous index are damaged; they are embedded again", index_dir, damaged)
    return cache, sources


# Vectors read and checked at a time when reusing a previous index's.
REUSE_ROWS = 4096
# How far from length 1 a stored unit vector may be (float16 rounding moves it by ~1e-4) before it counts as damaged.
UNIT_TOLERANCE = 1e-2


def _sound_rows(rows: Vectors | Rows) -> Iterator[npt.NDArray[np.float32] | None]:
    """Each row of a stored vector matrix (float32), or None when it is damaged: in a block whose checksum does not
    match, or not a finite unit vector (the only sign of damage in formats without vector checksums)."""
    for start in range(0, len(rows), REUSE_ROWS):
        stop = min(len(rows), start + REUSE_ROWS)
        readable = np.ones(stop - start, dtype=bool)
        try:
            block = np.array(rows[start:stop], dtype=np.float32)
        except IndexIncompatibleError:  # a damaged block: read row by row to keep the sound ones
            block = np.zeros((stop - start, rows.shape[1]), dtype=np.float32)
            for i in range(start, stop):
                try:
                    block[i - start] = rows[i]
                except IndexIncompatibleError:
                    readable[i - start] = False
        with np.errstate(all="ignore"):  # overflow or NaN in a damaged row: it fails the test below
            norms = np.linalg.norm(block, axis=1)
        sound = readable & (np.abs(norms - 1.0) <= UNIT_TOLERANCE)
        for row, ok in zip(block, sound.tolist(), strict=True):
            yield row if ok else None


def _previous_settings(index_dir: Path) -> ChunkSettings | None:
    """The chunking an existing index was built with, so that re-indexing (e.g. after an upload) keeps it."""
    try:
        chunking = store.read_manifest(index_dir).get("chunking")
        return ChunkSettings(**chunking) if isinstance(chunking, dict) else None
    except (IndexMissingError, IndexIncompatibleError, TypeError):
        return None


def _previous_sources(index_dir: Path) -> set[str]:
    """The documents the current index holds (none when there is no readable manifest)."""
    try:
        listed = store.read_manifest(index_dir, reuse_old=True).get("documents")
    except (IndexMissingError, IndexIncompatibleError):
        return set()
    return set(listed) if isinstance(listed, dict) else set()


# Texts embedded per call while building (in whole batches): bounds the memory of the not-yet-placed vectors.
EMBED_CHUNK_BATCHES = 128


def _embed_with_cache(
    embedder: Embedder, texts: Sequence[str], cache: dict[str, npt.NDArray[np.float32]], progress: bool
) -> tuple[npt.NDArray[np.float32], int]:
    """Vectors for ``texts`` (as passages), embedding only those whose hash is not in ``cache``.

    New vectors are added to ``cache`` as views of the returned matrix: each is held once, not twice (at 100k
    passages the copies were a third of the build's peak memory).
    """
    keys = [text_key(t) for t in texts]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    if todo:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="embedding", unit="text", dynamic_ncols=True)
        # In chunks, each copied into place: the new vectors are never all held twice. Whole batches per chunk,
        # so that the embedder sees the same batches as in one call.
        chunk = EMBED_CHUNK_BATCHES * embedder.batch_size
        try:
            for start in range(0, len(todo), chunk):
                rows = todo[start : start + chunk]
                out[rows] = embedder.embed([texts[i] for i in rows], "passage", progress=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
    for i in todo:
        cache[keys[i]] = out[i]
    new = set(todo)
    for i, key in enumerate(keys):
        if i not in new:
            out[i] = cache[key]
    return out, len(todo)


def build_from_documents(
    documents: list[Document],
    index_dir: str | os.PathLike[str],
    embedder: Embedder,
    *,
    embedder_spec: str = DEFAULT_EMBEDDER,
    settings: ChunkSettings | None = None,
    index_type: str = "auto",
    corpus: str | None = None,
    progress: bool = False,
) -> BuildReport:
    """Index already-loaded documents into ``index_dir`` (replacing what is there, atomically).

    ``index_dir`` must be new, empty or an index (``store.check_folder``), and outside ``corpus``.
    """
    started = time.perf_counter()
    path = Path(index_dir)
    store.check_folder(path, corpus)
    settings = settings or _previous_settings(path) or ChunkSettings()
    with store.lock(path):
        cache, old_sources = _previous_vectors(path, embedder.id)
        passages: list[Passage] = []
        for doc in documents:
            passages.extend(chunk_document(doc, settings))
        spans = [split_sentences(p.text) for p in passages]
        sentence_texts = [p.text[s:e] for p, sp in zip(passages, spans, strict=True) for s, e in sp]
        titles = {d.info.source: d.info.title for d in documents}
        passage_texts = [embedding_text(titles[p.source], p.text) for p in passages]
        vectors, n_new = _embed_with_cache(embedder, passage_texts, cache, progress)
        sentence_vectors, n_new_sent = _embed_with_cache(embedder, sentence_texts, cache, progress)
        n_texts = len(passage_texts) + len(sentence_texts)
        # Not needed for the FAISS build and the writing that follow: the previous index's vectors, and the texts.
        del cache, passage_texts, sentence_texts
        kind = ann.choose_kind(len(passages), index_type)
        per_source = Counter(p.source for p in passages)
        manifest: dict[str, Any] = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus": corpus,
            "embedder": {"id": embedder.id, "spec": embedder_spec, "dim": embedder.dim},
            "chunking": settings.to_dict(),
            "passage_embedding": "document title + newline + passage text; sentences embedded alone",
            "index_type": kind,
            "documents": {d.info.source: {"sha256": d.sha256, "passages": per_source[d.info.source]} for d in documents},
        }
        data = store.IndexData(
            manifest=manifest,
            documents=documents,
            passages=passages,
            sentence_spans=spans,
            vectors=vectors,
            sentence_vectors=sentence_vectors,
            faiss_index=ann.build(vectors, kind) if len(passages) else ann.build(np.zeros((0, embedder.dim), np.float32)),
        )
        store.save(path, data)
    total = n_texts
    return BuildReport(
        documents=len(documents),
        passages=len(passages),
        embedded=n_new + n_new_sent,
        reused=total - n_new - n_new_sent,
        removed_documents=len(old_sources - {d.info.source for d in documents}),
        seconds=time.perf_counter() - started,
        index_type=kind,
    )


def build_index(
    corpus: str | os.PathLike[str],
    index_dir: str | os.PathLike[str] = "index",
    *,
    embedder: Embedder | str = DEFAULT_EMBEDDER,
    settings: ChunkSettings | None = None,
    index_type: str = "auto",
    progress: bool = False,
) -> BuildReport:
    """Index every readable document of the ``corpus`` folder into ``index_dir``.

    Re-running re-embeds only added or changed text (vectors are reused by content hash) and drops removed
    documents. The previous index stays usable until the new one is complete. Of files with the same content, the
    one already indexed is kept.
    """
    spec = embedder if isinstance(embedder, str) else (embedder.spec or embedder.id)
    store.check_folder(index_dir, corpus)  # before reading the corpus, which can take a while
    documents = load_corpus(corpus, keep=_previous_sources(Path(index_dir)))
    if not documents:
        raise BadInputError(f"no readable documents in {corpus} (supported: .txt .md .pdf .docx .html)")
    model = get_embedder(embedder) if isinstance(embedder, str) else embedder
    return build_from_documents(
        documents,
        index_dir,
        model,
        embedder_spec=spec,
        settings=settings,
        index_type=index_type,
        corpus=str(Path(corpus).resolve()),
        progress=progress,
    )
