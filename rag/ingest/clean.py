"""Repair PDF-extracted text into paragraphs, keeping a map from every cleaned character back to the raw text.

The raw text (as decoded or extracted) is never modified; cleaning produces ``Block``s whose characters each
know their offset in the raw text, so any slice of a block maps back to an exact raw ``[start, end)`` span.

What is repaired, and how each case is decided:
- hard-wrapped lines are joined into paragraphs; a line break stays a paragraph break after a heading-like
  short line, a sentence-final short line, or before a bullet;
- end-of-line hyphenation is undone (``collecti-\\nvités`` → ``collectivités``) unless the document's own
  vocabulary shows the hyphen is real (``franco-\\nrusse`` → ``franco-russe`` because "franco-russe" occurs);
- paragraphs split mid-sentence by a blank line are re-joined;
- bullets stay at the start of their own line, list items stay with their introduction;
- markdown emphasis and heading marks are dropped; whitespace runs become one space; text is NFC.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

BULLET_RE = re.compile(r"^\s*(?:[-•‣▪●◦*–—]|\d{1,2}[.)]|[a-z][.)])\s+")
TERMINAL = '.!?:;»)"”…'
SENTENCE_END = '.!?…»"”'
# Words after which a line break cannot end a paragraph (a sentence never ends on them).
_FUNCTION_WORDS = (
    "de des du la le les l d et ou à au aux en pour par sur sous dans avec un une son sa ses leur leurs "
    "ce cette ces qui que dont où ne pas plus très entre vers chez of the and to in for with a an by on"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
WORD_RE = re.compile(r"[^\W\d_]+(?:[-‑‐][^\W\d_]+)*")
# A line longer than this was not hard-wrapped by a PDF extractor: each line is a paragraph of its own.
UNWRAPPED_WIDTH = 160


@dataclass
class Block:
    """A cleaned paragraph: ``text[i]`` came from raw ``[pos[i], ends[i])`` (wider than one char after NFC)."""

    text: str
    pos: list[int]
    ends: list[int]
    bullet: bool = False
    heading: bool = False

    @property
    def raw_start(self) -> int:
        return self.pos[0]

    @property
    def raw_end(self) -> int:
        return self.ends[-1]

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw ``[start, end)`` of the cleaned slice ``text[start:end]`` (end > start)."""
        return self.pos[start], self.ends[end - 1]


class _Builder:
    """Accumulates cleaned characters with their raw offsets."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.pos: list[int] = []

    def add(self, raw: str, start: int, end: int) -> None:
        for i in range(start, end):
            self.chars.append(raw[i])
            self.pos.append(i)

    def space(self, at: int) -> None:
        if self.chars and self.chars[-1] != " ":
            self.chars.append(" ")
            self.pos.append(at)

    def drop_trailing_hyphen(self) -> None:
        if self.chars and self.chars[-1] in "-‐":
            self.chars.pop()
            self.pos.pop()

    def strip(self) -> None:
        while self.chars and self.chars[-1].isspace():
            self.chars.pop()
            self.pos.pop()

    def build(self) -> tuple[str, list[int], list[int]]:
        return "".join(self.chars), self.pos, [p + 1 for p in self.pos]


@dataclass
class _Line:
    start: int  # raw offset of first non-space char
    end: int  # raw offset after last non-space char
    text: str

    @property
    def blank(self) -> bool:
        return not self.text


def _lines(raw: str, markdown: bool) -> list[_Line]:
    lines = []
    offset = 0
    for piece in raw.splitlines(keepends=True):
        body = piece.rstrip("\r\n\f\v\x1c\x1d\x1e\x85\u2028\u2029")
        lstrip = len(body) - len(body.lstrip())
        text = body.strip()
        start = offset + lstrip
        if markdown:
            match = re.match(r"#{1,6}\s+", text)
            if match:
                start += match.end()
                text = text[match.end() :]
        lines.append(_Line(start, start + len(text), text))
        offset += len(piece)
    return lines


def _vocabulary(raw: str) -> set[str]:
    return {w.casefold().replace("‑", "-").replace("‐", "-") for w in WORD_RE.findall(raw)}


def _keep_hyphen(left: str, right: str, vocab: set[str]) -> bool:
    """Decide whether ``left-\\nright`` is a real compound (keep ``-``) or a syllable break (drop it)."""
    lw = WORD_RE.findall(left)
    rw = WORD_RE.findall(right)
    if not lw or not rw:
        return True
    a, b = lw[-1].casefold(), rw[0].casefold()
    if not right[:1].islower():
        return True  # "Jean-\nPierre", "Nord-\nEst": an upper-case continuation is a compound
    # "groupes-\npays" is kept when the document writes "groupe-pays" elsewhere (plural of the first part).
    return f"{a}-{b}" in vocab or f"{a.rstrip('sx')}-{b}" in vocab


def _is_heading(line: _Line, nxt: _Line, width: float) -> bool:
    text = line.text
    if not text or text[-1] in TERMINAL or text[-1] in ",-":
        return False
    words = text.split()
    if words[-1].casefold().strip("’'") in FUNCTION_WORDS:
        return False
    return len(text) < 0.6 * width and nxt.text[:1].isupper()


def _break_between(line: _Line, nxt: _Line, width: float, unwrapped: bool) -> bool:
    """True when the line break between ``line`` and ``nxt`` (no blank line between) ends a paragraph."""
    if BULLET_RE.match(nxt.text):
        return True
    if line.text.endswith(("-", "‐")) and nxt.text[:1].islower():
        return False
    if nxt.text[:1].islower():
        return False
    if unwrapped:
        return True
    if _is_heading(line, nxt, width):
        return True
    # A short line that ends a sentence is the last line of its paragraph.
    return line.text[-1] in SENTENCE_END and len(line.text) < 0.7 * width and nxt.text[:1].isupper()


def _continues(prev: str, nxt: _Line) -> bool:
    """True when a paragraph that a blank line ended is really cut mid-sentence and goes on in ``nxt``."""
    if not prev or not nxt.text or BULLET_RE.match(nxt.text):
        return False
    if prev[-1] in TERMINAL:
        return False
    if prev.endswith(("-", "‐")) and nxt.text[:1].islower():
        return True
    last = prev.split()[-1].casefold().strip("’'")
    if prev[-1] == "," or last in FUNCTION_WORDS:
        return True
    return nxt.text[:1].islower()


def _append_line(b: _Builder, raw: str, line: _Line, vocab: set[str], markdown: bool) -> None:
    """Append a line's text, joining it to what precedes (undoing end-of-line hyphenation)."""
    if b.chars:
        prev = "".join(b.chars[-40:])
        if prev.endswith(("-", "‐")) and line.text[:1].islower() and len(prev) > 1 and prev[-2].isalpha():
            if not _keep_hyphen(prev[:-1], line.text, vocab):
                b.drop_trailing_hyphen()
        else:
            b.space(line.start - 1)
    i = line.start
    text_end = line.end
    while i < text_end:
        ch = raw[i]
        if markdown and raw.startswith(("**", "__"), i):
            i += 2
            continue
        if ch.isspace():
            if not _hyphen_gap(b, raw, i, text_end, vocab):
                b.space(i)
            while i < text_end and raw[i].isspace():
                i += 1
            continue
        b.add(raw, i, i + 1)
        i += 1


