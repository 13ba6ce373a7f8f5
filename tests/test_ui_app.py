"""The web app's wiring without a browser: handlers, launch options, ``serve`` (fake embedder, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from rag import store
from rag.errors import IndexIncompatibleError
from rag.index import build_index
from rag.retriever import Retriever
from tests.fakes import FakeEmbedder
from tests.helpers import downgrade_to_format_1
from ui import app
from ui.library import Library, ensure_index


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, corpus_copy, Retriever.load(index, embedder=fake_embedder))


def test_search_html_renders_cards(library: Library) -> None:
    html = app.search_html(library, "référendums OTAN", 3, None)
    assert html.count('class="rag-card') == 3


def test_search_html_restricts_to_the_chosen_documents(library: Library) -> None:
    source = "cuf_groupe-pays-russie.txt"
    html = app.search_html(library, "référendums OTAN", 5, [source])
    assert html.count(f"of {source}") == html.count('class="rag-card') > 0


def test_search_html_shows_library_errors_as_messages(library: Library) -> None:
    assert "Type a question" in app.search_html(library, "   ", 5, None)
    assert "Saisissez une question" in app.search_html(library, "   ", 5, None, lang="fr")
    assert "unknown document" in app.search_html(library, "question", 5, ["nope.txt"])
    assert "rag-error" in app.search_html(library, "x" * 5000, 5, None)


def test_browser_language_reads_accept_language() -> None:
    class Request:
        def __init__(self, header: str) -> None:
            self.headers = {"accept-language": header} if header else {}

    cases = {"fr-FR,fr;q=0.9,en;q=0.8": "fr", "fr": "fr", "en-US,fr;q=0.5": "en", "de-DE": "en", "": "en"}
    for header, lang in cases.items():
        assert app.browser_language(Request(header)) == lang, header  # type: ignore[arg-type]
    assert app.browser_language(None) == "en"


def test_interface_texts_carry_the_upload_limit() -> None:
    texts = app.translations(int(0.5 * 2**20)).translations_dict
    assert texts["en"]["upload"] == ".txt .md .pdf .docx .html · up to 0.5 MB"
    assert texts["fr"]["upload"] == ".txt .md .pdf .docx .html · jusqu'à 0,5 Mo"
    assert texts["en"].keys() == texts["fr"].keys()


def test_add_document_handler_reports_and_refreshes(library: Library, tmp_path: Path) -> None:
    upload = tmp_path / "Dijon.txt"
    upload.write_text("Le jumelage entre Dijon et Volgograd date de 1966.", encoding="utf-8")
    status, docs, panel, dropdown, cleared = app.add_document(library, str(upload), ["cuf_groupe-pays-russie.txt"])
    assert "rag-ok" in status and "Dijon.txt" in docs
    assert "(6)" in panel.label
    assert ("Dijon", "Dijon.txt") in dropdown.choices and dropdown.value == ["cuf_groupe-pays-russie.txt"]
    assert cleared is None
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    status, *_ = app.add_document(library, str(bad), None)
    assert "rag-error" in status and "Nothing was added" in status
    status, *_ = app.add_document(library, str(bad), None, lang="fr")
    assert "rag-error" in status and "Rien n&#x27;a été ajouté." in status


def test_build_app_and_launch_options(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "ensure_index", lambda *a, **k: None)
    monkeypatch.setattr(app, "Library", lambda *a, **k: library)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("RAG_MAX_UPLOAD_MB", "3")
    demo = app.build_app("index", "corpus")
    assert isinstance(demo, gr.Blocks)
    demo.launch(share=True)
    assert seen["share"] is False
    assert seen["max_file_size"] == 3 * 2**20
    assert ".rag-card" in seen["css"] and "rag-copy" in seen["head"]


def test_auth_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_PASSWORD", raising=False)
    assert app.auth_from_env() is None
    monkeypatch.setenv("RAG_PASSWORD", "s3cret")
    monkeypatch.delenv("RAG_USER", raising=False)
    assert app.auth_from_env() == ("rag", "s3cret")
    monkeypatch.setenv("RAG_USER", "alice")
    assert app.auth_from_env() == ("alice", "s3cret")


def test_serve_builds_missing_index_then_launches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Any] = []

    class Demo:
        def launch(self, **kwargs: Any) -> None:
            calls.append(("launch", kwargs))

    monkeypatch.setattr(app, "ensure_index", lambda index, corpus, progress=False: calls.append(("index", progress)))
    monkeypatch.setattr(app, "build_app", lambda index, corpus: Demo())
    monkeypatch.setenv("RAG_PASSWORD", "pw")
    app.serve(str(tmp_path / "index"), str(tmp_path), host="127.0.0.1", port=7999)
    assert calls[0] == ("index", True)
    kwargs = calls[1][1]
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == 7999
    assert kwargs["auth"] == ("rag", "pw")


def test_ensure_index_builds_a_missing_index_and_leaves_a_current_one(
    corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    index = tmp_path / "index"
    report = ensure_index(index, corpus_copy, embedder=fake_embedder)
    assert report is not None and report.documents == 5 and (index / store.MANIFEST).is_file()
    assert ensure_index(index, corpus_copy, embedder=fake_embedder) is None


def test_ensure_index_upgrades_an_older_format_without_embedding_again(
    corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    downgrade_to_format_1(index)
    report = ensure_index(index, corpus_copy, embedder=fake_embedder)
    assert report is not None and report.embedded == 0 and report.reused > 0
    assert store.read_manifest(index)["format_version"] == store.FORMAT_VERSION
    assert Retriever.load(index, embedder=fake_embedder).search("référendums OTAN", k=1)


def test_ensure_index_does_not_rebuild_an_index_of_another_folder(
    corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    downgrade_to_format_1(index)
    before = (index / store.MANIFEST).read_bytes()
    with pytest.raises(IndexIncompatibleError, match=r"format 1 .* re-run `rag index`"):
        ensure_index(index, tmp_path / "elsewhere", embedder=fake_embedder)
    assert (index / store.MANIFEST).read_bytes() == before
