"""How indexing a file with no line break grows with its size: ``python -m bench.single_line``.

Some documents arrive as one enormous line (prose without line breaks, or one endless token). Cleaning, chunking and
sentence splitting must stay linear in the size: this prints the time of a build (fake embedder, so only rag's own
work is timed) per megabyte at each size; a constant figure per MB is linear, a growing one is not. The tests check
what such a build gives (bounded passages, nothing lost); the time is measured here, not asserted there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.embed.fake import FakeEmbedder
from rag.index import build_index

SENTENCE = "Les collectivités territoriales coopèrent avec leurs homologues étrangères dans le cadre de conventions. "
UNITS = {"sentences": SENTENCE, "no-spaces": "abcdefghijklmnopqrstuvwxyz0123456789"}


def build_seconds(text: str) -> float:
    with tempfile.TemporaryDirectory(prefix="rag-single-line-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "une-ligne.txt").write_text(text, encoding="utf-8")
        started = time.perf_counter()
        build_index(corpus, Path(tmp) / "index", embedder=FakeEmbedder())
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300000,1000000,5000000", help="characters, comma-separated")
    args = parser.parse_args()
    print("| kind | characters | build s | s per MB |")
    print("|---|---|---|---|")
    for kind, unit in UNITS.items():
        for size in (int(s) for s in args.sizes.split(",")):
            seconds = build_seconds((unit * (size // len(unit) + 1))[:size])
            print(f"| {kind} | {size:,} | {seconds:.2f} | {seconds / (size / 1e6):.2f} |")


if __name__ == "__main__":
    main()
