"""FAISS indexes over unit vectors (inner product = cosine): exact below a size threshold, approximate above it.

Kinds: ``flat`` (exact), ``hnsw`` (graph; the ``auto`` choice from ``APPROX_THRESHOLD`` vectors on) and ``ivf``
(inverted lists; builds ~7x faster than this HNSW, but must probe about a third of its lists for the same recall).
Figures behind the constants: ``bench/results/results.md`` and ``docs/scaling.md`` (``bash bench/run.sh``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.store.backends.base import RowSearch
from rag.store.rows import Rows
from rag.threads import prefer_passive_openmp

KINDS = ("flat", "hnsw", "ivf")
# One exact single-query scan costs ~0.12 µs per vector on one core (measured: 0.4 ms at 10k, 10-12 ms at 100k),
# against ~40 ms to embed the question: below 50k vectors (≤ ~6 ms) exact search is affordable and exact.
APPROX_THRESHOLD = 50_000
# Measured at 100k (bench vectors with many near-ties): M=32/efConstruction=80 reached recall@10 0.85 at efSearch 128
# and 0.95 at 512; M=48/efConstruction=200 reaches 0.99 at efSearch 512 for 2-4 ms a query (build ~50 s at 100k on 2
# busy cores, small next to embedding them: hours).
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 512
# IVF: about 4·sqrt(n) lists, k-means on at most 64 points per list, 10 iterations; probing a third of the lists kept
# recall@10 ≥ 0.98 at 100k (an eighth: 0.97).
IVF_TRAIN_PER_LIST = 64
IVF_NITER = 10
IVF_PROBE_FRACTION = 1 / 3
# A filtered search (``allowed``) over an approximate index is exact when it keeps at most this many rows: graph and
# list searches restricted by a selector lose recall (or return fewer than k hits) when few rows are allowed.
EXACT_FILTER_MAX = 20_000


def choose_kind(n: int, kind: str = "auto") -> str:
    """The index kind for ``n`` vectors: ``auto`` means flat below ``APPROX_THRESHOLD``, HNSW from it on."""
    if kind == "auto":
        return "hnsw" if n >= APPROX_THRESHOLD else "flat"
    if kind not in KINDS:
        raise ValueError(f"unknown index type {kind!r} (use auto, {', '.join(KINDS)})")
    return kind


def ivf_lists(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: a power of two near 4·sqrt(n), at least 1 and at most n // 39."""
    target = 4 * math.sqrt(max(n, 1))
    lists = 2 ** max(0, round(math.log2(target)))
    return int(max(1, min(lists, n // 39 if n >= 39 else 1)))


def ivf_probes(nlist: int, filtered: bool = False) -> int:
    """Lists an IVF search probes (twice as many when a filter drops most rows of each list)."""
    return int(min(nlist, max(1, math.ceil(nlist * IVF_PROBE_FRACTION)) * (2 if filtered else 1)))


# Vectors added to an index at a time, read from the build's vector file (``Rows``): never a second copy of them all.
ADD_ROWS = 65_536


def _build_ivf(vectors: npt.NDArray[np.float32] | Rows) -> Any:
    prefer_passive_openmp()
    import faiss

    n, dim = vectors.shape
    nlist = ivf_lists(n)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = IVF_NITER
    index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
    rng = np.random.default_rng(0)  # deterministic training sample: the same vectors give the same index
    n_train = nlist * IVF_TRAIN_PER_LIST
    sample = vectors[:] if n <= n_train else vectors[np.sort(rng.choice(n, n_train, replace=False))]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    del sample
    index.nprobe = ivf_probes(nlist)
    index.make_direct_map()  # reconstruct(id), for exact filtered search
    return index


def build(vectors: npt.NDArray[np.float32] | Rows, kind: str = "auto") -> Any:
    """A FAISS index holding ``vectors`` (row i gets id i): an array, or rows read from a file block by block."""
    prefer_passive_openmp()
    import faiss

    dim = vectors.shape[1]
    kind = choose_kind(len(vectors), kind)
    index: Any
    if kind == "ivf" and len(vectors):
        index = _build_ivf(vectors)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    for start in range(0, len(vectors), ADD_ROWS):
        index.add(np.ascontiguousarray(vectors[start : start + ADD_ROWS], dtype=np.float32))
    return index


def describe(index: Any) -> str:
    """A short human description of an index and its search settings (for logs and benchmark reports)."""
    prefer_passive_openmp()
    import faiss as _faiss

    faiss: Any = _faiss
    if isinstance(index, faiss.IndexHNSW):
        return f"HNSW M={index.hnsw.nb_neighbors(1)} efConstruction={index.hnsw.efConstruction} efSearch={HNSW_EF_SEARCH}"
    if isinstance(index, faiss.IndexIVF):
        return f"IVF nlist={index.nlist} nprobe={ivf_probes(index.nlist)}"
    return "flat (exact)"


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run FAISS single-threaded in this thread (the OpenMP setting is per calling thread).

    One query is too little work to share: with two threads, an exact scan was 5-15x slower on a busy 2-core machine
    (threads wait on each other), and graph or list searches of one query gain nothing.
    """
    prefer_passive_openmp()
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def _exact_subset(
    index: Any, q: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Exact top-k among the ``allowed`` rows, from the vectors the index stores."""
    rows = np.unique(allowed.astype(np.int64))
    rows = rows[(rows >= 0) & (rows < index.ntotal)]
    if not len(rows):
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores = index.reconstruct_batch(rows) @ q[0]
    top = np.argsort(-scores, kind="stable")[:k] if len(rows) <= k else np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top].astype(np.float32), rows[top]


def search(
    index: Any, query: npt.NDArray[np.float32], k: int, allowed: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Top-``k`` (scores, ids) for one query, optionally restricted to the ``allowed`` ids; -1 ids are dropped.

    ``index`` is a FAISS index, or the search of a vector database backend (``rag.store.backends``)."""
    if isinstance(index, RowSearch):
        return index.search_rows(query, k, allowed)
    prefer_passive_openmp()
    import faiss as _faiss

    faiss: Any = _faiss  # the bundled type stubs lag behind the library (SearchParametersHNSW, sel=)
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = max(1, min(k, index.ntotal))
    hnsw = isinstance(index, faiss.IndexHNSW)
    ivf = isinstance(index, faiss.IndexIVF)
    if allowed is not None and (hnsw or ivf) and len(allowed) <= EXACT_FILTER_MAX:
        return _exact_subset(index, q, k, allowed)
    selector = faiss.IDSelectorBatch(allowed.astype(np.int64)) if allowed is not None else None
    params: Any = None
    if hnsw:
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
    elif ivf:
        params = faiss.SearchParametersIVF(nprobe=ivf_probes(index.nlist, filtered=selector is not None))
    elif selector is not None:
        params = faiss.SearchParameters()
    if selector is not None:
        params.sel = selector
    with _one_thread():
        scores, ids = index.search(q, k, params=params)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep].astype(np.int64)


def write(index: Any, path: str) -> None:
    prefer_passive_openmp()
    import faiss

    faiss.write_index(index, path)


def read(path: str) -> Any:
    prefer_passive_openmp()
    import faiss

    return faiss.read_index(path)
