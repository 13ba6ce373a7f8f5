"""The reading stage of a search: a typed question's short answer, read from the answering sentences of its best hits.

``question_type`` (rag.retrieve.question_type) says what the question asks for; ``read_hits`` gives the pure reader
(rag.retrieve.read) each of the ``DEPTH`` best hits: its text, sentence spans, the sentence similarities the
highlighting computed (shared, not computed again), the annotations stored in the index at build time (no model is
loaded here) and its language. What it finds becomes a cited ``rag.types.Answer`` (``cited``); what it does not, the
words that say what is missing, in French and English (``missing_words``), with which ``abstention.decide`` flags it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.ingest.lang import guess_language
from rag.retrieve.hits import Similarities, similarities
from rag.retrieve.query import Query
from rag.retrieve.question_type import QuestionType, question_type
from rag.retrieve.read import DEPTH, HitText, Reading, read
from rag.retrieve.view import IndexView
from rag.types import Answer, Hit, Span

__all__ = ["DEPTH", "cited", "missing_words", "question_type", "read_hits"]


def _hit_text(view: IndexView, hit: Hit, query: Query, memo: Similarities) -> HitText:
    row = view.row_of(hit.id)
    assert row is not None  # a hit is a row of this index
    passage = view.data.passages[row]
    spans = [(int(s), int(e)) for s, e in view.data.sentence_spans[row]]
    annotations = view.data.annotations.of(row, passage.text) if view.data.annotations is not None else []
    lang = view.documents[passage.source].info.lang or guess_language(passage.text)  # as the build annotated it
    return HitText(hit.rank, passage.text, spans, similarities(view, row, query.vector, memo), annotations, lang)


def read_hits(query: Query, qtype: QuestionType, view: IndexView, hits: Sequence[Hit], memo: Similarities) -> Reading:
    """The reading of ``qtype`` on the ``DEPTH`` best of ``hits`` (see the module)."""
    return read(qtype, query.text, [_hit_text(view, hit, query, memo) for hit in hits[:DEPTH]])


def cited(reading: Reading, view: IndexView, hits: Sequence[Hit]) -> Answer | None:
    """The reading's answer cited by document offsets (its hit's offset map); None when nothing was found."""
    found = reading.answer
    if found is None:
        return None
    hit = next(h for h in hits if h.rank == found.rank)
    row = view.row_of(hit.id)
    assert row is not None
    start, end = view.document_span(row, found.start, found.end)
    s_start, s_end = found.sentence
    sentence = Span(s_start, s_end, 0.0, *view.document_span(row, s_start, s_end))
    document = view.documents[hit.source].text
    return Answer(
        document[start:end], found.text, found.kind, found.label, found.rank, hit.source, start, end, found.start,
        found.end, sentence,
    )  # fmt: skip


def missing_words(reading: Reading) -> tuple[tuple[str, str], ...]:
    """What the reading found missing, in both languages (empty when it found an answer)."""
    return tuple((lang, words) for lang in ("en", "fr") if (words := reading.missing(lang)) is not None)
