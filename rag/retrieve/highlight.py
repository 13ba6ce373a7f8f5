"""Which sentences of a passage to highlight as its answer, from each sentence's similarity to the question.

``choose_sentences(text, spans, sims)`` is pure (no model, no index): ``spans`` are the passage's sentence
``[start, end)`` offsets (``rag.ingest.sentences.split_sentences``) and ``sims`` their cosine similarities to the question.
The rules, in order of priority:

1. Seeds: the body sentence most similar to the question, and the second one when within ``HIGHLIGHT_MARGIN``.
   Headings (a line without final punctuation introducing prose or a list), list introductions (ending with ``:``)
   and labels shorter than ``MIN_HIGHLIGHT_CHARS`` restate the topic but seldom hold the answer: they are not
   seeds, but a heading or introduction that beats every seed is highlighted with the best one, when there is room.
2. Context of each seed: a seed opening with an anaphoric pronoun ("Elle a rassemblé…", "It is expected…",
   "Dédiée à l'innovation, elle a réuni…") brings the sentence before it; the sentence after a seed joins when it
   opens with one; a seed that is a line cut mid-phrase (signature blocks, narrow columns) runs on to the
   following unpunctuated lines.
3. Highlights stay short: after the first seed, a sentence is added only while the total stays within
   ``MAX_HIGHLIGHT_CHARS``, and never so that the whole passage is highlighted (unless it is one sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.types import Span

# Second-best sentences this close to the best one are highlighted too (answers often span two sentences).
HIGHLIGHT_MARGIN = 0.01
MAX_HIGHLIGHTS = 2
# Headings and list labels are too short to be an answer; they are highlighted only when nothing else exists.
MIN_HIGHLIGHT_CHARS = 25
# A highlight is a quote to read at a glance: additions stop at about three ordinary sentences.
MAX_HIGHLIGHT_CHARS = 450
# A line cut mid-phrase continues on at most this many lines (a name and title wrapped in a narrow column).
MAX_RUN_ON_LINES = 2

# Final punctuation, possibly followed by a closing quote or bracket; ':' is handled apart (list introductions).
_TERMINAL = re.compile(r"[.!?…;][»\"”’)\]]*$")
_BULLET = re.compile(r"^(?:[-–—•*·▪●◦]|\d{1,3}[.)]|[a-zA-Z][.)])\s")
_PRONOUNS = (
    r"il|elle|ils|elles|celui-ci|celle-ci|ceux-ci|celles-ci|celui-là|celle-là|ce dernier|cette dernière"
    r"|ces derniers|ces dernières|cela|ceci|it|they|he|she|this|these"
)
# A sentence leaning on the one before it: it opens with a subject pronoun, possibly after a bullet or after a
# short fronted phrase ("Dédiée au thème de l'innovation, elle a réuni…", "In 2012, it hosted…").
_ANAPHORA = re.compile(rf"^(?:[-–—•*·▪●◦]\s*)?(?:[^,.;:!?\n]{{1,60}},\s*)?(?:{_PRONOUNS})(?![\w-])", re.IGNORECASE)


def _piece(text: str, span: tuple[int, int]) -> str:
    return text[span[0] : span[1]].strip()


def is_anaphoric(sentence: str) -> bool:
    """Whether ``sentence`` opens with a pronoun that refers to the sentence before it (French or English)."""
    return bool(_ANAPHORA.match(sentence.strip()))


def _unpunctuated_line(text: str, spans: Sequence[tuple[int, int]], i: int) -> bool:
    """Sentence ``i`` has no final punctuation (nor ':') and a line break follows it: a heading or a cut line."""
    piece = _piece(text, spans[i])
    if _TERMINAL.search(piece) or piece.endswith(":") or i + 1 >= len(spans):
        return False
    return "\n" in text[spans[i][1] : spans[i + 1][0]]


def is_heading_or_intro(text: str, spans: Sequence[tuple[int, int]], i: int) -> bool:
    """A list introduction (ends with ':'), or a heading: a line without final punctuation, not a list item,
    followed by a punctuated sentence or a list item (a line followed by another bare line is a cut line)."""
    piece = _piece(text, spans[i])
    if piece.endswith(":"):
        return True
    if not _unpunctuated_line(text, spans, i) or _BULLET.match(piece):
        return False
    after = _piece(text, spans[i + 1])
    return bool(_TERMINAL.search(after) or after.endswith(":") or _BULLET.match(after))


def _context(text: str, spans: Sequence[tuple[int, int]], i: int) -> list[int]:
    """The sentences that seed ``i`` needs to be read alone, most needed first."""
    out: list[int] = []
    if i > 0 and is_anaphoric(_piece(text, spans[i])):
        out.append(i - 1)
    j = i
    while (
        j - i < MAX_RUN_ON_LINES
        and _unpunctuated_line(text, spans, j)
        and not is_heading_or_intro(text, spans, j)
        and not _BULLET.match(_piece(text, spans[j + 1]))
    ):
        j += 1
        out.append(j)
    if j == i and i + 1 < len(spans) and is_anaphoric(_piece(text, spans[i + 1])):
        out.append(i + 1)
    return out


def choose_sentences(
    text: str,
    spans: Sequence[tuple[int, int]],
    sims: Sequence[float],
    *,
    max_chars: int = MAX_HIGHLIGHT_CHARS,
    context: bool = True,
) -> list[int]:
    """Indices (ascending) of the sentences to highlight in ``text``; ``sims[i]`` is sentence ``i``'s similarity to
    the question. Empty only when there is no sentence. ``max_chars`` and ``context`` (rule 2) are for comparisons."""
    n = len(spans)
    if n == 0:
        return []
    if len(sims) != n:
        raise ValueError(f"{n} sentence spans but {len(sims)} similarities")
    score = [float(s) for s in sims]
    long_enough = [i for i in range(n) if spans[i][1] - spans[i][0] >= MIN_HIGHLIGHT_CHARS] or list(range(n))
    body = [i for i in long_enough if not is_heading_or_intro(text, spans, i)] or long_enough
    ranked = sorted(body, key=lambda i: (-score[i], i))
    seeds = [i for i in ranked[:MAX_HIGHLIGHTS] if score[i] >= score[ranked[0]] - HIGHLIGHT_MARGIN]
    top = max(long_enough, key=lambda i: (score[i], -i))
    # A heading or list introduction that beats every body sentence may be (part of) the answer: it comes right
    # after the best body sentence, before that sentence's context and the second seed.
    framing = [top] if top not in body else []
    order: list[int] = []
    for k, seed in enumerate(seeds):
        order += [seed, *(framing if k == 0 else []), *(_context(text, spans, seed) if context else [])]
    chosen: list[int] = []
    total = 0
    for i in order:
        length = spans[i][1] - spans[i][0]
        if i in chosen or (chosen and (total + length > max_chars or len(chosen) + 1 == n)):
            continue
        chosen.append(i)
        total += length
    return sorted(chosen)


def highlight_spans(text: str, spans: Sequence[tuple[int, int]], sims: Sequence[float]) -> tuple[Span, ...]:
    """The highlighted spans of ``text``: consecutive chosen sentences merged into one span, scored with the best
    similarity among them."""
    out: list[Span] = []
    last = -2
    for i in choose_sentences(text, spans, sims):
        start, end = spans[i]
        if out and i == last + 1:
            out[-1] = Span(out[-1].start, end, max(out[-1].score, float(sims[i])))
        else:
            out.append(Span(start, end, float(sims[i])))
        last = i
    return tuple(out)


def merge_spans(text: str, spans: Sequence[Span], *, across_whitespace: bool = False) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ``text`` covered by ``spans``: clamped to the text, sorted, overlapping ones
    merged (and, with ``across_whitespace``, those separated only by whitespace: one piece for a reader)."""
    merged: list[tuple[int, int]] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(0, span.start), min(len(text), span.end)
        if end <= start:
            continue
        if merged and (start <= merged[-1][1] or (across_whitespace and not text[merged[-1][1] : start].strip())):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: Sequence[Span], before: str, after: str, escape: Callable[[str], str] = str) -> str:
    """``text`` with each highlighted range between ``before`` and ``after``; every piece of text goes through
    ``escape`` (``html.escape`` for HTML), the markers do not."""
    parts: list[str] = []
    last = 0
    for start, end in merge_spans(text, spans):
        parts += [escape(text[last:start]), before, escape(text[start:end]), after]
        last = end
    parts.append(escape(text[last:]))
    return "".join(parts)
