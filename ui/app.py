"""The web app: ask in French or English, get the cited passages; add documents without restarting.

``serve`` is what ``rag serve`` runs; ``build_app`` returns the Gradio Blocks for a ``Library`` (tests launch it on
a free port). All retrieval is done by the ``rag`` library; this module only wires components to
``ui.library.Library``. What a visitor can and cannot do: docs/threat-model.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag.errors import RagError
from rag.i18n import LANGUAGES, area, number, text
from rag.index import ensure_index
from rag.store import MANIFEST
from rag.types import Results
from ui import pages, render
from ui.access import AccessLog, configure
from ui.collection import TRASH_DAYS
from ui.guard import Guard, LoginThrottle, forget_files
from ui.library import DEFAULT_K, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MODE, Added, Changed, Library, Listed
from ui.style import CSS, HEAD
from ui.uploads import ACCEPTED, Refused, UploadRejected

log = logging.getLogger("rag.ui")

EXAMPLES = [
    "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    "Which regions held the sham referendums?",
    "Quand le groupe-pays Russie a-t-il été créé ?",
    "What will the multinational force for Ukraine do?",
]
SEARCH_CONCURRENCY = 8
# Every open page asks this often whether the collection changed (a colleague added or removed a document), and
# reads its lists again when it did; the question costs a comparison of two numbers.
REFRESH_SECONDS = 5.0
DONE = {"describe": "described", "remove": "removed", "replace": "replaced", "restore": "restored"}  # the access log's
# Gradio's upload cache: every 5 minutes, files older than 15 minutes are deleted (an upload is deleted as soon as
# it has been handled; this catches files posted to the upload endpoint and never handed to the app). At most
# UPLOAD_CACHE_UPLOADS uploads of the largest size are held at once; the upload endpoint refuses more (ui.guard).
DELETE_CACHE = (300, 900)
UPLOAD_CACHE_UPLOADS = 10
# The interface speaks the browser's language (French or English; Gradio's settings panel switches it): rag.i18n's
# texts ``ui.*``. Results follow the question's language instead (ui.render), since a French reader may well ask in
# English.
I18N = gr.I18n()  # key markers only: the texts reach the browser through launch(), from translations()


def translations(limit_bytes: int, trash_days: float = TRASH_DAYS) -> gr.I18n:
    """The interface texts in both languages, with the accepted types, this server's upload limit and the days
    removed documents stay in the trash filled in."""
    types = " ".join(ACCEPTED)
    filled = {
        lang: {
            key: value.format(types=types, mb=number(limit_bytes / 2**20, lang), days=number(trash_days, lang))
            for key, value in area("ui", lang).items()
        }
        for lang in LANGUAGES
    }
    return gr.I18n(**filled)


class RagBlocks(gr.Blocks):
    """``gr.Blocks`` whose ``launch`` applies the app's CSS, head script, theme, upload limit and ``ui.guard``;
    never shares. ``throttle`` and ``upload_budget`` (bytes) may be changed before ``launch``."""

    def __init__(
        self,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        trash_days: float = TRASH_DAYS,
        routes: Sequence[Any] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("delete_cache", DELETE_CACHE)
        super().__init__(**kwargs)
        self.max_upload_bytes = max_upload_bytes
        self.trash_days = trash_days
        self.routes = list(routes)  # the app's own routes beside Gradio's (ui.pages: the page view)
        self.throttle = LoginThrottle()
        self.upload_budget = UPLOAD_CACHE_UPLOADS * max_upload_bytes

    def launch(self, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("head", HEAD)
        kwargs.setdefault("theme", theme())
        kwargs.setdefault("i18n", translations(self.max_upload_bytes, self.trash_days))
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


def user_of(request: gr.Request | None) -> str:
    """Who is signed in ("" without a login)."""
    return str(getattr(request, "username", None) or "")


def search_html(
    library: Library, question: str, k: float, sources: Sequence[str] | None, lang: str = "en",
    on_results: Callable[[Results | None, str], None] | None = None,
) -> str:  # fmt: skip
    """The results area for one question (errors become a message, never a traceback).

    Results speak the question's language; messages about no question at all speak ``lang`` (the browser's).
    ``on_results`` receives the results (None when there are none) and what happened (the access log's outcome).
    """
    said = on_results or (lambda results, outcome: None)
    if not (question or "").strip():
        said(None, "empty")
        return render.notice(text("results.empty_question", lang), "warn")
    try:
        answer = library.search(question, int(k), sources or None)
    except RagError as exc:
        said(None, "refused")
        return render.notice(str(exc), "error")
    except Exception:
        log.exception("search failed")
        said(None, "failed")
        return render.notice(text("results.search_failed", lang), "error")
    said(answer.results, "")
    return render.render_results(answer.results, answer.contexts)


def document_choices(listing: Sequence[Listed]) -> list[tuple[str, str]]:
    """(label, source) pairs for the document filter; labels are titles, disambiguated when repeated."""
    titles = [d.info.title for d in listing]
    return [
        (d.info.title if titles.count(d.info.title) == 1 else f"{d.info.title} ({d.info.source})", d.info.source)
        for d in listing
    ]


def documents_label(count: int) -> str:
    return f"Documents ({count})"  # the same word in both languages


def collection_view(
    library: Library, lang: str, chosen: Sequence[str] | None = None, managed: str | None = None, trashed: str | None = None
) -> tuple[Any, ...]:
    """What every page shows of the collection, read now: the documents' panel and list, the filter's choices
    (keeping the chosen ones still there), the documents that can be changed here (or a note that there are none,
    the form hidden), the trash (likewise), and the collection's version that this view shows."""
    version = library.version  # read first: a change landing meanwhile is shown at the next refresh
    listing = library.listing()
    choices = document_choices(listing)
    valid = {source for _, source in choices}
    own = {d.info.source for d in listing if d.uploaded}
    uploaded = [(label, source) for label, source in choices if source in own]
    trash = library.trash()
    return (
        gr.Accordion(label=documents_label(len(listing))),
        render.render_documents(listing, lang),
        gr.Dropdown(choices=choices, value=[s for s in (chosen or []) if s in valid]),
        gr.Dropdown(choices=uploaded, value=managed if managed in own else None),
        gr.HTML(render.notice(text("docs.none_uploaded", lang), "info"), visible=not own),
        gr.Column(visible=bool(own)),
        gr.Accordion(label=f"{text('ui.trash', lang)} ({len(trash)})"),
        gr.Dropdown(
            choices=[(render.trash_label(i, lang), i.id) for i in trash],
            value=trashed if trashed in {i.id for i in trash} else None,
        ),
        gr.HTML(render.notice(text("docs.trash_empty", lang), "info"), visible=not trash),
        gr.Column(visible=bool(trash)),
        version,
    )


def upload_path(file: Any) -> str:
    """The path of what Gradio hands the upload handler (a path, or a file object)."""
    return str(file if isinstance(file, str) else getattr(file, "path", None) or file.name)


def upload_name(file: Any) -> str:
    return Path(upload_path(file)).name if file else ""


def change_status(
    change: Callable[[], Added | Changed], lang: str, refused_suffix: str
) -> tuple[str, str, Added | Changed | None]:
    """Run a change of the collection: the message that replaces the previous one, the access log's outcome, and
    what was done (None when nothing was)."""
    try:
        done = change()
    except UploadRejected as exc:
        return render.notice(f"{exc.message(lang)} {text(refused_suffix, lang)}", "error"), f"refused:{exc.key}", None
    except Refused as exc:
        return render.notice(exc.message(lang), "error"), f"refused:{exc.key}", None
    except Exception:
        log.exception("a change of the collection failed")
        failed = "upload.failed" if refused_suffix == "upload.not_added" else "library.failed"
        return render.notice(text(failed, lang), "error"), "failed", None
    return render.notice(done.message(lang), "ok"), "ok", done


def add_document(
    library: Library, file: Any, details: Mapping[str, str] | None = None, lang: str = "en", user: str = ""
) -> tuple[str, str, Added | None]:
    """Upload handler: validate, store, add to the index, swap; the message says what happened, in ``lang``, with
    the access log's outcome and what was added.

    The message is a sentence saying what the reader can do; technical details go to the server log only.
    """
    if not file:
        return "", "", None
    status, outcome, done = change_status(
        lambda: library.add_document(upload_path(file), details=details, user=user), lang, "upload.not_added"
    )
    return status, "added" if done else outcome, done if isinstance(done, Added) else None


def working(kind: str, name: str, lang: str) -> str:
    """The message shown while a change runs (it replaces the previous one; the next replaces it)."""
    if not name:
        return render.notice(text("library.choose_trash" if kind == "restore" else "library.choose", lang), "error")
    return render.notice(text(f"library.working_{kind}", lang, name=name), "working")


def details_of(library: Library, source: str | None) -> tuple[str, str, str]:
    """The title, date and author of an uploaded document, for the form that corrects them."""
    if not source:
        return "", "", ""
    for info in library.uploaded():
        if info.source == source:
            return info.title, info.date, info.author
    return "", "", ""


# -- layout --------------------------------------------------------------------------------------------------------


def build_app(library: Library, access: AccessLog | None = None) -> RagBlocks:
    """The app searching ``library`` and changing its collection (uploads up to its ``max_upload_bytes`` each);
    ``access``: the access log's writer (``ui.access``)."""
    log_line = access or AccessLog()
    demo = RagBlocks(
        title="rag — cited answers from your documents", analytics_enabled=False,
        max_upload_bytes=library.max_upload_bytes, trash_days=library.collection.trash_days,
        routes=pages.routes(library, log_line),
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
            # The collection's lists are read when a page loads and refreshed when it changes (collection_view):
            # built empty, so that no page shows the collection as it was when the app started.
            sources = gr.Dropdown(
                choices=[], value=[], multiselect=True, label=I18N("only"),
                info=I18N("only_info"), scale=2, min_width=220, elem_id="rag-sources",
            )
        results = gr.HTML(render.intro(), elem_id="rag-results", js_on_load=None)
        with gr.Accordion(documents_label(0), open=False, elem_id="rag-docs") as docs_panel:
            docs_html = gr.HTML("", js_on_load=None, elem_id="rag-docs-list")
        with gr.Accordion(I18N("add"), open=False, elem_id="rag-add"):
            gr.Markdown(I18N("add_details"), elem_classes="rag-hint")
            with gr.Row():
                add_title = gr.Textbox(
                    label=I18N("title"), placeholder=I18N("title_placeholder"), scale=3, max_length=400, elem_id="rag-add-title"
                )
                add_date = gr.Textbox(
                    label=I18N("date"), placeholder=I18N("date_placeholder"), scale=1, min_width=200, max_length=40,
                    elem_id="rag-add-date",
                )  # fmt: skip
                add_author = gr.Textbox(
                    label=I18N("author"), placeholder=I18N("author_placeholder"), scale=2, max_length=300,
                    elem_id="rag-add-author",
                )  # fmt: skip
            upload = gr.File(label=I18N("upload"), file_types=list(ACCEPTED), file_count="single", elem_id="rag-upload")
        with gr.Accordion(I18N("manage"), open=False, elem_id="rag-manage"):
            gr.Markdown(I18N("manage_info"), elem_classes="rag-hint")
            none_uploaded = gr.HTML("", js_on_load=None, elem_id="rag-manage-none")
            with gr.Column(visible=False, elem_id="rag-manage-form") as manage_form:
                managed = gr.Dropdown(choices=[], value=None, label=I18N("document"), elem_id="rag-manage-doc")
                with gr.Row():
                    edit_title = gr.Textbox(label=I18N("title"), scale=3, max_length=400, elem_id="rag-edit-title")
                    edit_date = gr.Textbox(
                        label=I18N("date"), placeholder=I18N("date_placeholder"), scale=1, min_width=200, max_length=40,
                        elem_id="rag-edit-date",
                    )  # fmt: skip
                    edit_author = gr.Textbox(label=I18N("author"), scale=2, max_length=300, elem_id="rag-edit-author")
                with gr.Row():
                    save = gr.Button(I18N("save"), variant="primary", elem_id="rag-save")
                    remove = gr.Button(I18N("remove"), variant="stop", elem_id="rag-remove")
                replacement = gr.File(
                    label=I18N("replace"), file_types=list(ACCEPTED), file_count="single", elem_id="rag-replace"
                )
        with gr.Accordion(I18N("trash"), open=False, elem_id="rag-trash") as trash_panel:
            gr.Markdown(I18N("trash_info"), elem_classes="rag-hint")
            trash_empty = gr.HTML("", js_on_load=None, elem_id="rag-trash-empty")
            with gr.Column(visible=False, elem_id="rag-trash-form") as trash_form:
                trashed = gr.Dropdown(choices=[], value=None, label=I18N("trash_item"), elem_id="rag-trash-item")
                restore = gr.Button(I18N("restore"), elem_id="rag-restore")
        # One message at a time for every change of the collection: what is being done, then what was done.
        status = gr.HTML("", elem_id="rag-status", js_on_load=None)
        seen = gr.State(-1)  # the collection's version this page shows
        timer = gr.Timer(REFRESH_SECONDS)

        view = [docs_panel, docs_html, sources, managed, none_uploaded, manage_form]
        view += [trash_panel, trashed, trash_empty, trash_form, seen]

        def current(request: gr.Request | None, chosen: list[str] | None, doc: str | None, item: str | None) -> tuple[Any, ...]:
            return collection_view(library, browser_language(request), chosen, doc, item)

        def on_load(chosen: list[str] | None, request: gr.Request) -> tuple[Any, ...]:
            started = time.perf_counter()
            shown = current(request, chosen, None, None)
            log_line.write("open", started, user_of(request), documents=len(library.retriever.documents))
            return shown

        def on_tick(
            version: int, chosen: list[str] | None, doc: str | None, item: str | None, request: gr.Request
        ) -> tuple[Any, ...]:
            if version == library.version:
                return tuple(gr.skip() for _ in view)
            return current(request, chosen, doc, item)

        def on_search(q: str, n: float, chosen: list[str] | None, request: gr.Request) -> str:
            started = time.perf_counter()
            user, lang = user_of(request), browser_language(request)

            def said(found: Results | None, outcome: str) -> None:
                chose = len(chosen or []) or None
                log_line.search(started, user, q or "", found, k=int(n), filter=chose, outcome=outcome or None)

            return search_html(library, q, n, chosen, lang, said)

        def on_upload(
            file: Any, title: str, date: str, author: str, chosen: list[str] | None, doc: str | None, item: str | None,
            request: gr.Request,
        ) -> tuple[Any, ...]:  # fmt: skip
            started = time.perf_counter()
            lang, user = browser_language(request), user_of(request)
            try:
                details = {"title": title, "date": date, "author": author}
                message, outcome, added = add_document(library, file, details, lang, user)
            finally:
                if file:
                    demo.forget_upload(upload_path(file))
            if file:
                stored = added.stored_as if added else upload_name(file)
                log_line.write("add", started, user, outcome=outcome, file=stored, passages=added.passages if added else None)
            cleared: tuple[Any, ...] = ("", "", "") if added else (gr.skip(), gr.skip(), gr.skip())
            return (message, *current(request, chosen, added.stored_as if added else doc, item), None, *cleared)

        def changed(
            route: str, change: Callable[[], Added | Changed], request: gr.Request, chosen: list[str] | None,
            doc: str | None, item: str | None, name: str,
        ) -> tuple[tuple[Any, ...], Added | Changed | None]:  # fmt: skip
            """The message and the view after a change (the document chosen after it), and what was done."""
            started = time.perf_counter()
            lang, user = browser_language(request), user_of(request)
            message, outcome, done = change_status(change, lang, "library.not_changed")
            log_line.write(route, started, user, outcome=DONE[route] if done else outcome, file=name)
            after = done.source if isinstance(done, Changed) and done.source else (None if done and route == "remove" else doc)
            return (message, *current(request, chosen, after, None if done and route == "restore" else item)), done

        def on_describe(
            doc: str | None, title: str, date: str, author: str, chosen: list[str] | None, item: str | None, request: gr.Request
        ) -> tuple[Any, ...]:
            details = {"title": title, "date": date, "author": author}
            change = _chosen(doc, lambda: library.describe(doc or "", details, user=user_of(request)))
            shown, done = changed("describe", change, request, chosen, doc, item, doc or "")
            return (*shown, *(details_of(library, doc) if done else (gr.skip(),) * 3))  # as citations now write them

        def on_remove(doc: str | None, chosen: list[str] | None, item: str | None, request: gr.Request) -> tuple[Any, ...]:
            change = _chosen(doc, lambda: library.remove_document(doc or "", user=user_of(request)))
            return changed("remove", change, request, chosen, doc, item, doc or "")[0]

        def on_replace(
            file: Any, doc: str | None, chosen: list[str] | None, item: str | None, request: gr.Request
        ) -> tuple[Any, ...]:
            if not file:
                return (gr.skip(), *(gr.skip() for _ in view), None)
            try:
                change = _chosen(doc, lambda: library.replace_document(doc or "", upload_path(file), user=user_of(request)))
                return (*changed("replace", change, request, chosen, doc, item, doc or "")[0], None)
            finally:
                demo.forget_upload(upload_path(file))

        def on_restore(item: str | None, chosen: list[str] | None, doc: str | None, request: gr.Request) -> tuple[Any, ...]:
            name = next((i.source for i in library.trash() if i.id == item), "")
            change = _chosen(item, lambda: library.restore(item or "", user=user_of(request)), "library.choose_trash")
            return changed("restore", change, request, chosen, doc, item, name)[0]

        def begin(kind: str) -> Callable[[Any, gr.Request], str]:
            """The handler that says, at once, what is being done (the change itself follows)."""

            def show(chosen: Any, request: gr.Request) -> str:
                if kind in ("add", "replace"):
                    name = upload_name(chosen)
                elif kind == "restore":
                    name = next((i.title for i in library.trash() if i.id == chosen), "")
                else:
                    name = str(chosen or "")
                return working(kind, name, browser_language(request))

            return show

        quiet: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "private"}
        # Changes run one at a time, after their message; no progress overlay covers the message (one place for it).
        indexing: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "indexing", "show_progress": "hidden"}
        demo.load(on_load, inputs=[sources], outputs=view, **quiet)
        timer.tick(on_tick, inputs=[seen, sources, managed, trashed], outputs=view, concurrency_limit=None, **quiet)
        search_args: dict[str, Any] = {"fn": on_search, "inputs": [question, k, sources], "outputs": results}
        question.submit(**search_args, api_name="search")
        ask.click(**search_args, api_visibility="private")
        examples.load_input_event.then(**search_args, api_visibility="private")
        upload.upload(begin("add"), inputs=[upload], outputs=[status], **quiet).then(
            on_upload, inputs=[upload, add_title, add_date, add_author, sources, managed, trashed],
            outputs=[status, *view, upload, add_title, add_date, add_author], api_name="add_document", **indexing,
        )  # fmt: skip
        managed.change(
            lambda doc: details_of(library, doc), inputs=[managed], outputs=[edit_title, edit_date, edit_author], **quiet
        )
        save.click(begin("describe"), inputs=[managed], outputs=[status], **quiet).then(
            on_describe, inputs=[managed, edit_title, edit_date, edit_author, sources, trashed],
            outputs=[status, *view, edit_title, edit_date, edit_author], api_name="describe_document", **indexing,
        )  # fmt: skip
        remove.click(begin("remove"), inputs=[managed], outputs=[status], **quiet).then(
            on_remove, inputs=[managed, sources, trashed], outputs=[status, *view], api_name="remove_document", **indexing
        )
        replacement.upload(begin("replace"), inputs=[replacement], outputs=[status], **quiet).then(
            on_replace, inputs=[replacement, managed, sources, trashed], outputs=[status, *view, replacement],
            api_name="replace_document", **indexing,
        )  # fmt: skip
        restore.click(begin("restore"), inputs=[trashed], outputs=[status], **quiet).then(
            on_restore, inputs=[trashed, sources, managed], outputs=[status, *view], api_name="restore_document", **indexing
        )
    demo.queue(default_concurrency_limit=SEARCH_CONCURRENCY)
    return demo


