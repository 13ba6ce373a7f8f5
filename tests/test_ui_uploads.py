"""Upload checks and the add-document flow of the web app (fake embedder: fast, no model, no browser)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from rag.errors import BadInputError
from rag.index import build_index
from rag.retriever import Retriever
from tests.fakes import FakeEmbedder
from ui import uploads
from ui.library import Library
from ui.uploads import UploadRejected, check_upload, reserve_destination, safe_filename

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


def test_check_upload_type_and_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 2048)
    with pytest.raises(UploadRejected, match=r"unsupported file type \.exe"):
        check_upload(f, "f.exe")
    with pytest.raises(UploadRejected, match="too large"):
        check_upload(f, "f.txt", limit=1024)
    check_upload(f, "f.txt", limit=4096)
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(UploadRejected, match="too large"):
        check_upload(f, "f.txt")
    monkeypatch.delenv("RAG_MAX_UPLOAD_MB")
    assert uploads.max_upload_bytes() == 20 * 2**20
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "nonsense")
    with pytest.raises(BadInputError, match="RAG_MAX_UPLOAD_MB"):
        uploads.max_upload_bytes()
    monkeypatch.delenv("RAG_MAX_UPLOAD_MB")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UploadRejected, match="empty"):
        check_upload(tmp_path / "empty.txt", "empty.txt")


def test_rejections_speak_french_too(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 3 * 2**20)
    with pytest.raises(UploadRejected) as too_large:
        check_upload(f, "f.txt", limit=2**19)
    assert too_large.value.message("fr") == "f.txt : trop volumineux (3,0 Mo ; la limite est de 0,5 Mo)"
    assert too_large.value.message("en") == str(too_large.value) == "f.txt: too large (3.0 MB; the limit is 0.5 MB)"
    with pytest.raises(UploadRejected) as no_suffix:
        check_upload(f, "notes")
    assert "type de fichier non pris en charge (sans extension) ; acceptés : .txt" in no_suffix.value.message("fr")
    assert "unsupported file type (no extension); accepted: .txt" in str(no_suffix.value)
    # Every message exists in both languages, with the same fields to fill.
    assert uploads.MESSAGES["en"].keys() == uploads.MESSAGES["fr"].keys()
    fields = {lang: {k: set(re.findall(r"{(\w+)}", v)) for k, v in m.items()} for lang, m in uploads.MESSAGES.items()}
    assert fields["en"] == fields["fr"]


def test_reserve_destination_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"old")
    dest = reserve_destination(tmp_path, "a.txt", b"new")
    assert dest.name == "a-2.txt" and dest.read_bytes() == b"new"
    assert (tmp_path / "a.txt").read_bytes() == b"old"
    with pytest.raises(UploadRejected, match="already in the corpus"):
        reserve_destination(tmp_path, "a.txt", b"new")


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, corpus_copy, Retriever.load(index, embedder=fake_embedder))


def upload_file(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_add_document_makes_it_searchable_and_swaps_the_retriever(library: Library, tmp_path: Path) -> None:
    old = library.retriever
    added = library.add_document(upload_file(tmp_path, "Jumelage Dijon.txt", JUMELAGE.encode()))
    assert (added.name, added.stored_as, added.passages) == ("Jumelage_Dijon.txt", "Jumelage_Dijon.txt", 1)
    assert added.message().startswith("Added Jumelage_Dijon.txt: 1 passage, now searchable. Index: 6 documents")
    assert added.message("fr").startswith("Jumelage_Dijon.txt ajouté : 1 passage, désormais dans la recherche. Index : 6")
    assert (library.corpus / "Jumelage_Dijon.txt").read_text(encoding="utf-8") == JUMELAGE
    assert library.retriever is not old
    hits = library.search("jumelage Dijon Volgograd 1966", k=1).results
    assert hits[0].source == "Jumelage_Dijon.txt"
    assert old.passage_count("Jumelage_Dijon.txt") == 0  # searches in flight keep a consistent old view


def test_same_name_different_content_gets_a_suffix(library: Library, tmp_path: Path) -> None:
    existing = next(p for p in library.corpus.iterdir() if p.suffix == ".txt")
    added = library.add_document(upload_file(tmp_path, existing.name, JUMELAGE.encode()))
    assert f"(saved as {existing.stem}-2.txt)" in added.message()
    assert f"(enregistré sous le nom {existing.stem}-2.txt)" in added.message("fr")
    assert (library.corpus / f"{existing.stem}-2.txt").is_file()
    assert existing.read_text(encoding="utf-8") != JUMELAGE


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("fake.pdf", b"this is not a pdf", "cannot be indexed"),
        ("binary.txt", b"\x00\x01\x02" * 100, "looks binary"),
        ("blank.md", b"   \n\n  ", "no text"),
        ("program.exe", b"MZ", "unsupported file type"),
    ],
)
def test_bad_file_is_rejected_and_changes_nothing(
    library: Library, tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    before = sorted(p.name for p in library.corpus.iterdir())
    old = library.retriever
    with pytest.raises(UploadRejected, match=reason):
        library.add_document(upload_file(tmp_path, name, data))
    assert sorted(p.name for p in library.corpus.iterdir()) == before
    assert library.retriever is old


def test_duplicate_content_is_rejected(library: Library, tmp_path: Path) -> None:
    existing = next(p for p in library.corpus.iterdir() if p.suffix == ".txt")
    with pytest.raises(UploadRejected, match="already indexed"):
        library.add_document(upload_file(tmp_path, "copy.txt", existing.read_bytes()))
    assert not (library.corpus / "copy.txt").exists()


def test_failed_indexing_removes_the_file(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.errors import IndexIncompatibleError

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexIncompatibleError("disk full")

    monkeypatch.setattr("ui.library.build_index", broken)
    with pytest.raises(UploadRejected, match="indexing failed"):
        library.add_document(upload_file(tmp_path, "j.txt", JUMELAGE.encode()))
    assert not (library.corpus / "j.txt").exists()


def test_search_runs_while_indexing(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = Library._reindex

    def slow(self: Library, current: Retriever, source: str) -> tuple[Retriever, str]:
        started.set()
        release.wait(10)
        return real(self, current, source)

    monkeypatch.setattr(Library, "_reindex", slow)
    worker = threading.Thread(target=library.add_document, args=(upload_file(tmp_path, "j.txt", JUMELAGE.encode()),))
    worker.start()
    assert started.wait(10)
    assert library.search("OTAN référendums", k=2).results  # not blocked by the indexing in progress
    release.set()
    worker.join(10)
    assert library.retriever.passage_count("j.txt") > 0
