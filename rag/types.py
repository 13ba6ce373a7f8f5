"""Small frozen records passed between the pipeline stages."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, overload

from rag.i18n import colon, language, text

# Retrieval modes (rag.retrieve.rank gives each its fusion weights); here so that reading settings does not load numpy.
MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"

# Why a question is flagged (``Decision.reason``; rag.retrieve.abstention decides).
NO_PASSAGE = "no_passage"  # nothing was found at all
BELOW_NULL = "below_null"  # the evidence is no stronger than what unrelated questions get on this corpus
MISSING_KIND = "missing_kind"  # the question asks for a kind of answer (a count of soldiers, a date…) none gives
# How far a question's evidence stands above the corpus's null (``Decision.confidence``), and one passage's (``Hit.match``).
ANSWERS, MAYBE, DOES_NOT_ANSWER = "answers", "maybe", "does_not_answer"
STRONG, FAIR, WEAK = "strong", "fair", "weak"


@dataclass(frozen=True)
class DocumentInfo:
    """Bibliographic data about one document (from the corpus catalogue, or derived from its file name)."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    short_title: str = ""
    date: str = ""  # ISO date or year, "" when unknown
    author: str = ""
    lang: str = ""
    # Pages whose text was recognised by OCR (rag.ingest.ocr): (1-based page, mean word confidence 0-100).
    ocr: tuple[tuple[int, float], ...] = ()

    def ocr_confidence(self, page: int | None) -> float | None:
        """The mean OCR confidence of ``page`` when its text was recognised; None when it has a text layer."""
        return next((confidence for number, confidence in self.ocr if number == page), None)

    @property
    def label(self) -> str:
        """How the document is named in a citation: short title and year."""
        name = self.short_title or self.title
        return f"{name} ({self.date[:4]})" if self.date else name


@dataclass(frozen=True)
class Document:
    """A loaded document: its text as read from disk (decoded, or extracted for PDF/DOCX/HTML).

    ``page_starts[i]`` is the offset in ``text`` where page ``i + 1`` begins (empty when not paginated).
    """

    info: DocumentInfo
    text: str
    format: str  # "txt", "md", "pdf", "docx", "html"
    sha256: str  # of the file's bytes
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset``, or None when the document has no pages."""
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
            else:
                break
        return page


@dataclass(frozen=True, slots=True)  # slots: a loaded index holds one per passage (~100 bytes less each)
class Passage:
    """A unit of retrieval: one paragraph (or part of a long one) with its exact place in the source.

    ``text[...]`` is the cleaned passage; ``document.text[start:end]`` is the span it was cut from
    (equal up to whitespace, end-of-line hyphenation and markup).
    """

    id: str
    source: str
    paragraph: int  # 1-based within the document
    start: int
    end: int
    text: str
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OffsetMap:
    """Where each character of a passage's cleaned text was read in its document's text, exactly.

    Cleaning joins lines, undoes hyphenation, drops markup and composes accents, so a passage offset is not its
    document offset plus a constant. The map is a list of runs: from passage offset ``at[k]`` on, character ``i``
    starts at document offset ``starts[k] + (i - at[k])`` and ends at ``ends[k] + (i - at[k])``; a new run begins
    wherever that stops holding (a few a passage: one per undone hyphenation or collapsed whitespace run).
    """

    at: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, pos: Sequence[int], ends: Sequence[int]) -> OffsetMap:
        """The runs of per-character document ``[pos[i], ends[i])`` ranges (``rag.ingest.clean.Block``)."""
        at: list[int] = []
        starts: list[int] = []
        run_ends: list[int] = []
        for i, (start, end) in enumerate(zip(pos, ends, strict=True)):
            if not at or start != starts[-1] + (i - at[-1]) or end != run_ends[-1] + (i - at[-1]):
                at.append(i)
                starts.append(start)
                run_ends.append(end)
        return cls(tuple(at), tuple(starts), tuple(run_ends))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The document ``[start, end)`` of the passage's ``text[start:end]`` (``end > start``)."""
        if not 0 <= start < end or not self.at:
            raise ValueError(f"no document span for the passage range [{start}, {end})")
        first, last = bisect_right(self.at, start) - 1, bisect_right(self.at, end - 1) - 1
        return self.starts[first] + start - self.at[first], self.ends[last] + end - 1 - self.at[last]

    def to_row(self) -> list[list[int]]:
        return [list(run) for run in zip(self.at, self.starts, self.ends, strict=True)]

    @classmethod
    def from_row(cls, row: Sequence[Sequence[int]]) -> OffsetMap:
        at, starts, ends = (tuple(int(run[k]) for run in row) for k in range(3))
        return cls(at, starts, ends)


