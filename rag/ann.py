"""FAISS indexes over unit vectors (inner product = cosine): exact below a size threshold, HNSW above it."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# Below this many vectors an exact flat search costs well under a millisecond per query: no reason to approximate.
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def choose_kind(n: int, kind: str = "auto") -> str:
    if kind == "auto":
        return "hnsw" if n >= HNSW_THRESHOLD else "flat"
    if kind not in ("flat", "hnsw"):
        raise ValueError(f"unknown index type {kind!r} (use auto, flat or hnsw)")
    return kind


def build(vectors: npt.NDArray[np.float32], kind: str = "auto") -> Any:
    """A FAISS index holding ``vectors`` (row i gets id i)."""
    import faiss

    dim = vectors.shape[1]
    kind = choose_kind(len(vectors), kind)
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search(
    index: Any, query: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top-``k`` (scores, ids) for one query, optionally restricted to the ``allowed`` ids; -1 ids are dropped."""
    import faiss as _faiss

    faiss: Any = _faiss  # the bundled type stubs lag behind the library (SearchParametersHNSW, sel=)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = max(1, min(k, index.ntotal))
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        if isinstance(index, faiss.IndexHNSWFlat):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
        else:
            params = faiss.SearchParameters(sel=selector)
    elif isinstance(index, faiss.IndexHNSWFlat):
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    scores, ids = index.search(q, k, params=params)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep].astype(np.int64)


def write(index: Any, path: str) -> None:
    import faiss

    faiss.write_index(index, path)


def read(path: str) -> Any:
    import faiss

    return faiss.read_index(path)
