"""``add_documents`` (documents added from another folder: the web app's uploads) and ``ensure_index``.

Fake embedder: fast, no model. The real-model path is covered by the browser tests (tests/browser).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import rag.index.build
from rag import store
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError, IndexIncompatibleError, NoPassageError
from rag.index import add_documents, build_index, ensure_index, remove_documents, replace_documents
from rag.ingest.chunk import ChunkSettings
from rag.ingest.load import load_file
from rag.retrieve.retriever import Retriever
from rag.types import Document, DocumentInfo, Passage
from tests.helpers import downgrade_to_format_1

JUMELAGE = "Le jumelage entre Dijon et Volgograd a été signé en 1966 par les deux maires."


def documents_entry(index: Path) -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = json.loads((index / store.MANIFEST).read_text("utf-8"))["documents"]
    return entries


def upload(folder: Path, name: str, text: str) -> Document:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return load_file(folder / name, name)


@pytest.fixture
def index(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    path = tmp_path / "index"
    build_index(corpus_copy, path, embedder=fake_embedder)
    return path


def test_add_documents_reads_only_the_new_document_and_embeds_only_it(
    index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = Retriever.load(index, embedder=FakeEmbedder())
    manifest = store.read_manifest(index)
    n_texts = manifest["passages"] + manifest["sentences"]

    def no_corpus(*args: object) -> None:
        raise AssertionError("the corpus must not be read again")

    monkeypatch.setattr(rag.index.build, "load_corpus", no_corpus)
    chunked: list[str] = []
    real_chunk = rag.index.build.chunk_document

    def chunk(doc: Document, settings: ChunkSettings) -> list[Passage]:
        chunked.append(doc.info.source)
        return real_chunk(doc, settings)

    monkeypatch.setattr(rag.index.build, "chunk_document", chunk)
    embedder = FakeEmbedder()
    report = add_documents(index, [upload(tmp_path / "uploads", "jumelage.txt", JUMELAGE)], embedder, folder=tmp_path / "uploads")
    assert (report.documents, report.removed_documents) == (6, 0)
    assert report.reused == n_texts and report.embedded == embedder.texts_embedded == 2  # one passage, one sentence
    assert set(chunked) == {"jumelage.txt"}  # the stored documents keep their stored passages
    after = Retriever.load(index, embedder=FakeEmbedder())
    assert after.search("jumelage Dijon Volgograd 1966", k=1)[0].source == "jumelage.txt"
    # The other documents are exactly those stored before (text and bibliographic data).
    assert [after.document(i.source) for i in before.documents] == [before.document(i.source) for i in before.documents]


def test_the_index_records_where_an_added_document_lives_and_a_rebuild_keeps_it(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    uploads = tmp_path / "uploads"
    add_documents(index, [upload(uploads, "jumelage.txt", JUMELAGE)], fake_embedder, folder=uploads)
    entries = documents_entry(index)
    assert entries["jumelage.txt"]["folder"] == str(uploads.resolve())
    assert all("folder" not in e for s, e in entries.items() if s != "jumelage.txt")  # the others live in the corpus
    assert not (corpus_copy / "jumelage.txt").exists()

    report = build_index(corpus_copy, index, embedder=fake_embedder)  # `rag index corpus/` after an upload
    assert (report.documents, report.removed_documents, report.embedded) == (6, 0, 0)
    retriever = Retriever.load(index, embedder=fake_embedder)
    hit = retriever.search("jumelage Dijon Volgograd 1966", k=1, sources=["jumelage.txt"])[0]
    assert retriever.document("jumelage.txt").text[hit.start : hit.end] == JUMELAGE  # the citation still holds
    assert documents_entry(index)["jumelage.txt"]["folder"] == str(uploads.resolve())


def test_a_rebuild_follows_the_uploaded_files(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    uploads = tmp_path / "uploads"
    docs = [upload(uploads, "a.txt", JUMELAGE), upload(uploads, "b.txt", "Le jumelage de Besançon avec Kouvola.")]
    add_documents(index, docs, fake_embedder, folder=uploads)
    (uploads / "a.txt").write_text("Le jumelage entre Dijon et Volgograd a été suspendu en 2022.", encoding="utf-8")
    (uploads / "b.txt").unlink()
    with caplog.at_level(logging.WARNING, logger="rag"):
        report = build_index(corpus_copy, index, embedder=fake_embedder)
    assert report.documents == 6 and report.removed_documents == 1
    assert "b.txt is no longer indexed" in caplog.text
    assert "suspendu en 2022" in Retriever.load(index, embedder=fake_embedder).document("a.txt").text


def test_the_corpus_cannot_take_the_name_of_an_added_document(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    uploads = tmp_path / "uploads"
    add_documents(index, [upload(uploads, "jumelage.txt", JUMELAGE)], fake_embedder, folder=uploads)
    (corpus_copy / "jumelage.txt").write_text("Un autre texte, sur un autre sujet.", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag"):
        build_index(corpus_copy, index, embedder=fake_embedder)
    assert "skipped jumelage.txt: same name or content as jumelage.txt" in caplog.text
    assert Retriever.load(index, embedder=fake_embedder).document("jumelage.txt").text == JUMELAGE


def test_add_documents_refuses_what_is_already_indexed_and_changes_nothing(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    uploads = tmp_path / "uploads"
    manifest = (index / store.MANIFEST).read_bytes()
    same_name = upload(uploads, "cuf_groupe-pays-russie.txt", JUMELAGE)
    with pytest.raises(BadInputError, match="already in the index"):
        add_documents(index, [same_name], fake_embedder, folder=uploads)
    copy = upload(uploads, "copy.txt", (corpus_copy / "cuf_groupe-pays-russie.txt").read_text(encoding="utf-8"))
    with pytest.raises(BadInputError, match="already in the index"):
        add_documents(index, [copy], fake_embedder, folder=uploads)
    blank = Document(DocumentInfo("blank.txt", "Blank"), " \n\f ", "txt", "0" * 64)
    with pytest.raises(NoPassageError, match="no passage"):
        add_documents(index, [blank], fake_embedder, folder=uploads)
    assert (index / store.MANIFEST).read_bytes() == manifest


def test_remove_documents_reads_and_embeds_nothing_and_keeps_every_other_document_as_stored(
    index: Path, tmp_path: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = tmp_path / "uploads"
    docs = [upload(uploads, "a.txt", JUMELAGE), upload(uploads, "b.txt", "Le jumelage de Besançon avec Kouvola date de 1959.")]
    add_documents(index, docs, fake_embedder, folder=uploads)
    before = Retriever.load(index, embedder=fake_embedder)
    monkeypatch.setattr(rag.index.build, "chunk_document", lambda *a: pytest.fail("nothing is chunked again"))
    report = remove_documents(index, ["a.txt"], fake_embedder)
    assert (report.documents, report.removed_documents, report.embedded) == (6, 1, 0)
    after = Retriever.load(index, embedder=fake_embedder)
    assert "a.txt" not in {i.source for i in after.documents} and "a.txt" not in documents_entry(index)
    kept = [i.source for i in before.documents if i.source != "a.txt"]
    assert [after.document(s) for s in kept] == [before.document(s) for s in kept]
    assert [p for p in after.data.passages] == [p for p in before.data.passages if p.source != "a.txt"]
    assert documents_entry(index)["b.txt"]["folder"] == str(uploads.resolve())
    assert (uploads / "a.txt").is_file()  # the index only: the file is the caller's (the web app moves it to its trash)


def test_remove_documents_refuses_the_corpus_and_an_unknown_name(index: Path, fake_embedder: FakeEmbedder) -> None:
    manifest = (index / store.MANIFEST).read_bytes()
    with pytest.raises(BadInputError, match="is a document of the corpus: to take it out, delete its file"):
        remove_documents(index, ["cuf_groupe-pays-russie.txt"], fake_embedder)
    with pytest.raises(BadInputError, match=r"nope\.txt is not in the index"):
        remove_documents(index, ["nope.txt"], fake_embedder)
    assert (index / store.MANIFEST).read_bytes() == manifest


def test_replace_documents_embeds_only_what_changed(index: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    uploads = tmp_path / "uploads"
    add_documents(index, [upload(uploads, "a.txt", JUMELAGE)], fake_embedder, folder=uploads)
    before = Retriever.load(index, embedder=fake_embedder)
    # A new text under the same name: its passage and its sentences are embedded, nothing else.
    new = upload(uploads, "a.txt", "Le jumelage entre Dijon et Volgograd a été suspendu en 2022. Il reprendra.")
    embedder = FakeEmbedder()
    report = replace_documents(index, {"a.txt": new}, embedder, folder=uploads)
    assert (report.documents, report.embedded, embedder.texts_embedded) == (6, 3, 3)  # one passage, two sentences
    after = Retriever.load(index, embedder=fake_embedder)
    assert after.document("a.txt").text == new.text and after.document("a.txt").sha256 == new.sha256
    others = [i.source for i in before.documents if i.source != "a.txt"]
    assert [after.document(s) for s in others] == [before.document(s) for s in others]
    # Only the bibliographic data: the date alone embeds nothing; the title, the passages (embedded with it).
    info = DocumentInfo("a.txt", new.info.title, date="2022-05-01", author="Ville de Dijon")
    dated = Document(info, new.text, "txt", new.sha256)
    assert replace_documents(index, {"a.txt": dated}, fake_embedder, folder=uploads).embedded == 0
    info = Retriever.load(index, embedder=fake_embedder).document("a.txt").info
    assert (info.date, info.author) == ("2022-05-01", "Ville de Dijon")
    titled = Document(DocumentInfo("a.txt", "Suspension du jumelage"), new.text, "txt", new.sha256)
    assert replace_documents(index, {"a.txt": titled}, fake_embedder, folder=uploads).embedded == 1
    # Under another name (another format): the old name leaves the index, the new one is recorded in the folder.
    md = upload(uploads, "a.md", "# Suspension\n\nLe jumelage entre Dijon et Volgograd est suspendu depuis 2022.")
    replace_documents(index, {"a.txt": md}, fake_embedder, folder=uploads)
    entries = documents_entry(index)
    assert "a.txt" not in entries and entries["a.md"]["folder"] == str(uploads.resolve())


def test_replace_documents_refuses_the_corpus_and_another_document_s_text(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    uploads = tmp_path / "uploads"
    add_documents(index, [upload(uploads, "a.txt", JUMELAGE)], fake_embedder, folder=uploads)
    manifest = (index / store.MANIFEST).read_bytes()
    new = upload(uploads, "cuf_groupe-pays-russie.txt", "Un autre texte.")
    with pytest.raises(BadInputError, match="is a document of the corpus"):
        replace_documents(index, {"cuf_groupe-pays-russie.txt": new}, fake_embedder, folder=uploads)
    copy = upload(uploads, "a.txt", (corpus_copy / "cuf_groupe-pays-russie.txt").read_text(encoding="utf-8"))
    with pytest.raises(BadInputError, match="already in the index"):
        replace_documents(index, {"a.txt": copy}, fake_embedder, folder=uploads)
    assert (index / store.MANIFEST).read_bytes() == manifest


def test_a_rebuild_reads_the_uploads_catalogue(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    """The details the web app keeps in the uploads folder's catalogue are the document's: a rebuild of the corpus
    applies them (edited by hand meanwhile, or for a file that changed and is read again)."""
    from rag.ingest.catalog import write_catalog

    uploads = tmp_path / "uploads"
    docs = [upload(uploads, "a.txt", JUMELAGE), upload(uploads, "b.txt", "Besançon et Kouvola.")]
    add_documents(index, docs, fake_embedder, folder=uploads)
    write_catalog(uploads, {"a.txt": {"title": "Jumelage Dijon – Volgograd", "date": "1966", "author": "Ville de Dijon"}})
    (uploads / "b.txt").write_text("Le jumelage de Besançon avec Kouvola date de 1959.", encoding="utf-8")
    report = build_index(corpus_copy, index, embedder=fake_embedder)
    retriever = Retriever.load(index, embedder=fake_embedder)
    info = retriever.document("a.txt").info
    assert (info.title, info.date, info.author) == ("Jumelage Dijon – Volgograd", "1966", "Ville de Dijon")
    assert report.embedded == 1 + 2  # a.txt's passage (its title changed) and b.txt's new passage and sentence
    assert "1959" in retriever.document("b.txt").text


def test_add_documents_needs_an_index_and_its_embedder(tmp_path: Path, index: Path) -> None:
    doc = upload(tmp_path / "uploads", "jumelage.txt", JUMELAGE)
    with pytest.raises(IndexIncompatibleError, match="fake-hash-64"):

        class Other(FakeEmbedder):
            id = "other"

        add_documents(index, [doc], Other(), folder=tmp_path / "uploads")
    with pytest.raises(Exception, match="no index"):
        add_documents(tmp_path / "nothing", [doc], FakeEmbedder(), folder=tmp_path / "uploads")


# -- ensure_index (what `rag serve` runs first) ---------------------------------------------------------------------


def test_ensure_index_builds_a_missing_index_and_leaves_a_current_one(
    corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    index = tmp_path / "index"
    report = ensure_index(index, corpus_copy, embedder=fake_embedder)
    assert report is not None and report.documents == 5 and (index / store.MANIFEST).is_file()
    assert ensure_index(index, corpus_copy, embedder=fake_embedder) is None


def test_ensure_index_upgrades_an_older_format_without_embedding_again_and_keeps_uploads(
    index: Path, corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    uploads = tmp_path / "uploads"
    add_documents(index, [upload(uploads, "jumelage.txt", JUMELAGE)], fake_embedder, folder=uploads)
    downgrade_to_format_1(index)
    report = ensure_index(index, corpus_copy, embedder=fake_embedder)
    assert report is not None and report.embedded == 0 and report.reused > 0 and report.documents == 6
    assert store.read_manifest(index)["format_version"] == store.FORMAT_VERSION
    assert Retriever.load(index, embedder=fake_embedder).search("référendums OTAN", k=1)


def test_ensure_index_does_not_rebuild_an_index_of_another_folder(
    index: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    downgrade_to_format_1(index)
    before = (index / store.MANIFEST).read_bytes()
    with pytest.raises(IndexIncompatibleError, match=r"format 1 .* re-run `rag index`"):
        ensure_index(index, tmp_path / "elsewhere", embedder=fake_embedder)
    assert (index / store.MANIFEST).read_bytes() == before
