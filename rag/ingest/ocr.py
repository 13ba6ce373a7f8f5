"""Text recognition (OCR) of page images with Tesseract: scanned PDF pages and PNG, JPEG or TIFF files.

pytesseract runs the ``tesseract`` program on one page at a time (``fra+eng``, one thread, at a lower priority, with
a time limit); PDF pages are rendered with pypdfium2 at 300 dpi (fewer dots for a page that would exceed
``MAX_PAGE_PIXELS``). Each page's text is built from Tesseract's words, lines and paragraphs, and every word keeps
its ``[start, end)`` in that text, its box in the page image and its confidence: the offsets are what citations
and the page view (``rag.render``) rely on. Everything here runs in the reader's child process
(``rag.ingest.extraction``), under its time and memory limits.

The ``rag[ocr]`` extra installs pytesseract and pypdfium2; Tesseract itself is a system program (``INSTALL``).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import SkipFile

if TYPE_CHECKING:
    from PIL import Image

LANGUAGES = "fra+eng"
DPI = 300
MAX_PAGE_PIXELS = 36_000_000  # an A4 page at 300 dpi is 8.7 million; an A2 poster at 300 dpi is 35 million
MAX_PAGES = 2000  # pages of one file that are recognised; a longer scan is refused (split it)
PAGE_SECONDS = 120  # Tesseract's time for one page, after which it is stopped and the file skipped
NICE = 10  # Tesseract runs at a lower priority: a long scan does not slow the web app or the embedding down
APT_LINE = "apt-get install -y tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng"
PIP_LINE = "pip install 'rag[ocr]'"
OCR_FORMAT = 1  # of OcrPage's stored form (rag.ingest.ocr_cache); part of the cache key


class OcrUnavailable(SkipFile):
    """OCR is needed but Tesseract, its French or English model, or the ``rag[ocr]`` packages are missing."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word: ``[start, end)`` in its page's text, its box in the page image (pixels), its confidence."""

    start: int
    end: int
    left: int
    top: int
    right: int
    bottom: int
    confidence: float  # Tesseract's, 0-100


