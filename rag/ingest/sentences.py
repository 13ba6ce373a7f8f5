"""Sentence boundaries inside a passage, as ``[start, end)`` offsets (for highlighting the answering sentence)."""

from __future__ import annotations

import re

# A sentence ends at . ! ? … (possibly followed by a closing quote or bracket) before whitespace, or at a newline.
_END = re.compile(r"[.!?…]+[»\"”)\]]?(?=\s)|\n")
# Abbreviations that end with a period without ending a sentence: "M.", "S.E.M.", "Mme.", "etc." is not one.
_ABBREV = re.compile(r"(?:\b[A-ZÉ]|\b(?:[A-Z]\.)+[A-Z]|\bMme|\bMM|\bDr|\bSt|\bcf|\bp|\bn°|\bart|\bvol|\bno)\.$")


def split_sentences(text: str, min_chars: int = 12) -> list[tuple[int, int]]:
    """Sentence spans covering ``text`` (whitespace trimmed); fragments shorter than ``min_chars`` join a neighbour."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        if match.group() != "\n" and _ABBREV.search(text[max(0, end - 8) : end]):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    trimmed: list[tuple[int, int]] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s:
            continue
        if trimmed:
            gap = text[trimmed[-1][1] : s]
            short = e - s < min_chars or trimmed[-1][1] - trimmed[-1][0] < min_chars
            # Fragments join their neighbour, but a short line (heading, list label) stays its own sentence.
            if short and not gap.strip() and ("\n" not in gap or e - s < min_chars):
                trimmed[-1] = (trimmed[-1][0], e)
                continue
        trimmed.append((s, e))
    return trimmed
