"""Upload checks, messages and the add-document flow of the web app (fake embedder: fast, no model, no browser)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import rag.index.build
from rag.embed.fake import FakeEmbedder
from rag.index import BuildReport, build_index
from rag.retrieve.retriever import Retriever
from ui import uploads
from ui.library import Library
from ui.uploads import Refused, UploadRejected, check_date, check_details, check_upload, free_name, safe_filename

JUMELAGE = "Le jumelage entre Dijon et Volgograd a été signé en 1966 par les deux maires."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rapport.txt", "rapport.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\évian été.MD", "evian_ete.md"),
        (".hidden.txt", "hidden.txt"),
        ("a b;c<d>.pdf", "a_b_c_d.pdf"),
        ("archive.tar.html", "archive_tar.html"),
        ("..", "document"),
        ("noext", "noext"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_is_bounded() -> None:
    assert len(safe_filename("x" * 500 + ".txt")) <= uploads.MAX_STEM_CHARS + 4


def test_check_upload_type_and_size(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 2048)
    with pytest.raises(UploadRejected, match=r"\.exe files are not supported"):
        check_upload(f, "f.exe", limit=4096)
    with pytest.raises(UploadRejected, match="too large"):
        check_upload(f, "f.txt", limit=1024)
    check_upload(f, "f.txt", limit=4096)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UploadRejected, match="empty"):
        check_upload(tmp_path / "empty.txt", "empty.txt", limit=4096)


def test_rejections_speak_french_too(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 3 * 2**20)
    with pytest.raises(UploadRejected) as too_large:
        check_upload(f, "f.txt", limit=2**19)
    assert too_large.value.message("fr").startswith("f.txt est trop volumineux (3,0 Mo ; la limite est de 0,5 Mo). ")
    assert str(too_large.value).startswith("f.txt is too large (3.0 MB; the limit is 0.5 MB). Split it")
    with pytest.raises(UploadRejected) as no_suffix:
        check_upload(f, "notes", limit=2**30)
    assert "les fichiers sans extension ne sont pas pris en charge" in no_suffix.value.message("fr")
    assert "files without an extension are not supported. Save it as one of .txt" in str(no_suffix.value)
    # Every text exists in both languages, with the same fields to fill: tests/test_i18n.py.


def test_free_name_never_takes_a_name_in_use(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    assert free_name(folder, "a.txt") == "a.txt"  # (the folder need not exist yet)
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"old")
    (folder / ".a-2.txt.tmp").write_bytes(b"being written")
    assert free_name(folder, "a.txt") == "a-3.txt"
    assert free_name(folder, "b.txt", taken={"b.txt", "b-2.txt"}) == "b-3.txt"  # indexed names


@pytest.mark.parametrize(
    ("given", "stored"),
    [("2024", "2024"), ("2024-03", "2024-03"), (" 2024-03-15 ", "2024-03-15"), ("15/03/2024", "2024-03-15"),
     ("5.3.2024", "2024-03-05"), ("03/2024", "2024-03"), ("", "")],
)  # fmt: skip
def test_dates_are_stored_as_citations_give_them(given: str, stored: str) -> None:
    assert check_date(given) == stored


@pytest.mark.parametrize("bad", ["mars 2024", "2024-13", "2024-02-30", "31/02/2024", "24", "2024/03/15", "hier"])
def test_a_date_that_cannot_be_cited_is_refused_with_how_to_write_it(bad: str) -> None:
    with pytest.raises(Refused) as refused:
        check_date(bad)
    assert "write a year (2024), a month (2024-03) or a day (2024-03-15, or 15/03/2024)" in str(refused.value)
    assert "écrivez une année (2024)" in refused.value.message("fr")


def test_details_are_one_line_each_and_bounded() -> None:
    given = {"title": "  Convention\nde   jumelage ", "date": "1994", "author": " Ville  de Trouville "}
    assert check_details(given, title_required=True) == {
        "title": "Convention de jumelage", "date": "1994", "author": "Ville de Trouville"
    }  # fmt: skip
    assert check_details({}, title_required=False) == {"title": "", "date": "", "author": ""}
    with pytest.raises(Refused, match="Give the document a title"):
        check_details({"title": "  "}, title_required=True)
    with pytest.raises(Refused, match="under 300 characters"):
        check_details({"title": "x" * 301}, title_required=True)
    with pytest.raises(Refused, match="under 200 characters"):
        check_details({"title": "t", "author": "x" * 201}, title_required=True)


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, tmp_path / "user-uploads", Retriever.load(index, embedder=fake_embedder))


def upload_file(tmp_path: Path, name: str, data: bytes) -> Path:
    """A file as Gradio hands it to the app (in a cache folder of its own)."""
    folder = tmp_path / "gradio-cache"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_add_document_makes_it_searchable_and_swaps_the_retriever(
    library: Library, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = library.retriever
    corpus_before = sorted(p.name for p in corpus_copy.iterdir())

    def no_corpus(*args: object) -> None:
        raise AssertionError("an upload must not re-read the corpus")

    monkeypatch.setattr(rag.index.build, "load_corpus", no_corpus)
    added = library.add_document(upload_file(tmp_path, "Jumelage Dijon.txt", JUMELAGE.encode()))
    assert (added.name, added.stored_as, added.passages) == ("Jumelage_Dijon.txt", "Jumelage_Dijon.txt", 1)
    assert added.message().startswith("Added Jumelage_Dijon.txt: 1 passage, now searchable. Index: 6 documents")
    assert added.message("fr").startswith("Jumelage_Dijon.txt ajouté : 1 passage, désormais dans la recherche. Index : 6")
    assert added.report.embedded == 2  # its passage and its sentence: nothing else is embedded again
    # Kept in the uploads folder, never in the (shipped, versioned) corpus.
    assert (library.uploads / "Jumelage_Dijon.txt").read_text(encoding="utf-8") == JUMELAGE
    assert sorted(p.name for p in corpus_copy.iterdir()) == corpus_before
    assert library.retriever is not old
    hits = library.search("jumelage Dijon Volgograd 1966", k=1).results
    assert hits[0].source == "Jumelage_Dijon.txt"
    assert old.passage_count("Jumelage_Dijon.txt") == 0  # searches in flight keep a consistent old view


def test_same_name_as_an_indexed_document_gets_a_suffix(library: Library, corpus_copy: Path, tmp_path: Path) -> None:
    existing = next(p for p in corpus_copy.iterdir() if p.suffix == ".txt")
    added = library.add_document(upload_file(tmp_path, existing.name, JUMELAGE.encode()))
    assert f"(saved as {existing.stem}-2.txt)" in added.message()
    assert f"(enregistré sous le nom {existing.stem}-2.txt)" in added.message("fr")
    assert (library.uploads / f"{existing.stem}-2.txt").is_file()
    assert library.retriever.document(existing.name).text == existing.read_text(encoding="utf-8")
    assert library.retriever.document(f"{existing.stem}-2.txt").text == JUMELAGE


@pytest.mark.parametrize(
    ("name", "data", "says", "logged"),
    [
        ("fake.pdf", b"%PDF-1.4 this is not a pdf", "could not be read as a PDF: it may be damaged", "unreadable PDF"),
        ("binary.txt", b"\x00\x01\x02" * 100, "is not a text file, whatever its extension says", "looks binary"),
        ("blank.md", b"   \n\n  ", "contains no text to search", "no text"),
        ("old.docx", b"PK\x03\x04 not a zip", "could not be read as a Word document", "not a valid .docx"),
        ("program.exe", b"MZ", ".exe files are not supported", ""),
    ],
)
def test_bad_file_is_rejected_with_what_to_do_and_changes_nothing(
    library: Library, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, data: bytes, says: str, logged: str
) -> None:
    old = library.retriever
    with caplog.at_level(logging.WARNING, logger="rag.ui"), pytest.raises(UploadRejected) as rejected:
        library.add_document(upload_file(tmp_path, name, data))
    english, french = rejected.value.message("en"), rejected.value.message("fr")
    assert says in english and english.startswith(name) and english.endswith(".")
    assert french != english and french.startswith(name) and french.endswith(".")
    for text in (english, french):  # no reader's internals: those go to the server log
        assert "Error" not in text and "(" not in text.replace("(.pdf, .docx…)", "").replace("(.txt)", "")
    assert logged in caplog.text
    assert not library.uploads.exists() or not any(library.uploads.iterdir())
    assert library.retriever is old


def test_duplicate_content_is_rejected(library: Library, corpus_copy: Path, tmp_path: Path) -> None:
    existing = corpus_copy / "cuf_groupe-pays-russie.txt"
    with pytest.raises(UploadRejected, match="already in the collection") as rejected:
        library.add_document(upload_file(tmp_path, "copy.txt", existing.read_bytes()))
    assert "(cuf_groupe-pays-russie.txt)" in str(rejected.value)
    assert not (library.uploads / "copy.txt").exists()


def test_failed_indexing_removes_the_copy_and_says_what_to_do(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from rag.errors import IndexIncompatibleError

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexIncompatibleError("index/faiss-1.index is damaged (FAISS cannot read it)")

    monkeypatch.setattr("ui.library.add_documents", broken)
    with caplog.at_level(logging.ERROR, logger="rag.ui"), pytest.raises(UploadRejected) as rejected:
        library.add_document(upload_file(tmp_path, "j.txt", JUMELAGE.encode()))
    assert "the index could not be updated. Try again in a moment" in str(rejected.value)
    assert "FAISS" not in str(rejected.value) and "FAISS cannot read it" in caplog.text
    # The person who gave it was told that nothing was added: the copy goes (the trash is for what was added).
    assert not (library.uploads / "j.txt").exists() and not library.trash()
    assert not (library.uploads / ".pending.json").exists()


def test_search_runs_while_indexing(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = rag.index.build.build_from_documents

    def slow(*args: Any, **kwargs: Any) -> BuildReport:
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(rag.index.build, "build_from_documents", slow)
    worker = threading.Thread(target=library.add_document, args=(upload_file(tmp_path, "j.txt", JUMELAGE.encode()),))
    worker.start()
    assert started.wait(10)
    assert library.search("OTAN référendums", k=2).results  # not blocked by the indexing in progress
    release.set()
    worker.join(10)
    assert library.retriever.passage_count("j.txt") > 0


def test_the_default_uploads_folder_is_not_in_the_tracked_files() -> None:
    """`rag serve` run from the repository (./scripts/start.sh) keeps uploads in uploads/, which git ignores."""
    from rag.config import Config

    root = Path(__file__).resolve().parent.parent
    assert Config().uploads == "uploads"
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "uploads/rapport.pdf"], check=False)
    assert ignored.returncode == 0
