"""The web app: ask in French or English, get the cited passages; add documents without restarting.

``serve`` is what ``rag serve`` runs; ``build_app`` returns the Gradio Blocks for a ``Library`` (tests launch it on
a free port). All retrieval is done by the ``rag`` library; this module only wires components to
``ui.library.Library``. What a visitor can and cannot do: docs/threat-model.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag.errors import RagError
from rag.i18n import LANGUAGES, area, number, text
from rag.index import ensure_index
from rag.store import MANIFEST
from ui import pages, render
from ui.guard import Guard, LoginThrottle, forget_files
from ui.library import DEFAULT_K, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MODE, Library
from ui.style import CSS, HEAD
from ui.uploads import ACCEPTED, UploadRejected

log = logging.getLogger("rag.ui")

EXAMPLES = [
    "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    "Which regions held the sham referendums?",
    "Quand le groupe-pays Russie a-t-il été créé ?",
    "What will the multinational force for Ukraine do?",
]
SEARCH_CONCURRENCY = 8
# Gradio's upload cache: every 5 minutes, files older than 15 minutes are deleted (an upload is deleted as soon as
# it has been handled; this catches files posted to the upload endpoint and never handed to the app). At most
# UPLOAD_CACHE_UPLOADS uploads of the largest size are held at once; the upload endpoint refuses more (ui.guard).
DELETE_CACHE = (300, 900)
UPLOAD_CACHE_UPLOADS = 10
# The interface speaks the browser's language (French or English; Gradio's settings panel switches it): rag.i18n's
# texts ``ui.*``. Results follow the question's language instead (ui.render), since a French reader may well ask in
# English.
I18N = gr.I18n()  # key markers only: the texts reach the browser through launch(), from translations()


def translations(limit_bytes: int) -> gr.I18n:
    """The interface texts in both languages, with the accepted types and this server's upload limit filled in."""
    types = " ".join(ACCEPTED)
    filled = {
        lang: {key: value.format(types=types, mb=number(limit_bytes / 2**20, lang)) for key, value in area("ui", lang).items()}
        for lang in LANGUAGES
    }
    return gr.I18n(**filled)


class RagBlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch`` applies the app's CSS, head script, theme, upload limit and ``ui.guard``;
    never shares. ``throttle`` and ``upload_budget`` (bytes) may be changed before ``launch``."""

    def __init__(self, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, routes: Sequence[Any] = (), **kwargs: Any) -> None:
        kwargs.setdefault("delete_cache", DELETE_CACHE)
        super().__init__(**kwargs)
        self.max_upload_bytes = max_upload_bytes
        self.routes = list(routes)  # the app's own routes beside Gradio's (ui.pages: the page view)
        self.throttle = LoginThrottle()
        self.upload_budget = UPLOAD_CACHE_UPLOADS * max_upload_bytes

    def launch(self, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("head", HEAD)
        kwargs.setdefault("theme", theme())
        kwargs.setdefault("i18n", translations(self.max_upload_bytes))
        kwargs.setdefault("max_file_size", self.max_upload_bytes)
        kwargs.setdefault("footer_links", ["api", "settings"])
        app_kwargs = dict(kwargs.get("app_kwargs") or {})
        guard = Middleware(Guard, blocks=self, throttle=self.throttle, upload_budget=self.upload_budget)
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), guard]
        app_kwargs["routes"] = [*app_kwargs.get("routes", []), *self.routes]
        kwargs["app_kwargs"] = app_kwargs
        kwargs["share"] = False
        return super().launch(**kwargs)

    def forget_upload(self, path: str) -> None:
        """Delete an uploaded file from Gradio's cache once the app has handled it (added or refused)."""
        forget_files([path], self.temp_file_sets)


def theme() -> gr.themes.Base:
    """A quiet theme with the system's own sans-serif font (nothing fetched from the network)."""
    font = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=font, font_mono=mono)


# -- event handlers ------------------------------------------------------------------------------------------------


