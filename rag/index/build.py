"""``build_index``: load → clean → chunk → embed (only what changed) → store, atomically.

``add_documents`` adds documents to an index without re-reading its corpus (the web app's uploads),
``remove_documents`` and ``replace_documents`` take them out or put new versions in (every other document's text,
passages and vectors reused); ``ensure_index`` builds or upgrades the index a server is about to open.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag import store
from rag.embed import DEFAULT_EMBEDDER, Embedder, get_embedder, second_opinion_for
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError, NoPassageError
from rag.index import annotate as annotating
from rag.index import shards as shard_files
from rag.index import vectors as reuse
from rag.index.executors import Executor, embed_missing
from rag.index.kept import KEEP_ADDED, KEEP_ALL, Chunked, Keep, with_kept
from rag.index.lookup import Lookup, key_view
from rag.index.reuse import previous_vectors
from rag.index.vectors import embedding_text
from rag.ingest import ocr_cache
from rag.ingest.chunk import Chunk, ChunkSettings, chunk_document, chunks
from rag.ingest.load import SUPPORTED, load_corpus
from rag.retrieve.abstention import SecondOpinion, evidence_of
from rag.retrieve.calibration import Calibration, calibrate, null_questions, shipped_vectors
from rag.retrieve.query import Vector, make_query
from rag.retrieve.view import IndexView
from rag.store import ann, backends
from rag.store.lexical import LexicalIndex
from rag.store.rows import NpyRows
from rag.store.vector_files import Keys, TextKeys, key_array
from rag.types import Document, Passage

log = logging.getLogger("rag")

SUPPORTED_NAMES = " ".join(sorted(set(SUPPORTED)))


@dataclass(frozen=True)
class Resumed:
    """What the shards of an interrupted build spared a rerun: of the passages and sentences it had to embed, how
    many were embedded already."""

    passages: int
    passages_missing: int
    sentences: int
    sentences_missing: int

    def summary(self) -> str:
        return (
            f"resumed: {self.passages:,} of {self.passages_missing:,} passages already embedded "
            f"({self.sentences:,} of {self.sentences_missing:,} sentences) by an interrupted build"
        )


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
    calibration_embedded: int = 0  # calibration questions embedded (rag.retrieve.calibration; none for the default model)
    second_embedded: int = 0  # passages embedded by the second opinion (rag.embed.use)
    annotated: int = 0  # passages annotated (rag.index.annotate); the others' annotations were reused
    # Of the texts embedded (all three kinds), those whose vectors the previous index held but damaged.
    damaged_embedded: int = 0
    resumed: Resumed | None = None  # the work an interrupted build of this index had done (its shards)

    def summary(self) -> str:
        extra = [f"{self.calibration_embedded} calibration questions"] if self.calibration_embedded else []
        extra += [f"{self.second_embedded} passages for the second opinion"] if self.second_embedded else []
        why = f" ({self.damaged_embedded} of them because their stored vectors were damaged)" if self.damaged_embedded else ""
        resumed = f"{self.resumed.summary()}; " if self.resumed else ""
        return resumed + (
            f"{self.documents} documents, {self.passages} passages ({self.index_type} index); "
            f"embedded {self.embedded} texts{''.join(' and ' + e for e in extra)}{why}, reused {self.reused}; "
            f"annotated {self.annotated} passages; "
            f"{self.removed_documents} documents removed; {self.seconds:.1f} s"
        )


def _previous_settings(index_dir: Path) -> ChunkSettings | None:
    """The chunking an existing index was built with, so that re-indexing (e.g. after an upload) keeps it."""
    try:
        chunking = store.read_manifest(index_dir).get("chunking")
    except (IndexMissingError, IndexIncompatibleError):
        return None
    if not isinstance(chunking, dict):
        return None
    wanted = {f.name for f in dataclasses.fields(ChunkSettings)}
    if set(chunking) != wanted or not all(type(v) is int for v in chunking.values()):
        log.warning("%s records chunking settings this rag does not know (%s): the defaults are used", index_dir, chunking)
        return None
    return ChunkSettings(**chunking)


def _previous_record(index_dir: Path) -> dict[str, Any] | None:
    """The ``store`` record of the current index (None: its vectors are in its own files, or there is none)."""
    try:
        record = store.read_manifest(index_dir, reuse_old=True).get("store")
    except (IndexMissingError, IndexIncompatibleError):
        return None
    return record if isinstance(record, dict) else None


def _previous_store(index_dir: Path) -> str:
    record = _previous_record(index_dir)
    return str(record["uri"]) if record and "uri" in record else backends.FAISS


def _previous_sources(index_dir: Path) -> set[str]:
    """The documents the current index holds (none when there is no readable manifest)."""
    try:
        listed = store.read_manifest(index_dir, reuse_old=True).get("documents")
    except (IndexMissingError, IndexIncompatibleError):
        return set()
    return set(listed) if isinstance(listed, dict) else set()


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
    executor: Executor | None = None,
    store_uri: str | None = None,
    drop: Collection[str] = (),
) -> BuildReport:
    """Index already-loaded documents into ``index_dir`` (replacing what is there, atomically).

    ``index_dir`` must be new, empty or an index (``store.check_folder``), and outside ``corpus``. ``folder``: where
    ``documents`` were read from when it is not ``corpus`` (recorded for each, see ``add_documents``). ``keep``:
    documents of the current index kept beside them, chosen under the build's lock: ``"all"`` (``add_documents``) or
    ``"added"``, those added from other folders (``build_index``); never those named in ``drop`` (removed, or
    replaced by one of ``documents``). ``executor``: where the texts the build lacks are
    embedded (``rag.index.executors``; None: in this process, as one batch job). ``store_uri``: where the vectors
    are kept (``faiss``, the index folder's files, or a vector database: ``rag.store.backends``); None keeps the
    current index's store (``faiss`` for a new index).
    """
    started = time.perf_counter()
    path = Path(index_dir)
    store.check_folder(path, corpus)
    settings = settings or _previous_settings(path) or ChunkSettings()
    with store.lock(path):
        documents, folders, chunked = with_kept(path, documents, folder, keep, settings, drop)
        second = second_opinion_for(embedder)
        previous = previous_vectors(path, embedder.id, second.id if second else None)
        previous_annotations = annotating.previous_annotations(path)
        cache = previous.vectors
        pieces = _chunk(documents, settings, chunked)
        passages, spans = [c.passage for c in pieces], [c.sentences for c in pieces]
        # Before embedding: a missing annotation model fails the build in seconds, not after the embedding.
        langs = annotating.passage_languages(documents, passages)
        annotation_table, n_annotated = annotating.annotations_for(passages, langs, previous_annotations)
        del previous_annotations
        titles = {d.info.source: d.info.title for d in documents}
        texts = _Texts(passages, spans, titles)
        passage_texts, sentence_texts = texts.passages(), texts.sentences()
        passage_keys, sentence_keys = passage_texts.keys, sentence_texts.keys
        lost = _lost(previous.lost, cache, passage_keys, sentence_keys)
        # Every build keeps what it embeds, shard by shard, until it commits: a rerun of a killed one embeds the rest.
        shards = path / shard_files.SHARDS
        resumed, missing = _resume(shards, embedder, cache, passage_keys, sentence_keys)
        n_sharded = 0
        if executor is not None:
            n_sharded = embed_missing(executor, embedder, texts.by_document(), cache, shards, progress)
        # A build that embeds at most one chunk keeps no shard: a kill loses what any kill loses, the chunk in flight.
        chunk = reuse.EMBED_CHUNK_BATCHES * embedder.batch_size
        checkpoint = shard_files.Checkpoint(shards, embedder.id) if missing > chunk else None
        n_new = reuse.embed_missing(embedder, passage_texts, cache, progress, what="passages", checkpoint=checkpoint)
        n_new_sent = reuse.embed_missing(embedder, sentence_texts, cache, progress, what="sentences", checkpoint=checkpoint)
        n_texts = len(passage_keys) + len(sentence_keys)
        lost_second = _lost(previous.lost_second, previous.second, passage_keys)
        n_second = 0
        if second is not None:
            shard_files.load_shards(shards, second.id, previous.second)
            n_second = reuse.embed_missing(
                second, passage_texts, previous.second, progress, what="passages (second opinion)",
                checkpoint=shard_files.Checkpoint(shards, second.id) if checkpoint else None,
            )  # fmt: skip
        kind = ann.choose_kind(len(passages), index_type)
        record = backends.store_record(store_uri or _previous_store(path), _previous_record(path))
        if record is not None:
            kind = record.setdefault("index", "flat" if kind == "flat" else "hnsw")  # a collection keeps its index
        per_source = Counter(p.source for p in passages)
        manifest: dict[str, Any] = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus": corpus,
            "embedder": {"id": embedder.id, "spec": embedder_spec, "dim": embedder.dim},
            "chunking": settings.to_dict(),
            "passage_embedding": "document title + newline + passage text; sentences embedded alone",
            "index_type": kind,
            "annotator": annotating.manifest_entry(),
            "documents": {d.info.source: _entry(d, per_source[d.info.source], folders) for d in documents},
        }
        if record is not None:
            manifest["store"] = record
        if second is not None:
            manifest["second_opinion"] = {"id": second.id, "spec": second.spec or second.id, "dim": second.dim}
        with store.staged(path) as staging:
            # Every vector written to the new generation from where it is (the previous index, the shards, the
            # chunk just embedded), block by block, then read back from there: the build holds none of them all.
            # Calibrated below on the values serving will read (the sentences' and the second opinion's are stored
            # in half precision): a rebuild that reuses them then records the same calibration.
            vectors = _written(staging, "vectors", passage_keys, cache, embedder.dim)
            sentence_vectors = _written(staging, "sentences", sentence_keys, cache, embedder.dim)
            second_vectors = None
            if second is not None:
                second_vectors = _written(staging, "second", passage_keys, previous.second, second.dim)
            data = store.IndexData(
                manifest=manifest,
                documents=documents,
                passages=passages,
                sentence_spans=spans,
                offsets=[c.offsets for c in pieces],
                vectors=vectors,
                sentence_vectors=sentence_vectors,
                # With a vector database too: calibration below searches the vectors exactly (a flat index costs a
                # copy of the vectors, not an HNSW build); saving writes them to the database, not this index.
                faiss_index=ann.build(vectors, kind if record is None else "flat"),
                second_vectors=second_vectors,
                annotations=annotation_table,
            )
            del pieces
            data.lexical = LexicalIndex.build(store.lexical_texts(data))
            # The corpus's null distribution, recorded with the index it describes (rag.retrieve.calibration).
            question_keys = reuse.text_keys((q.question for q in null_questions()), len(null_questions()), "query")
            lost_questions = _lost(previous.lost, cache, question_keys)
            data.null_vectors, n_questions = _null_vectors(embedder, cache, question_keys, progress, checkpoint)
            lost += lost_questions if n_questions else 0  # (the default model's ship with rag: never embedded)
            # Saved beside the vectors: a rebuild reuses them by these keys, whatever else is damaged.
            data.text_keys = TextKeys(passage_keys, sentence_keys, question_keys if data.null_vectors is not None else None)
            manifest["calibration"] = _calibration(data, embedder, second).to_dict()
            store.save(path, data, staging)
        shard_files.remove_shards(path / shard_files.SHARDS)  # their vectors are in the index now
    n_new += n_sharded
    total = n_texts
    return BuildReport(
        documents=len(documents),
        passages=len(passages),
        embedded=n_new + n_new_sent,
        reused=total - n_new - n_new_sent,
        removed_documents=len(previous.sources - {d.info.source for d in documents}),
        seconds=time.perf_counter() - started,
        index_type=kind,
        calibration_embedded=n_questions,
        second_embedded=n_second,
        damaged_embedded=lost + lost_second,
        resumed=resumed,
        annotated=n_annotated,
    )


def _resume(shards: Path, embedder: Embedder, cache: Lookup, passages: Keys, sentences: Keys) -> tuple[Resumed | None, int]:
    """Add the vectors an interrupted build of this index saved (``shards``) to ``cache``: what they spare, and how
    many texts the build had to embed without them."""
    missing_passages = np.unique(key_view(passages[~cache.contains(passages)]))
    missing_sentences = np.setdiff1d(np.unique(key_view(sentences[~cache.contains(sentences)])), missing_passages)
    missing = len(missing_passages) + len(missing_sentences)
    found = key_view(shard_files.load_shards(shards, embedder.id, cache))
    if not len(found):
        return None, missing
    resumed = Resumed(
        int(np.isin(missing_passages, found).sum()), len(missing_passages),
        int(np.isin(missing_sentences, found).sum()), len(missing_sentences),
    )  # fmt: skip
    log.info("%s", resumed.summary())
    return resumed, missing


def _lost(lost: set[str], cache: Lookup, *keys: Keys) -> int:
    """How many of the texts of ``keys`` had damaged vectors in the previous index that nothing else holds."""
    if not lost:
        return 0
    damaged = key_array(sorted(lost))
    damaged = damaged[~cache.contains(damaged)]
    used = np.zeros(len(damaged), dtype=bool)
    for some in keys:
        used |= np.isin(key_view(damaged), key_view(some))
    return int(used.sum())


def _written(staging: store.Staging, kind: str, keys: Keys, cache: Lookup, dim: int) -> NpyRows:
    """The vector file of ``kind`` of the new generation, written from where ``cache`` has each key's vector."""
    reuse.write_vectors(keys, cache, dim, staging.writer(kind, (len(keys), dim)).append)
    return staging.rows(kind)


class _Texts:
    """What a build embeds, made when embedded: each passage with its document's title, each sentence alone."""

    def __init__(self, passages: list[Passage], spans: list[list[tuple[int, int]]], titles: dict[str, str]) -> None:
        self._passages, self._spans, self._titles = passages, spans, titles
        counts = np.fromiter((len(s) for s in spans), dtype=np.int64, count=len(spans))
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def _passage(self, row: int) -> str:
        p = self._passages[row]
        return embedding_text(self._titles[p.source], p.text)

    def _sentence(self, row: int, owner: int) -> str:
        start, end = self._spans[owner][row - int(self._starts[owner])]
        return self._passages[owner].text[start:end]

    def passages(self) -> reuse.Texts:
        keys = reuse.text_keys((self._passage(i) for i in range(len(self._passages))), len(self._passages))
        return reuse.Texts(keys, lambda rows: [self._passage(i) for i in rows.tolist()])

    def sentences(self) -> reuse.Texts:
        n = int(self._starts[-1])
        texts = (p.text[s:e] for p, sp in zip(self._passages, self._spans, strict=True) for s, e in sp)
        return reuse.Texts(reuse.text_keys(texts, n), self._sentences)

    def _sentences(self, rows: npt.NDArray[np.int64]) -> list[str]:
        owners = np.searchsorted(self._starts, rows, side="right") - 1
        return [self._sentence(r, o) for r, o in zip(rows.tolist(), owners.tolist(), strict=True)]

    def by_document(self) -> Iterator[list[str]]:
        """The texts, one list per document (passages, then their sentences): the shards' unit."""
        current: list[str] = []
        source = None
        for row, passage in enumerate(self._passages):
            if passage.source != source and current:
                yield current
                current = []
            source = passage.source
            current.append(self._passage(row))
            current.extend(passage.text[s:e] for s, e in self._spans[row])
        if current:
            yield current


def _calibration(data: store.IndexData, embedder: Embedder, second: Embedder | None) -> Calibration:
    """The corpus's null distribution: the calibration questions searched on ``data`` as every search is."""
    view = IndexView(data)
    opinion = SecondOpinion(second, data.second_vectors) if second is not None and data.second_vectors is not None else None

    def measure(question: str, vector: Vector, second_vector: Vector | None) -> dict[str, float]:
        query = make_query(question, embedder, vector=vector, second_vector=second_vector)
        return evidence_of(query, view, opinion)

    assert data.null_vectors is not None
    return calibrate(measure, data.null_vectors, shipped_vectors(opinion.model) if opinion is not None else None)


def _null_vectors(
    embedder: Embedder, cache: Lookup, keys: Keys, progress: bool, checkpoint: shard_files.Checkpoint | None
) -> tuple[npt.NDArray[np.float32], int]:
    """The calibration questions' vectors (shipped for the default model, else reused or embedded) and how many
    were embedded."""
    shipped = shipped_vectors(embedder)
    if shipped is not None:
        return shipped, 0
    questions = [q.question for q in null_questions()]
    texts = reuse.Texts(keys, lambda rows: [questions[i] for i in rows.tolist()])
    n = reuse.embed_missing(embedder, texts, cache, progress, kind="query", what="calibration questions", checkpoint=checkpoint)
    return cache.read(keys, embedder.dim), n


def build_index(
    corpus: str | os.PathLike[str],
    index_dir: str | os.PathLike[str] = "index",
    *,
    embedder: Embedder | str = DEFAULT_EMBEDDER,
    settings: ChunkSettings | None = None,
    index_type: str = "auto",
    progress: bool = False,
    executor: Executor | None = None,
    store_uri: str | None = None,
) -> BuildReport:
    """Index every readable document of the ``corpus`` folder into ``index_dir``.

    Re-running re-embeds only added or changed text (vectors are reused by content hash) and drops removed
    documents. Documents added to the index from other folders (``add_documents``: the web app's uploads) are kept,
    re-read from their folder when their file changed, dropped with a warning when it is gone. The previous index
    stays usable until the new one is complete. Of files with the same content, the one already indexed is kept.
    """
    spec = embedder if isinstance(embedder, str) else (embedder.spec or embedder.id)
    store.check_folder(index_dir, corpus)  # before reading the corpus, which can take a while
    if store_uri is not None:
        backends.check_store(store_uri)
    ocr_folder = Path(index_dir) / ocr_cache.FOLDER  # pages recognised by OCR, kept with the index they belong to
    read: set[str] = set()
    documents = load_corpus(corpus, keep=_previous_sources(Path(index_dir)), ocr_cache=ocr_folder, read=read)
    if not documents:
        raise BadInputError(f"no readable documents in {corpus} (supported: {SUPPORTED_NAMES})")
    model = get_embedder(embedder) if isinstance(embedder, str) else embedder
    report = build_from_documents(
        documents,
        index_dir,
        model,
        embedder_spec=spec,
        settings=settings,
        index_type=index_type,
        corpus=str(Path(corpus).resolve()),
        progress=progress,
        keep=KEEP_ADDED,
        executor=executor,
        store_uri=store_uri,
    )
    _prune_ocr(Path(index_dir), read)
    return report


def _prune_ocr(index_dir: Path, read: set[str]) -> None:
    """Keep the OCR cache to the files of this build: those indexed now and those it read (a scan it had to skip
    keeps the pages recognised so far). Pages of another Tesseract or other settings go too."""
    from rag.ingest import ocr

    folder = index_dir / ocr_cache.FOLDER
    if not folder.is_dir():
        return
    entries = store.read_manifest(index_dir).get("documents") or {}
    indexed = {str(e.get("sha256")) for e in entries.values() if isinstance(e, dict)}
    engine = ocr.engine() if ocr.missing() is None else None
    removed = ocr_cache.prune(folder, read | indexed, engine)
    if removed:
        log.info("OCR cache: removed the pages of %d file(s) no longer in the corpus", removed)


def _entry(document: Document, passages: int, folders: dict[str, str]) -> dict[str, Any]:
    """The manifest's record of one document: its hash, its number of passages, its folder when not the corpus."""
    entry: dict[str, Any] = {"sha256": document.sha256, "passages": passages}
    if document.info.source in folders:
        entry["folder"] = folders[document.info.source]
    return entry


def _chunk(documents: list[Document], settings: ChunkSettings, chunked: Chunked) -> list[Chunk]:
    """The passages of ``documents`` in order, as stored; those in ``chunked`` are not chunked again."""
    return [piece for doc in documents for piece in chunked.get(doc.info.source) or chunks(doc, settings)]


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
    current = _Current.open(index_dir, embedder)
    current.check_passages(documents)
    return current.build(list(documents), folder=folder, progress=progress)


def remove_documents(
    index_dir: str | os.PathLike[str], sources: Collection[str], embedder: Embedder | None = None, *, progress: bool = False
) -> BuildReport:
    """Take documents added from other folders (``add_documents``) out of an index, atomically; nothing is read or
    embedded (the other documents' text, passages and vectors are reused). Their files are left where they are.

    Raises ``BadInputError`` when a source is not indexed or is a document of the corpus (delete its file there and
    run ``rag index`` instead; an index always holds its corpus); the index is then unchanged.
    """
    current = _Current.open(index_dir, embedder)
    current.check_added(sources)
    return current.build([], folder=None, drop=set(sources), progress=progress)


def replace_documents(
    index_dir: str | os.PathLike[str],
    replacements: Mapping[str, Document],
    embedder: Embedder | None = None,
    *,
    folder: str | os.PathLike[str],
    progress: bool = False,
) -> BuildReport:
    """Put new versions of documents added from other folders into an index, atomically: ``replacements`` maps the
    source of each indexed document to the document that takes its place (a new text under the same or another
    name, read from ``folder``, or the same text with other bibliographic data). Only what changed is embedded: a
    new text's passages, or a document's passages again when its title changed (passages are embedded with their
    document's title); the other documents are reused as stored.

    Raises ``BadInputError`` when a source is not indexed, is a document of the corpus, or a new document has the
    name or the text of another indexed document; ``NoPassageError`` when one holds no passage; the index is then
    unchanged.
    """
    current = _Current.open(index_dir, embedder)
    current.check_added(replacements)
    current.check_passages(list(replacements.values()))
    return current.build(list(replacements.values()), folder=folder, drop=set(replacements), progress=progress)


@dataclass(frozen=True)
class _Current:
    """The index that ``add_documents``, ``remove_documents`` and ``replace_documents`` change: its manifest's
    documents, the embedder and chunking it was built with."""

    path: Path
    manifest: dict[str, Any]
    spec: str
    model: Embedder
    settings: ChunkSettings

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str], embedder: Embedder | None) -> _Current:
        path = Path(index_dir)
        manifest = store.read_manifest(path)
        recorded = manifest.get("embedder") or {}
        spec = str(recorded.get("spec") or DEFAULT_EMBEDDER)
        model = embedder or get_embedder(spec)
        if model.id != recorded.get("id"):
            raise IndexIncompatibleError(f"{path} was built with the embedder {recorded.get('id')!r}, not {model.id!r}")
        return cls(path, manifest, spec, model, _previous_settings(path) or ChunkSettings())

    @property
    def entries(self) -> dict[str, Any]:
        entries = self.manifest.get("documents")
        return entries if isinstance(entries, dict) else {}

    def check_added(self, sources: Collection[str]) -> None:
        for source in sources:
            entry = self.entries.get(source)
            if not isinstance(entry, dict):
                raise BadInputError(f"{source} is not in the index {self.path}; `rag docs` lists what it holds")
            if not entry.get("folder"):
                raise BadInputError(
                    f"{source} is a document of the corpus: to take it out, delete its file from the corpus and run "
                    "`rag index` again"
                )

    def check_passages(self, documents: Sequence[Document]) -> None:
        for doc in documents:
            if not chunk_document(doc, self.settings):
                raise NoPassageError(f"{doc.info.source}: no passage to index (no paragraph of text was found)")

    def build(
        self, documents: list[Document], *, folder: str | os.PathLike[str] | None, drop: Collection[str] = (), progress: bool
    ) -> BuildReport:
        return build_from_documents(
            documents, self.path, self.model, embedder_spec=self.spec, settings=self.settings,
            corpus=self.manifest.get("corpus"), folder=folder, keep=KEEP_ALL, drop=drop, progress=progress,
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
        current = store.read_manifest(path)
        if annotating.current(current):
            return None
        current_error = IndexIncompatibleError(annotating.stale_message(path, current))
    except IndexIncompatibleError as exc:
        current_error = exc
    old = store.read_manifest(path, reuse_old=True)  # raises for a damaged index or one from a newer rag
    if old.get("corpus") != str(Path(corpus).resolve()):
        raise current_error
    log.warning("%s was written by an older rag (%s): rebuilding it from %s", path, current_error, corpus)
    spec = embedder or (old.get("embedder") or {}).get("spec") or DEFAULT_EMBEDDER
    return build_index(corpus, path, embedder=spec, progress=progress)
