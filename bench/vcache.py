"""Passage vectors cached on disk by (embedder id, text hash), and an embedder that uses the cache.

Embedding is the one slow step (~20 passages/s with the default model on 2 cores), so the benchmark embeds each
text once and later runs reuse the vectors. Above the real-embedding budget, missing vectors are *synthesised*
(a random mix of two real cached vectors plus noise) and counted as such: timings and ANN recall on them are labelled.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder, Kind, Vectors
from rag.index import text_key

CACHE_DIR = Path(os.environ.get("RAG_BENCH_CACHE") or Path(__file__).resolve().parent / "cache")
# A synthesised vector mixes two real ones (random weights) and adds this much Gaussian noise (relative norm). Checked
# on the real vectors of a run: mean pairwise cosine 0.83 real vs ~0.86 synthesised, nearest-neighbour cosine p50
# 0.93 vs ~0.95, 90% of the variance in 129 vs ~140 principal components. Real vector plus noise alone (the first
# version) was far too isotropic (pairwise cosine 0.67) and made clusters of near-ties that no ANN index ranks well.
SYNTH_NOISE = 0.15


class VectorCache:
    """Append-only shards ``<dir>/shard-N.npy`` + ``shard-N.keys`` (one text hash a line) per embedder id."""

    def __init__(self, embedder_id: str, dim: int, root: Path | None = None) -> None:
        root = root or CACHE_DIR
        self.dir = root / re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_id)
        self.dim = dim
        self._rows: dict[str, int] = {}
        self._parts: list[npt.NDArray[np.float32]] = []
        self._pending_keys: list[str] = []
        self._pending: list[npt.NDArray[np.float32]] = []
        self._matrix: npt.NDArray[np.float32] = np.zeros((0, dim), np.float32)
        self._load()

    def _load(self) -> None:
        if not self.dir.is_dir():
            return
        offset = 0
        for keys_path in sorted(self.dir.glob("shard-*.keys")):
            vectors_path = keys_path.with_suffix(".npy")
            if not vectors_path.is_file():
                continue
            keys = keys_path.read_text(encoding="ascii").split()
            vectors = np.load(vectors_path, allow_pickle=False)
            if len(keys) != len(vectors) or vectors.shape[1] != self.dim:
                continue  # a shard from an interrupted run: ignore it
            self._parts.append(vectors)
            for i, key in enumerate(keys):
                self._rows.setdefault(key, offset + i)
            offset += len(keys)
        self._matrix = np.concatenate(self._parts) if self._parts else np.zeros((0, self.dim), np.float32)

    def __len__(self) -> int:
        return len(self._rows) + len(self._pending_keys)

    def get(self, key: str) -> npt.NDArray[np.float32] | None:
        row = self._rows.get(key)
        return None if row is None else self._matrix[row]

    def put(self, key: str, vector: npt.NDArray[np.float32]) -> None:
        if key in self._rows:
            return
        self._rows[key] = len(self._matrix) + len(self._pending)
        self._pending_keys.append(key)
        self._pending.append(np.asarray(vector, dtype=np.float32))

    def flush(self) -> None:
        """Write pending vectors as a new shard (vectors first, keys last: a shard without keys is ignored)."""
        if not self._pending:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        n = len(list(self.dir.glob("shard-*.keys")))
        base = self.dir / f"shard-{n:05d}-{time.time_ns():x}"
        block = np.stack(self._pending)
        np.save(base.with_suffix(".npy"), block, allow_pickle=False)
        base.with_suffix(".keys").write_text("\n".join(self._pending_keys) + "\n", encoding="ascii")
        self._matrix = np.concatenate([self._matrix, block])
        self._pending, self._pending_keys = [], []

    def matrix(self) -> npt.NDArray[np.float32]:
        """Every real vector held (for synthesising others)."""
        return np.concatenate([self._matrix, np.stack(self._pending)]) if self._pending else self._matrix


def synthesise(key: str, base: npt.NDArray[np.float32], noise: float = SYNTH_NOISE) -> npt.NDArray[np.float32]:
    """A deterministic stand-in vector for a text: a random mix of two real vectors chosen by its hash, plus noise."""
    seed = int(hashlib.sha1(key.encode("ascii")).hexdigest()[:15], 16)
    rng = np.random.default_rng(seed)
    n, dim = base.shape
    i, j = seed % n, (seed // n) % n
    weight = rng.uniform(0.0, 1.0)
    vector = weight * base[i] + (1.0 - weight) * base[j if j != i else (i + 1) % n]
    vector = vector + rng.standard_normal((dim,)).astype(np.float32) * (noise / np.sqrt(dim))  # same draws as size=dim
    out: npt.NDArray[np.float32] = (vector / np.linalg.norm(vector)).astype(np.float32)
    return out


class CachingEmbedder(Embedder):
    """Wraps a real embedder (same ``id``, so indexes it writes are queried by the real one).

    Passages come from the cache; misses are embedded for real when ``embed_misses`` is true, otherwise synthesised
    from the cache's real vectors. Queries are always embedded for real and never cached.
    """

    def __init__(self, inner: Embedder, cache: VectorCache, *, embed_misses: bool) -> None:
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self.batch_size = inner.batch_size
        self.cache = cache
        self.embed_misses = embed_misses
        self._base: npt.NDArray[np.float32] | None = None
        self.stats = {
            "texts": 0,
            "chars": 0,
            "cached": 0,
            "embedded": 0,
            "embedded_chars": 0,
            "synthesised": 0,
        }
        self.embed_seconds = 0.0
        self.calls: list[dict[str, int]] = []

    def embed(
        self,
        texts: Sequence[str],
        kind: Kind,
        progress: Callable[[int], None] | None = None,
    ) -> Vectors:
        if kind == "passage":
            self.calls.append({"texts": len(texts), "chars": sum(len(t) for t in texts)})
        return super().embed(texts, kind, progress)

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        if kind == "query":
            return self.inner.embed_batch(texts, kind)
        self.stats["texts"] += len(texts)
        self.stats["chars"] += sum(len(t) for t in texts)
        keys = [text_key(t) for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            vector = self.cache.get(key)
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        self.stats["cached"] += len(texts) - len(missing)
        if missing and self.embed_misses:
            started = time.perf_counter()
            fresh = self.inner.embed([texts[i] for i in missing], "passage")
            self.embed_seconds += time.perf_counter() - started
            self.stats["embedded"] += len(missing)
            self.stats["embedded_chars"] += sum(len(texts[i]) for i in missing)
            for i, vector in zip(missing, fresh, strict=True):
                out[i] = vector
                self.cache.put(keys[i], vector)
        elif missing:
            if self._base is None:
                self._base = self.cache.matrix()
                if not len(self._base):
                    raise RuntimeError("no real vector cached to synthesise from: run the embedding sample first")
            self.stats["synthesised"] += len(missing)
            for i in missing:
                out[i] = synthesise(keys[i], self._base)
        return out
