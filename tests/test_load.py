"""Loading: formats, encodings, the catalogue, and files that must be skipped with a warning."""

from __future__ import annotations

import logging
import random
import re
import zipfile
from pathlib import Path

import pytest

from rag.errors import BadInputError, SkipFile
from rag.ingest import formats
from rag.ingest.formats import read_docx
from rag.ingest.load import load_corpus
from tests.pdf import write_pdf

TEXT = "Les collectivités françaises coopèrent avec leurs homologues. Élue à Besançon."


def one(folder: Path) -> str:
    docs = load_corpus(folder)
    assert len(docs) == 1
    return docs[0].text


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
        TEXT.encode("cp1252"),
        TEXT.encode("utf-16"),  # with BOM
    ],
    ids=["utf8", "utf8-bom", "cp1252", "utf16-bom"],
)
def test_text_encodings_are_decoded(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "a.txt").write_bytes(data)
    assert one(tmp_path) == TEXT


def test_cp1252_typographic_quotes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("l’Ukraine « libre » – œuvre".encode("cp1252"))
    assert one(tmp_path) == "l’Ukraine « libre » – œuvre"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"  \n\t\n ", "no text"),
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("fake.docx", b"PK\x03\x04 not really a zip", "not a valid .docx"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj <<", "PDF"),
    ],
)
def test_unreadable_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, data: bytes, reason: str
) -> None:
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / name).write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs = load_corpus(tmp_path)
    assert [d.info.source for d in docs] == ["good.txt"]
    assert any(name in r.getMessage() and reason in r.getMessage() for r in caplog.records), caplog.text


def test_pdf_pages_are_recorded(tmp_path: Path) -> None:
    write_pdf(tmp_path / "doc.pdf", ["Premiere page sur la cooperation.", "Seconde page sur Kherson."])
    doc = load_corpus(tmp_path)[0]
    assert doc.format == "pdf"
    second = doc.text.index("Seconde")
    assert doc.page_at(0) == 1 and doc.page_at(second) == 2


def test_image_only_pdf_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_pdf(tmp_path / "scan.pdf", [""])
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert load_corpus(tmp_path) == []
    assert "no text layer" in caplog.text


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Premier paragraphe du document.")
    document.add_paragraph("Second paragraphe, sur Kherson.")
    document.save(str(tmp_path / "a.docx"))
    assert one(tmp_path) == "Premier paragraphe du document.\n\nSecond paragraphe, sur Kherson."


def test_html_scripts_and_styles_are_not_indexed(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        "<html><head><title>T</title><style>p{color:red}</style></head><body><h1>Titre</h1>"
        "<p>Un paragraphe utile.</p><script>alert('x')</script><p>Un autre.</p></body></html>",
        encoding="utf-8",
    )
    text = one(tmp_path)
    assert "Un paragraphe utile." in text and "Un autre." in text and "Titre" in text
    assert "alert" not in text and "color" not in text


