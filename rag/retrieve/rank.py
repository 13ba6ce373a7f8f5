"""Ranking candidates: one fusion formula for the dense, lexical and hybrid modes.

``rag.retrieve.candidates`` gathers the passages worth considering for a question with their evidence
(``Candidates``); ``fuse`` ranks them. Searches compose the two, and evaluation or tuning scripts call the same two
steps (with other ``Weights``) instead of re-implementing them.

The hybrid weights were chosen with ``eval/tune_fusion.py`` on ``eval/questions.jsonl`` (French and English questions
on the shipped corpus), PIAF and XQuAD together; ``eval/reports/`` holds the before/after reports and every variant
tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.retrieve.query import Query
from rag.store.lexical import Matches

# Candidates taken from each retriever before re-scoring: cheap, and deep enough that re-scoring can promote
# a passage whose whole-passage vector ranks low but one of whose sentences answers exactly.
CANDIDATES = 100

RowIds = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Weights:
    """The fusion formula's parameters: ``score = dense · (passage_share · passage + (1 − passage_share) · sentence)
    + lexical · s / (s + half)``, ``s`` being the BM25 score (``s`` itself when ``half`` is None)."""

    dense: float = 1.0
    # A passage's dense score mixes its own similarity and its best sentence's: long passages dilute the one
    # sentence that answers, and the best sentence alone ignores the context that disambiguates it.
    passage_share: float = 0.3
    # BM25 evidence enters through a saturating transform, so the fused score keeps an absolute meaning (comparable
    # across questions) and rare exact terms (names, dates, acronyms) can tip close calls. Against 0.02 / 10, this
    # keeps the slope for weak matches and lets strong ones count a little more: PIAF nDCG@10 +0.3 (147 questions up,
    # 18 down), XQuAD and our English questions unchanged, one French question up. Heavier lexical weights (or RRF,
    # min-max convex fusion, a heavier weight for French questions) gain up to 3 points on PIAF, whose questions were
    # written from the paragraph, but lose 3 to 14 points of MRR on our paraphrased questions (the French ones too).
    lexical: float = 0.03
    half: float | None = 15.0


# Each mode is a setting of the one formula: dense is the passage cosine, lexical the raw BM25 score.
MODE_WEIGHTS: dict[str, Weights] = {  # one per mode of MODES
    "dense": Weights(dense=1.0, passage_share=1.0, lexical=0.0),
    "lexical": Weights(dense=0.0, passage_share=1.0, lexical=1.0, half=None),
    "hybrid": Weights(),
}


@dataclass(frozen=True)
class Candidates:
    """The passages considered for one question and the evidence on each (arrays aligned with ``rows``, ascending).

    ``passage`` is the question's cosine similarity to the passage vector, ``sentence`` to the passage's best
    sentence (its own passage similarity when it has no sentence; zeros when the question was not embedded, in
    lexical mode without highlights), ``lexical`` its BM25 score (0 when it shares no term with the question) and
    ``lexical_max`` the best BM25 score over every searched passage (the lexical evidence that any answer exists).
    """

    query: Query
    rows: RowIds
    passage: Scores
    sentence: Scores
    lexical: Scores
    lexical_max: float

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Ranking:
    """Candidate rows best first, with their fused scores and the evidence behind them."""

    rows: RowIds
    scores: Scores
    dense: Scores
    lexical: Scores
    lexical_max: float = 0.0


def top(scores: Scores, k: int) -> RowIds:
    """Positions of the ``k`` highest scores, best first (stable: ties keep their order)."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order: RowIds = part[np.argsort(-scores[part], kind="stable")].astype(np.int64)
    return order


def union(dense_rows: RowIds, lexical: Matches, n: int) -> RowIds:
    """Union of the dense top-n and the lexical top-n (passages with at least one matching term), ascending."""
    return np.unique(np.concatenate([dense_rows, lexical_top(lexical, n)]).astype(np.int64))


def lexical_top(lexical: Matches, n: int) -> RowIds:
    """The ``n`` best passages by BM25 among those sharing a term with the question, best first (ties: lower row)."""
    if not len(lexical):
        return np.zeros(0, dtype=np.int64)
    chosen: RowIds = lexical.rows[top(lexical.scores, n)].astype(np.int64)
    return chosen


def fuse(candidates: Candidates, weights: Weights | None = None, k: int | None = None) -> Ranking:
    """Rank ``candidates`` by the fusion formula (``weights``: the mode's own by default); the ``k`` best, or all."""
    w = weights or MODE_WEIGHTS[candidates.query.mode]
    c = candidates
    dense = (w.passage_share * c.passage + (1 - w.passage_share) * c.sentence).astype(np.float32)
    lexical = c.lexical if w.half is None else c.lexical / (c.lexical + np.float32(w.half))
    fused = (w.dense * dense + w.lexical * lexical).astype(np.float32)
    order = top(fused, len(fused) if k is None else k)
    return Ranking(c.rows[order], fused[order], dense[order], c.lexical[order].astype(np.float32), c.lexical_max)
