"""End to end: the web app in headless Chromium, with the real default model (run with ``pytest -m ''``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.ingest.load import load_catalog
from tests.browser.conftest import PASSWORD, ROOT, RunningApp
from tests.browser.screenshot import ask

NO_ANSWER = "Nothing in the corpus seems to answer this question"

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CATALOG = load_catalog(ROOT / "corpus")
OTAN = CATALOG["2022-09-23_otan_referendums-ukraine.txt"]["title"]
RUSSIE = CATALOG["cuf_groupe-pays-russie.txt"]["title"]
EVIL = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1">'


def first_card(page: Any) -> Any:
    card = page.locator("#rag-results .rag-card").first
    card.wait_for()
    return card


def upload(page: Any, name: str, text: str, add: str = "Add a document") -> Any:
    """Upload a file through the file input; returns the status message once indexing has finished."""
    page.locator("#rag-add").get_by_text(add).click()
    page.locator("#rag-upload input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": text.encode("utf-8")}]
    )
    status = page.locator("#rag-status .rag-notice:not(.rag-working)")
    status.wait_for(timeout=60_000)
    return status


def test_french_question_cites_the_right_document(page: Any) -> None:
    ask(page, "Quand le groupe-pays Russie a-t-il été créé ?")
    card = first_card(page)
    assert RUSSIE in card.locator(".rag-cite").inner_text()
    assert card.locator(".rag-text mark").count() >= 1
    assert card.locator(".rag-text mark").first.inner_text().strip()
    assert RUSSIE in card.locator(".rag-cite-string").inner_text()
    assert not page.errors


def test_english_question_via_the_button_cites_the_right_document(page: Any) -> None:
    page.locator("#rag-question textarea, #rag-question input").first.fill("Which regions held the sham referendums?")
    page.locator("#rag-ask").click()
    card = first_card(page)
    assert OTAN in card.locator(".rag-cite").inner_text()
    assert card.locator(".rag-text mark").count() >= 1
    card.locator("details.rag-context summary").click()
    assert card.locator(".rag-ctx-hit mark").first.is_visible()


def test_example_click_runs_the_search(page: Any) -> None:
    page.get_by_text("Quand le groupe-pays Russie a-t-il été créé ?", exact=True).click()
    assert RUSSIE in first_card(page).locator(".rag-cite").inner_text()


def test_nonsense_question_shows_the_no_answer_state(page: Any) -> None:
    """Depends on the retriever's abstention (hits[0].abstain) being calibrated."""
    results = ask(page, "zxqv blorf ???")
    assert NO_ANSWER in results.inner_text()
    assert page.locator("#rag-results .rag-card.rag-weak").count() >= 1


def test_uploaded_document_becomes_searchable(page: Any, app: RunningApp) -> None:
    text = (
        "Jumelages franco-russes\n\n"
        "Le jumelage entre Dijon et Volgograd a été signé en 1966, en pleine détente entre la France et l'URSS. "
        "Il a été suspendu en 2022 après l'invasion de l'Ukraine.\n"
    )
    corpus_before = sorted(p.name for p in app.corpus.iterdir())
    status = upload(page, "jumelage-dijon-volgograd.txt", text)
    assert "rag-ok" in (status.get_attribute("class") or ""), status.inner_text()
    assert (app.uploads / "jumelage-dijon-volgograd.txt").is_file()
    assert sorted(p.name for p in app.corpus.iterdir()) == corpus_before  # the corpus folder is never written
    ask(page, "En quelle année le jumelage entre Dijon et Volgograd a-t-il été signé ?")
    card = first_card(page)
    assert "Jumelages franco-russes" in card.locator(".rag-cite").inner_text()  # its first line reads as its title
    assert "1966" in card.locator(".rag-text mark").first.inner_text()
    page.locator("#rag-docs").get_by_text("Documents (").click()
    page.locator("#rag-docs .rag-docs").get_by_text("jumelage-dijon-volgograd.txt").wait_for()


def test_unreadable_upload_is_refused_with_what_to_do_and_not_kept(page: Any, app: RunningApp) -> None:
    before = sorted(p.name for p in app.uploads.glob("*")), sorted(p.name for p in app.corpus.iterdir())
    status = upload(page, "rapport.pdf", "ceci n'est pas un PDF")
    assert "rag-error" in (status.get_attribute("class") or "")
    text = status.inner_text()
    assert text.startswith("rapport.pdf could not be read as a PDF") and text.endswith("Nothing was added.")
    assert "Error" not in text and "PdfStreamError" not in text  # internals stay in the server log
    assert (sorted(p.name for p in app.uploads.glob("*")), sorted(p.name for p in app.corpus.iterdir())) == before


def test_malicious_document_is_shown_escaped_and_never_runs(page: Any, app: RunningApp) -> None:
    text = (
        "Consignes de sécurité du portail de la mairie de Besançon\n\n"
        f"La mairie de Besançon rappelle que ce texte piégé ne doit jamais s'exécuter : {EVIL} "
        "Le portail de Besançon filtre les contenus envoyés par les agents.\n"
    )
    status = upload(page, '<img src=x onerror="window.__pwned=1">.txt', text)
    assert "rag-ok" in (status.get_attribute("class") or ""), status.inner_text()
    assert not any(p.name.startswith("<") for p in [*app.corpus.iterdir(), *app.uploads.iterdir()])
    ask(page, "Que rappelle la mairie de Besançon sur le texte piégé du portail ?")
    card = first_card(page)
    card.locator("details.rag-context summary").click()
    page.wait_for_timeout(500)  # an injected <img onerror> would have fired by now
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert "<script>window.__pwned=1</script>" in card.locator(".rag-text").inner_text()
    assert page.locator("#rag-results script, #rag-results img").count() == 0


