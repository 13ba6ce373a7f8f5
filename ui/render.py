"""Pure HTML rendering of search results, documents and messages for the web app.

Every piece of document-derived text (passages, titles, file names) and the question is escaped with
``html.escape`` here; nothing in this module emits JavaScript.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from rag.types import DocumentInfo, Hit, Passage, Span

QUOTE_MAX_CHARS = 240
NO_ANSWER = "Nothing in the corpus seems to answer this question."


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so the result is safe in attributes)."""
    return html.escape(str(text), quote=True)


def _clean_spans(spans: Sequence[Span], length: int) -> list[tuple[int, int]]:
    """Spans clamped to ``[0, length]``, sorted, empty and overlapping ones dropped."""
    out: list[tuple[int, int]] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(0, span.start), min(length, span.end)
        if end <= start or (out and start < out[-1][1]):
            continue
        out.append((start, end))
    return out


def highlight_html(text: str, spans: Sequence[Span]) -> str:
    """``text`` escaped, with the ``spans`` (character offsets into ``text``) wrapped in ``<mark>``."""
    parts: list[str] = []
    last = 0
    for start, end in _clean_spans(spans, len(text)):
        parts += [esc(text[last:start]), "<mark>", esc(text[start:end]), "</mark>"]
        last = end
    parts.append(esc(text[last:]))
    return "".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def quote(hit: Hit, max_chars: int = QUOTE_MAX_CHARS) -> str:
    """The answering sentence(s) of a hit (or the start of its passage when none is highlighted)."""
    spans = _clean_spans(hit.highlights, len(hit.text))
    if spans:
        pieces = [_one_line(hit.text[s:e]) for s, e in spans]
        gaps = [hit.text[spans[i][1] : spans[i + 1][0]].strip() for i in range(len(spans) - 1)]
        text = pieces[0]
        for gap, piece in zip(gaps, pieces[1:], strict=True):
            text += (" […] " if gap else " ") + piece
    else:
        text = _one_line(hit.text)
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def where(hit: Hit) -> str:
    """Paragraph and page of a hit: ``¶3`` or ``p. 2, ¶3``."""
    return f"p. {hit.page}, ¶{hit.paragraph}" if hit.page is not None else f"¶{hit.paragraph}"


def citation_string(hit: Hit) -> str:
    """Plain-text citation to copy: ``«sentence» — Title (date), ¶3, chars 452–905 of file.txt``."""
    doc = f"{hit.title} ({hit.document.date})" if hit.document.date else hit.title
    return f"«{quote(hit)}» — {doc}, {where(hit)}, chars {hit.start}–{hit.end} of {hit.source}"


def _score_html(score: float) -> str:
    width = round(100 * min(1.0, max(0.0, score)))
    return (
        '<div class="rag-score" title="similarity between the question and the passage (0 to 1)">'
        f'<span class="rag-bar"><span style="width:{width}%"></span></span>'
        f'<span class="rag-score-num">{score:.2f}</span></div>'
    )


def _meta_html(hit: Hit) -> str:
    items = [hit.document.date, where(hit), hit.source]
    if hit.document.author:
        items.insert(0, hit.document.author)
    return " · ".join(esc(i) for i in items if i)


def _context_html(hit: Hit, context: Sequence[Passage]) -> str:
    if not context:
        return ""
    blocks = []
    for passage in context:
        if passage.id == hit.id:
            body = highlight_html(passage.text, hit.highlights)
            blocks.append(f'<div class="rag-ctx rag-ctx-hit"><span class="rag-ctx-n">¶{passage.paragraph}</span>{body}</div>')
        else:
            blocks.append(
                f'<div class="rag-ctx"><span class="rag-ctx-n">¶{passage.paragraph}</span>{esc(passage.text)}</div>'
            )
    first, last = context[0].paragraph, context[-1].paragraph
    span = f"¶{first}–¶{last}" if first != last else f"¶{first}, the whole document"
    return (
        f'<details class="rag-context"><summary>Context ({span})</summary>'
        f'<div class="rag-ctx-list">{"".join(blocks)}</div></details>'
    )


def render_card(hit: Hit, context: Sequence[Passage] = (), weak: bool = False) -> str:
    """One result: citation, score, passage with its answering sentence(s) marked, context, copyable citation."""
    classes = "rag-card rag-weak" if weak else "rag-card"
    badge = '<span class="rag-badge">weak</span>' if weak else ""
    return (
        f'<article class="{classes}" data-rank="{hit.rank}">'
        '<header class="rag-head">'
        f'<span class="rag-rank">{hit.rank}</span>'
        f'<div class="rag-cite"><div class="rag-title">{esc(hit.title)}{badge}</div>'
        f'<div class="rag-meta">{_meta_html(hit)}</div></div>'
        f"{_score_html(hit.score)}</header>"
        f'<div class="rag-text">{highlight_html(hit.text, hit.highlights)}</div>'
        f"{_context_html(hit, context)}"
        '<div class="rag-citation"><code class="rag-cite-string">'
        f"{esc(citation_string(hit))}</code>"
        '<button type="button" class="rag-copy" title="Copy the citation">Copy</button></div>'
        "</article>"
    )


def notice(text: str, kind: str = "info") -> str:
    """A one-paragraph message box; ``kind`` is info, warn, error or ok."""
    return f'<div class="rag-notice rag-{esc(kind)}" role="status">{esc(text)}</div>'


def render_results(question: str, hits: Sequence[Hit], contexts: Sequence[Sequence[Passage]] = ()) -> str:
    """The whole answer: a summary line, the abstention notice when relevant, then one card per hit."""
    if not hits:
        return notice(f"No passage found for «{_one_line(question)}».", "warn")
    abstain = hits[0].abstain
    head = (
        f'<div class="rag-summary">{len(hits)} passage{"s" if len(hits) > 1 else ""} for '
        f"<q>{esc(_one_line(question))}</q></div>"
    )
    if abstain:
        head += notice(f"{NO_ANSWER} The closest passages are shown below, marked as weak.", "warn")
    cards = [
        render_card(hit, contexts[i] if i < len(contexts) else (), weak=abstain or hit.abstain)
        for i, hit in enumerate(hits)
    ]
    return f'<section class="rag-results">{head}{"".join(cards)}</section>'


def render_documents(documents: Sequence[tuple[DocumentInfo, int]]) -> str:
    """The list of indexed documents: title, date, number of passages, file."""
    if not documents:
        return notice("No document is indexed yet.", "warn")
    items = []
    for info, count in documents:
        meta = [info.date, f"{count} passage{'s' if count != 1 else ''}", info.source]
        items.append(
            f'<li><div class="rag-doc-title">{esc(info.title)}</div>'
            f'<div class="rag-meta">{" · ".join(esc(m) for m in meta if m)}</div></li>'
        )
    return f'<ul class="rag-docs">{"".join(items)}</ul>'


def intro() -> str:
    """What the results area shows before the first question."""
    return (
        '<div class="rag-empty">Ask a question in French or English: the answer is the passages of the '
        "documents that say it, each with its citation and the answering sentence highlighted.</div>"
    )
