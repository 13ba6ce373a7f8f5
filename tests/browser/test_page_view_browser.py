"""The page view in headless Chromium, on a corpus of a text PDF and a scan, with the real model and Tesseract:
the card's control shows the page, the marks cover the passage's text where PDFium (or OCR) places it, the
answering sentence is marked more strongly, and the route is behind the login."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag.ingest.load import load_file
from tests.browser.conftest import PASSWORD
from tests.browser.screenshot import ask, launch_app
from tests.pdf import write_pdf
from tests.scans import PAGES, typeset, write_scan_pdf
from tests.test_render import PAGE_1, PAGE_2, pdfium_positions

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BUDGET = "Quel budget le conseil de Besancon alloue-t-il a la cooperation avec Kherson en 2026 ?"


@pytest.fixture(scope="module")
def pdf_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("pages")
    corpus = base / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "deliberation.pdf", [PAGE_1, PAGE_2])
    write_scan_pdf(corpus / "charte.pdf", [typeset(page).image for page in PAGES])
    demo, url = launch_app(base / "index", corpus, base / "uploads", auth=("rag", PASSWORD))
    try:
        yield url, corpus
    finally:
        demo.close()


@pytest.fixture
def signed_in(browser: Any, pdf_app: tuple[str, Path]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(pdf_app[0])
    page.get_by_label("username").fill("rag")
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.locator("#rag-question").wait_for()
    yield page
    context.close()


def open_page_view(page: Any, question: str) -> tuple[Any, dict[str, Any], Any]:
    """Ask, open the first card's page view; the card, the marks (the route's JSON) and the page image as drawn."""
    from PIL import Image

    ask(page, question)
    card = page.locator("#rag-results .rag-card").first
    card.locator("details.rag-page summary").click()
    image = card.locator("img.rag-page-img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    src = image.get_attribute("src")
    marks = page.request.get(page.url + src + "&format=json").json()
    png = page.request.get(page.url + src).body()
    assert image.evaluate("img => img.naturalWidth") == Image.open(io.BytesIO(png)).width
    return card, marks, Image.open(io.BytesIO(png)).convert("RGB")


def inside(point: tuple[float, float], rects: list[list[float]], slack: float = 0.002) -> bool:
    x, y = point
    return any(r[0] - slack <= x <= r[2] + slack and r[1] - slack <= y <= r[3] + slack for r in rects)


def test_the_page_of_a_text_pdf_shows_the_passage_where_its_text_is(signed_in: Any, pdf_app: tuple[str, Path]) -> None:
    card, marks, image = open_page_view(signed_in, BUDGET)
    assert "deliberation.pdf" in card.locator(".rag-meta").inner_text() and "45 000 euros" in card.inner_text()
    assert marks["page"] == 1 and marks["coverage"] == 1.0 and not marks["recognised"]
    # Every character of the passage's lines, where PDFium places it, is inside a marked line; the marked lines
    # hold nothing but those lines (their union is no taller than the lines themselves).
    text = load_file(pdf_app[1] / "deliberation.pdf", "deliberation.pdf").text
    passage_lines = [line for line in PAGE_1.split("\n") if line and marks["start"] <= text.index(line) < marks["end"]]
    assert any("45 000 euros" in line for line in passage_lines)
    for line in passage_lines:
        for left, top, right, bottom in pdfium_positions(pdf_app[1] / "deliberation.pdf", 1, line.removesuffix("-")):
            assert inside(((left + right) / 2, (top + bottom) / 2), marks["passage"]), line
    assert len(marks["passage"]) == len(passage_lines)
    # The answering sentence is marked more strongly: its pixels are darker than the passage's other lines'.
    sentence = marks["sentences"][0]
    plain = next(r for r in marks["passage"] if not inside(((r[0] + r[2]) / 2, (r[1] + r[3]) / 2), marks["sentences"]))

    def tint(rect: list[float]) -> float:
        x, y = int(rect[0] * image.width) + 1, int(rect[1] * image.height) + 1  # a corner: background, not ink
        red, green, blue = image.getpixel((x, y))
        return float(765 - red - green - blue)

    assert tint(sentence) > tint(plain) > 0
    assert image.getpixel((image.width - 3, image.height - 3)) == (255, 255, 255)


def test_the_page_of_a_scan_marks_the_recognised_words(signed_in: Any) -> None:
    card, marks, _ = open_page_view(signed_in, "Combien d'élèves du collège séjourneront à Zelenograd ?")
    assert "OCR" in card.locator(".rag-ocr").inner_text() and "OCR" in card.locator(".rag-cite-string").inner_text()
    assert marks["recognised"] and marks["coverage"] == 1.0 and marks["page"] == 1
    # The article's lines, typeset one inch from the left edge, are the lines marked.
    assert all(abs(rect[0] - 1 / 8.27) < 0.02 for rect in marks["passage"])


def test_the_page_is_behind_the_login(signed_in: Any, pdf_app: tuple[str, Path]) -> None:
    ask(signed_in, BUDGET)
    src = signed_in.locator("#rag-results .rag-card img.rag-page-img").first.get_attribute("src")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(pdf_app[0] + src, timeout=30)
    assert refused.value.code == 401
    assert b"Not authenticated" in refused.value.read()
    response = signed_in.request.get(signed_in.url + "rag/page?id=" + "..%2F..%2Fetc%2Fpasswd:0-10")
    assert response.status == 404 and "no passage" in json.loads(response.body())["detail"]
