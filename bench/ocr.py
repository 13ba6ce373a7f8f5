"""OCR as rag runs it: throughput, peak memory and accuracy on a long scan, and what a rebuild costs.

    python -m bench.ocr [--pages 100] [--json bench/results/ocr.json]

A scan of ``--pages`` pages (the test pages of ``tests/scans.py``, typeset at 300 dpi, in turn) goes through
``load_corpus`` with the index's OCR cache, as ``rag index`` reads it: in the reader's child process, one page at a
time, Tesseract on one thread at a lower priority. Printed: pages a minute, seconds a page, the peak resident
memory of the reader's process tree (child and Tesseract, sampled every 50 ms) and of this process, the machine's
load, the character accuracy of every page against its source text (clean, and scanned-looking pages: noise, a
0.7° rotation, blur), then the same read again (the rebuild: pages recognised, seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.ocr_engines import tree_rss
from rag.ingest.load import load_corpus
from tests.scans import PAGES, char_accuracy, scanned_look, typeset, write_scan_pdf


class Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.recognised = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "recognised by OCR" in message:
            self.recognised += int(message.rsplit(": ", 1)[1].split()[0])


def own_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def read(corpus: Path, cache: Path) -> tuple[float, int, int, list[Any], int]:
    """Seconds, peak bytes of the reader's processes, of this one, the documents, pages recognised."""
    peak_children = peak_self = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_children, peak_self
        while not done.is_set():
            mine = own_rss()
            peak_self = max(peak_self, mine)
            peak_children = max(peak_children, tree_rss(os.getpid()) - mine)
            time.sleep(0.05)

    counter = Counter()
    logger = logging.getLogger("rag")
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        documents = load_corpus(corpus, ocr_cache=cache)
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        logger.removeHandler(counter)
    return seconds, peak_children, peak_self, documents, counter.recognised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--json", default="", help="also write the figures to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        corpus, cache = Path(tmp) / "corpus", Path(tmp) / "index" / "ocr"
        corpus.mkdir()
        scans = [typeset(PAGES[i % len(PAGES)]) for i in range(args.pages)]
        write_scan_pdf(corpus / "scan.pdf", [s.image for s in scans])
        size = (corpus / "scan.pdf").stat().st_size
        seconds, peak_children, peak_self, documents, recognised = read(corpus, cache)
        load_during = os.getloadavg()
        pages = documents[0].text.split("\f")
        accuracy = [char_accuracy(p, s.text) for p, s in zip(pages, scans, strict=True)]
        again, _, _, _, recognised_again = read(corpus, cache)
        noisy_folder = Path(tmp) / "noisy"
        noisy_folder.mkdir()
        noisy = [scanned_look(s.image, seed=i) for i, s in enumerate(scans[:3])]
        write_scan_pdf(noisy_folder / "copie.pdf", noisy)
        _, _, _, noisy_docs, _ = read(noisy_folder, Path(tmp) / "noisy-index" / "ocr")
        noisy_accuracy = [char_accuracy(p, s.text) for p, s in zip(noisy_docs[0].text.split("\f"), scans[:3], strict=True)]
        cache_bytes = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    figures = {
        "pages": args.pages,
        "file_mib": round(size / 2**20, 1),
        "seconds": round(seconds, 1),
        "pages_per_minute": round(60 * args.pages / seconds, 1),
        "seconds_per_page": round(seconds / args.pages, 2),
        "peak_rss_reader_mib": round(peak_children / 2**20),
        "peak_rss_this_process_mib": round(peak_self / 2**20),
        "accuracy_mean": round(statistics.mean(accuracy), 4),
        "accuracy_min": round(min(accuracy), 4),
        "accuracy_scanned_look": [round(a, 4) for a in noisy_accuracy],
        "mean_confidence": round(statistics.mean(c for _, c in documents[0].info.ocr), 1),
        "rebuild_seconds": round(again, 2),
        "rebuild_pages_recognised": recognised_again,
        "first_read_pages_recognised": recognised,
        "cache_kib_per_page": round(cache_bytes / args.pages / 1024, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after_first_read": [round(x, 2) for x in load_during],
        "cores": os.cpu_count(),
    }
    for key, value in figures.items():
        print(f"{key:28s} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
