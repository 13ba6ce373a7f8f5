"""How often the highlighted answer sentence(s) of the first hit contain the gold quote.

Measured over the answerable questions whose first hit is a gold passage (contains a quote, from the right
document): the highlight can only be right when the passage is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rag.evaluation.questions import Question, matched_answers, normalize_for_match
from rag.evaluation.run import Searcher
from rag.retrieve.highlight import merge_spans
from rag.types import Hit


@dataclass(frozen=True)
class HighlightOutcome:
    """One question whose first hit is gold: what was highlighted and whether it holds a quote."""

    id: str
    lang: str
    question: str
    quotes: tuple[str, ...]  # the quotes found in the first hit
    highlighted: tuple[str, ...]  # the highlighted text, adjacent sentences merged
    contains: bool


def highlighted_texts(hit: Hit) -> list[str]:
    """The hit's highlighted text, highlights separated only by whitespace merged into one piece."""
    return [hit.text[s:e] for s, e in merge_spans(hit.text, hit.highlights, across_whitespace=True)]


def judge_highlight(question: Question, hit: Hit) -> HighlightOutcome | None:
    """The outcome for a question whose first hit is ``hit``; None when that hit holds no quote (not gold)."""
    found = matched_answers(question, hit.source, hit.text)
    if not found:
        return None
    pieces = highlighted_texts(hit)
    quotes = tuple(normalize_for_match(a.quote) for a in found)
    contains = any(q in normalize_for_match(piece) for piece in pieces for q in quotes)
    return HighlightOutcome(question.id, question.lang, question.question, tuple(a.quote for a in found), tuple(pieces), contains)


def highlight_quality(retriever: Searcher, questions: Iterable[Question]) -> dict[str, Any]:
    """Share of gold-first questions whose highlight contains a quote, overall and per language, with the misses.

    Returns ``{"overall": {...}, "by_lang": {lang: {...}}, "misses": [...]}``; each group has ``n_answerable``,
    ``n_gold_first``, ``n_contains`` and ``share`` (None when no question has its gold passage first).
    """
    outcomes: list[HighlightOutcome] = []
    answerable: list[Question] = []
    for question in questions:
        if question.no_answer:
            continue
        answerable.append(question)
        hits = retriever.search(question.question, 1)
        if hits:
            outcome = judge_highlight(question, hits[0])
            if outcome is not None:
                outcomes.append(outcome)

    def group(qs: list[Question], outs: list[HighlightOutcome]) -> dict[str, Any]:
        n = len(outs)
        hit = sum(o.contains for o in outs)
        return {"n_answerable": len(qs), "n_gold_first": n, "n_contains": hit, "share": round(hit / n, 6) if n else None}

    langs = sorted({q.lang for q in answerable})
    return {
        "overall": group(answerable, outcomes),
        "by_lang": {
            lang: group([q for q in answerable if q.lang == lang], [o for o in outcomes if o.lang == lang]) for lang in langs
        },
        "misses": [
            {"id": o.id, "question": o.question, "quotes": list(o.quotes), "highlighted": list(o.highlighted)}
            for o in outcomes
            if not o.contains
        ],
    }
