"""The passage-vector side at 1M and 10M, in bounded memory: ``python -m bench.ann_scale --n 10000000``.

SYNTHESISED vectors (nothing here is embedded): 384-d unit vectors (the default model's size) drawn around
``--clusters`` random centres (cosine ~0.85 to their centre), written to a ``.npy`` file chunk by chunk; questions drawn
the same way. Ground truth: the exact top 10 of each question (inner product), computed over the file block by block.

Each index is built in a process of its own, reading the file chunk by chunk (never all vectors in memory): IVF-PQ
(``4·sqrt(n)`` lists, at most 8,192, their centres found by an HNSW graph; trained on 200k vectors, filled chunk by
chunk; 48 sub-quantisers of 8 bits: 48 bytes a vector) and, below ``--flat-max``, the exact flat index. Then each
is served by a process of its own: the index read from disk, the vectors of the candidates read from the ``.npy`` by
position (``rag.store.rows.NpyRows``: nothing mapped) to re-score the ``--rerank`` best exactly, one question at a
time on one thread. Prints build time and peak RSS, index size, serving RSS, p50/p95 per question, and recall@10
against the exact search, for each ``nprobe``/re-rank setting.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.measure import peak_rss_mb, rss_mb, summary_ms

DIM = 384
CHUNK = 200_000
SPREAD = 0.032  # per-dimension noise: |noise| ~ 0.63, cosine to the centre ~0.85
K = 10
MAX_LISTS = 8192
MAX_TRAIN = 200_000
Vectors = npt.NDArray[np.float32]


def _centres(clusters: int, seed: int) -> Vectors:
    c = np.random.default_rng(seed).standard_normal((clusters, DIM)).astype(np.float32)
    out: Vectors = c / np.linalg.norm(c, axis=1, keepdims=True)
    return out


def _around(centres: Vectors, n: int, rng: np.random.Generator) -> Vectors:
    v = centres[rng.integers(len(centres), size=n)] + rng.standard_normal((n, DIM)).astype(np.float32) * SPREAD
    out: Vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def generate(path: Path, n: int, clusters: int, n_queries: int) -> None:
    """The vectors (``path``), the questions and their exact top 10 (``path``.queries.npy / .truth.npy)."""
    centres = _centres(clusters, 0)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for i, start in enumerate(range(0, n, CHUNK)):
        stop = min(n, start + CHUNK)
        out[start:stop] = _around(centres, stop - start, np.random.default_rng(1000 + i))
    out.flush()
    del out
    queries = _around(centres, n_queries, np.random.default_rng(7))
    vectors = np.load(path, mmap_mode="r")
    best_scores = np.full((n_queries, K), -np.inf, dtype=np.float32)
    best_ids = np.zeros((n_queries, K), dtype=np.int64)
    for start in range(0, n, CHUNK):
        block = np.asarray(vectors[start : start + CHUNK])
        scores = queries @ block.T
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
        all_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        all_ids = np.concatenate([best_ids, top + start], axis=1)
        keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :K]
        best_scores, best_ids = np.take_along_axis(all_scores, keep, 1), np.take_along_axis(all_ids, keep, 1)
    np.save(f"{path}.queries.npy", queries)
    np.save(f"{path}.truth.npy", best_ids)


def build(path: Path, kind: str, out: Path) -> dict[str, Any]:
    import faiss

    from rag.store.rows import NpyRows

    vectors = NpyRows(path)  # read by position: no page of the file counts in this process's memory
    n = len(vectors)
    t0 = time.perf_counter()
    if kind == "flat":
        index: Any = faiss.IndexFlatIP(DIM)
    else:
        nlist = min(MAX_LISTS, 2 ** round(math.log2(4 * math.sqrt(n))))
        # The lists' centres found by an HNSW graph: assigning 10M vectors to 8,192 centres exactly would cost
        # 3e13 flops; the graph finds them in ~100 distance computations each.
        quantizer = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexIVFPQ(quantizer, DIM, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.max_points_per_centroid = 64
        n_train = min(n, MAX_TRAIN)
        rows = np.sort(np.random.default_rng(0).choice(n, n_train, replace=False))
        index.train(np.ascontiguousarray(vectors[rows]))
    trained = time.perf_counter() - t0
    for start in range(0, n, CHUNK):
        index.add(np.ascontiguousarray(vectors[start : start + CHUNK]))
    faiss.write_index(index, str(out))
    return {
        "kind": kind, "n": n, "build_s": round(time.perf_counter() - t0, 1), "train_s": round(trained, 1),
        "build_peak_rss_mib": peak_rss_mb(), "index_mib": round(out.stat().st_size / 2**20, 1),
    }  # fmt: skip


def serve(path: Path, index_path: Path, settings: list[tuple[int, int]]) -> dict[str, Any]:
    import faiss

    from rag.store.rows import NpyRows

    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    index = faiss.read_index(str(index_path))
    load_s = time.perf_counter() - t0
    rows = NpyRows(path)
    queries = np.load(f"{path}.queries.npy")
    truth = np.load(f"{path}.truth.npy")
    results = []
    for nprobe, rerank in settings:
        if hasattr(index, "nprobe"):
            index.nprobe = nprobe
        seconds, found = [], []
        for q in queries:
            started = time.perf_counter()
            if hasattr(index, "quantizer"):
                quantizer: Any = faiss.downcast_index(index.quantizer)
                quantizer.hnsw.efSearch = max(64, 2 * nprobe)
            _, ids = index.search(q[None, :], max(K, rerank))
            ids = ids[0][ids[0] >= 0]
            if rerank:
                order = np.argsort(ids)
                exact = rows[ids[order]] @ q  # the candidates' own vectors, read by position
                ids = ids[order][np.argsort(-exact, kind="stable")]
            found.append(ids[:K])
            seconds.append(time.perf_counter() - started)
        recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))
        results.append({"nprobe": nprobe, "rerank": rerank, "recall@10": round(recall, 4), **summary_ms(seconds[5:])})
    return {"load_s": round(load_s, 1), "serving_rss_mib": rss_mb(), "serving_peak_rss_mib": peak_rss_mb(), "runs": results}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.ann_scale", *args], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-ann-scale"))
    parser.add_argument("--flat-max", type=int, default=2_000_000, help="build the exact flat index up to this size")
    parser.add_argument("--step", choices=["all", "generate", "build", "serve"], default="all")
    parser.add_argument("--kind", default="ivfpq")
    parser.add_argument("--settings", default="32:0,32:100,64:100,64:200,128:200")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / f"vectors-{args.n}.npy"
    settings = [(int(a), int(b)) for a, b in (s.split(":") for s in args.settings.split(","))]
    if args.step == "generate":
        t0 = time.perf_counter()
        generate(path, args.n, args.clusters, args.queries)
        print(json.dumps({"generate_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": peak_rss_mb()}))
    elif args.step == "build":
        print(json.dumps(build(path, args.kind, args.work / f"{args.kind}-{args.n}.index")))
    elif args.step == "serve":
        print(json.dumps(serve(path, args.work / f"{args.kind}-{args.n}.index", settings)))
    else:
        report: dict[str, Any] = {"n": args.n, "synthesised": True, "clusters": args.clusters}
        if not path.exists() or not Path(f"{path}.truth.npy").exists():
            report["generate"] = _child("--step", "generate", "--n", str(args.n), "--clusters", str(args.clusters),
                                        "--queries", str(args.queries), "--work", str(args.work))  # fmt: skip
        kinds = ["ivfpq", *(["flat"] if args.n <= args.flat_max else [])]
        for kind in kinds:
            common = ["--n", str(args.n), "--work", str(args.work), "--kind", kind]
            report[kind] = {"build": _child("--step", "build", *common)}
            serving = "1:0" if kind == "flat" else args.settings
            report[kind]["serve"] = _child("--step", "serve", *common, "--settings", serving)
            print(json.dumps({kind: report[kind]}), file=sys.stderr, flush=True)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
