"""The page view: offsets into the document's text → character boxes (exact against PDFium's own text positions),
lines, highlights mapped back to the text, the drawn page, and what the service refuses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.ingest.chunk import chunk_with_offsets
from rag.ingest.load import load_file
from rag.ingest.sentences import split_sentences
from rag.render.boxes import PageRef, align, layout, merge_lines
from rag.render.page import marks
from rag.render.service import PageUnavailable, PageViews
from rag.retrieve.retriever import Retriever
from tests.pdf import write_pdf

PAGE_1 = (
    "Deliberation du conseil municipal de Besancon\n"
    "Le conseil approuve la convention de cooperation decentra-\n"
    "lisee avec la ville de Kherson, signee le 3 juillet 2025.\n"
    "Elle prevoit une aide aux ecoles et aux hopitaux de la region.\n"
    "\n"
    "Le budget alloue a la cooperation s'eleve a 45 000 euros pour\n"
    "l'annee 2026 ; il est inscrit au chapitre des relations\n"
    "internationales. Le maire est charge de son execution."
)
PAGE_2 = (
    "Annexe : calendrier des echanges entre les deux villes.\n"
    "Une delegation de Kherson sera recue a Besancon en septembre,\n"
    "et des agents municipaux de Besancon se rendront en Ukraine\n"
    "des que les conditions de securite le permettront. Les frais\n"
    "de voyage sont pris en charge par la ville d'accueil."
)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_pdf(folder / "deliberation.pdf", [PAGE_1, PAGE_2])
    return folder / "deliberation.pdf"


def pdfium_positions(path: Path, page: int, needle: str) -> list[tuple[float, float, float, float]]:
    """The boxes of ``needle``'s characters as PDFium places them, found by PDFium's own search (independent of
    rag's alignment), as fractions of the page from its top left."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    handle = document[page - 1]
    textpage = handle.get_textpage()
    width, height = handle.get_size()
    found = textpage.search(needle, match_case=True).get_next()
    assert found is not None, needle
    index, count = found
    import pypdfium2.raw as raw

    boxes = []
    for k in range(index, index + count):
        left, bottom, right, top = textpage.get_charbox(k, loose=True)
        if not chr(raw.FPDFText_GetUnicode(textpage.raw, k)).isspace():
            boxes.append((left / width, 1 - top / height, right / width, 1 - bottom / height))
    textpage.close()
    handle.close()
    document.close()
    return boxes


def test_every_character_of_a_text_layer_page_gets_its_own_box_exactly(pdf: Path) -> None:
    document = load_file(pdf, pdf.name)
    for page, text in ((1, PAGE_1), (2, PAGE_2)):
        ref = PageRef.of(pdf, document, page)
        found = layout(ref, None)
        assert found.coverage(ref.start, ref.end, ref.text, ref.start) == 1.0
        for line in text.split("\n"):
            if not line:
                continue
            at = document.text.index(line, ref.start)
            line = line.removesuffix("-")  # (PDFium's search does not match a hyphen that ends a line)
            ours = [g.rect for g in found.glyphs if at <= g.offset < at + len(line)]
            theirs = pdfium_positions(pdf, page, line)
            assert len(ours) == len(theirs) == len(line.replace(" ", ""))
            for a, b in zip(ours, theirs, strict=True):
                assert a == pytest.approx(b, abs=2e-3)  # (device rounding: 1/20 of a point)


def test_a_passage_is_marked_line_by_line_and_its_sentence_more_strongly(pdf: Path) -> None:
    document = load_file(pdf, pdf.name)
    passage, offsets = next((p, o) for p, o in chunk_with_offsets(document) if "45 000 euros" in p.text)
    sentences = split_sentences(passage.text)
    best = next(s for s in sentences if "45 000" in passage.text[s[0] : s[1]])
    raw = [offsets.span(*best)]
    assert " ".join(document.text[raw[0][0] : raw[0][1]].split()) == " ".join(passage.text[best[0] : best[1]].split())
    ref = PageRef.of(pdf, document, passage.page or 1)
    drawn = marks(ref, (passage.start, passage.end), raw, layout(ref, None))
    assert drawn.coverage == 1.0 and not drawn.recognised
    lines = [line for line in PAGE_1.split("\n") if line and document.text.index(line) >= passage.start]
    lines = [line for line in lines if document.text.index(line) < passage.end]
    assert len(drawn.passage) == len(lines)
    for rect, line in zip(drawn.passage, lines, strict=True):
        chars = pdfium_positions(pdf, 1, line.removesuffix("-"))
        assert rect[0] == pytest.approx(min(c[0] for c in chars), abs=2e-3)
        if not line.endswith("-"):  # (the hyphen is marked too, beyond what the search found)
            assert rect[2] == pytest.approx(max(c[2] for c in chars), abs=2e-3)
        else:
            assert rect[2] > max(c[2] for c in chars)
    tops = [r[1] for r in drawn.passage]
    assert tops == sorted(tops)
    # the sentence's rectangles lie within the passage's lines
    for s in drawn.sentences:
        assert any(p[0] - 1e-6 <= s[0] and s[2] <= p[2] + 1e-6 and p[1] - 1e-6 <= s[1] for p in drawn.passage)


def test_highlights_map_back_through_undone_hyphenation(pdf: Path) -> None:
    document = load_file(pdf, pdf.name)
    passage, offsets = next((p, o) for p, o in chunk_with_offsets(document) if "decentralisee" in p.text)
    s = passage.text.index("decentralisee")
    start, end = offsets.span(s, s + len("decentralisee"))
    assert document.text[start:end] == "decentra-\nlisee"
    with pytest.raises(ValueError, match="no document span"):
        offsets.span(3, 3)


def test_alignment_survives_ligatures_and_missing_characters() -> None:
    ours = list(enumerate("office efficace"))
    theirs = list(enumerate("o\ufb03ce e\ufb03cace"))  # PDFium gives the ligature "ﬃ" as one character
    matched = align(ours, theirs)
    assert [matched[i] for i in range(3)] == [0, 1, 1] and matched[3] == 1 and matched[4] == 2
    assert align(list(enumerate("abc")), list(enumerate("a c"))) == {0: 0, 2: 2}


def test_boxes_merge_into_one_rectangle_per_line() -> None:
    boxes = [(0.1, 0.10, 0.2, 0.12), (0.21, 0.10, 0.3, 0.12), (0.1, 0.13, 0.25, 0.15), (0.3, 0.3, 0.3, 0.4)]
    assert merge_lines(boxes) == [(0.1, 0.10, 0.3, 0.12), (0.1, 0.13, 0.25, 0.15)]


def test_the_service_draws_only_indexed_unchanged_files_and_caches(pdf: Path, tmp_path: Path) -> None:
    from PIL import Image

    (pdf.parent / "notes.txt").write_text("Une note sans pages, sur le jumelage avec Kherson et ses écoles.\n")
    build_index(pdf.parent, tmp_path / "index", embedder=FakeEmbedder())
    retriever = Retriever.load(tmp_path / "index", embedder=FakeEmbedder())
    hit = retriever.search("budget de la cooperation en 2026", k=1, sources=["deliberation.pdf"])[0]
    views = PageViews(tmp_path / "index")
    try:
        spans = [(s.start, s.end) for s in hit.highlights]
        view = views.view(retriever, hit.id, spans, width=800)
        assert views.view(retriever, hit.id, spans, width=800) is view  # cached
        image = Image.open(io.BytesIO(view.png))
        assert image.width == 800 and view.marks["coverage"] == 1.0 and view.marks["passage"]
        # a marked pixel is tinted, one far from the marks is white
        left, top, right, bottom = view.marks["sentences"][0]
        middle = image.getpixel((int((left + right) / 2 * image.width), int((top + bottom) / 2 * image.height) - 2))
        assert middle != (255, 255, 255)
        assert image.getpixel((image.width - 5, image.height - 5)) == (255, 255, 255)
        with pytest.raises(PageUnavailable, match="no passage"):
            views.view(retriever, "deliberation.pdf:0-1", [])
        with pytest.raises(PageUnavailable, match="not within"):
            views.view(retriever, hit.id, [(0, 10**6)])
        with pytest.raises(PageUnavailable, match="is on page"):
            views.view(retriever, hit.id, [], page=9)
        note = next(p for p in retriever.data.passages if p.source == "notes.txt")
        with pytest.raises(PageUnavailable, match="no pages"):
            views.view(retriever, note.id, [])
        write_pdf(pdf, [PAGE_2, PAGE_1])  # the file changed since it was indexed: its offsets point elsewhere
        with pytest.raises(PageUnavailable, match="changed since it was indexed"):
            views.view(retriever, hit.id, spans, width=700)
    finally:
        views.close()
