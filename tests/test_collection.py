"""The collection of uploaded documents (``ui.library``, ``ui.collection``): details given at upload and later, removal
to a trash and restoring, replacement by a new version, who did what; the shipped corpus unchanged. Fake embedder."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import rag.index.build
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.ingest.load import load_catalog
from rag.retrieve.retriever import Retriever
from ui.collection import HISTORY, PENDING, RECORD, TRASH, Collection
from ui.library import Library
from ui.uploads import Refused, UploadRejected

JUMELAGE = "# Jumelage Trouville – Zelenograd\n\nLe jumelage entre Trouville et Zelenograd a été signé en 1994.\n"
CORRECTED = "# Jumelage Trouville – Zelenograd\n\nLe jumelage entre Trouville et Zelenograd a été signé le 12 mars 1995.\n"
SHIPPED = "cuf_groupe-pays-russie.txt"


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, tmp_path / "uploads", Retriever.load(index, embedder=fake_embedder))


def given(tmp_path: Path, name: str, text: str) -> Path:
    """A file as Gradio hands it to the app (in a cache folder of its own)."""
    folder = tmp_path / "gradio-cache" / str(time.monotonic_ns())
    folder.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → content), the trash included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_upload_is_titled_by_its_heading_and_its_details_are_kept_with_the_collection(
    library: Library, tmp_path: Path
) -> None:
    added = library.add_document(given(tmp_path, "jumelage.md", JUMELAGE), details={"author": "Ville de Trouville"}, user="alice")
    info = library.retriever.document("jumelage.md").info
    assert (info.title, info.author, info.date) == ("Jumelage Trouville – Zelenograd", "Ville de Trouville", "")
    entry = load_catalog(library.uploads)["jumelage.md"]  # the corpus catalogue's format, beside the files
    assert entry["title"] == "Jumelage Trouville – Zelenograd" and entry["author"] == "Ville de Trouville"
    assert entry["added_by"] == "alice" and entry["added"][:4].isdigit()
    assert added.message().startswith("Added jumelage.md: 1 passage, now searchable.")
    # Corrected later: every citation of it gives the new details.
    details = {"title": info.title, "date": "12/03/1994", "author": "Mairie de Trouville"}
    done = library.describe("jumelage.md", details, user="bob")
    assert done.message().startswith("Saved the details of jumelage.md: its citations now name it «Jumelage Trouville")
    assert done.report is not None and done.report.embedded == 0  # the title is the same: nothing to embed again
    hit = library.search("jumelage Trouville Zelenograd 1994", 1).results[0]
    assert (hit.document.date, hit.document.author, hit.title) == ("1994-03-12", "Mairie de Trouville", info.title)
    assert hit.citation == "Jumelage Trouville – Zelenograd (1994), ¶1"
    assert load_catalog(library.uploads)["jumelage.md"]["date"] == "1994-03-12"
    assert load_catalog(library.uploads)["jumelage.md"]["added_by"] == "alice"  # who added it stays
    history = [(row["action"], row["source"], row.get("user")) for row in library.collection.history()]
    assert history == [("add", "jumelage.md", "alice"), ("describe", "jumelage.md", "bob")]


def test_details_given_at_upload_win_over_the_document_s_own(library: Library, tmp_path: Path) -> None:
    details = {"title": "Convention de jumelage", "date": "1994-03", "author": "Trouville"}
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE), details=details)
    info = library.retriever.document("jumelage.md").info
    assert (info.title, info.date, info.author) == ("Convention de jumelage", "1994-03", "Trouville")
    with pytest.raises(Refused, match="is not a date a citation can give"):
        library.add_document(given(tmp_path, "autre.md", CORRECTED), details={"date": "mars 1995"})
    assert "autre.md" not in {i.source for i in library.retriever.documents}


def test_describe_refuses_what_it_cannot_do(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE))
    version = library.version
    with pytest.raises(Refused, match="belongs to the shipped collection"):
        library.describe(SHIPPED, {"title": "Autre titre"})
    with pytest.raises(Refused, match="Give the document a title"):
        library.describe("jumelage.md", {"title": " ", "date": "1994"})
    with pytest.raises(Refused, match="Nothing to save"):
        library.describe("jumelage.md", {"title": "Jumelage Trouville – Zelenograd"})
    with pytest.raises(Refused, match="no longer in the collection"):
        library.describe("gone.md", {"title": "x"})
    assert library.version == version


def test_remove_then_restore(library: Library, tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = files(corpus_copy)
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE), details={"date": "1994"}, user="alice")
    before = library.retriever
    monkeypatch.setattr(rag.index.build, "chunk_document", lambda *a: pytest.fail("a removal chunks nothing again"))
    removed = library.remove_document("jumelage.md", user="bob")
    monkeypatch.undo()
    assert removed.message().startswith("Removed jumelage.md («Jumelage Trouville – Zelenograd»): it is no longer searched.")
    assert "stays in the trash for 30 days" in removed.message() and "pendant 30 jours" in removed.message("fr")
    assert removed.report is not None and removed.report.embedded == 0
    assert "jumelage.md" not in {i.source for i in library.retriever.documents}
    assert before.passage_count("jumelage.md") == 1  # searches in flight keep their consistent view
    # Out of the collection, into the trash: never deleted at once.
    assert not (library.uploads / "jumelage.md").exists() and "jumelage.md" not in load_catalog(library.uploads)
    (item,) = library.trash()
    assert (item.source, item.title, item.by, item.why) == ("jumelage.md", "Jumelage Trouville – Zelenograd", "bob", "removed")
    assert (library.uploads / TRASH / item.id / "jumelage.md").read_text(encoding="utf-8") == JUMELAGE
    restored = library.restore(item.id, user="carol")
    assert restored.message().startswith("Restored jumelage.md («Jumelage Trouville – Zelenograd»): 1 passage, searchable")
    info = library.retriever.document("jumelage.md").info
    assert (info.title, info.date) == ("Jumelage Trouville – Zelenograd", "1994")  # with the details it had
    assert load_catalog(library.uploads)["jumelage.md"]["added_by"] == "alice"
    assert library.trash() == [] and not (library.uploads / TRASH / item.id).exists()
    assert [(r["action"], r.get("user")) for r in library.collection.history()] == [
        ("add", "alice"), ("remove", "bob"), ("restore", "carol")
    ]  # fmt: skip
    with pytest.raises(Refused, match="no longer in the trash"):
        library.restore(item.id)
    assert files(corpus_copy) == corpus  # the shipped corpus is never written


@pytest.mark.parametrize("item", ["", "..", "../uploads", "/etc", ".trash", "a/b", "nope"])
def test_only_a_trash_item_the_app_named_can_be_restored(library: Library, tmp_path: Path, item: str) -> None:
    library.add_document(given(tmp_path, "a.md", JUMELAGE))
    library.remove_document("a.md")
    with pytest.raises(Refused, match="no longer in the trash"):
        library.restore(item)
    assert len(library.trash()) == 1


def test_a_restored_document_whose_name_was_taken_meanwhile_gets_another(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE))
    library.remove_document("jumelage.md")
    library.add_document(given(tmp_path, "jumelage.md", CORRECTED))
    (item,) = library.trash()
    done = library.restore(item.id)
    assert done.source == "jumelage-2.md" and "as jumelage-2.md (the name jumelage.md is taken)" in done.message()
    assert library.retriever.document("jumelage-2.md").text == JUMELAGE


def test_the_shipped_corpus_cannot_be_removed_or_replaced_from_the_app(library: Library, tmp_path: Path) -> None:
    version = library.version
    with pytest.raises(Refused, match="belongs to the shipped collection: it cannot be changed from the app"):
        library.remove_document(SHIPPED)
    with pytest.raises(Refused, match="belongs to the shipped collection"):
        library.replace_document(SHIPPED, given(tmp_path, "x.txt", "Un texte nouveau pour remplacer le document."))
    assert library.version == version and SHIPPED in {i.source for i in library.retriever.documents}


def test_replace_puts_the_new_version_in_place_and_the_old_one_in_the_trash(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE), details={"author": "Trouville", "date": "1994"})
    done = library.replace_document("jumelage.md", given(tmp_path, "jumelage_v2.md", CORRECTED), user="dave")
    assert done.source == "jumelage.md"  # its name in the collection stays: filters and links keep working
    assert done.message().startswith("Replaced jumelage.md by the new version jumelage_v2.md: 1 passage, now searchable")
    document = library.retriever.document("jumelage.md")
    assert document.text == CORRECTED and (document.info.author, document.info.date) == ("Trouville", "1994")
    assert (library.uploads / "jumelage.md").read_text(encoding="utf-8") == CORRECTED
    (item,) = library.trash()
    assert (item.why, item.by, item.source) == ("replaced", "dave", "jumelage.md")
    assert (library.uploads / TRASH / item.id / "jumelage.md").read_text(encoding="utf-8") == JUMELAGE
    # The previous version can come back, beside the new one.
    assert library.restore(item.id).source == "jumelage-2.md"
    # A new version in another format takes the same name with its extension.
    done = library.replace_document("jumelage.md", given(tmp_path, "jumelage.txt", "Le jumelage a été renouvelé en 2020."))
    assert done.source == "jumelage.txt" and "jumelage.md" not in {i.source for i in library.retriever.documents}
    assert library.retriever.document("jumelage.txt").info.author == "Trouville"
    assert set(load_catalog(library.uploads)) == {"jumelage.txt", "jumelage-2.md"}


def test_a_replacement_that_cannot_be_read_changes_nothing(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE))
    before = files(library.uploads)
    with pytest.raises(UploadRejected, match="could not be read as a PDF"):
        library.replace_document("jumelage.md", given(tmp_path, "v2.pdf", "pas un PDF"))
    with pytest.raises(UploadRejected, match="already in the collection"):
        library.replace_document("jumelage.md", given(tmp_path, "v2.md", JUMELAGE))
    assert files(library.uploads) == before and library.retriever.document("jumelage.md").text == JUMELAGE


def test_a_failed_commit_moves_everything_back(library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.errors import IndexIncompatibleError

    library.add_document(given(tmp_path, "jumelage.md", JUMELAGE))
    before, manifest = files(library.uploads), (library.index / "manifest.json").read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexIncompatibleError("the index cannot be written")

    monkeypatch.setattr(rag.index.build, "build_from_documents", broken)
    with pytest.raises(UploadRejected, match="the index could not be updated"):
        library.replace_document("jumelage.md", given(tmp_path, "v2.md", CORRECTED))
    with pytest.raises(UploadRejected, match="the index could not be updated"):
        library.remove_document("jumelage.md")
    assert files(library.uploads) == before and (library.index / "manifest.json").read_bytes() == manifest
    assert not (library.uploads / PENDING).exists()


def test_the_trash_is_emptied_of_what_is_older_than_its_days(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "a.md", JUMELAGE))
    library.add_document(given(tmp_path, "b.md", CORRECTED))
    library.remove_document("a.md")
    library.remove_document("b.md")
    old, recent = library.trash()[1], library.trash()[0]
    record = library.uploads / TRASH / old.id / RECORD
    os.utime(record, (time.time() - 31 * 86400, time.time() - 31 * 86400))
    assert library.collection.purge() == 1
    assert [i.id for i in library.trash()] == [recent.id] and not (library.uploads / TRASH / old.id).exists()
    short = Collection(library.uploads, trash_days=0.5, clock=lambda: time.time() + 86400)
    assert short.purge() == 1 and short.removed() == []


def test_the_history_is_one_json_line_a_change(library: Library, tmp_path: Path) -> None:
    library.add_document(given(tmp_path, "a.md", JUMELAGE), user="alice")
    library.remove_document("a.md")
    lines = (library.uploads / HISTORY).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["action"] for r in rows] == ["add", "remove"] and rows[1].get("user") is None  # no login: no user
    assert all(r["source"] == "a.md" and r["title"] == "Jumelage Trouville – Zelenograd" and r["time"] for r in rows)


def test_a_rebuild_of_the_corpus_keeps_the_details_given_in_the_app(
    library: Library, tmp_path: Path, corpus_copy: Path, fake_embedder: FakeEmbedder
) -> None:
    library.add_document(given(tmp_path, "a.md", JUMELAGE), details={"title": "Convention", "author": "Trouville"})
    build_index(corpus_copy, library.index, embedder=fake_embedder)  # `rag index corpus/` later
    info = Retriever.load(library.index, embedder=fake_embedder).document("a.md").info
    assert (info.title, info.author) == ("Convention", "Trouville")