def test_catalogue_gives_titles_and_missing_entries_fall_back(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text('["a.txt"]\ntitle = "Titre A"\ndate = "2022-09-23"\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "2021-05_note_de-synthese.txt").write_text(TEXT + " Autre.", encoding="utf-8")
    docs = {d.info.source: d.info for d in load_corpus(tmp_path)}
    assert docs["a.txt"].title == "Titre A" and docs["a.txt"].label == "Titre A (2022)"
    assert docs["2021-05_note_de-synthese.txt"].title == "Note de synthese"
    assert docs["2021-05_note_de-synthese.txt"].date == "2021-05"


def test_symlinks_duplicates_and_nested_folders(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret hors du corpus", encoding="utf-8")
    corpus = tmp_path / "corpus"
    deep = corpus / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "copy.txt").write_text(TEXT, encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    sources = [d.info.source for d in load_corpus(corpus)]
    assert sources == ["copy.txt"]  # the nested duplicate and the link to outside are skipped


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")


# -- .docx: the streaming reader gives python-docx's text and refuses bombs -----------------------------------------

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_with_body(path: Path, body: str) -> None:
    """A .docx (python-docx's template) whose body is ``body`` (WordprocessingML, prefix ``w``)."""
    import docx

    docx.Document().save(str(path))
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts["word/document.xml"] = f'<?xml version="1.0"?><w:document {W_NS}><w:body>{body}</w:body></w:document>'.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


RICH_BODY = (
    '<w:p><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">Le </w:t></w:r><w:hyperlink><w:r><w:t>lien</w:t></w:r>'
    '</w:hyperlink><w:r><w:t>auto</w:t><w:noBreakHyphen/><w:t>entrepreneur</w:t><w:cr/><w:ptab/><w:br w:type="page"/>'
    "<w:br/><w:tab/></w:r><!-- note --><w:ins><w:r><w:t>révision</w:t></w:r></w:ins><w:r><w:t>fin</w:t></w:r></w:p>"
    "<w:sdt><w:sdtContent><w:p><w:r><w:t>contrôle de contenu</w:t></w:r></w:p></w:sdtContent></w:sdt><w:p/>"
    '<w:tbl><w:tr><w:trPr><w:gridBefore w:val="1"/></w:trPr><w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr>'
    "<w:p><w:r><w:t>fusionnée</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tr>"
    '<w:tr><w:trPr><w:gridBefore w:val="1"/></w:trPr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc><w:tc><w:p><w:r>'
    "<w:t>d</w:t></w:r></w:p><w:p><w:r><w:t>e</w:t></w:r></w:p></w:tc></w:tr>"
    '<w:tr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>large</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:p>'
    "<w:r><w:t>imbriquée</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc><w:tc><w:p><w:r><w:t>z</w:t></w:r></w:p></w:tc>"
    "</w:tr></w:tbl><w:p><w:r><w:t>Après la table.</w:t></w:r></w:p><w:sectPr/>"
)


def python_docx_text(path: Path) -> str:
    """What rag read from a .docx with python-docx (until the streaming reader replaced it)."""
    import docx

    document = docx.Document(str(path))
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(p for p in paragraphs if p.strip())


def test_docx_text_is_what_python_docx_gives(tmp_path: Path) -> None:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.add_heading("Titre", 1)
    p = document.add_paragraph("Avec ")
    p.add_run("gras").bold = True
    p.add_run("\tune tabulation")
    p.add_run().add_break()
    p.add_run("après un saut de ligne")
    p.add_run().add_break(WD_BREAK.PAGE)
    table = document.add_table(rows=3, cols=3)
    for i in range(3):
        for j in range(3):
            table.cell(i, j).text = f"c{i}{j}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(1, 2).merge(table.cell(2, 2))
    table.cell(1, 0).add_paragraph("deuxième paragraphe de la cellule")
    document.add_paragraph("Après la table.")
    document.save(str(tmp_path / "generated.docx"))
    docx_with_body(tmp_path / "raw.docx", RICH_BODY)
    for name in ("generated.docx", "raw.docx"):
        expected = python_docx_text(tmp_path / name)
        assert read_docx(tmp_path / name) == expected, name
    assert read_docx(tmp_path / "raw.docx") == (
        "Le lien auto-entrepreneur\n\t\n\tfin\n\nAprès la table.\n\nfusionnée | b\n\nfusionnée | d\ne\n\nlarge | large | z"
    ).replace("lien auto", "lienauto")


def test_docx_decompression_bomb_is_refused_before_parsing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """2 MB of empty paragraphs in a 40 KB file (python-docx: 10 s; 20 MB of them took it 167 s and 1.2 GB)."""
    docx_with_body(tmp_path / "bombe.docx", "<w:p><w:r><w:t>x</w:t></w:r></w:p>" + "<w:p/>" * 350_000)
    (tmp_path / "bonne.txt").write_text(TEXT, encoding="utf-8")
    assert (tmp_path / "bombe.docx").stat().st_size < 100_000
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert [d.info.source for d in load_corpus(tmp_path)] == ["bonne.txt"]
    assert "bombe.docx" in caplog.text and "decompression bomb" in caplog.text


def test_docx_limits_on_elements_size_and_spans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.docx"
    docx_with_body(path, "<w:p><w:r><w:t>un paragraphe</w:t></w:r></w:p>" * 1000)
    monkeypatch.setattr(formats, "MAX_XML_ELEMENTS", 2000)
    with pytest.raises(SkipFile, match="more than 2,000 XML elements"):
        read_docx(path)
    monkeypatch.setattr(formats, "MAX_DOCX_XML_BYTES", 10_000)
    with pytest.raises(SkipFile, match="too large"):
        read_docx(path)
    # A cell that claims to span a billion columns would be repeated a billion times.
    docx_with_body(path, '<w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="1000000000"/></w:tcPr><w:p><w:r><w:t>x</w:t>'
                   "</w:r></w:p></w:tc></w:tr></w:tbl>")  # fmt: skip
    assert read_docx(path) == " | ".join(["x"] * formats.MAX_GRID_SPAN)


# -- HTML ---------------------------------------------------------------------------------------------------------


def test_deeply_nested_html_is_read_in_linear_time(tmp_path: Path) -> None:
    """30,000 nested <div> (150 KB): the old reader inserted blank lines into the tree, in time growing with the
    square of the depth (4,000: 1.7 s; 100,000: more than 15 minutes), and would now be stopped by the time limit."""
    (tmp_path / "imbrique.html").write_bytes(b"<div>" * 30_000 + b"Le texte tout au fond.")
    assert one(tmp_path) == "Le texte tout au fond."


def test_html_with_too_many_tags_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "balises.html").write_bytes(b"<b>x</b>" * (formats.MAX_HTML_TAGS + 1))
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert load_corpus(tmp_path) == []
    assert "balises.html" in caplog.text and "HTML tags" in caplog.text


def test_html_text_is_unchanged_by_the_linear_walk() -> None:
    """The walk gives what get_text() gave after blank lines were inserted around each block element."""
    from bs4 import BeautifulSoup

    def inserted(data: bytes) -> str:
        soup = BeautifulSoup(data, "html.parser")
        for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
            tag.decompose()
        for tag in soup.find_all(list(formats.BLOCK_TAGS)):
            tag.insert_before("\n\n")
            tag.insert_after("\n\n")
        return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", soup.get_text()).strip()

    rng = random.Random(0)
    names = "p div span b a section li ul h1 tr td table br pre script style template head svg em rt ruby body".split()

    def fragment(depth: int) -> str:
        out = []
        for _ in range(rng.randint(0, 4)):
            roll = rng.random()
            if roll < 0.4 and depth < 6:
                name = rng.choice(names)
                out.append(f"<{name}>{fragment(depth + 1)}" + (f"</{name}>" if rng.random() < 0.8 else ""))
            else:
                out.append(rng.choice(["texte", " \n\n ", "<!-- caché -->", "<![CDATA[c]]>", "<br/>", "&eacute;", "Élue"]))
        return "".join(out)

    for data in [fragment(0).encode() for _ in range(500)]:
        assert formats.read_html(data) == inserted(data), data


# -- NUL bytes ----------------------------------------------------------------------------------------------------


def test_nul_bytes_anywhere_never_reach_the_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Decision: NUL characters are removed (with a warning naming the file), from every format; the rest of the
    document is kept, as for damaged UTF-8. A NUL in the first 4 KB of a text file still means binary (UTF-16, ...)."""
    long_text = (TEXT + "\n\n") * 60  # ~5 KB
    (tmp_path / "tard.txt").write_bytes(long_text.encode() + b"Kher\x00son" + b"\x00" * 10)
    (tmp_path / "page.html").write_bytes(b"<p>Dijon\x00 et Volgograd</p>")
    write_pdf(tmp_path / "doc.pdf", ["Premiere\x00 page.", "Seconde page\x00\x00 sur Besancon."])
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs = {d.info.source: d for d in load_corpus(tmp_path)}
    assert docs["tard.txt"].text == long_text + "Kherson"
    assert docs["page.html"].text == "Dijon et Volgograd"
    pdf = docs["doc.pdf"]
    assert pdf.text == "Premiere page.\fSeconde page sur Besancon."
    assert pdf.page_starts == (0, pdf.text.index("Seconde"))
    assert all("\x00" not in d.text for d in docs.values())
    for name, count in (("tard.txt", 11), ("page.html", 1), ("doc.pdf", 3)):
        assert f"{name}: {count} NUL character(s) removed" in caplog.text
