"""Pure HTML rendering of search results, documents and messages for the web app.

Every piece of document-derived text (passages, titles, file names) and the question is escaped with
``html.escape`` here; nothing in this module emits JavaScript.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from itertools import pairwise

from rag.i18n import area, colon, text
from rag.retrieve.highlight import mark, merge_spans
from rag.types import Answer, DocumentInfo, Hit, Passage, Results, Span, where
from ui.pages import ocr_badge, page_control

QUOTE_MAX_CHARS = 240
# Results speak the question's language (``Results.lang``; rag.i18n's texts ``results.*``). The copyable citation keeps
# one format in both, so that it can be checked by the same tools.


def esc(text: object) -> str:
    """HTML-escape any value (quotes too, so the result is safe in attributes)."""
    return html.escape(str(text), quote=True)


def highlight_html(text: str, spans: Sequence[Span], answer: tuple[int, int] | None = None) -> str:
    """``text`` escaped, with the ``spans`` (character offsets into ``text``) wrapped in ``<mark>``, and the short
    ``answer`` (offsets inside one of them) in ``<strong class="rag-answer-mark">`` within its sentence's mark."""
    if answer is None:
        return mark(text, spans, "<mark>", "</mark>", esc)
    a, b = answer

    def inside(piece_start: int, piece: str) -> str:  # the answer marked within the highlighted text that holds it
        lo, hi = max(a - piece_start, 0), min(b - piece_start, len(piece))
        if lo >= hi:
            return esc(piece)
        return f'{esc(piece[:lo])}<strong class="rag-answer-mark">{esc(piece[lo:hi])}</strong>{esc(piece[hi:])}'

    parts: list[str] = []
    last = 0
    for start, end in merge_spans(text, spans):
        parts += [esc(text[last:start]), "<mark>", inside(start, text[start:end]), "</mark>"]
        last = end
    parts.append(esc(text[last:]))
    return "".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _joined(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The spans of ``text`` on one line, with ``[…]`` where text between them is left out."""
    out = _one_line(text[spans[0][0] : spans[0][1]])
    for (_, prev_end), (start, end) in pairwise(spans):
        out += (" […] " if text[prev_end:start].strip() else " ") + _one_line(text[start:end])
    return out


def quote(hit: Hit, max_chars: int = QUOTE_MAX_CHARS) -> str:
    """The answering sentence(s) of a hit (or the start of its passage when none is highlighted).

    When all the highlights together are longer than ``max_chars``, the quote is the best-scoring one alone, so that
    the answer is not what gets cut off."""
    spans = merge_spans(hit.text, hit.highlights)
    text = _joined(hit.text, spans) if spans else _one_line(hit.text)
    if len(text) > max_chars and len(spans) > 1:
        best = max(hit.highlights, key=lambda h: h.score)
        text = _joined(hit.text, merge_spans(hit.text, [best]))
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def citation_string(hit: Hit) -> str:
    """Plain-text citation to copy: ``«sentence» — Title (date), ¶3, chars 452–905 of file.txt``."""
    doc = f"{hit.title} ({hit.document.date})" if hit.document.date else hit.title
    ocr = f", OCR {hit.ocr:.0f} %" if hit.ocr is not None else ""  # recognised text: it may hold errors
    return f"«{quote(hit)}» — {doc}, {where(hit.passage)}{ocr}, chars {hit.start}–{hit.end} of {hit.source}"


def _match_html(hit: Hit, lang: str = "en") -> str:
    """How closely the passage matches, in words (strong, fair, weak); the ranking score only in the tooltip."""
    title = esc(text("results.match_title", lang, score=hit.score))
    level = hit.match
    if level is None:  # not measured (dense or lexical mode): the rank says enough
        return f'<div class="rag-match" title="{title}"></div>'
    return f'<div class="rag-match rag-match-{level}" title="{title}">{esc(text(f"match.{level}", lang))}</div>'


def _meta_html(hit: Hit) -> str:
    items = [hit.document.date, where(hit.passage), hit.source]
    if hit.document.author:
        items.insert(0, hit.document.author)
    return " · ".join(esc(i) for i in items if i)


def _context_html(hit: Hit, context: Sequence[Passage], lang: str = "en") -> str:
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
    span = f"¶{first}–¶{last}" if first != last else f"¶{first}, {text('results.whole', lang)}"
    return (
        f'<details class="rag-context"><summary>{text("results.context", lang)} ({span})</summary>'
        f'<div class="rag-ctx-list">{"".join(blocks)}</div></details>'
    )


def render_card(
    hit: Hit, context: Sequence[Passage] = (), weak: bool = False, lang: str = "en", answer: Answer | None = None
) -> str:
    """One result: citation, score, passage with its answering sentence(s) marked, context, copyable citation; the
    card the short ``answer`` was read from marks it inside its sentence (highlighted, if it was not already)."""
    t = area("results", lang)
    classes = "rag-card rag-weak" if weak else "rag-card"
    spans: Sequence[Span] = hit.highlights
    answered = answer is not None and answer.rank == hit.rank
    if answer is not None and answered:
        spans = (*hit.highlights, answer.sentence)
        classes += " rag-card-answer"
    at = (answer.passage_start, answer.passage_end) if answer is not None and answered else None
    badge = (f'<span class="rag-badge">{t["weak"]}</span>' if weak else "") + ocr_badge(hit, lang)
    return (
        f'<article class="{classes}" data-rank="{hit.rank}">'
        '<header class="rag-head">'
        f'<span class="rag-rank">{hit.rank}</span>'
        f'<div class="rag-cite"><div class="rag-title">{esc(hit.title)}{badge}</div>'
        f'<div class="rag-meta">{_meta_html(hit)}</div></div>'
        f"{_match_html(hit, lang)}</header>"
        f'<div class="rag-text">{highlight_html(hit.text, spans, at)}</div>'
        f"{_context_html(hit, context, lang)}{page_control(hit, lang)}"
        '<div class="rag-citation"><code class="rag-cite-string">'
        f"{esc(citation_string(hit))}</code>"
        f'<button type="button" class="rag-copy" title="{t["copy_title"]}" data-done="{t["copied"]}">{t["copy"]}</button></div>'
        "</article>"
    )


def notice(text: str, kind: str = "info", state: str | None = None) -> str:
    """A one-paragraph message box; ``kind`` is info, warn, error or ok; ``state`` names the results' state."""
    data = f' data-state="{esc(state)}"' if state else ""
    return f'<div class="rag-notice rag-{esc(kind)}" role="status"{data}>{esc(text)}</div>'


def answer_html(results: Results) -> str:
    """The short answer above the cards: "Réponse" / "Answer", the answer, its citation (the hit it was read from)."""
    answer = results.answer
    assert answer is not None
    lang = results.lang
    hit = results.answer_hit
    where_from = hit.citation if hit is not None else answer.source
    cite = f"[{answer.rank}] {where_from} · chars {answer.start}–{answer.end} of {answer.source}"
    return (
        f'<div class="rag-notice rag-ok rag-answer" role="status" data-state="answer" data-rank="{answer.rank}">'
        f'<span class="rag-answer-label">{esc(text("answer.label", lang) + colon(lang).rstrip())}</span> '
        f'<span class="rag-answer-text">{esc(_one_line(answer.normalized))}</span>'
        f'<div class="rag-answer-cite">{esc(cite)}</div>'
        f'<div class="rag-answer-note">{esc(text("answer.title", lang, rank=answer.rank))}</div></div>'
    )


def render_results(results: Results, contexts: Sequence[Sequence[Passage]] = ()) -> str:
    """The whole answer: a summary line, the abstention notice when relevant, then one card per hit."""
    question = results.question
    lang = results.lang
    t = area("results", lang)
    if not results:
        return notice(t["none_found"].format(question=_one_line(question)), "warn")
    summary = t["summary"].format(n=len(results), s="s" if len(results) > 1 else "")
    head = f'<div class="rag-summary">{summary} <q>{esc(_one_line(question))}</q></div>'
    # Three states, told apart by words, colour and ``data-state``: a short answer read from a passage (the only green
    # one), passages on the subject that the reader must check, nothing that answers.
    if results.abstain:
        head += notice(f"{results.explanation(lang)} {t['weak_shown']}", "warn", "none")
    elif results.answer is not None:
        head += answer_html(results)
    else:
        head += notice(text("answer.on_subject", lang), "info", "subject")
    cards = [
        render_card(hit, contexts[i] if i < len(contexts) else (), weak=results.abstain, lang=lang, answer=results.answer)
        for i, hit in enumerate(results)
    ]
    return f'<section class="rag-results">{head}{"".join(cards)}</section>'


def render_documents(documents: Sequence[tuple[DocumentInfo, int]], lang: str = "en") -> str:
    """The list of indexed documents: title, date, number of passages, file."""
    if not documents:
        return notice(text("results.no_documents", lang), "warn")
    items = []
    for info, count in documents:
        meta = [info.date, f"{count} passage{'s' if count != 1 else ''}", info.source]
        items.append(
            f'<li><div class="rag-doc-title">{esc(info.title)}</div>'
            f'<div class="rag-meta">{" · ".join(esc(m) for m in meta if m)}</div></li>'
        )
    return f'<ul class="rag-docs">{"".join(items)}</ul>'


def intro(lang: str = "en") -> str:
    """What the results area shows before the first question."""
    return f'<div class="rag-empty">{esc(text("results.intro", lang))}</div>'