def _hyphen_gap(b: _Builder, raw: str, i: int, end: int, vocab: set[str]) -> bool:
    """True for the space in "franco- russe" when the document also writes "franco-russe"."""
    if len(b.chars) < 2 or b.chars[-1] != "-" or not b.chars[-2].isalpha():
        return False
    left = WORD_RE.findall("".join(b.chars[-40:-1]))
    right = WORD_RE.findall(raw[i : min(end, i + 40)])
    return bool(left and right) and f"{left[-1].casefold()}-{right[0].casefold()}" in vocab


def _wrap_width(lines: Iterable[_Line]) -> float:
    lengths = sorted(len(ln.text) for ln in lines if ln.text)
    if not lengths:
        return 80.0
    # The long lines of a wrapped text all reach about the same width: use a high quantile.
    return float(lengths[int(0.9 * (len(lengths) - 1))]) or 80.0


def _nfc(text: str, pos: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """NFC-normalise while keeping the offset map: each starter + combining marks is normalised as a unit."""
    if unicodedata.is_normalized("NFC", text):
        return text, pos, ends
    out: list[str] = []
    out_pos: list[int] = []
    out_ends: list[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):
            j += 1
        norm = unicodedata.normalize("NFC", text[i:j])
        out.append(norm)
        out_pos.extend([pos[i]] * len(norm))
        out_ends.extend([ends[j - 1]] * len(norm))
        i = j
    return "".join(out), out_pos, out_ends


def clean(raw: str, *, markdown: bool = False) -> list[Block]:
    """Split raw extracted text into cleaned paragraphs, each mapped back to raw offsets."""
    lines = _lines(raw, markdown)
    width = _wrap_width(lines)
    unwrapped = width > UNWRAPPED_WIDTH
    vocab = _vocabulary(raw)

    blocks: list[Block] = []
    b = _Builder()
    bullet = False
    after_blank = False

    def flush() -> None:
        nonlocal b, bullet
        b.strip()
        text, pos, ends = b.build()
        if text.strip():
            text, pos, ends = _nfc(text, pos, ends)
            blocks.append(Block(text, pos, ends, bullet=bullet))
        b = _Builder()
        bullet = False

    prev_line: _Line | None = None
    for line in lines:
        if line.blank:
            after_blank = True
            continue
        if prev_line is not None:
            if after_blank:
                new_paragraph = not _continues("".join(b.chars).rstrip(), line)
            else:
                new_paragraph = _break_between(prev_line, line, width, unwrapped)
            if new_paragraph:
                flush()
        if not b.chars:
            bullet = bool(BULLET_RE.match(line.text))
        _append_line(b, raw, line, vocab, markdown)
        prev_line = line
        after_blank = False
    flush()
    for block in blocks:
        block.heading = _looks_like_heading(block.text)
    return blocks


def _looks_like_heading(text: str) -> bool:
    return len(text) < 90 and text[-1] not in TERMINAL + "," and not BULLET_RE.match(text)
