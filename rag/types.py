"""Small frozen records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DocumentInfo:
    """Bibliographic data about one document (from the corpus catalogue, or derived from its file name)."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    short_title: str = ""
    date: str = ""  # ISO date or year, "" when unknown
    author: str = ""
    lang: str = ""

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
class Span:
    """A ``[start, end)`` character range within a hit's passage text (e.g. the answering sentence)."""

    start: int
    end: int
    score: float = 0.0


@dataclass(frozen=True)
class Hit:
    """One search result: a passage, its document, its score and rank (1 = best)."""

    passage: Passage
    document: DocumentInfo
    score: float
    rank: int
    highlights: tuple[Span, ...] = field(default=())
    abstain: bool = False  # True when the retriever judged the hit too weak to answer the question
    # The kind of answer the question asks for that none of the best passages holds ("percentage", "amount", "date",
    # "number"; see rag.answer_kind), the reason for abstaining; None otherwise.
    missing: str | None = None

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

    @property
    def citation(self) -> str:
        """Readable citation, e.g. ``Déclaration de l'OTAN sur les référendums (2022), ¶3``."""
        where = f"¶{self.paragraph}"
        if self.page is not None:
            where = f"p. {self.page}, {where}"
        return f"{self.document.label}, {where}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (the shape of ``rag ask --json``)."""
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
            "highlights": [{"start": s.start, "end": s.end, "text": self.text[s.start : s.end]} for s in self.highlights],
            "abstain": self.abstain,
            "missing": self.missing,
        }
