"""OCR of scans and images with the real Tesseract (``./scripts/test.sh`` installs it): recognised text, its pages,
offsets and confidence, mixed PDFs, the cache, the limits, and the message when Tesseract is missing."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from rag.embed.base import Embedder
from rag.embed.fake import FakeEmbedder
from rag.errors import SkipFile
from rag.index import build_index
from rag.ingest import ocr, ocr_cache
from rag.ingest.extraction import Extractor
from rag.ingest.load import load_corpus, load_file
from rag.retrieve.retriever import Retriever
from tests.pdf import write_pdf
from tests.scans import PAGES, Scan, char_accuracy, scanned_look, typeset, write_scan_pdf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scans() -> list[Scan]:
    return [typeset(page) for page in PAGES]


@pytest.fixture
def scan_pdf(tmp_path: Path, scans: list[Scan]) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_scan_pdf(folder / "charte.pdf", [s.image for s in scans])
    return folder / "charte.pdf"


def page_texts(text: str) -> list[str]:
    return text.split("\f")


def test_a_scanned_pdf_is_recognised_page_by_page_with_its_confidence(scan_pdf: Path, scans: list[Scan]) -> None:
    document = load_file(scan_pdf, "charte.pdf", ocr_cache=scan_pdf.parent.parent / "index" / "ocr")
    assert len(document.page_starts) == 3
    for number, (text, scan) in enumerate(zip(page_texts(document.text), scans, strict=True), start=1):
        assert char_accuracy(text, scan.text) >= 0.98, (number, text)
        assert document.text[document.page_starts[number - 1] :].startswith(text)
    assert [page for page, _ in document.info.ocr] == [1, 2, 3]
    assert all(80 <= confidence <= 100 for _, confidence in document.info.ocr)
    assert "élèves du collège André-Maurois" in document.text and "« Le Cavalier de bronze »" in document.text


def test_a_page_that_looks_scanned_is_recognised(tmp_path: Path, scans: list[Scan]) -> None:
    write_scan_pdf(tmp_path / "copie.pdf", [scanned_look(scans[0].image, degrees=0.7)])
    document = load_file(tmp_path / "copie.pdf", "copie.pdf")
    assert char_accuracy(document.text, scans[0].text) >= 0.95


def test_only_the_pages_without_text_are_recognised_in_a_mixed_pdf(tmp_path: Path, scans: list[Scan]) -> None:
    from pypdf import PdfReader, PdfWriter

    layer = "Compte rendu de la seance du conseil municipal sur le jumelage avec Zelenograd."
    write_pdf(tmp_path / "texte.pdf", [layer])
    write_scan_pdf(tmp_path / "scan.pdf", [scans[2].image])
    writer = PdfWriter()
    for part in ("texte.pdf", "scan.pdf"):
        for page in PdfReader(tmp_path / part).pages:
            writer.add_page(page)
    with open(tmp_path / "mixte.pdf", "wb") as out:
        writer.write(out)
    document = load_file(tmp_path / "mixte.pdf", "mixte.pdf")
    first, second = page_texts(document.text)
    assert first == layer  # the text layer, untouched
    assert char_accuracy(second, scans[2].text) >= 0.98
    assert [page for page, _ in document.info.ocr] == [2]


def test_images_are_read_a_tiff_page_by_page(tmp_path: Path, scans: list[Scan]) -> None:
    first, second, third = (s.image.copy() for s in scans)  # (saving leaves its options on an image)
    first.save(tmp_path / "page.png", dpi=(300, 300))
    second.convert("RGB").save(tmp_path / "page.jpg", dpi=(300, 300), quality=85)
    third.save(tmp_path / "pages.tiff", save_all=True, append_images=[scans[0].image.copy()], dpi=(300, 300))
    documents = {d.info.source: d for d in load_corpus(tmp_path)}
    assert char_accuracy(documents["page.png"].text, scans[0].text) >= 0.98
    assert char_accuracy(documents["page.jpg"].text, scans[1].text) >= 0.98
    tiff = documents["pages.tiff"]
    assert tiff.format == "image" and len(tiff.page_starts) == 2
    assert [char_accuracy(t, s.text) >= 0.98 for t, s in zip(page_texts(tiff.text), [scans[2], scans[0]], strict=True)] == [
        True,
        True,
    ]
    assert [page for page, _ in tiff.info.ocr] == [1, 2]


def test_recognised_text_is_cited_with_its_page_offsets_and_confidence(scan_pdf: Path, tmp_path: Path) -> None:
    build_index(scan_pdf.parent, tmp_path / "index", embedder=FakeEmbedder())
    retriever = Retriever.load(tmp_path / "index", embedder=FakeEmbedder())
    document = retriever.document("charte.pdf")
    for passage in retriever.data.passages:
        span = document.text[passage.start : passage.end]
        assert " ".join(span.split()).replace("- ", "-")[:40] == " ".join(passage.text.split()).replace("- ", "-")[:40]
        assert passage.page == document.page_at(passage.start)
    hit = retriever.search("budget des échanges du comité de jumelage", k=10)[0]
    assert hit.ocr is not None and hit.ocr == document.info.ocr_confidence(hit.page)
    assert hit.citation.endswith(f", OCR {hit.ocr:.0f} %")
    assert hit.to_dict()["ocr"] == hit.ocr


def test_the_question_a_scan_answers_finds_it_on_the_right_page(scan_pdf: Path, tmp_path: Path, real_embedder: Embedder) -> None:
    build_index(scan_pdf.parent, tmp_path / "index", embedder=real_embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=real_embedder)
    for question, page, words in [
        ("Combien d'élèves du collège séjourneront à Zelenograd ?", 1, "vingt-quatre élèves"),
        ("What is the efficiency of the urban heating network?", 2, "85 %"),
        ("Why was the school exchange with Zelenograd postponed?", 3, "postponed"),
    ]:
        hit = retriever.search(question, k=3)[0]
        assert hit.page == page and words in hit.text, (question, hit.citation, hit.text)


def test_a_rebuild_recognises_nothing_again(scan_pdf: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    index = tmp_path / "index"
    with caplog.at_level(logging.INFO, logger="rag"):
        build_index(scan_pdf.parent, index, embedder=FakeEmbedder())
    assert "3 page(s) recognised by OCR" in caplog.text
    cached = sorted((index / ocr_cache.FOLDER).rglob("*.json"))
    assert len(cached) == 4  # three pages and the marker
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rag"):
        build_index(scan_pdf.parent, index, embedder=FakeEmbedder())
    assert "recognised by OCR" not in caplog.text
    assert sorted((index / ocr_cache.FOLDER).rglob("*.json")) == cached
    # The file gone, a full build drops its pages from the cache.
    (scan_pdf.parent / "notes.txt").write_text("Un texte qui reste dans le corpus, pour qu'il ne soit pas vide.\n")
    scan_pdf.unlink()
    build_index(scan_pdf.parent, index, embedder=FakeEmbedder())
    assert not [p for p in (index / ocr_cache.FOLDER).iterdir() if p.is_dir()]


def test_without_tesseract_a_scan_is_skipped_with_the_line_that_installs_it(
    scan_pdf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the reader's child inherits it: no tesseract program
    (scan_pdf.parent / "texte.txt").write_text("Un document de texte, lu sans OCR.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag"):
        documents = load_corpus(scan_pdf.parent)
    assert [d.info.source for d in documents] == ["texte.txt"]
    line = next(r.getMessage() for r in caplog.records if "charte.pdf" in r.getMessage())
    assert "no text layer" in line and ocr.APT_LINE in line


def test_a_page_that_takes_too_long_stops_the_reader_and_its_tesseract(scan_pdf: Path, tmp_path: Path) -> None:
    cache = tmp_path / "ocr"
    with (
        Extractor(seconds=60, seconds_per_mib=0, seconds_per_page=0.2) as extractor,
        pytest.raises(SkipFile, match="recognising page 1 by OCR took longer"),
    ):
        extractor.read(scan_pdf, "pdf", "0" * 64, cache)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-x", "tesseract"], capture_output=True, text=True).stdout
    assert not left.strip(), "the stopped reader's Tesseract is still running"
    assert not any(p.name.startswith("tesseract") for p in cache.rglob("*.json"))


def test_each_page_is_cached_as_soon_as_it_is_recognised(scan_pdf: Path, tmp_path: Path) -> None:
    """A scan stopped after its first page continues from the second (the first is in the cache)."""
    cache = tmp_path / "ocr"
    started: list[int] = []
    job = ocr_cache.OcrJob(str(cache), "a" * 64, started.append)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(scan_pdf))
    try:
        job.run([0], lambda i: ocr.render_pdf_page(pdf, i))
        pages = job.run([0, 1], lambda i: ocr.render_pdf_page(pdf, i))
    finally:
        pdf.close()
    assert started == [0, 1] and set(pages) == {0, 1}


def test_the_engine_names_tesseract_its_languages_and_resolution() -> None:
    engine = ocr.engine()
    assert engine.startswith("tesseract-") and "fra+eng" in engine and "300dpi" in engine
    assert ocr.missing() is None, "./scripts/test.sh installs Tesseract with its French and English models"
    assert shutil.which("tesseract")
