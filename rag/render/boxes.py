"""Where a span of a document's text is drawn on its page: one rectangle per line it covers.

Offsets into the document's text are the spine. For a page with a text layer, the document's text of that page
(pypdf's) is aligned character by character with PDFium's characters, which carry their boxes: letters and digits
compared after NFKC (a ligature ``ﬁ`` is ``fi``), whitespace ignored, so every character of the span that PDFium also
has gets its own box. For a page recognised by OCR, the words Tesseract gave (with their offsets into the same
text, ``rag.ingest.ocr``) carry their boxes. Rectangles are fractions of the page's width and height, from its top
left corner, as the page is displayed (its rotation applied).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from rag.ingest import ocr_cache
from rag.types import Document

Rect = tuple[float, float, float, float]  # left, top, right, bottom: fractions of the page's width and height


@dataclass(frozen=True)
class Glyph:
    """A character of the page's text (``offset`` in the document's text) and where it is drawn."""

    offset: int
    rect: Rect


@dataclass(frozen=True)
class PageLayout:
    """The characters of one page with their boxes; ``aspect`` is the page's height / width as displayed."""

    page: int  # 1-based
    aspect: float
    glyphs: tuple[Glyph, ...]
    recognised: bool  # boxes from OCR words (one box for the characters of a word) rather than a text layer

    def lines(self, start: int, end: int) -> list[Rect]:
        """One rectangle per line of the glyphs whose offsets fall in ``[start, end)``, in reading order."""
        return merge_lines(g.rect for g in self.glyphs if start <= g.offset < end)

    def coverage(self, start: int, end: int, text: str, offset: int = 0) -> float:
        """The share of the span's letters and digits that have a box (1.0: every one is marked); ``text`` starts at
        ``offset`` of the document's text."""
        wanted = {i for i in range(max(start, offset), min(end, offset + len(text))) if text[i - offset].isalnum()}
        if not wanted:
            return 1.0
        return len(wanted & {g.offset for g in self.glyphs}) / len(wanted)


def page_text_range(document: Document, page: int) -> tuple[int, int]:
    """``[start, end)`` of page ``page`` (1-based) in the document's text, without the form feed that ends it."""
    starts = document.page_starts
    if not 1 <= page <= len(starts):
        raise ValueError(f"{document.info.source} has no page {page}")
    end = starts[page] - 1 if page < len(starts) else len(document.text)
    return starts[page - 1], end


@dataclass(frozen=True)
class PageRef:
    """One page of an indexed document's file: what finding its glyphs needs (sent to the renderer's process)."""

    path: str
    format: str  # "pdf" or "image"
    sha256: str
    page: int  # 1-based
    start: int  # of the page's text in the document's text
    text: str  # the page's text, as indexed
    recognised: bool  # its text was recognised by OCR

    @classmethod
    def of(cls, path: Path, document: Document, page: int) -> PageRef:
        start, end = page_text_range(document, page)
        recognised = document.info.ocr_confidence(page) is not None
        return cls(str(path), document.format, document.sha256, page, start, document.text[start:end], recognised)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def path_obj(self) -> Path:
        return Path(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "sha256": self.sha256, "page": self.page,
                "start": self.start, "text": self.text, "recognised": self.recognised}  # fmt: skip


def layout(ref: PageRef, ocr_folder: str | None) -> PageLayout:
    """The glyphs of the page (a PDF page, or an image read by OCR)."""
    recognised = None
    if ref.recognised and ocr_folder is not None:
        recognised = ocr_cache.find(ocr_folder, ref.sha256, ref.page - 1, ref.text)
    if recognised is not None:
        aspect = recognised.height / max(recognised.width, 1)
        glyphs = tuple(
            Glyph(ref.start + i, (w.left / recognised.width, w.top / recognised.height, w.right / recognised.width,
                                  w.bottom / recognised.height))
            for w in recognised.words for i in range(w.start, w.end)
        )  # fmt: skip
        return PageLayout(ref.page, aspect, glyphs, recognised=True)
    if ref.format != "pdf":
        return PageLayout(ref.page, 1.0, (), recognised=False)  # an image whose recognition is no longer cached
    return _text_layer(ref.path_obj, ref.page, ref.start, ref.text)


