"""Browser fixtures: the app on a free local port over a private copy of the corpus, and headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.screenshot import CHROMIUM, launch_app, launch_browser

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningApp:
    url: str
    corpus: Path
    index: Path
    uploads: Path


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """A copy of the shipped corpus, indexed with the real model; uploads kept in a folder of their own."""
    base = tmp_path_factory.mktemp("app")
    corpus, index, uploads = base / "corpus", base / "index", base / "uploads"
    shutil.copytree(ROOT / "corpus", corpus)
    demo, url = launch_app(index, corpus, uploads)
    try:
        yield RunningApp(url, corpus, index, uploads)
    finally:
        demo.close()


PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def locked_app(app: RunningApp) -> Iterator[str]:
    """The same index served by a second app that requires a login (user ``rag``, ``PASSWORD``); its URL."""
    demo, url = launch_app(app.index, app.corpus, app.uploads.parent / "locked-uploads", auth=("rag", PASSWORD))
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} not found: install it with `apt-get install -y chromium chromium-driver`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, app: RunningApp) -> Iterator[Any]:
    """A fresh desktop-sized page on the app, with browser errors collected in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.set_default_timeout(30_000)
    page.goto(app.url)
    page.locator("#rag-question").wait_for()
    yield page
    context.close()
