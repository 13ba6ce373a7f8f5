"""Pure HTML rendering of search results, documents and messages for the web app.

Every piece of document-derived text (passages, titles, file names) and the question is escaped with
``html.escape`` here; nothing in this module emits JavaScript.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from rag.i18n import area, colon, text
from rag.retrieve.highlight import mark, merge_spans
from rag.types import Answer, Hit, Passage, Results, Span, where
from ui.collection import Removed
from ui.library import Listed
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


@dataclass(frozen=True)
class Quote:
    """What a citation quotes of a hit: its ``text`` on one line, made of the ``pieces`` (``[start, end)`` in the
    passage's text) with ``[…]`` between two of them, ending with ``…`` when the last one was cut short."""

    text: str
    pieces: tuple[tuple[int, int], ...]


def _pieces(text: str, spans: Sequence[Span]) -> list[tuple[int, int]]:
    """The highlighted ranges of ``text`` (one piece where only whitespace separates them), without outer spaces."""
    out = []
    for start, end in merge_spans(text, spans, across_whitespace=True):
        start, end = start + len(text[start:end]) - len(text[start:end].lstrip()), len(text[:end].rstrip())
        if start < end:
            out.append((start, end))
    return out


def _cut(text: str, start: int, end: int, limit: int) -> int:
    """Where to end ``text[start:end]`` so that it takes at most ``limit`` characters on one line (after a word)."""
    length, cut = 0, start
    for word in re.finditer(r"\S+", text[start:end]):
        length += len(word.group()) + (1 if length else 0)
        if length > limit:
            break
        cut = start + word.end()
    return cut if cut > start else start + limit  # a first word longer than the limit: cut inside it


def quote(hit: Hit, max_chars: int = QUOTE_MAX_CHARS) -> Quote:
    """The answering sentence(s) of a hit (or the start of its passage when none is highlighted), and where they are.

    When all the highlights together are longer than ``max_chars``, the quote is the best-scoring one alone, so that
    the answer is not what gets cut off; a quote still too long is cut after a word."""
    text = hit.text
    pieces = _pieces(text, hit.highlights) or _pieces(text, [Span(0, len(text))])
    if not pieces:
        return Quote("", ())
    if len(_joined(text, pieces)) > max_chars and len(pieces) > 1:
        pieces = _pieces(text, [max(hit.highlights, key=lambda h: h.score)])
    if len(_joined(text, pieces)) <= max_chars:
        return Quote(_joined(text, pieces), tuple(pieces))
    start, end = pieces[0]
    end = _cut(text, start, end, max_chars - 1)
    return Quote(_one_line(text[start:end]) + "…", ((start, end),))


def citation_string(hit: Hit) -> str:
    """Plain-text citation to copy: ``«sentence» — Author, Title (date), ¶3, quote chars 460–575, passage chars
    452–905 of file.txt``: the quote is ``text[460:575]`` of the document's text as read from disk (``+`` between the
    ranges of a quote in several pieces), its passage ``text[452:905]``."""
    doc = f"{hit.title} ({hit.document.date})" if hit.document.date else hit.title
    doc = f"{hit.document.author}, {doc}" if hit.document.author else doc
    ocr = f", OCR {hit.ocr:.0f} %" if hit.ocr is not None else ""  # recognised text: it may hold errors
    quoted = quote(hit)
    spans = [hit.document_span(start, end) for start, end in quoted.pieces]
    known = [span for span in spans if span is not None]
    at = f"quote chars {' + '.join(f'{a}–{b}' for a, b in known)}, " if known and len(known) == len(spans) else ""
    return f"«{quoted.text}» — {doc}, {where(hit.passage)}{ocr}, {at}passage chars {hit.start}–{hit.end} of {hit.source}"


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
    """A one-paragraph message box; ``kind`` is info, warn, error, ok, or working (a change in progress: a spinner
    before the text, and ``aria-busy``); ``state`` names the results' state (answer, subject, none)."""
    busy = ' aria-busy="true"' if kind == "working" else ""
    data = f' data-state="{esc(state)}"' if state else ""
    return f'<div class="rag-notice rag-{esc(kind)}" role="status"{busy}{data}>{esc(text)}</div>'


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


def render_documents(documents: Sequence[Listed], lang: str = "en") -> str:
    """The list of indexed documents: title, author, date, number of passages, file; for those added in the app,
    when and by whom."""
    if not documents:
        return notice(text("results.no_documents", lang), "warn")
    t = area("docs", lang)
    items = []
    for doc in documents:
        info = doc.info
        count = t["passage" if doc.passages == 1 else "passages"].format(n=doc.passages)
        meta = [info.author, info.date, count, info.source]
        if doc.added:
            day = doc.added[:10]
            meta.append(t["added_by"].format(date=day, user=doc.added_by) if doc.added_by else t["added"].format(date=day))
        badge = f'<span class="rag-badge rag-uploaded">{esc(t["uploaded"])}</span>' if doc.uploaded else ""
        items.append(
            f'<li data-source="{esc(info.source)}"><div class="rag-doc-title">{esc(info.title)}{badge}</div>'
            f'<div class="rag-meta">{" · ".join(esc(m) for m in meta if m)}</div></li>'
        )
    return f'<ul class="rag-docs">{"".join(items)}</ul>'


def trash_label(item: Removed, lang: str = "en") -> str:
    """How a trash item is named in the list to restore from: title, file, what happened to it, when, by whom."""
    t = area("docs", lang)
    what = t.get(item.why, t["removed"]).format(date=item.removed[:10])
    by = t["by"].format(user=item.by) if item.by else ""
    return f"{item.title} — {item.source}, {what}{by}"


def intro(lang: str = "en") -> str:
    """What the results area shows before the first question."""
    return f'<div class="rag-empty">{esc(text("results.intro", lang))}</div>'