@dataclass(frozen=True)
class Span:
    """A ``[start, end)`` character range within a hit's passage text (e.g. the answering sentence), and the same text's
    ``[doc_start, doc_end)`` in the document's text (None when the index does not know it: an older format)."""

    start: int
    end: int
    score: float = 0.0
    doc_start: int | None = None
    doc_end: int | None = None


@dataclass(frozen=True)
class Hit:
    """One search result: a passage, its document, its score and rank (1 = best), its answering sentence(s)."""

    passage: Passage
    document: DocumentInfo
    score: float
    rank: int
    highlights: tuple[Span, ...] = field(default=())
    # This passage's own evidence against the corpus's null distribution, as Decision.strength measures a question's
    # (rag.retrieve.abstention); None when not measured (dense and lexical modes, an index without calibration).
    strength: float | None = None
    # STRONG, FAIR or WEAK: how closely this passage matches the question, read from ``strength``; None when not measured.
    match: str | None = None
    # Where each character of the passage's text was read in the document's (None when the index does not know it): any
    # part of the passage, such as a quote cut short, is cited by exact document offsets (``document_span``).
    offsets: OffsetMap | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def source(self) -> str:
        return self.passage.source

    @property
    def title(self) -> str:
        return self.document.title

    @property
    def paragraph(self) -> int:
        return self.passage.paragraph

    @property
    def start(self) -> int:
        return self.passage.start

    @property
    def end(self) -> int:
        return self.passage.end

    @property
    def page(self) -> int | None:
        return self.passage.page

    @property
    def id(self) -> str:
        return self.passage.id

    def document_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The document ``[start, end)`` of the passage's ``text[start:end]``; None without the offset map."""
        return None if self.offsets is None else self.offsets.span(start, end)

    @property
    def ocr(self) -> float | None:
        """Mean confidence (0-100) of OCR on the passage's page when its text was recognised, else None."""
        return self.document.ocr_confidence(self.page)

    @property
    def citation(self) -> str:
        """Readable citation, e.g. ``Déclaration de l'OTAN sur les référendums (2022), ¶3``; text recognised by OCR
        says so with its confidence: ``Charte (2023), p. 2, ¶3, OCR 91 %``."""
        ocr = f", OCR {self.ocr:.0f} %" if self.ocr is not None else ""
        return f"{self.document.label}, {where(self.passage)}{ocr}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (one hit of ``rag ask --json``)."""
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "date": self.document.date,
            "author": self.document.author,
            "paragraph": self.paragraph,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "citation": self.citation,
            "text": self.text,
            "highlights": [_span_dict(s, self.text) for s in self.highlights],
            "strength": None if self.strength is None else round(self.strength, 3),
            "match": self.match,
            "ocr": self.ocr,
        }


def _span_dict(span: Span, text: str) -> dict[str, Any]:
    """A highlight as ``--json`` gives it: its offsets in the passage's text and in the document's, and its text."""
    offsets = {"start": span.start, "end": span.end, "doc_start": span.doc_start, "doc_end": span.doc_end}
    return {**offsets, "text": text[span.start : span.end]}


def where(passage: Passage) -> str:
    """Where a passage is in its document: ``¶3``, or ``p. 2, ¶3`` when the document has pages."""
    return f"p. {passage.page}, ¶{passage.paragraph}" if passage.page is not None else f"¶{passage.paragraph}"


