"""A document's own title (``rag.ingest.titles``), read from each format through the loader: the Markdown heading,
HTML ``<title>``, PDF and .docx metadata (those a program made up refused), else a first block that reads as one,
else the file name. The catalogue's title always wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.formats import read_text
from rag.ingest.load import load_file
from rag.ingest.titles import declared, first_block, markdown_heading, title_of
from tests.pdf import write_pdf

ROOT = Path(__file__).resolve().parent.parent
BODY = "Le jumelage entre Trouville et Zelenograd a été signé en 1994. Il porte sur les écoles de musique."


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (f"# Jumelage Trouville – Zelenograd\n\n{BODY}", "Jumelage Trouville – Zelenograd"),
        (f"Intro\n\n## Section\n\n# Le *vrai* [titre](http://x.org) #\n\n{BODY}", "Le vrai titre"),  # level 1 wins
        (f"3 juillet 2025\n\n## La coopération décentralisée\n\n### Détail\n\n{BODY}", "La coopération décentralisée"),
        (f"Jumelage de Trouville\n=====================\n\n{BODY}", "Jumelage de Trouville"),
        (f"```\n# pas un titre\n```\n\n## Le titre\n\n{BODY}", "Le titre"),  # not inside a code block
        (f"Début du paragraphe\n{BODY}\n---\n\nSuite.", ""),  # a paragraph's last line above dashes: not a title
        (f"#hashtag\n\n{BODY}", ""),
    ],
)
def test_markdown_heading(text: str, title: str) -> None:
    assert markdown_heading(text) == title


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (f"Jumelages franco-russes\n\n{BODY}", "Jumelages franco-russes"),
        (f"\n \nLes collectivités françaises expriment leur \nsolidarité à l'Ukraine  \n\n{BODY}",
         "Les collectivités françaises expriment leur solidarité à l'Ukraine"),
        (f"Une coopéra-\ntion décentralisée\n\n{BODY}", "Une coopération décentralisée"),  # hyphenation undone
        (f"Pourquoi un jumelage ?\n\n{BODY}", "Pourquoi un jumelage ?"),
        (f"{BODY}\n\nSuite.", ""),  # a sentence, not a title
        (" Création\nLa coopération entre collectivités est née dans les années 1960.\n\nSuite.", ""),  # runs on
        (f"3 juillet 2025\n\n{BODY}", ""),  # a date alone
        (f"12/03/1994\n\n{BODY}", ""),
        (f"1\n\n{BODY}", ""),  # a page number
        (f"https://www.example.org/jumelage\n\n{BODY}", ""),
        ("a\nb\nc\nd\n\nSuite.", ""),  # four lines: a list, not a title
        ("Jumelage", ""),  # the whole text
        ("x" * 250 + "\n\nSuite.", ""),
    ],
)  # fmt: skip
def test_first_block_reads_as_a_title_or_not(text: str, title: str) -> None:
    assert first_block(text) == title


@pytest.mark.parametrize(
    ("metadata", "title"),
    [
        ("Rapport annuel 2023 ", "Rapport annuel 2023"),
        ("Microsoft Word - rapport_final.docx", ""),
        ("rapport_final.docx", ""),
        ("Untitled", ""),
        ("Sans titre", ""),
        ("Document1", ""),
        ("Diapositive 1", ""),
        ("   ", ""),
        (None, ""),
        ("2024-03-15", ""),
    ],
)
def test_declared_titles_that_a_program_made_up_are_not_titles(metadata: str | None, title: str) -> None:
    assert declared(metadata) == title


def test_the_shipped_documents_without_their_catalogue() -> None:
    """Three of the five shipped documents name themselves as their catalogue does; the two others have no title
    line (a declaration that starts with its text, a PDF extraction that starts with a section heading)."""
    from rag.ingest.load import load_catalog

    catalog = load_catalog(ROOT / "corpus")
    found = {}
    for path in sorted((ROOT / "corpus").iterdir()):
        if path.name == "catalog.toml":
            continue
        fmt = "md" if path.suffix == ".md" else "txt"
        found[path.name] = title_of(read_text(path, fmt).text, fmt)
    same = {name for name, title in found.items() if title == catalog[name]["title"]}
    assert same == {
        "2022-02-24_cuf_solidarite-ukraine.txt", "2022-09-23_otan_referendums-ukraine.txt",
        "2025-07-03_lettre_cooperation-decentralisee.md",
    }  # fmt: skip
    assert {name for name, title in found.items() if not title} == {
        "2026-01-06_coalition-des-volontaires_paris.txt", "cuf_groupe-pays-russie.txt"
    }  # fmt: skip


def test_each_format_gives_its_own_title_to_the_loader(tmp_path: Path) -> None:
    import docx
    from pypdf import PdfWriter

    (tmp_path / "note.md").write_text(f"# Note sur le jumelage\n\n{BODY}\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        f"<html><head><title>Jumelage &amp; coopération</title></head><body><h1>Autre</h1><p>{BODY}</p></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "h1.html").write_text(f"<html><body><h1>Le titre de la page</h1><p>{BODY}</p></body></html>", "utf-8")
    write_pdf(tmp_path / "rapport.pdf", [BODY])
    writer = PdfWriter(clone_from=str(tmp_path / "rapport.pdf"))
    writer.add_metadata({"/Title": "Rapport sur le jumelage"})
    writer.write(str(tmp_path / "rapport.pdf"))
    write_pdf(tmp_path / "word.pdf", [BODY])
    writer = PdfWriter(clone_from=str(tmp_path / "word.pdf"))
    writer.add_metadata({"/Title": "Microsoft Word - word.docx"})
    writer.write(str(tmp_path / "word.pdf"))
    document = docx.Document()
    document.add_paragraph(BODY)
    document.core_properties.title = "Convention de jumelage"
    document.save(str(tmp_path / "convention.docx"))
    plain = docx.Document()
    plain.add_paragraph("Convention de partenariat")
    plain.add_paragraph(BODY)
    plain.save(str(tmp_path / "2024-05-02_partenariat.docx"))
    (tmp_path / "2023-01-15_sans-titre.txt").write_text(f"{BODY}\n", encoding="utf-8")

    def title(name: str) -> str:
        return load_file(tmp_path / name, name).info.title

    assert title("note.md") == "Note sur le jumelage"
    assert title("page.html") == "Jumelage & coopération"
    assert title("h1.html") == "Le titre de la page"
    assert title("rapport.pdf") == "Rapport sur le jumelage"
    assert title("word.pdf") == "Word"  # the metadata a program wrote is no title: the file name is
    assert title("convention.docx") == "Convention de jumelage"
    assert title("2024-05-02_partenariat.docx") == "Convention de partenariat"  # first paragraph, a blank line after
    assert load_file(tmp_path / "2024-05-02_partenariat.docx", "p.docx").info.date == "2024-05-02"
    assert title("2023-01-15_sans-titre.txt") == "Sans titre"  # nothing reads as a title: the file name
    # The catalogue's title wins over the document's own.
    assert load_file(tmp_path / "note.md", "note.md", {"title": "Titre du catalogue"}).info.title == "Titre du catalogue"
