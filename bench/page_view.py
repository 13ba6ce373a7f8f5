"""The page view's latency, as the web app serves it: first drawing of a page, and the same page from the cache.

    python -m bench.page_view [--documents 12] [--json bench/results/page_view.json]

Builds an index (the default model) over text PDFs of full A4 pages (the shipped corpus's text set in Helvetica,
``--documents`` files of 4 pages) and a 3-page scan, serves it with ``rag serve``'s app on 127.0.0.1, then asks the
page route (``rag/page``, as the card's image does) for one passage of every page: the first request of each page
draws it (PDFium, marks, PNG; in the reader's child process), the second comes from the cache. Prints p50, p95 and
max of each, with the machine's load; the very first request (which also starts the drawing process) apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

from rag.retrieve.retriever import Retriever
from rag.types import Passage
from tests.browser.screenshot import launch_app
from tests.pdf import write_pdf
from tests.scans import PAGES, typeset, write_scan_pdf
from ui.pages import page_url

ROOT = Path(__file__).resolve().parents[1]


def pdf_pages(documents: int) -> list[list[str]]:
    """``documents`` lists of 4 pages of 46 lines of the shipped corpus's text (latin-1, as Helvetica encodes it)."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    plain: dict[str, str | int | None] = {"’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "œ": "oe"}
    text = text.translate(str.maketrans(plain))
    text = text.encode("latin-1", "replace").decode("latin-1")
    lines = textwrap.wrap(" ".join(text.split()), 88)
    out = []
    for d in range(documents):
        pages = []
        for p in range(4):
            start = ((d * 4 + p) * 46) % max(1, len(lines) - 46)
            pages.append("\n".join(lines[start : start + 46]))
        out.append(pages)
    return out


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(values), "p50_ms": round(1000 * statistics.median(ordered), 1), "p95_ms": round(1000 * p95, 1),
            "max_ms": round(1000 * ordered[-1], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=12)
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i, pages in enumerate(pdf_pages(args.documents)):
            write_pdf(corpus / f"texte-{i:02d}.pdf", pages)
        write_scan_pdf(corpus / "charte.pdf", [typeset(p).image for p in PAGES])
        demo, base = launch_app(Path(tmp) / "index", corpus, Path(tmp) / "uploads")
        try:
            retriever = Retriever.load(Path(tmp) / "index")
            one_per_page: dict[tuple[str, int | None], Passage] = {}
            for passage in retriever.data.passages:
                one_per_page.setdefault((passage.source, passage.page), passage)
            urls = [base + page_url(p.id) for p in one_per_page.values()]
            kinds = ["scan" if source == "charte.pdf" else "text" for source, _ in one_per_page]
            load = os.getloadavg()
            first: list[float] = []
            sizes: list[int] = []
            for url in urls:
                started = time.perf_counter()
                body = urllib.request.urlopen(url, timeout=60).read()
                first.append(time.perf_counter() - started)
                sizes.append(len(body))
            cached = []
            for url in urls:
                started = time.perf_counter()
                urllib.request.urlopen(url, timeout=60).read()
                cached.append(time.perf_counter() - started)
            load_after = os.getloadavg()
        finally:
            demo.close()
    figures = {
        "pages": len(urls),
        "very_first_request_ms": round(1000 * first[0], 1),
        "first_render": quantiles(first[1:]),
        "first_render_text_pages": quantiles([t for t, k in zip(first[1:], kinds[1:], strict=True) if k == "text"]),
        "first_render_scan_pages": quantiles([t for t, k in zip(first, kinds, strict=True) if k == "scan"]),
        "cached": quantiles(cached),
        "png_kib_median": round(statistics.median(sizes) / 1024),
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in load_after],
    }
    for key, value in figures.items():
        print(f"{key:26s} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
