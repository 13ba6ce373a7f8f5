"""The page view in the web app: a control on each card of a paginated document, and the route that draws the page.

``GET rag/page?id=<passage id>&hl=<start>-<end>,...`` answers the PNG of the passage's page with its lines marked
(``rag.render``), the answering sentences (``hl``: spans of the passage's text, the card's highlights) marked more
strongly; ``&format=json`` answers the marks themselves (rectangles as fractions of the page). Only passages of the
served index are drawn, from the files it was built from, behind the same login as the app: the route is one of the
app's own (installed by ``ui.app.RagBlocks``), and refuses a visitor without Gradio's session cookie when a login is
set (tests/test_ui_pages.py checks it against Gradio). Drawing is bounded in size and time and cached
(``rag.render.service``).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rag.i18n import area
from rag.types import Hit, Span

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

    from ui.access import AccessLog
    from ui.library import Library

log = logging.getLogger("rag.ui")

PATH = "/rag/page"


def _esc(text: object) -> str:
    import html

    return html.escape(str(text), quote=True)


def page_url(passage_id: str, highlights: Sequence[Span] = ()) -> str:
    """The page view of a passage with its answering sentences (relative to the app's page: any root path works)."""
    spans = ",".join(f"{s.start}-{s.end}" for s in highlights)
    return f"{PATH.lstrip('/')}?id={quote(passage_id, safe='')}&hl={spans}"


def ocr_badge(hit: Hit, lang: str = "en") -> str:
    """The card's note that its text was recognised by OCR, with the mean confidence; "" for a text layer."""
    if hit.ocr is None:
        return ""
    t = area("page", lang)
    title = _esc(t["ocr_title"].format(confidence=hit.ocr))
    return f'<span class="rag-badge rag-ocr" title="{title}">{_esc(t["ocr"].format(confidence=hit.ocr))}</span>'


def page_control(hit: Hit, lang: str = "en") -> str:
    """A closed ``<details>`` holding the page image, fetched only when opened (``loading=lazy`` in a closed
    element); "" for a document without pages."""
    if hit.page is None:
        return ""
    t = area("page", lang)
    url = _esc(page_url(hit.id, hit.highlights))
    alt = _esc(t["alt"].format(page=hit.page, source=hit.source))
    return (
        f'<details class="rag-page"><summary>{_esc(t["page"].format(page=hit.page))}</summary>'
        f'<a href="{url}" target="_blank" rel="noopener" class="rag-page-full">{_esc(t["full"])}</a>'
        f'<img class="rag-page-img" loading="lazy" src="{url}" alt="{alt}"></details>'
    )


async def signed_in_as(request: Request) -> str | None:
    """Who the visitor is signed in as ("" when no login is set); None when a login is set and the visitor has not
    signed in (Gradio's session cookie unknown: what Gradio's own ``/gradio_api/user`` checks)."""
    app: Any = request.app
    if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
        return ""
    if app.auth_dependency is not None:
        user = app.auth_dependency(request)
        user = await user if inspect.isawaitable(user) else user
        return None if user is None else str(user)
    cookie = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(f"access-token-unsecure-{cookie}")
    user = app.tokens.get(token)
    return None if user is None else str(user)


async def signed_in(request: Request) -> bool:
    """Whether the visitor may see the collection: no login is set, or the visitor has signed in."""
    return await signed_in_as(request) is not None


def routes(library: Library, access: AccessLog | None = None) -> list[BaseRoute]:
    """The page view's route over ``library`` (its current retriever at each request); each request is a line of
    ``access`` (``ui.access``)."""
    import time

    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from rag.render.service import PageUnavailable, PageViews

    views = PageViews(library.index)

    async def page(request: Request) -> Response:
        started = time.perf_counter()
        user = await signed_in_as(request)
        response = await answer(request, user)
        if access is not None:
            access.write("page", started, user, status=response.status_code)
        return response

    async def answer(request: Request, user: str | None) -> Response:
        if user is None:
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        try:
            passage_id, spans, number, width = _query(request)
            view = await run_in_threadpool(views.view, library.retriever, passage_id, spans, number, width)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        except PageUnavailable as exc:
            log.warning("page view refused: %s", exc)
            return JSONResponse({"detail": str(exc)}, status_code=404)
        headers = {"Cache-Control": "private, max-age=600", "X-Content-Type-Options": "nosniff"}
        if request.query_params.get("format") == "json":
            body = json.dumps({"source": view.source, "page": view.page, **view.marks}).encode()
            return Response(body, media_type="application/json", headers=headers)
        return Response(view.png, media_type="image/png", headers=headers)

    return [Route(PATH, page, methods=["GET"])]


def _query(request: Request) -> tuple[str, list[tuple[int, int]], int | None, int]:
    """The passage id, the highlight spans, the page (None: the passage's) and the width asked for."""
    params = request.query_params
    passage_id = params.get("id", "")
    if not passage_id or len(passage_id) > 2000:
        raise ValueError("give the passage: ?id=<passage id>")
    spans = []
    for part in filter(None, params.get("hl", "").split(",")):
        start, _, end = part.partition("-")
        spans.append((int(start), int(end)))
    page = int(params["p"]) if params.get("p") else None
    width = int(params.get("w") or 1000)
    return passage_id, spans, page, width
