"""Lexical retrieval tuned for French: accent folding, French and English stop words, Snowball stemming, BM25.

Built on ``bm25s`` (sparse matrices saved as ``.npy`` + JSON, no pickle) and PyStemmer. A question is scored on the
passages that share a term with it (``matches``: the question's columns of the score matrix, memory-mapped when
serving), never on an array of every passage: its cost follows the matching postings, not the size of the index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RowIds = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]

# A question whose terms' postings exceed 1/8 of the passages is summed in an array of every passage, not sorted.
DENSE_SHARE = 8

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


@dataclass(frozen=True)
class Matches:
    """The passages sharing a term with a question: ``rows`` ascending, ``scores`` their BM25 scores (all > 0)."""

    rows: RowIds
    scores: Scores

    @classmethod
    def none(cls) -> Matches:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def within(self, allowed: RowIds) -> Matches:
        """The matches among the rows ``allowed`` (any order)."""
        keep = np.isin(self.rows, allowed)
        return Matches(self.rows[keep], self.scores[keep])

    def at(self, rows: RowIds) -> Scores:
        """The score of each of ``rows`` (0 for a row that matches no term)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(self.rows):
            return np.zeros(len(rows), dtype=np.float32)
        pos = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        out: Scores = np.where(self.rows[pos] == rows, self.scores[pos], np.float32(0.0)).astype(np.float32)
        return out

    def best(self) -> float:
        return float(self.scores.max(initial=0.0))


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

    def scores(self, query: str) -> Scores:
        """The BM25 score of every passage (an array of the index's size: ``matches`` is what a search reads)."""
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def matches(self, query: str) -> Matches:
        """The passages sharing a term with ``query`` and their scores: ``scores(query)`` where it is > 0, equal to
        the bit (each passage's term scores are summed in the question's term order, in float32, as bm25s does).

        Reads only the question's terms' columns of the score matrix, and allocates for their postings: a question
        on 10M passages costs what its terms' postings cost, not an array of 10M scores."""
        ids = [self._bm25.vocab_dict[t] for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not ids or self.size == 0:
            return Matches.none()
        if getattr(self._bm25, "nonoccurrence_array", None) is not None:  # variants scoring every passage (not rag's)
            dense = self.scores(query)
            rows = np.flatnonzero(dense > 0).astype(np.int64)
            return Matches(rows, dense[rows])
        matrix = self._bm25.scores
        indptr = matrix["indptr"]
        pieces = [(int(indptr[t]), int(indptr[t + 1])) for t in ids]  # repeated terms count again, as in bm25s
        docs = np.concatenate([np.asarray(matrix["indices"][a:b], dtype=np.int64) for a, b in pieces])
        values = np.concatenate([np.asarray(matrix["data"][a:b]) for a, b in pieces])
        if len(docs) * DENSE_SHARE > self.size:
            # Postings of common terms cover much of the index: summing into one array of every passage costs less
            # than sorting them (the same sums: np.add.at adds in order, term by term).
            dense = np.zeros(self.size, dtype=np.dtype(self._bm25.dtype))
            np.add.at(dense, docs, values)
            rows = np.flatnonzero(dense > 0).astype(np.int64)
            return Matches(rows, dense[rows].astype(np.float32))
        # Stable: a passage's contributions stay in term order, so the float32 sums are bm25s's own.
        order = np.argsort(docs, kind="stable")
        docs, values = docs[order], values[order]
        new = np.empty(len(docs), dtype=bool)
        new[:1] = True
        np.not_equal(docs[1:], docs[:-1], out=new[1:])
        rows = docs[new]
        sums = np.zeros(len(rows), dtype=np.dtype(self._bm25.dtype))
        np.add.at(sums, np.cumsum(new) - 1, values)
        sums = sums.astype(np.float32)
        positive = sums > 0
        return Matches(rows[positive], sums[positive])

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, size: int, mmap: bool = False) -> LexicalIndex:
        """Read a saved index; ``mmap`` maps its arrays instead of reading them (a question reads a few columns)."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False, mmap=mmap, show_progress=False), size)
