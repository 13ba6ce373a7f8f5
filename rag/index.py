"""``build_index``: load → clean → chunk → embed (only what changed) → store, atomically.

``add_documents`` adds documents to an index without re-reading its corpus (the web app's uploads);
``ensure_index`` builds or upgrades the index a server is about to open.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rag import ann, store
from rag.chunk import ChunkSettings, chunk_document
from rag.embed import DEFAULT_EMBEDDER, Embedder, get_embedder
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError, NoPassageError
from rag.load import SkipFile, load_corpus, load_file
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
    folder: str | os.PathLike[str] | None = None,
    keep: Keep | None = None,
) -> BuildReport:
    """Index already-loaded documents into ``index_dir`` (replacing what is there, atomically).

    ``index_dir`` must be new, empty or an index (``store.check_folder``), and outside ``corpus``. ``folder``: where
    ``documents`` were read from when it is not ``corpus`` (recorded for each, see ``add_documents``). ``keep``:
    documents of the current index kept beside them, chosen under the build's lock: ``"all"`` (``add_documents``) or
    ``"added"``, those added from other folders (``build_index``).
    """
    started = time.perf_counter()
    path = Path(index_dir)
    store.check_folder(path, corpus)
    settings = settings or _previous_settings(path) or ChunkSettings()
    with store.lock(path):
        documents, folders, chunked = _with_kept(path, documents, folder, keep, settings)
        cache, old_sources = _previous_vectors(path, embedder.id)
        passages, spans = _chunk(documents, settings, chunked)
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
            "documents": {d.info.source: _entry(d, per_source[d.info.source], folders) for d in documents},
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
    documents. Documents added to the index from other folders (``add_documents``: the web app's uploads) are kept,
    re-read from their folder when their file changed, dropped with a warning when it is gone. The previous index
    stays usable until the new one is complete. Of files with the same content, the one already indexed is kept.
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
        keep=KEEP_ADDED,
    )


# -- documents added from other folders ------------------------------------------------------------------------------
#
# The manifest records, for each document added with ``add_documents``, the folder its file lives in (``folder``,
# an absolute path); the others live in the corpus (``corpus``). A rebuild from the corpus keeps the added ones.

Keep = Literal["all", "added"]
KEEP_ALL: Keep = "all"
KEEP_ADDED: Keep = "added"


def _entry(document: Document, passages: int, folders: dict[str, str]) -> dict[str, Any]:
    """The manifest's record of one document: its hash, its number of passages, its folder when not the corpus."""
    entry: dict[str, Any] = {"sha256": document.sha256, "passages": passages}
    if document.info.source in folders:
        entry["folder"] = folders[document.info.source]
    return entry


Spans = list[tuple[int, int]]  # the sentences of a passage
Chunked = dict[str, list[tuple[Passage, Spans]]]  # source → its passages with their sentences


def _chunk(documents: list[Document], settings: ChunkSettings, chunked: Chunked) -> tuple[list[Passage], list[Spans]]:
    """Passages of ``documents`` in order, with their sentence spans; those in ``chunked`` are not chunked again."""
    passages: list[Passage] = []
    spans: list[Spans] = []
    for doc in documents:
        done = chunked.get(doc.info.source)
        if done is None:
            new = chunk_document(doc, settings)
            done = [(p, split_sentences(p.text)) for p in new]
        passages.extend(p for p, _ in done)
        spans.extend(sp for _, sp in done)
    return passages, spans


def _with_kept(
    path: Path, documents: list[Document], folder: str | os.PathLike[str] | None, keep: Keep | None, settings: ChunkSettings
) -> tuple[list[Document], dict[str, str], Chunked]:
    """``documents`` with the current index's documents that ``keep`` names, the folder of each added one, and the
    stored passages of the kept documents that need no chunking again (unchanged, same chunking settings)."""
    folders = {d.info.source: str(Path(folder).resolve()) for d in documents} if folder is not None else {}
    current = _current(path, keep) if keep is not None else None
    if current is None:
        return documents, folders, {}
    manifest, old = current
    entries = manifest.get("documents") or {}
    added = {s: str(e["folder"]) for s, e in entries.items() if isinstance(e, dict) and e.get("folder")}
    stored = {d.info.source: d for d in old.documents} if old is not None else {}
    if keep == KEEP_ALL:
        kept = list(stored.values())
        _refuse_known(kept, documents)
        merged = [*kept, *documents]
    else:
        kept = [d for s, f in added.items() if (d := _reread(Path(f), s, stored.get(s))) is not None]
        merged = [*_skip_clashes(documents, kept, added), *kept]
    folders = {**{d.info.source: added[d.info.source] for d in kept if d.info.source in added}, **folders}
    chunked: Chunked = {}
    if old is not None and manifest.get("chunking") == settings.to_dict():
        unchanged = {d.info.source for d in kept if stored.get(d.info.source) is d}
        for passage, spans in zip(old.passages, old.sentence_spans, strict=True):
            if passage.source in unchanged:
                chunked.setdefault(passage.source, []).append((passage, spans))
    return merged, folders, chunked


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