@dataclass(frozen=True)
class OcrPage:
    """A recognised page: its text (paragraphs separated by a blank line, lines by a newline) and its words."""

    text: str
    words: tuple[Word, ...]
    width: int  # of the page image recognised, in pixels
    height: int

    @property
    def confidence(self) -> float | None:
        """Mean word confidence (0-100), as Tesseract's own mean text confidence; None without words."""
        return sum(w.confidence for w in self.words) / len(self.words) if self.words else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "width": self.width,
            "height": self.height,
            "words": [[w.start, w.end, w.left, w.top, w.right, w.bottom, round(w.confidence, 2)] for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OcrPage:
        words = tuple(Word(int(a), int(b), int(c), int(d), int(e), int(f), float(g)) for a, b, c, d, e, f, g in data["words"])
        return cls(str(data["text"]), words, int(data["width"]), int(data["height"]))


def missing() -> str | None:
    """What is missing for OCR, as a sentence saying how to install it; None when OCR can run."""
    problems = []
    try:
        import pypdfium2  # noqa: F401
        import pytesseract  # noqa: F401
    except ImportError:
        problems.append(PIP_LINE)
    if not _languages() >= set(LANGUAGES.split("+")):
        problems.append(APT_LINE)
    if not problems:
        return None
    return "OCR is not installed; to read scans: " + " and ".join(problems)


@functools.cache
def _languages() -> frozenset[str]:
    """The languages the installed Tesseract knows (none when it is not installed)."""
    import subprocess

    program = shutil.which("tesseract")
    if program is None:
        return frozenset()
    try:
        out = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


@functools.cache
def engine() -> str:
    """What produced the recognised text: Tesseract's version, the languages, the resolution, this module's format.

    Part of the cache key (``rag.ingest.ocr_cache``): another Tesseract, other models or settings recognise again.
    """
    import pytesseract

    return f"tesseract-{pytesseract.get_tesseract_version()}-{LANGUAGES}-{DPI}dpi-{OCR_FORMAT}"


def require() -> None:
    """Raise ``OcrUnavailable`` (saying what to install) unless OCR can run."""
    problem = missing()
    if problem is not None:
        raise OcrUnavailable(problem)


def recognise(image: Image.Image, dpi: float = DPI, threads: int = 1) -> OcrPage:
    """Recognise one page image (any mode; made grayscale)."""
    import pytesseract

    # Tesseract's OpenMP threads: on this kind of machine a second thread gains nothing on a page (1.02 s either
    # way) and takes a core from everything else, so one, unless a caller (the benchmark) asks for more.
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    gray = image.convert("L")
    try:
        data = pytesseract.image_to_data(
            gray, lang=LANGUAGES, config=f"--psm 3 --dpi {round(dpi)}", nice=NICE if os.name == "posix" else 0,
            output_type=pytesseract.Output.DICT, timeout=PAGE_SECONDS,
        )  # fmt: skip
    except RuntimeError as exc:  # pytesseract's timeout
        raise SkipFile(f"recognising a page took longer than {PAGE_SECONDS} s (is it a page of text?)") from exc
    except pytesseract.TesseractError as exc:
        raise SkipFile(f"Tesseract failed on a page ({str(exc)[:200]})") from exc
    return page_from_data(data, gray.width, gray.height)


def page_from_data(data: dict[str, list[Any]], width: int, height: int) -> OcrPage:
    """An ``OcrPage`` from Tesseract's TSV rows (``image_to_data``'s dict): words joined by spaces, lines by newlines,
    paragraphs and blocks by blank lines, so that ``rag.ingest.clean`` joins the lines as it does for PDF text."""
    parts: list[str] = []
    words: list[Word] = []
    length = 0
    previous: tuple[int, int, int] | None = None
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        if int(data["level"][i]) != 5 or not text:
            continue
        where = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        if previous is not None:
            gap = " " if where == previous else "\n" if where[:2] == previous[:2] else "\n\n"
            parts.append(gap)
            length += len(gap)
        previous = where
        left, top = int(data["left"][i]), int(data["top"][i])
        right, bottom = left + int(data["width"][i]), top + int(data["height"][i])
        words.append(Word(length, length + len(text), left, top, right, bottom, max(0.0, float(data["conf"][i]))))
        parts.append(text)
        length += len(text)
    return OcrPage("".join(parts), tuple(words), width, height)


def render_pdf_page(pdf: Any, index: int, dpi: float = DPI) -> tuple[Image.Image, float]:
    """Page ``index`` of an open ``pypdfium2.PdfDocument`` as a grayscale image, and the resolution it got (lower
    than ``dpi`` for a page so large that it would exceed ``MAX_PAGE_PIXELS``)."""
    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = min(dpi / 72, (MAX_PAGE_PIXELS / max(width * height, 1.0)) ** 0.5)
        image = page.render(scale=scale, grayscale=True, may_draw_forms=False).to_pil()
    finally:
        page.close()
    return image, scale * 72


def recognise_pdf(
    path: Path, indices: Iterable[int], started: Callable[[int], None] | None = None, threads: int = 1
) -> list[OcrPage]:
    """Render and recognise the pages ``indices`` (0-based) of a PDF; ``started(i)`` is called before each."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for i in indices:
            if started is not None:
                started(i)
            image, dpi = render_pdf_page(pdf, i)
            pages.append(recognise(image, dpi, threads))
        return pages
    finally:
        pdf.close()


def frame_count(path: Path) -> int:
    """Pages of an image file (frames of a multi-page TIFF; 1 for PNG and JPEG)."""
    with _open_image(path) as image:
        return int(getattr(image, "n_frames", 1))


def image_frame(path: Path, index: int) -> tuple[Image.Image, float]:
    """Frame ``index`` of an image file in grayscale, with its resolution (300 dpi when the file does not say),
    scaled down below ``MAX_PAGE_PIXELS``."""
    with _open_image(path) as image:
        try:
            image.seek(index)
            dpi = _dpi(image.info.get("dpi"))
            pixels = image.width * image.height
            page = image.convert("L")
        except (EOFError, OSError, ValueError) as exc:
            raise SkipFile(f"not a readable image ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    if pixels > MAX_PAGE_PIXELS:
        shrink = (MAX_PAGE_PIXELS / pixels) ** 0.5
        page = page.resize((max(1, int(page.width * shrink)), max(1, int(page.height * shrink))))
        dpi *= shrink
    return page, dpi


def _open_image(path: Path) -> Image.Image:
    """The image, opened lazily (nothing decoded yet). One claiming more pixels than eight pages of
    ``MAX_PAGE_PIXELS`` is refused before it is decoded (a decompression bomb)."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = 4 * MAX_PAGE_PIXELS  # Pillow raises DecompressionBombError at twice this
    try:
        return Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise SkipFile(f"not a readable image ({exc.__class__.__name__}: {str(exc)[:200]})") from exc


def _dpi(value: object) -> float:
    try:
        dpi = float(value[0])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return float(DPI)
    return dpi if 50 <= dpi <= 2400 else float(DPI)
