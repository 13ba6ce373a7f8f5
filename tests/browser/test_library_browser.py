"""The web app as a team's shared library, in headless Chromium with the real default model (``pytest -m ''``): one
list for every visitor, an upload's own title and details corrected later, removal and restoring, one message at a
time while a change runs, the access log's line of a search."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, RunningApp
from tests.browser.screenshot import ask
from tests.helpers import check_quote, cited_source

pytestmark = [pytest.mark.slow, pytest.mark.browser]

INDEXING = 90_000  # ms: an upload read and indexed on a busy machine
# The texts of Gradio's progress indicators (its timer "processing | 1.2s", an ETA bar) that a person can see in the
# message area: not hidden by their own style or an ancestor's (display, visibility, opacity).
SHOWN_PROGRESS = """() => [...document.querySelectorAll('#rag-status .progress-text, #rag-status .eta-bar, #rag-status .timer')]
  .filter(e => { for (let n = e; n; n = n.parentElement) { const s = getComputedStyle(n);
                   if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false; }
                 return true; })
  .map(e => e.innerText)"""


@pytest.fixture
def pages(browser: Any, app: RunningApp) -> Iterator[Any]:
    """Open pages on the app, each in its own browser context (its own session, as two colleagues)."""
    contexts = []

    def open_page(url: str = app.url, signed_in: bool = True) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        if signed_in:  # (else the login page)
            page.locator("#rag-docs").get_by_text(re.compile(r"Documents \([1-9]")).wait_for()  # the lists are read
        return page

    yield open_page
    for context in contexts:
        context.close()


def field(page: Any, elem_id: str) -> Any:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def documents_count(page: Any) -> int:
    label = page.locator("#rag-docs").get_by_text(re.compile(r"Documents \(\d+\)")).inner_text()
    return int(re.search(r"\((\d+)\)", label).group(1))  # type: ignore[union-attr]


def upload(page: Any, name: str, text: str, title: str = "", open_panel: bool = True) -> Any:
    """Upload through the "Add a document" panel (with a title typed first, if given); the final message."""
    if open_panel:
        page.locator("#rag-add").get_by_text("Add a document").click()
    if title:
        field(page, "rag-add-title").fill(title)
    return done(
        page,
        lambda: page.locator("#rag-upload input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": "text/plain", "buffer": text.encode("utf-8")}]
        ),
    )


def done(page: Any, action: Callable[[], object]) -> Any:
    """Do ``action`` (a change), then wait for the message that says what it did: a new one, not the one saying
    what it is doing."""
    before = page.evaluate("() => document.querySelector('#rag-status')?.innerText ?? ''")
    action()
    page.wait_for_function(
        """before => { const n = document.querySelector('#rag-status .rag-notice');
                       return n && !n.classList.contains('rag-working') && n.innerText !== before; }""",
        arg=before,
        timeout=INDEXING,
    )
    return page.locator("#rag-status .rag-notice")


def choose(page: Any, dropdown: str, option: str) -> None:
    """Choose the option whose label holds ``option`` (typed in the dropdown first, as a person filters a list)."""
    box = page.locator(f"#{dropdown} input")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=re.compile(re.escape(option))).click()


def options(page: Any, dropdown: str) -> list[str]:
    """The labels a dropdown offers (it is opened, read, and left by a click elsewhere)."""
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option").first.wait_for()
    found = [o.inner_text().replace("✓", "").strip() for o in page.get_by_role("option").all()]
    page.locator("#rag-header").click()
    return found


def test_a_colleague_sees_an_upload_in_the_list_and_the_filter(pages: Any, app: RunningApp) -> None:
    mine, theirs = pages(), pages()
    count = documents_count(theirs)
    text = "# Jumelage Kerlouan – Berdytchiv\n\nLe jumelage entre Kerlouan et Berdytchiv porte sur l'eau potable depuis 1994.\n"
    status = upload(mine, "kerlouan.md", text)
    assert "rag-ok" in (status.get_attribute("class") or ""), status.inner_text()
    # The colleague's page, open all along, refreshes its lists by itself within seconds...
    theirs.locator("#rag-docs").get_by_text(f"Documents ({count + 1})").wait_for(timeout=20_000)
    assert "Jumelage Kerlouan – Berdytchiv" in options(theirs, "rag-sources")
    # ...and a page loaded now, or reloaded, shows the collection as it is: list, count, filter.
    theirs.reload()
    theirs.locator("#rag-docs").get_by_text(f"Documents ({count + 1})").wait_for()
    theirs.locator("#rag-docs").get_by_text(f"Documents ({count + 1})").click()
    listed = theirs.locator("#rag-docs .rag-docs li", has_text="kerlouan.md")
    assert "Jumelage Kerlouan – Berdytchiv" in listed.inner_text() and "added here" in listed.inner_text()
    assert "Jumelage Kerlouan – Berdytchiv" in options(theirs, "rag-sources")
    choose(theirs, "rag-sources", "Jumelage Kerlouan – Berdytchiv")
    ask(theirs, "Sur quoi porte le jumelage entre Kerlouan et Berdytchiv ?")
    cards = theirs.locator("#rag-results .rag-card")
    assert cards.count() >= 1 and all("kerlouan.md" in c.inner_text() for c in cards.all())  # the filter holds
    assert (app.uploads / "kerlouan.md").is_file()


def test_an_upload_is_titled_by_its_heading_and_its_date_can_be_set_later(pages: Any) -> None:
    page = pages()
    text = (
        "# Jumelage Trouville – Zelenograd\n\nLe jumelage entre Trouville et Zelenograd a été signé par les deux maires. "
        "Il porte sur les écoles de musique et les échanges de collégiens.\n"
    )
    status = upload(page, "trouville.md", text)
    assert "rag-ok" in (status.get_attribute("class") or "")
    page.locator("#rag-docs").get_by_text("Documents (").click()
    listed = page.locator("#rag-docs .rag-docs li", has_text="trouville.md")
    assert "Jumelage Trouville – Zelenograd" in listed.inner_text()  # its heading, not its file name
    # The panel that changes it holds it, chosen, with its details; the date is set there.
    page.locator("#rag-manage").get_by_text("Change a document added here").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rag-edit-title textarea, #rag-edit-title input')].some("
        "e => e.value === 'Jumelage Trouville – Zelenograd')"
    )
    field(page, "rag-edit-date").fill("12/03/1994")
    field(page, "rag-edit-author").fill("Ville de Trouville-sur-Mer")
    status = done(page, page.locator("#rag-save").click)
    assert status.inner_text().startswith("Saved the details of trouville.md"), status.inner_text()
    assert field(page, "rag-edit-date").input_value() == "1994-03-12"  # as citations write it
    ask(page, "Sur quoi porte le jumelage entre Trouville et Zelenograd ?")
    card = page.locator("#rag-results .rag-card").first
    assert "trouville.md" in card.inner_text()
    assert "1994-03-12" in card.locator(".rag-meta").inner_text()
    citation = card.locator(".rag-cite-string").inner_text()
    assert "Ville de Trouville-sur-Mer, Jumelage Trouville – Zelenograd (1994-03-12)" in citation


def test_remove_then_restore(pages: Any, app: RunningApp) -> None:
    page = pages()
    text = "Consignes de Besançon\n\nLa mairie de Besançon prête ses salles aux associations de jumelage le mardi.\n"
    assert "rag-ok" in (upload(page, "besancon.txt", text).get_attribute("class") or "")
    # Each question is new: the results shown are those of a search made after the change.
    before, meanwhile, after = (
        f"{when} la mairie de Besançon prête-t-elle ses salles aux associations de jumelage ?"
        for when in ("Quel jour", "Quand", "Quel jour de la semaine")
    )
    assert "besancon.txt" in ask(page, before).locator(".rag-card").first.inner_text()
    page.locator("#rag-manage").get_by_text("Change a document added here").click()
    choose(page, "rag-manage-doc", "Consignes de Besançon")
    status = done(page, page.locator("#rag-remove").click)
    assert status.inner_text().startswith("Removed besancon.txt («Consignes de Besançon»): it is no longer searched.")
    assert not (app.uploads / "besancon.txt").exists()  # into the trash, beside the uploads: never deleted at once
    assert list((app.uploads / ".trash").glob("*/besancon.txt"))
    assert "besancon.txt" not in ask(page, meanwhile).inner_text()
    assert "Consignes de Besançon" not in options(page, "rag-sources")
    page.locator("#rag-trash").get_by_text(re.compile(r"Trash \(\d+\)")).click()
    choose(page, "rag-trash-item", "besancon.txt")
    status = done(page, page.locator("#rag-restore").click)
    assert status.inner_text().startswith("Restored besancon.txt («Consignes de Besançon»)"), status.inner_text()
    assert (app.uploads / "besancon.txt").is_file()
    assert "besancon.txt" in ask(page, after).locator(".rag-card").first.inner_text()


def test_one_message_at_a_time_while_an_upload_runs(pages: Any) -> None:
    page = pages()
    first = upload(page, "dole.txt", "Jumelage de Dole\n\nLa ville de Dole est jumelée avec Lahr depuis 1965.\n")
    assert "rag-ok" in (first.get_attribute("class") or "")
    page.locator("#rag-upload input[type=file]").set_input_files(
        files=[{"name": "vesoul.txt", "mimeType": "text/plain", "buffer": "Vesoul et Gerlingen sont jumelées.\n".encode()}]
    )
    working = page.locator("#rag-status .rag-working")
    working.wait_for(timeout=10_000)
    # While it runs: its message alone (the previous one is gone), and no progress timer over it.
    assert working.inner_text() == "Reading and indexing vesoul.txt…"
    assert page.locator("#rag-status .rag-notice").count() == 1
    assert page.evaluate(SHOWN_PROGRESS) == []
    page.locator("#rag-status .rag-notice:not(.rag-working)").wait_for(timeout=INDEXING)
    second = page.locator("#rag-status .rag-notice")
    assert page.locator("#rag-status .rag-notice").count() == 1 and second.inner_text().startswith("Added vesoul.txt")
    # An error replaces the previous message too.
    error = upload(page, "rapport.pdf", "pas un PDF", open_panel=False)
    assert "rag-error" in (error.get_attribute("class") or "") and page.locator("#rag-status .rag-notice").count() == 1


# A document as PDF extractions give them: hard-wrapped lines, words hyphenated at the end of a line.
WRAPPED = (
    "# Jumelage Sainte-Sévère – Bakhmatch\n\nLe jumelage entre la commune de Sainte-Sévère et la ville ukrai-\n"
    "nienne de Bakhmatch a été signé le 9 octobre 1996. Il porte sur la restau-\nration des églises en bois et "
    "sur\nles échanges entre les écoles de musique.\n\nLes deux communes se retrouvent chaque été pour un "
    "festival\nde musique populaire.\n"
)
def test_a_copied_citation_gives_the_quote_by_its_offsets(pages: Any, app: RunningApp) -> None:
    """Copy the citation of every card: the quote is read back from the document's file on disk with the quote's
    offsets, inside the passage's (an upload hard-wrapped and hyphenated, and the shipped documents)."""
    page = pages()
    status = upload(page, "sainte-severe.md", WRAPPED)
    assert "rag-ok" in (status.get_attribute("class") or ""), status.inner_text()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url.rstrip("/"))
    checked = set()
    for question in (
        "Quand le jumelage entre Sainte-Sévère et Bakhmatch a-t-il été signé ?",
        "Qui porte la responsabilité de la guerre selon l'OTAN ?",
    ):
        ask(page, question)
        cards = page.locator("#rag-results .rag-card")
        for i in range(cards.count()):
            card = cards.nth(i)
            button = card.locator(".rag-copy")
            button.click()  # it then says "Copied", in the results' language ("Copié" for a French question)
            page.wait_for_function("b => b.textContent === b.dataset.done", arg=button.element_handle())
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == card.locator(".rag-cite-string").text_content()
            source = cited_source(copied)
            file = app.uploads / source if (app.uploads / source).is_file() else app.corpus / source  # (other tests' too)
            check_quote(copied, file.read_text(encoding="utf-8"))  # the file, as read from disk
            checked.add(source)
    assert "sainte-severe.md" in checked and len(checked) > 1, checked


