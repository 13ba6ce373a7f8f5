"""A page drawn as a PNG with the cited passage's lines marked and its answering sentences marked more strongly.

PDF pages are rendered by PDFium (pypdfium2), images are their own page; the size is bounded (``MAX_WIDTH``,
``MAX_PIXELS``). Rendering is deterministic: the same page, width and marks give the same bytes (the web app caches
them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.render.boxes import PageLayout, PageRef, Rect

if TYPE_CHECKING:
    from PIL import Image

MAX_WIDTH = 1600  # pixels; the web app asks for 1000
MAX_PIXELS = 4_000_000
PASSAGE = (250, 204, 21, 80)  # translucent yellow over the passage's lines
SENTENCE = (234, 88, 12, 110)  # stronger orange over the answering sentences
BAR = (202, 138, 4, 255)  # a bar in the margin beside the passage


@dataclass(frozen=True)
class Marks:
    """What is marked on one page: rectangles (fractions of the page) of the passage's and the sentences' lines."""

    page: int
    passage: tuple[Rect, ...]
    sentences: tuple[Rect, ...]
    coverage: float  # share of the passage's letters and digits on this page that have a box
    recognised: bool  # boxes from OCR words
    aspect: float = field(default=1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page, "passage": [list(r) for r in self.passage], "sentences": [list(r) for r in self.sentences],
            "coverage": round(self.coverage, 4), "recognised": self.recognised, "aspect": self.aspect,
        }  # fmt: skip


def marks(
    ref: PageRef, passage: tuple[int, int], sentences: Sequence[tuple[int, int]], found: PageLayout
) -> Marks:
    """The lines of ``passage`` and of ``sentences`` (``[start, end)`` spans of the document's text) on the page."""
    start, end = max(passage[0], ref.start), min(passage[1], ref.end)
    lines = found.lines(start, end)
    strong = [rect for s, e in sentences for rect in found.lines(max(s, ref.start), min(e, ref.end))]
    coverage = found.coverage(start, end, ref.text, ref.start) if end > start else 1.0
    return Marks(ref.page, tuple(lines), tuple(strong), coverage, found.recognised, found.aspect)


def base_image(path: Path, fmt: str, page: int, width: int) -> Image.Image:
    """The page without marks, in RGB, ``width`` pixels wide at most (and within ``MAX_PIXELS``)."""
    width = max(100, min(width, MAX_WIDTH))
    if fmt == "pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            if not 1 <= page <= len(pdf):
                raise ValueError(f"{path.name} has no page {page}")
            handle = pdf[page - 1]
            try:
                w, h = handle.get_size()
                scale = min(width / w, (MAX_PIXELS / max(w * h, 1.0)) ** 0.5)
                rendered: Image.Image = handle.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
                return rendered
            finally:
                handle.close()
        finally:
            pdf.close()
    from rag.ingest.ocr import image_frame

    frame, _ = image_frame(path, page - 1)
    scale = min(width / frame.width, (MAX_PIXELS / max(frame.width * frame.height, 1)) ** 0.5)
    return frame.resize((max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))).convert("RGB")


def draw(image: Image.Image, drawn: Marks) -> Image.Image:
    """``image`` with the passage's lines tinted, a bar in the margin beside them, and the sentences' lines tinted
    more strongly (a little padding around each line, so that accents and descenders stay inside)."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    w, h = image.size
    pad = max(1, round(h * 0.002))

    def box(rect: Rect) -> tuple[int, int, int, int]:
        left, top, right, bottom = rect
        return round(left * w) - pad, round(top * h) - pad, round(right * w) + pad, round(bottom * h) + pad

    for rect in drawn.passage:
        pen.rectangle(box(rect), fill=PASSAGE)
    for rect in drawn.sentences:
        pen.rectangle(box(rect), fill=SENTENCE)
    if drawn.passage:
        top = min(box(r)[1] for r in drawn.passage)
        bottom = max(box(r)[3] for r in drawn.passage)
        left = min(box(r)[0] for r in drawn.passage)
        x = max(2, left - 4 * pad - 6)
        pen.rectangle((x, top, x + max(3, 2 * pad), bottom), fill=BAR)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
