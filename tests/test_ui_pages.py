"""The card's page control and OCR note (pure HTML), and the route's login check against Gradio's own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rag.types import DocumentInfo, Hit, Passage, Span
from ui import pages, render


def hit(page: int | None, ocr: tuple[tuple[int, float], ...] = ()) -> Hit:
    passage = Passage("scan <1>.pdf:10-50", "scan <1>.pdf", 2, 10, 50, "Le conseil approuve la convention.", page)
    info = DocumentInfo("scan <1>.pdf", "Délibération", date="2025", ocr=ocr)
    return Hit(passage, info, 0.8, 1, highlights=(Span(3, 10),))


def test_a_paginated_hit_gets_a_closed_page_control_with_a_lazy_escaped_image() -> None:
    html = render.render_card(hit(2), lang="fr")
    assert '<details class="rag-page"><summary>Voir la page 2</summary>' in html
    assert 'loading="lazy" src="rag/page?id=scan%20%3C1%3E.pdf%3A10-50&amp;hl=3-10"' in html
    assert "<1>" not in html.replace("&lt;1&gt;", "")


def test_a_hit_without_pages_gets_no_control_and_text_layer_no_ocr_note() -> None:
    html = render.render_card(hit(None))
    assert "rag-page" not in html and "rag-ocr" not in html


def test_recognised_text_says_so_with_its_confidence_on_the_card_and_in_the_citation() -> None:
    recognised = hit(2, ocr=((2, 91.4),))
    html = render.render_card(recognised, lang="en")
    assert "text recognised (OCR) · 91 %" in html and "may hold recognition errors" in html
    assert ", OCR 91 %, passage chars 10–50 of scan <1>.pdf" in render.citation_string(recognised)
    assert recognised.citation.endswith("p. 2, ¶2, OCR 91 %")
    assert hit(3, ocr=((2, 91.4),)).ocr is None  # another page of the document has its text layer


class FakeRequest:
    def __init__(self, app: Any, cookies: dict[str, str]) -> None:
        self.app, self.cookies = app, cookies


class FakeApp:
    def __init__(self, auth: object) -> None:
        self.auth, self.auth_dependency, self.cookie_id, self.tokens = auth, None, "abc", {"t0k": "rag"}


def test_the_route_lets_in_only_a_signed_in_visitor_when_a_login_is_set() -> None:
    def check(app: FakeApp, cookies: dict[str, str]) -> bool:
        # (in a thread of its own: a browser test of the same session may hold an event loop in this one)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, pages.signed_in(FakeRequest(app, cookies))).result()  # type: ignore[arg-type]

    assert check(FakeApp(None), {})
    assert not check(FakeApp({"rag": "pw"}), {})
    assert not check(FakeApp({"rag": "pw"}), {"access-token-abc": "forged"})
    assert check(FakeApp({"rag": "pw"}), {"access-token-abc": "t0k"})
    assert check(FakeApp({"rag": "pw"}), {"access-token-unsecure-abc": "t0k"})