def test_each_search_is_a_line_of_the_access_log(pages: Any, caplog: pytest.LogCaptureFixture) -> None:
    page = pages()
    with caplog.at_level(logging.INFO, logger="rag.access"):
        ask(page, "Quand le groupe-pays Russie a-t-il été créé ?")
        page.wait_for_timeout(300)
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.access" and "route=search" in r.getMessage()]
    assert len(lines) == 1, lines
    assert re.fullmatch(r"route=search ms=\d+ hits=5 decision=(answers|maybe|does_not_answer|flagged:\w+) lang=fr k=5", lines[0])
    assert "Russie" not in lines[0]  # the question's text only when the operator asks for it


def test_with_a_login_the_log_names_who_searched(pages: Any, locked_app: str, caplog: pytest.LogCaptureFixture) -> None:
    page = pages(locked_app, signed_in=False)
    page.get_by_label("username").fill("rag")
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.locator("#rag-docs").get_by_text(re.compile(r"Documents \([1-9]")).wait_for()  # read once signed in
    with caplog.at_level(logging.INFO, logger="rag.access"):
        ask(page, "Which regions held the sham referendums?")
        page.wait_for_timeout(300)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "rag.access" and "route=search" in r.getMessage()]
    assert line.endswith(" user=rag") and " lang=en " in line
