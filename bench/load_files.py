"""What reading PDF, .docx and HTML files in a child process (``rag.ingest.extraction``) costs.

    python -m bench.load_files [--files 200] [--rounds 3]

Times ``load_corpus`` on the shipped corpus and on a generated folder of small PDFs and .docx files, with the readers
in the child process (rag's default) and in the calling process (no time or memory limit), alternating the two;
then the cost of starting a child for each file instead of one per run. Prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rag.ingest import load
from rag.ingest.extraction import Extractor
from tests.pdf import write_pdf

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "La coopération décentralisée relie les collectivités françaises et ukrainiennes depuis 2022. "


def make_folder(folder: Path, files: int) -> None:
    """``files`` documents, half PDFs of three pages, half .docx files of ten paragraphs."""
    import docx

    for i in range(files // 2):
        write_pdf(folder / f"note-{i:04d}.pdf", [f"Page {p} de la note {i}. " + SENTENCE * 8 for p in range(3)])
        document = docx.Document()
        for p in range(10):
            document.add_paragraph(f"Paragraphe {p} du rapport {i}. " + SENTENCE * 3)
        document.save(str(folder / f"rapport-{i:04d}.docx"))


def median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1)


def in_process(folder: Path) -> Callable[[], object]:
    """``load_corpus`` with every reader in this process (as before the child process existed)."""

    def run() -> object:
        saved = load.IN_CHILD
        load.IN_CHILD = set()
        try:
            return load.load_corpus(folder)
        finally:
            load.IN_CHILD = saved

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_files", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_folder(folder, args.files)
        load.load_corpus(folder)  # warm the file cache and the imports
        for name, path in (("shipped corpus", ROOT / "corpus"), (f"{args.files} PDF/.docx files", folder)):
            child, here = [], []
            for _ in range(args.rounds):  # alternated, so that the machine's load affects both alike
                child.append(median_ms(functools.partial(load.load_corpus, path), 1))
                here.append(median_ms(in_process(path), 1))
            print(f"{name}: load_corpus {statistics.median(child)} ms with the child process, "
                  f"{statistics.median(here)} ms in this process")  # fmt: skip
        files = sorted(folder.iterdir())[:20]

        def one_child_per_file() -> None:
            for path in files:
                load.load_file(path, path.name)

        def one_child_per_run() -> None:
            with Extractor() as extractor:
                for path in files:
                    load.load_file(path, path.name, extractor=extractor)

        print(f"20 files, a new child for each: {median_ms(one_child_per_file, args.rounds)} ms; "
              f"one child for all: {median_ms(one_child_per_run, args.rounds)} ms")  # fmt: skip
        with Extractor() as extractor:
            start = time.perf_counter()
            extractor.read(files[0], load.SUPPORTED[files[0].suffix])
            print(f"starting the child and reading one file: {(time.perf_counter() - start) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
