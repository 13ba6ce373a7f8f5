"""Lexical retrieval tuned for French: accent folding, French and English stop words, Snowball stemming, BM25.

Built on ``bm25s`` (sparse matrices saved as ``.npy`` + JSON, no pickle) and PyStemmer.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

    return frozenset(fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN))


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("french")


def fold(text: str) -> str:
    """Casefold and strip accents (``Élu`` → ``elu``), so accent slips in a question still match."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Folded, stop-word-free, stemmed tokens. Digits are kept (years and dates matter in these texts)."""
    stop = _stopwords()
    words = [w for w in _TOKEN.findall(fold(text)) if (len(w) > 1 or w.isdigit()) and w not in stop]
    stems: list[str] = _stemmer().stemWords(words)
    return stems


class LexicalIndex:
    """BM25 over passages; ``scores(query)`` gives one score per passage (0 where no term matches)."""

    def __init__(self, bm25: Any, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        tokens = [tokenize(t) or ["\u2205"] for t in texts]  # bm25s needs a token in every document
        # A sorted vocabulary: bm25s numbers tokens in set order, which changes with the process's hash seed, so the
        # same corpus gave different files (and checksums) from one build to the next.
        vocab = {token: i for i, token in enumerate(sorted({t for doc in tokens for t in doc}))}
        bm25.index(([[vocab[t] for t in doc] for doc in tokens], vocab), show_progress=False)
        return cls(bm25, len(texts))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, size: int, mmap: bool = False) -> LexicalIndex:
        """Read a saved index; ``mmap`` maps its arrays instead of reading them (a question reads a few columns)."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False, mmap=mmap, show_progress=False), size)