def browser_language(request: gr.Request | None) -> str:
    """``fr`` when the browser asks for French first (its Accept-Language header), else ``en``."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    first = header.split(",")[0].split(";")[0].strip().lower()
    return "fr" if first.split("-")[0] == "fr" else "en"


def search_html(library: Library, question: str, k: float, sources: Sequence[str] | None, lang: str = "en") -> str:
    """The results area for one question (errors become a message, never a traceback).

    Results speak the question's language; messages about no question at all speak ``lang`` (the browser's).
    """
    if not (question or "").strip():
        return render.notice(text("results.empty_question", lang), "warn")
    try:
        answer = library.search(question, int(k), sources or None)
    except RagError as exc:
        return render.notice(str(exc), "error")
    except Exception:
        log.exception("search failed")
        return render.notice(text("results.search_failed", lang), "error")
    return render.render_results(answer.results, answer.contexts)


def document_choices(library: Library) -> list[tuple[str, str]]:
    """(label, source) pairs for the document filter; labels are titles, disambiguated when repeated."""
    docs = [info for info, _ in library.documents()]
    titles = [d.title for d in docs]
    return [(d.title if titles.count(d.title) == 1 else f"{d.title} ({d.source})", d.source) for d in docs]


def upload_outputs(library: Library, status: str, selected: Sequence[str] | None) -> tuple[Any, ...]:
    """Status message, refreshed document list, filter choices, and a cleared file input."""
    choices = document_choices(library)
    valid = {source for _, source in choices}
    kept = [s for s in (selected or []) if s in valid]
    return (
        status,
        render.render_documents(library.documents()),
        gr.Accordion(label=documents_label(library)),
        gr.Dropdown(choices=choices, value=kept),
        None,
    )


def upload_path(file: Any) -> str:
    """The path of what Gradio hands the upload handler (a path, or a file object)."""
    return str(file if isinstance(file, str) else getattr(file, "path", None) or file.name)


def add_document(library: Library, file: Any, selected: Sequence[str] | None, lang: str = "en") -> tuple[Any, ...]:
    """Upload handler: validate, store, add to the index, swap; the message says what happened, in ``lang``.

    The message is a sentence saying what the reader can do; technical details go to the server log only.
    """
    if not file:
        return upload_outputs(library, "", selected)
    path = upload_path(file)
    try:
        status = render.notice(library.add_document(path).message(lang), "ok")
    except UploadRejected as exc:
        status = render.notice(f"{exc.message(lang)} {text('upload.not_added', lang)}", "error")
    except Exception:
        log.exception("adding %s failed", path)
        status = render.notice(text("upload.failed", lang), "error")
    return upload_outputs(library, status, selected)


def documents_label(library: Library) -> str:
    return f"Documents ({len(library.retriever.documents)})"  # the same word in both languages


# -- layout --------------------------------------------------------------------------------------------------------


def build_app(library: Library) -> RagBlocks:
    """The app searching ``library`` and adding uploads to it (up to its ``max_upload_bytes`` each)."""
    demo = RagBlocks(
        title="rag — cited answers from your documents", analytics_enabled=False,
        max_upload_bytes=library.max_upload_bytes, routes=pages.routes(library),
    )  # fmt: skip
    with demo:
        gr.Markdown(I18N("header"), elem_id="rag-header")
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                label=I18N("question"), placeholder=I18N("placeholder"), scale=5, min_width=220,
                max_length=2000, elem_id="rag-question", autofocus=True,
            )
            ask = gr.Button(I18N("search"), variant="primary", scale=1, min_width=100, elem_id="rag-ask")
        examples = gr.Examples(EXAMPLES, inputs=[question], label=I18N("examples"))
        with gr.Row():
            k = gr.Slider(
                1, max(10, library.k), value=library.k, step=1, label=I18N("passages"), min_width=160, elem_id="rag-k"
            )
            sources = gr.Dropdown(
                choices=document_choices(library), value=[], multiselect=True, label=I18N("only"),
                info=I18N("only_info"), scale=2, min_width=220, elem_id="rag-sources",
            )
        results = gr.HTML(render.intro(), elem_id="rag-results", js_on_load=None)
        with gr.Accordion(documents_label(library), open=False, elem_id="rag-docs") as docs_panel:
            docs_html = gr.HTML(render.render_documents(library.documents()), js_on_load=None)
        with gr.Accordion(I18N("add"), open=False, elem_id="rag-add"):
            upload = gr.File(
                label=I18N("upload"), file_types=list(ACCEPTED),
                file_count="single", elem_id="rag-upload",
            )
            upload_status = gr.HTML("", elem_id="rag-upload-status", js_on_load=None)

        def on_search(q: str, n: float, chosen: list[str] | None, request: gr.Request) -> str:
            return search_html(library, q, n, chosen, browser_language(request))

        def on_upload(file: Any, chosen: list[str] | None, request: gr.Request) -> tuple[Any, ...]:
            try:
                return add_document(library, file, chosen, browser_language(request))
            finally:
                if file:
                    demo.forget_upload(upload_path(file))

        search_args: dict[str, Any] = {"fn": on_search, "inputs": [question, k, sources], "outputs": results}
        question.submit(**search_args, api_name="search")
        ask.click(**search_args, api_visibility="private")
        examples.load_input_event.then(**search_args, api_visibility="private")
        upload.upload(
            on_upload, inputs=[upload, sources], outputs=[upload_status, docs_html, docs_panel, sources, upload],
            concurrency_limit=1, concurrency_id="indexing", api_name="add_document",
        )
    demo.queue(default_concurrency_limit=SEARCH_CONCURRENCY)
    return demo


def open_library(
    index: str | Path,
    corpus: str | Path,
    uploads: str | Path,
    max_upload_bytes: int,
    progress: bool = False,
    *,
    k: int = DEFAULT_K,
    mode: str = DEFAULT_MODE,
) -> Library:
    """The library on ``index``, built from ``corpus`` first if missing; uploads are kept in ``uploads``; ``k`` and
    ``mode`` are the searches' defaults. With ``progress``, says on stdout what it builds and where."""
    missing = not (Path(index) / MANIFEST).is_file()
    if progress and missing:
        print(f"rag: no index in {index}/ yet: building it from {corpus}/ (once; later starts reuse it)", flush=True)
    report = ensure_index(index, corpus, progress=progress)
    if progress and report is not None:
        print(f"rag: indexed {corpus}/ into {index}/: {report.summary()}", flush=True)
    return Library(index, uploads, max_upload_bytes=max_upload_bytes, k=k, mode=mode)


def serve(
    index: str,
    corpus: str,
    uploads: str,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    auth: tuple[str, str] | None = None,
    k: int = DEFAULT_K,
    mode: str = DEFAULT_MODE,
) -> None:
    """Build the index if missing, then run the app (blocking) on ``host:port``; never a public share link.

    ``auth`` is the ``(user, password)`` a visitor must give before seeing anything (none: open to all); ``k`` the
    passages shown at first, ``mode`` how every search ranks (the settings ``k`` and ``mode``).
    """
    demo = build_app(open_library(index, corpus, uploads, max_upload_bytes, progress=True, k=k, mode=mode))
    # Gradio's own start-up lines include a hint about public share links, which rag never makes: rag says instead
    # where the app is, then serves until interrupted.
    demo.launch(
        server_name=host, server_port=port, auth=auth, quiet=True, prevent_thread_lock=True,
        auth_message="rag: sign in (user and password set by RAG_USER / RAG_PASSWORD)" if auth else None,
    )  # fmt: skip
    login = " (sign in with RAG_USER / RAG_PASSWORD)" if auth else ""
    print(f"rag: the web app is at {demo.local_url}{login}; Ctrl-C stops it", flush=True)
    demo.block_thread()
