"""The last stage of a search: the ranked rows a reader sees, as cited ``Hit``s with their answering sentences.

Near-duplicates of a better hit are dropped (``collapse``), each hit gets its highlighted sentence(s)
(``rag.retrieve.highlight``) and, when the question's evidence was measured, its own strength and match against the
corpus's null distribution, read as the question's is (``rag.retrieve.abstention``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from rag.errors import BadInputError
from rag.retrieve import rank
from rag.retrieve.abstention import Evidence, evidence_strength, match
from rag.retrieve.highlight import highlight_spans
from rag.retrieve.query import Query, Vector
from rag.retrieve.rank import Candidates, Ranking
from rag.retrieve.view import IndexView, RowIds
from rag.types import Hit, Span

# Passages whose vectors are this close say the same thing (repeated titles, boilerplate): only the best is shown.
DUPLICATE_SIMILARITY = 0.985
# Rows looked at beyond ``k`` so that ``k`` remain after collapsing.
COLLAPSE_EXTRA = 5


@dataclass(frozen=True)
class HitOptions:
    """How the ranked rows become hits: ``k`` of them at most, none scoring below ``min_score``, with ``highlight``
    (answering sentences) and ``collapse`` (near-duplicates of a better hit dropped)."""

    k: int = 5
    min_score: float | None = None
    highlight: bool = True
    collapse: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise BadInputError(f"k must be a positive whole number, not {self.k!r}")
        if self.min_score is not None and not (isinstance(self.min_score, numbers.Real) and math.isfinite(self.min_score)):
            raise BadInputError(f"the minimum score must be a number, not {self.min_score!r}")

    @property
    def depth(self) -> int:
        """Candidates to gather: the default depth, or deeper when many hits are asked for (collapsing drops some)."""
        return max(rank.CANDIDATES, 4 * (self.k + COLLAPSE_EXTRA))


def collapse(view: IndexView, rows: RowIds) -> RowIds:
    """Rows without near-duplicates of a better-ranked row (the cited spans themselves are never changed)."""
    if len(rows) < 2:
        return rows
    vectors = np.asarray(view.data.vectors[np.sort(rows)])[np.argsort(np.argsort(rows))]
    kept: list[int] = []
    for i in range(len(rows)):
        if all(float(vectors[i] @ vectors[j]) < DUPLICATE_SIMILARITY for j in kept):
            kept.append(i)
    return rows[kept]


# Each passage row's sentence similarities to the question, computed once per search (highlighting and reading share them).
Similarities = dict[int, list[float]]


def similarities(view: IndexView, row: int, vector: Vector | None, memo: Similarities) -> list[float]:
    """The similarity of each sentence of passage ``row`` to the question (all 0 without a vector: a lexical search
    without highlights), kept in ``memo``."""
    if row not in memo:
        memo[row] = view.sentence_similarities(row, vector) if vector is not None else [0.0] * len(view.data.sentence_spans[row])
    return memo[row]


def highlight(view: IndexView, row: int, vector: Vector, memo: Similarities | None = None) -> tuple[Span, ...]:
    """The sentence(s) of passage ``row`` closest to the question, as spans of its text and of its document's."""
    spans = view.data.sentence_spans[row]
    if not spans:
        return ()
    sims = similarities(view, row, vector, {} if memo is None else memo)
    chosen = highlight_spans(view.data.passages[row].text, spans, sims)
    return tuple(Span(s.start, s.end, s.score, *view.document_span(row, s.start, s.end)) for s in chosen)


def hits(
    query: Query, view: IndexView, candidates: Candidates, ranking: Ranking, evidence: Evidence, options: HitOptions,
    memo: Similarities | None = None,
) -> tuple[Hit, ...]:
    """The hits of ``ranking``, best first, as ``options`` says; the sentence similarities computed are kept in
    ``memo`` (the reading stage reads the same sentences)."""
    k = options.k
    rows = collapse(view, ranking.rows[: k + COLLAPSE_EXTRA]) if options.collapse else ranking.rows
    score_of = dict(zip(ranking.rows.tolist(), ranking.scores.tolist(), strict=True))
    position = {row: i for i, row in enumerate(candidates.rows.tolist())}
    out: list[Hit] = []
    for row in rows.tolist()[:k]:
        score = float(score_of[row])
        if options.min_score is not None and score < options.min_score:
            continue
        passage = view.data.passages[row]
        spans = highlight(view, row, query.vector, memo) if options.highlight and query.vector is not None else ()
        strength = _strength(query, view, candidates, evidence, position[row], score)
        document = view.documents[passage.source].info
        offsets = view.data.offsets[row] if view.data.offsets is not None else None
        out.append(Hit(passage, document, score, len(out) + 1, spans, strength, match(strength), offsets))
    return tuple(out)


def _strength(query: Query, view: IndexView, candidates: Candidates, evidence: Evidence, i: int, score: float) -> float | None:
    """Candidate ``i``'s own evidence against the null, as the question's (None when the question's was not measured)."""
    if evidence.strength is None or view.calibration is None:
        return None
    signals = {
        "fused": score, "passage": float(candidates.passage[i]), "sentence": float(candidates.sentence[i]),
        "lexical": float(candidates.lexical[i]),
    }  # fmt: skip
    if evidence.second is not None:
        signals["second"] = float(evidence.second[i])
    return evidence_strength(view.calibration, query.lang, signals)
