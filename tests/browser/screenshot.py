"""Screenshot of the app answering a French question: ``python -m tests.browser.screenshot --out docs/screenshot.png``.

Also the helpers the browser tests share: launching the app on a free local port and driving it with
Playwright against the system Chromium (Playwright never downloads a browser here).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Qui porte la responsabilité de la guerre selon l'OTAN ?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_app(index: str | Path, corpus: str | Path, uploads: str | Path, **launch: Any) -> tuple[Any, str]:
    """Build the app (the index from ``corpus`` if missing) and serve it on a free port of 127.0.0.1 in a background
    thread, with Gradio's ``launch`` options ``launch``; returns (demo, url)."""
    from ui.app import build_app, open_library
    from ui.library import DEFAULT_MAX_UPLOAD_BYTES

    demo = build_app(open_library(index, corpus, uploads, DEFAULT_MAX_UPLOAD_BYTES))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch)
    return demo, f"http://127.0.0.1:{port}/"


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def ask(page: Any, question: str, timeout: float = 30_000) -> Any:
    """Type a question, press Enter, and wait for the result cards (or a notice); returns the results locator."""
    box = page.locator("#rag-question textarea, #rag-question input").first
    box.fill(question)
    box.press("Enter")
    results = page.locator("#rag-results")
    page.wait_for_function(
        """q => { const el = document.querySelector('#rag-results .rag-summary q, #rag-results .rag-notice');
                  return el && (el.classList.contains('rag-notice') || el.textContent === q); }""",
        arg=" ".join(question.split()),
        timeout=timeout,
    )
    return results


def shoot(browser: Any, url: str, out: Path, question: str = QUESTION, width: int = 1280, height: int = 900) -> None:
    """Open the app at ``url``, ask ``question``, save a screenshot of the answer to ``out``."""
    # A French browser for the French question, so that labels and results speak the same language.
    context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(url)
        ask(page, question)
        page.locator("#rag-results .rag-card").first.wait_for()
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.locator("#rag-results .rag-summary").scroll_into_view_if_needed()
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=False)
    finally:
        context.close()


def take(out: Path, question: str = QUESTION, browser: Any = None) -> None:
    """Index a private copy of the shipped corpus, ask ``question``, save a screenshot to ``out``.

    Uses ``browser`` when given (a running Playwright browser), else starts the system Chromium.
    """
    with tempfile.TemporaryDirectory(prefix="rag-shot-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        demo, url = launch_app(Path(tmp) / "index", corpus, Path(tmp) / "uploads")
        try:
            if browser is not None:
                shoot(browser, url, out, question)
                return
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                own = launch_browser(p)
                try:
                    shoot(own, url, out, question)
                finally:
                    own.close()
        finally:
            demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/screenshot.png", type=Path)
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    take(args.out, args.question)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