def _text_layer(path: Path, page: int, start: int, text: str) -> PageLayout:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        handle = pdf[page - 1]
        textpage = handle.get_textpage()
        try:
            width, height = handle.get_size()
            chars = _pdfium_chars(handle, textpage, width, height)
        finally:
            textpage.close()
            handle.close()
    finally:
        pdf.close()
    ours = [(start + i, ch) for i, ch in enumerate(text)]
    matched = align(ours, [(k, ch) for k, (ch, _) in enumerate(chars)])
    glyphs = tuple(Glyph(offset, chars[k][1]) for offset, k in sorted(matched.items()))
    return PageLayout(page, height / max(width, 1.0), glyphs, recognised=False)


def _pdfium_chars(page: Any, textpage: Any, width: float, height: float) -> list[tuple[str, Rect]]:
    """Every character of the page with its box as displayed (PDFium's page-to-device transform: rotation and
    crop box applied), as fractions of the page's size."""
    import ctypes

    import pypdfium2.raw as raw

    # Device units: a large virtual bitmap, so that rounding to whole device pixels costs nothing visible.
    size_x, size_y = round(width * 20), round(height * 20)
    x, y = ctypes.c_int(), ctypes.c_int()

    def device(px: float, py: float) -> tuple[float, float]:
        raw.FPDF_PageToDevice(page.raw, 0, 0, size_x, size_y, 0, px, py, ctypes.byref(x), ctypes.byref(y))
        return x.value / size_x, y.value / size_y

    out: list[tuple[str, Rect]] = []
    for k in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(textpage.raw, k)
        # PDFium gives a hyphen that ends a line as U+0002; the indexed text has it as "-"
        ch = "-" if code == 2 else chr(code) if 0 < code < 0x110000 else ""
        if not ch or ch.isspace():
            out.append((ch, (0.0, 0.0, 0.0, 0.0)))
            continue
        left, bottom, right, top = textpage.get_charbox(k, loose=True)
        (x0, y0), (x1, y1) = device(left, top), device(right, bottom)
        out.append((ch, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))))
    return out


def align(ours: Sequence[tuple[int, str]], theirs: Sequence[tuple[int, str]]) -> dict[int, int]:
    """Which key of ``theirs`` each key of ``ours`` corresponds to: the two texts' letters, digits and punctuation
    (after NFKC, whitespace dropped) aligned by longest common blocks (difflib, without its junk heuristic)."""
    a_keys, a_text = _expanded(ours)
    b_keys, b_text = _expanded(theirs)
    matcher = SequenceMatcher(None, a_text, b_text, autojunk=False)
    matched: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            matched.setdefault(a_keys[block.a + i], b_keys[block.b + i])
    return matched


def _expanded(chars: Iterable[tuple[int, str]]) -> tuple[list[int], str]:
    keys: list[int] = []
    parts: list[str] = []
    for key, ch in chars:
        for piece in unicodedata.normalize("NFKC", ch):
            if not piece.isspace():
                keys.append(key)
                parts.append(piece)
    return keys, "".join(parts)


def merge_lines(rects: Iterable[Rect]) -> list[Rect]:
    """Boxes in reading order merged into one rectangle per line: a box joins the line when it overlaps it by half
    its height and does not go back to its left (a new column, or the next line)."""
    lines: list[list[float]] = []
    for left, top, right, bottom in rects:
        if right <= left or bottom <= top:
            continue
        if lines:
            line = lines[-1]
            overlap = min(bottom, line[3]) - max(top, line[1])
            if overlap >= 0.5 * min(bottom - top, line[3] - line[1]) and left >= line[0] - 1e-6:
                line[:] = [min(line[0], left), min(line[1], top), max(line[2], right), max(line[3], bottom)]
                continue
        lines.append([left, top, right, bottom])
    return [(a, b, c, d) for a, b, c, d in lines]
