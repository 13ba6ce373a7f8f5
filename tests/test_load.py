"""Loading: formats, encodings, the catalogue, and files that must be skipped with a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.load import load_corpus
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
