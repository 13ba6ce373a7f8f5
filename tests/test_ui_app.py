"""The web app's wiring without a browser: handlers, launch options, ``serve`` (fake embedder, no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.retrieve.retriever import Retriever
from ui import app
from ui.library import Library


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, tmp_path / "uploads", Retriever.load(index, embedder=fake_embedder), max_upload_bytes=3 * 2**20)


def test_search_html_renders_cards(library: Library) -> None:
    html = app.search_html(library, "référendums OTAN", 3, None)
    assert html.count('class="rag-card') == 3


def test_the_library_searches_with_the_configured_mode_and_shows_the_configured_k(library: Library) -> None:
    dense = Library(library.index, library.uploads, library.retriever, k=7, mode="dense")
    answer = dense.search("référendums OTAN", 4)
    expected = library.retriever.search("référendums OTAN", k=4, mode="dense")
    assert [h.id for h in answer.results] == [h.id for h in expected]
    assert answer.results.confidence is None  # dense mode: the evidence is not measured, as for `rag ask --mode dense`
    assert library.search("référendums OTAN", 4).results.confidence is not None  # hybrid, the default
    slider = next(c for c in app.build_app(dense).blocks.values() if getattr(c, "elem_id", None) == "rag-k")
    assert slider.value == 7


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
    assert texts["en"]["upload"] == ".txt .md .pdf .docx .html .png .jpg .jpeg .tif .tiff · up to 0.5 MB"
    assert texts["fr"]["upload"] == ".txt .md .pdf .docx .html .png .jpg .jpeg .tif .tiff · jusqu'à 0,5 Mo"
    assert texts["en"].keys() == texts["fr"].keys()


def test_add_document_handler_reports_and_the_view_is_read_again(library: Library, tmp_path: Path) -> None:
    before = app.collection_view(library, "en", ["cuf_groupe-pays-russie.txt"])
    upload = tmp_path / "Dijon.txt"
    upload.write_text("Le jumelage entre Dijon et Volgograd date de 1966.", encoding="utf-8")
    status, outcome, added = app.add_document(library, str(upload), {"author": "Ville de Dijon"}, user="alice")
    assert "rag-ok" in status and outcome == "added" and added is not None and added.stored_as == "Dijon.txt"
    panel, docs, dropdown, managed, none_here, form, trash_panel, trashed, trash_empty, trash_form, version = (
        app.collection_view(library, "en", ["cuf_groupe-pays-russie.txt", "gone.txt"], "Dijon.txt")
    )
    assert version == before[-1] + 1 and "(6)" in panel.label and "(5)" in before[0].label
    assert "Dijon.txt" in docs and "Ville de Dijon" in docs and "by alice" in docs and "added here" in docs
    assert ("Dijon", "Dijon.txt") in dropdown.choices and dropdown.value == ["cuf_groupe-pays-russie.txt"]
    assert managed.choices == [("Dijon", "Dijon.txt")] and managed.value == "Dijon.txt"  # only what was added here
    assert not none_here.visible and form.visible and "No document has been added" in before[4].value
    assert before[4].visible and not before[5].visible  # before: a note, and no form
    assert "Trash (0)" in trash_panel.label and trashed.choices == [] and "empty" in trash_empty.value
    assert trash_empty.visible and not trash_form.visible
    bad = tmp_path / "fake.pdf"
    bad.write_bytes(b"%PDF-1.4 not a pdf")
    status, outcome, added = app.add_document(library, str(bad))
    assert "rag-error" in status and "fake.pdf could not be read as a PDF" in status and "Nothing was added." in status
    assert "Error" not in status and outcome == "refused:unreadable_pdf" and added is None
    status, *_ = app.add_document(library, str(bad), lang="fr")
    assert "rag-error" in status and "fake.pdf n&#x27;a pas pu être lu comme un PDF" in status
    assert "Rien n&#x27;a été ajouté." in status
    assert library.version == version  # nothing changed


def test_build_app_and_launch_options(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs))
    demo = app.build_app(library)
    assert isinstance(demo, gr.Blocks)
    demo.launch(share=True)
    assert seen["share"] is False
    assert seen["max_file_size"] == 3 * 2**20  # the library's limit, passed as an argument (no environment)
    assert seen["i18n"].translations_dict["en"]["upload"].endswith("up to 3 MB")
    assert ".rag-card" in seen["css"] and "rag-copy" in seen["head"]
    assert demo.delete_cache == app.DELETE_CACHE and demo.upload_budget == app.UPLOAD_CACHE_UPLOADS * 3 * 2**20
    assert [m.cls.__name__ for m in seen["app_kwargs"]["middleware"]] == ["Guard"]


def test_serve_builds_missing_index_then_launches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[Any] = []

    class Demo:
        local_url = "http://127.0.0.1:7999/"

        def launch(self, **kwargs: Any) -> None:
            calls.append(("launch", kwargs))

        def block_thread(self) -> None:
            calls.append(("block", {}))

    def open_library(
        index: str, corpus: str, uploads: str, max_upload_bytes: int, progress: bool = False, **settings: Any
    ) -> str:
        calls.append(("library", (index, corpus, uploads, max_upload_bytes, progress, settings)))
        return "library"

    monkeypatch.setattr(app, "open_library", open_library)
    monkeypatch.setattr(app, "build_app", lambda library, access: calls.append(("access", access)) or Demo())
    monkeypatch.setattr(app, "configure", lambda destination: calls.append(("log", destination)))
    app.serve(
        "i", "c", "u", host="127.0.0.1", port=7999, max_upload_bytes=1234, auth=("rag", "pw"), k=7, mode="dense",
        trash_days=3.0, access_log="access.log", log_questions=True,
    )  # fmt: skip
    assert calls.pop(0) == ("log", "access.log")
    assert calls.pop(0) == ("library", ("i", "c", "u", 1234, True, {"k": 7, "mode": "dense", "trash_days": 3.0}))
    assert calls.pop(0) == ("access", app.AccessLog(questions=True))
    kind, kwargs = calls.pop(0)
    assert kind == "launch" and kwargs["server_name"] == "127.0.0.1" and kwargs["server_port"] == 7999
    assert kwargs["auth"] == ("rag", "pw")
    # Gradio's start-up lines (with their hint about share links) are silenced; rag says where the app is, then serves.
    assert kwargs["quiet"] and kwargs["prevent_thread_lock"] and calls == [("block", {})]
    assert capsys.readouterr().out == (
        "rag: the web app is at http://127.0.0.1:7999/ (sign in with RAG_USER / RAG_PASSWORD); Ctrl-C stops it\n"
    )


def test_open_library_builds_a_missing_index_and_keeps_uploads_apart(
    corpus_copy: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    library = app.open_library(tmp_path / "index", corpus_copy, tmp_path / "uploads", 2**20, progress=True)
    out = capsys.readouterr().out
    assert out.startswith(f"rag: no index in {tmp_path / 'index'}/ yet: building it from {corpus_copy}/")
    assert f"rag: indexed {corpus_copy}/ into {tmp_path / 'index'}/: 5 documents" in out
    assert len(library.documents()) == 5 and library.uploads == tmp_path / "uploads"
    app.open_library(tmp_path / "index", corpus_copy, tmp_path / "uploads", 2**20, progress=True)
    assert "rag:" not in capsys.readouterr().out  # the index is there: nothing to say
    assert library.max_upload_bytes == 2**20
