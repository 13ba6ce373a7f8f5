"""What one upload costs in the web app, against the size of the collection: ``python -m bench.upload_cost``.

For each corpus size (paragraphs of ``../shared/benchmarks/scale``), index the corpus, then add one small document
two ways and print the seconds each takes:

- ``rebuild``: what the app did before ``rag.index.add_documents``: write the file into the corpus and rebuild the
  index from the corpus (every file read, cleaned and chunked again; stored vectors reused);
- ``add``: ``add_documents``, what the app does now (the new document alone is read; the stored documents are taken
  from the index).

The embedder is replaced by random unit vectors (``bench.build_memory.RandomEmbedder``), so the figures are rag's
own work, not the model's: the model embeds the same new texts either way. ``--slow-docx P`` also puts in the corpus
a .docx of P empty paragraphs (a slow file to read, as a decompression bomb is) to show that the rebuild pays for
it at every upload and ``add`` never does.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from bench.build_memory import RandomEmbedder
from bench.data import DEFAULT_SCALE_DIR, write_corpus
from rag.index import add_documents, build_index
from rag.ingest.load import load_file

NEW = "Le jumelage entre Dijon et Volgograd a été signé en 1966 ; il a été suspendu en 2022.\n"


def slow_docx(path: Path, paragraphs: int) -> None:
    """A valid .docx holding one line of text and ``paragraphs`` empty paragraphs (small once compressed)."""
    import docx

    docx.Document().save(str(path))
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    body = b"<w:p><w:r><w:t>Un document lent a lire.</w:t></w:r></w:p>" + b"<w:p/>" * paragraphs
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"<w:body>", b"<w:body>" + body, 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def measure(paragraphs: int, scale_dir: Path, slow: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="rag-upload-cost-") as tmp:
        base = Path(tmp)
        corpus, uploads = base / "corpus", base / "uploads"
        write_corpus(scale_dir, paragraphs, corpus)
        if slow:
            slow_docx(corpus / "lent.docx", slow)
        uploads.mkdir()
        (uploads / "jumelage.txt").write_text(NEW, encoding="utf-8")
        embedder = RandomEmbedder()
        build_index(corpus, base / "index", embedder=embedder)
        shutil.copytree(base / "index", base / "index-rebuild")

        started = time.perf_counter()
        shutil.copy(uploads / "jumelage.txt", corpus / "jumelage.txt")
        report = build_index(corpus, base / "index-rebuild", embedder=embedder)
        rebuild = time.perf_counter() - started

        started = time.perf_counter()
        add_documents(base / "index", [load_file(uploads / "jumelage.txt", "jumelage.txt")], embedder, folder=uploads)
        add = time.perf_counter() - started
        return {"paragraphs": paragraphs, "passages": report.passages, "rebuild_s": rebuild, "add_s": add}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--slow-docx", type=int, default=0, metavar="P", help="add a .docx of P empty paragraphs")
    parser.add_argument("--scale-dir", type=Path, default=DEFAULT_SCALE_DIR)
    args = parser.parse_args()
    print(f"{'paragraphs':>10} {'passages':>9} {'rebuild s':>10} {'add s':>8}")
    for n in args.paragraphs:
        r = measure(n, args.scale_dir, args.slow_docx)
        print(f"{r['paragraphs']:>10,} {r['passages']:>9,} {r['rebuild_s']:>10.2f} {r['add_s']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