def _reread(folder: Path, source: str, stored: Document | None) -> Document | None:
    """An added document as its file now is: the stored one when the file is unchanged, None when it is gone."""
    file = folder / source
    try:
        if not file.resolve().is_relative_to(folder.resolve()):
            raise OSError(f"{source} is outside {folder}")
        data = file.read_bytes()
    except OSError as exc:
        log.warning("%s is no longer indexed: its file %s cannot be read (%s)", source, file, exc.strerror or exc)
        return None
    if stored is not None and stored.sha256 == hashlib.sha256(data).hexdigest():
        return stored
    try:
        return load_file(file, source)
    except (SkipFile, OSError, UnicodeDecodeError) as exc:
        log.warning("%s is no longer indexed: its file %s changed and cannot be read (%s)", source, file, exc)
        return None


def add_documents(
    index_dir: str | os.PathLike[str],
    documents: Sequence[Document],
    embedder: Embedder | None = None,
    *,
    folder: str | os.PathLike[str],
    progress: bool = False,
) -> BuildReport:
    """Add documents, read from files of ``folder``, to an existing index without re-reading its corpus.

    The new index holds the current one's documents as stored (text and bibliographic data) plus ``documents``;
    stored vectors are reused, so only the new documents are embedded. The index records ``folder`` for each new
    document: a later ``build_index`` of the corpus keeps them (re-reading a file that changed, dropping one that
    is gone). ``embedder`` defaults to the index's own. Raises ``BadInputError`` when a document's name or content
    is already indexed, ``NoPassageError`` when one holds no passage to search; the index is then unchanged.
    """
    path = Path(index_dir)
    manifest = store.read_manifest(path)
    recorded = manifest.get("embedder") or {}
    spec = str(recorded.get("spec") or DEFAULT_EMBEDDER)
    model = embedder or get_embedder(spec)
    if model.id != recorded.get("id"):
        raise IndexIncompatibleError(f"{path} was built with the embedder {recorded.get('id')!r}, not {model.id!r}")
    settings = _previous_settings(path) or ChunkSettings()
    for doc in documents:
        if not chunk_document(doc, settings):
            raise NoPassageError(f"{doc.info.source}: no passage to index (no paragraph of text was found)")
    return build_from_documents(
        list(documents), path, model, embedder_spec=spec, settings=settings,
        corpus=manifest.get("corpus"), folder=folder, keep=KEEP_ALL, progress=progress,
    )  # fmt: skip


def ensure_index(
    index_dir: str | os.PathLike[str],
    corpus: str | os.PathLike[str],
    *,
    embedder: Embedder | str | None = None,
    progress: bool = False,
) -> BuildReport | None:
    """Build the index from ``corpus`` when it is missing; rebuild it when an older rag wrote it from this corpus.

    What a server runs before opening the index. The rebuild reuses the old index's vectors (nothing is embedded
    again), so upgrading rag does not stop the app from starting. A damaged index, or one built from another
    folder, is left alone and reported (``IndexIncompatibleError``).
    """
    path = Path(index_dir)
    if not (path / store.MANIFEST).is_file():
        return build_index(corpus, path, embedder=embedder or DEFAULT_EMBEDDER, progress=progress)
    try:
        store.read_manifest(path)
        return None
    except IndexIncompatibleError as exc:
        current_error = exc
    old = store.read_manifest(path, reuse_old=True)  # raises for a damaged index or one from a newer rag
    if old.get("corpus") != str(Path(corpus).resolve()):
        raise current_error
    log.warning("%s was written by an older rag (format %s): rebuilding it from %s", path, old["format_version"], corpus)
    spec = embedder or (old.get("embedder") or {}).get("spec") or DEFAULT_EMBEDDER
    return build_index(corpus, path, embedder=spec, progress=progress)
