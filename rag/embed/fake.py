"""A deterministic fake embedder for unit tests and benchmark smoke runs: a hashed bag of word stems, no model.

Not registered by default: tests and benchmarks plug it in with ``register_embedder("fake", lambda _: FakeEmbedder())``
so that an index built with it (its manifest names ``fake``) loads again by name."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

from rag.embed.base import Embedder, Kind, Vectors


def _stem(word: str) -> str:
    word = "".join(c for c in unicodedata.normalize("NFD", word.casefold()) if not unicodedata.combining(c))
    return word[:5]


class FakeEmbedder(Embedder):
    """Texts sharing words get similar vectors; the same text always gets the same vector."""

    id = "fake-hash-64"
    dim = 64
    spec = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.texts_embedded = 0

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w{3,}", text):
                h = int(hashlib.md5(_stem(word).encode()).hexdigest(), 16)
                out[row, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            out[row, 0] += 0.01  # never the zero vector
        return out