def _chosen(
    choice: str | None, change: Callable[[], Added | Changed], missing: str = "library.choose"
) -> Callable[[], Added | Changed]:
    """``change``, or a refusal saying to choose first when nothing is chosen."""

    def run() -> Added | Changed:
        if not choice:
            raise Refused(missing.removeprefix("library."))
        return change()

    return run


def open_library(
    index: str | Path,
    corpus: str | Path,
    uploads: str | Path,
    max_upload_bytes: int,
    progress: bool = False,
    *,
    k: int = DEFAULT_K,
    mode: str = DEFAULT_MODE,
    trash_days: float = TRASH_DAYS,
) -> Library:
    """The library on ``index``, built from ``corpus`` first if missing; uploads are kept in ``uploads`` (removed
    ones in its trash for ``trash_days``); ``k`` and ``mode`` are the searches' defaults. With ``progress``, says on
    stdout what it builds and where."""
    missing = not (Path(index) / MANIFEST).is_file()
    if progress and missing:
        print(f"rag: no index in {index}/ yet: building it from {corpus}/ (once; later starts reuse it)", flush=True)
    report = ensure_index(index, corpus, progress=progress)
    if progress and report is not None:
        print(f"rag: indexed {corpus}/ into {index}/: {report.summary()}", flush=True)
    return Library(index, uploads, max_upload_bytes=max_upload_bytes, k=k, mode=mode, trash_days=trash_days)


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
    trash_days: float = TRASH_DAYS,
    access_log: str = "stderr",
    log_questions: bool = False,
) -> None:
    """Build the index if missing, then run the app (blocking) on ``host:port``; never a public share link.

    ``auth`` is the ``(user, password)`` a visitor must give before seeing anything (none: open to all); ``k`` the
    passages shown at first, ``mode`` how every search ranks, ``trash_days`` how long a removed document can be
    restored; ``access_log`` where the access log goes (``stderr``, ``off`` or a file), ``log_questions`` whether it
    holds the questions' text (the settings of the same names).
    """
    configure(access_log)
    library = open_library(index, corpus, uploads, max_upload_bytes, progress=True, k=k, mode=mode, trash_days=trash_days)
    demo = build_app(library, AccessLog(questions=log_questions))
    # Gradio's own start-up lines include a hint about public share links, which rag never makes: rag says instead
    # where the app is, then serves until interrupted.
    demo.launch(
        server_name=host, server_port=port, auth=auth, quiet=True, prevent_thread_lock=True,
        auth_message="rag: sign in (user and password set by RAG_USER / RAG_PASSWORD)" if auth else None,
    )  # fmt: skip
    login = " (sign in with RAG_USER / RAG_PASSWORD)" if auth else ""
    print(f"rag: the web app is at {demo.local_url}{login}; Ctrl-C stops it", flush=True)
    demo.block_thread()