@dataclass(frozen=True)
class Answer:
    """The short answer of a typed question, read from a hit's answering sentence (``rag.retrieve.answer``).

    ``text == document_text[start:end]``: the document's own characters, cited like every hit; ``normalized`` is the
    same answer as read in the passage's cleaned text (line breaks joined, hyphenation undone: what to display).
    ``kind`` is what the question asked for (``person``, ``organization``, ``place``, ``date``, ``count``,
    ``amount``, ``percentage``), ``label`` the candidate's (PER, ORG, LOC, MISC, DATE, COUNT, AMOUNT, PERCENT).
    ``rank`` is the hit it was read from (1 = best; a search for fewer hits than ``rag.retrieve.read.DEPTH`` may give a
    rank beyond them), ``passage_start``/``passage_end`` its span in that hit's passage text, ``sentence`` the
    sentence it was read from (passage and document offsets)."""

    text: str
    normalized: str
    kind: str
    label: str
    rank: int
    source: str
    start: int
    end: int
    passage_start: int
    passage_end: int
    sentence: Span

    def to_dict(self, passage_text: str = "") -> dict[str, Any]:
        sentence: dict[str, Any] = {"start": self.sentence.start, "end": self.sentence.end, "doc_start": self.sentence.doc_start,
                    "doc_end": self.sentence.doc_end}  # fmt: skip
        if passage_text:
            sentence["text"] = passage_text[self.sentence.start : self.sentence.end]
        return {
            "text": self.text, "normalized": self.normalized, "kind": self.kind, "label": self.label, "rank": self.rank,
            "source": self.source, "start": self.start, "end": self.end, "passage_start": self.passage_start,
            "passage_end": self.passage_end, "sentence": sentence,
        }  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """Whether the corpus seems to answer a question, and if not why (see ``rag.retrieve.abstention``)."""

    abstain: bool = False
    reason: str | None = None  # NO_PASSAGE, BELOW_NULL or MISSING_KIND when flagged
    # The kind of answer the question asks for that none of the ``searched`` best passages gives (a kind of
    # rag.retrieve.question_type: "count", "person", "date"…), when that is the reason.
    missing: str | None = None
    # How far the question's evidence stands above this corpus's null distribution (rag.retrieve.calibration): 0 at
    # the median of questions it cannot answer, 1 at their 90th percentile; None without a calibration.
    strength: float | None = None
    second_opinion: bool = False  # whether the second opinion (rag.embed.use) was consulted
    # ANSWERS, MAYBE or DOES_NOT_ANSWER, read from ``abstain`` and ``strength``; None when nothing was measured.
    confidence: str | None = None
    searched: int = 0
    # What is missing, in words, per language: (("en", "none of the passages gives a number of soldiers"), ("fr", …)).
    missing_words: tuple[tuple[str, str], ...] = ()

    def explanation(self, lang: str | None = "en") -> str | None:
        """Why the question was flagged, as one sentence in ``lang`` (``fr``, else English); None when it was not."""
        if not self.abstain:
            return None
        flagged = text("decision.flagged", lang)
        words = dict(self.missing_words).get(language(lang))
        if self.reason == MISSING_KIND and words:
            return f"{flagged}{colon(lang)}{words}."
        if self.reason == BELOW_NULL:
            return f"{flagged}{colon(lang)}{text('decision.below_null', lang)}."
        return f"{flagged}."


@dataclass(frozen=True)
class Results(Sequence[Hit]):
    """What a search returns: the hits, best first (a sequence: iterate, index, ``len``), and the question-level
    decision (``abstain``, ``reason``, ``missing``). When nothing seems to answer, the closest hits are still there."""

    question: str
    hits: tuple[Hit, ...] = ()
    decision: Decision = field(default_factory=Decision)
    # The question's language as guessed once for the search ("fr", "en", "und"): what renderers speak.
    lang: str = "und"
    # The short answer of a typed question, when one was read and the question is not flagged (rag.retrieve.answer).
    answer: Answer | None = None

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, i: int) -> Hit: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Hit]: ...
    def __getitem__(self, i: int | slice) -> Hit | Sequence[Hit]:
        return self.hits[i]

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    @property
    def abstain(self) -> bool:
        return self.decision.abstain

    @property
    def reason(self) -> str | None:
        return self.decision.reason

    @property
    def missing(self) -> str | None:
        return self.decision.missing

    @property
    def confidence(self) -> str | None:
        """ANSWERS, MAYBE or DOES_NOT_ANSWER; None when not measured."""
        return self.decision.confidence

    def explanation(self, lang: str | None = "en") -> str | None:
        """Why nothing seems to answer, as a sentence in ``lang`` (``fr`` or English); None when something does."""
        return self.decision.explanation(lang)

    @property
    def answer_hit(self) -> Hit | None:
        """The hit the answer was read from, when it is among the hits."""
        answer = self.answer
        return next((h for h in self.hits if answer is not None and h.rank == answer.rank), None)

    def _answer_passage(self) -> str:
        hit = self.answer_hit
        return hit.text if hit is not None else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (the shape of ``rag ask --json``)."""
        return {
            "question": self.question,
            "lang": self.lang,
            "abstain": self.abstain,
            "confidence": self.confidence,
            "reason": self.reason,
            "missing": self.missing,
            "strength": None if self.decision.strength is None else round(self.decision.strength, 3),
            "second_opinion": self.decision.second_opinion,
            "explanation": self.explanation(),
            "answer": None if self.answer is None else self.answer.to_dict(self._answer_passage()),
            "hits": [hit.to_dict() for hit in self.hits],
        }