def test_interface_follows_a_french_browser(browser: Any, app: RunningApp) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(app.url)
        page.locator("#rag-ask").get_by_text("Rechercher").wait_for()
        assert page.locator("#rag-add").get_by_text("Ajouter un document").is_visible()
        assert "Posez votre question" in (page.locator("#rag-question textarea").get_attribute("placeholder") or "")
        assert "questions sur vos documents" in page.locator("#rag-header").inner_text()
        # Results follow the question's language: French here, English for an English question in the same page.
        results = ask(page, "Quand le groupe-pays Russie a-t-il été créé ?")
        assert " pour " in results.locator(".rag-summary").inner_text()
        assert first_card(page).locator(".rag-copy").inner_text() == "Copier"
        results = ask(page, "Which regions held the sham referendums?")
        results.locator(".rag-summary", has_text=" for ").wait_for()
        # What the server says without a question to follow (an empty search, an upload) speaks the browser's.
        assert "Saisissez une question" in ask(page, "   ").locator(".rag-notice").inner_text()
        status = upload(page, "rapport.pdf", "ceci n'est pas un PDF", add="Ajouter un document")
        assert status.inner_text().startswith("rapport.pdf n'a pas pu être lu comme un PDF")
        assert "Rien n'a été ajouté." in status.inner_text() and "Nothing" not in status.inner_text()
        assert "jusqu'à 20 Mo" in page.locator("#rag-upload").inner_text()
    finally:
        context.close()


def test_phone_width_has_no_horizontal_scroll(browser: Any, app: RunningApp) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app.url)
        ask(page, "Qui porte la responsabilité de la guerre selon l'OTAN ?")
        card = first_card(page)
        card.locator("details.rag-context summary").click()
        page.locator("#rag-docs").get_by_text("Documents (").click()
        page.wait_for_timeout(300)
        assert card.is_visible()
        box = card.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 2
    finally:
        context.close()


def test_screenshot_script(browser: Any, tmp_path: Path) -> None:
    """``tests.browser.screenshot.take`` works (it launches its own app on a private corpus copy)."""
    from tests.browser.screenshot import take

    out = tmp_path / "shot.png"
    take(out, browser=browser)
    assert out.stat().st_size > 10_000


def test_copy_button_copies_the_citation(browser: Any, app: RunningApp) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url.rstrip("/"))
    try:
        page = context.new_page()
        page.goto(app.url)
        ask(page, "What will the multinational force for Ukraine do?")
        card = first_card(page)
        card.locator(".rag-copy").click()
        page.wait_for_function("document.querySelector('#rag-results .rag-copy').textContent === 'Copied'")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == card.locator(".rag-cite-string").text_content()
        assert copied.startswith("«") and " — " in copied and ", passage chars " in copied
    finally:
        context.close()


def test_login_page_shows_nothing_of_the_collection_and_signing_in_works(browser: Any, locked_app: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(locked_app)
        page.get_by_role("button", name="Login").wait_for()
        html = page.content()
        assert "cuf_groupe-pays-russie.txt" not in html and RUSSIE not in html and "named_endpoints" not in html
        assert page.evaluate("window.gradio_api_info") is None
        page.get_by_label("username").fill("rag")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect Credentials").wait_for()
        page.get_by_label("username").fill("rag")
        page.get_by_label("password").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        page.locator("#rag-question").wait_for()
        # Signed in, the page works: the client fetched the API description from the protected API.
        ask(page, "Quand le groupe-pays Russie a-t-il été créé ?")
        assert RUSSIE in first_card(page).locator(".rag-cite").inner_text()
    finally:
        context.close()


def _state(page: Any) -> tuple[str, str, str]:
    """The results' state notice: its data-state, its background colour, its text."""
    notice = page.locator("#rag-results [data-state]").first
    notice.wait_for()
    colour = notice.evaluate("e => getComputedStyle(e).backgroundColor")
    return str(notice.get_attribute("data-state")), str(colour), notice.inner_text()


def test_the_three_states_are_visibly_different(page: Any) -> None:
    # A typed question whose answer a passage gives: the answer above the cards, cited, marked inside its sentence.
    ask(page, "Quand l'Assemblée générale des Nations unies a-t-elle adopté sa résolution ?")
    answered = _state(page)
    assert answered[0] == "answer" and answered[2].startswith("Réponse : 2 mars 2022")
    assert "[1] Déclaration de l'OTAN sur les référendums (2022), ¶3" in answered[2]
    marked = page.locator("#rag-results .rag-card-answer .rag-text mark strong.rag-answer-mark")
    assert marked.count() == 1 and marked.inner_text() == "2 mars 2022" and marked.is_visible()
    # Passages on the subject but no short answer read: check them; no green notice.
    ask(page, "Quel est le rôle de Cités Unies France ?")
    page.locator('#rag-results [data-state="subject"]').wait_for()
    subject = _state(page)
    assert subject[0] == "subject" and "vérifiez qu'ils y répondent" in subject[2]
    assert page.locator("#rag-results .rag-ok, #rag-results .rag-answer-mark").count() == 0
    # The question: no number of soldiers anywhere; flagged, saying what is missing in words.
    ask(page, "Combien de soldats la France va-t-elle envoyer en Ukraine ?")
    page.locator('#rag-results [data-state="none"]').wait_for()
    nothing = _state(page)
    assert nothing[0] == "none" and "aucun des passages ne donne un nombre de soldats" in nothing[2]
    assert page.locator("#rag-results .rag-card.rag-weak").count() >= 1
    assert len({answered[1], subject[1], nothing[1]}) == 3, (answered[1], subject[1], nothing[1])
    assert not page.errors
