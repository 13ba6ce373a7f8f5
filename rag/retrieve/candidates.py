"""The first stage of a search: the passages worth ranking for a query, and the evidence on each.

Dense candidates are the nearest passage vectors, lexical ones the best BM25 scores; hybrid takes both. Each
candidate gets its cosine to the question, its best sentence's cosine and its BM25 score (``rank.Candidates``), which
``rank.fuse`` then weighs.
"""

from __future__ import annotations

import numpy as np

from rag.retrieve import rank
from rag.retrieve.query import Query, Vector
from rag.retrieve.view import IndexView, RowIds, Scores
from rag.store import ann
from rag.store.lexical import Matches
from rag.store.rows import read_ranges


def candidates(query: Query, view: IndexView, depth: int = rank.CANDIDATES, allowed: RowIds | None = None) -> rank.Candidates:
    """The dense ``depth`` best by passage vector (modes ``dense`` and ``hybrid``) and the lexical ``depth`` best by
    BM25 (``lexical`` and ``hybrid``), among the rows ``allowed`` (None: all), with their evidence."""
    lexical = lexical_matches(query, view, allowed) if query.mode != "dense" else None
    if query.mode == "lexical":
        assert lexical is not None
        rows = np.sort(rank.lexical_top(lexical, depth))
    else:
        assert query.vector is not None, "dense and hybrid queries are embedded (make_query)"
        _, dense_rows = ann.search(view.data.faiss_index, query.vector, depth, allowed)
        rows = np.unique(dense_rows) if lexical is None else rank.union(dense_rows, lexical, depth)
    lexical_max = lexical.best() if lexical is not None else 0.0
    lexical_rows = lexical.at(rows) if lexical is not None else np.zeros(len(rows), dtype=np.float32)
    passage, sentence = dense_evidence(view, rows, query.vector)
    return rank.Candidates(query, rows, passage, sentence, lexical_rows, lexical_max)


def lexical_matches(query: Query, view: IndexView, allowed: RowIds | None) -> Matches:
    """The passages sharing a term with the question and their BM25 scores (among ``allowed``, when given)."""
    if view.data.lexical is None:
        return Matches.none()
    found = view.data.lexical.matches(query.text)
    return found if allowed is None else found.within(allowed)


def dense_evidence(view: IndexView, rows: RowIds, vector: Vector | None) -> tuple[Scores, Scores]:
    """Each row's cosine to the question, and its best sentence's (its own when it has no sentence)."""
    if vector is None or not len(rows):
        zeros = np.zeros(len(rows), dtype=np.float32)
        return zeros, zeros.copy()
    passage = view.checked((np.asarray(view.data.vectors[rows]) @ vector).astype(np.float32))  # rows ascending
    # The best sentence of every candidate, in one read and one product (a loop over ~200 candidates cost ~2 ms).
    lo, hi = view.sentence_start[rows], view.sentence_start[rows + 1]
    sentence_sims = view.checked(read_ranges(view.data.sentence_vectors, lo, hi) @ vector)
    sentence = passage.copy()
    counts = hi - lo
    if (has := counts > 0).any():
        sentence[has] = np.maximum.reduceat(sentence_sims, (np.cumsum(counts) - counts)[has])
    return passage, sentence
