"""Peak memory of an index build, rag's own share: ``python -m bench.build_memory --paragraphs 200000``.

``--passages 1000000`` builds a million passages (the scale corpora repeated); ``--no-annotate`` leaves spaCy out.
The embedder is replaced by random unit vectors (384-d, as the default model's), so the figure is what rag holds
(passages, sentence spans, vectors, the FAISS and BM25 builds, the writing) without the model or the benchmark's
vector cache. Prints the peak resident memory of each phase, then of the whole build.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import DEFAULT_SCALE_DIR
from rag import index, store
from rag.embed import Embedder, Kind, Vectors
from rag.index import annotate as annotating
from rag.index import vectors as index_vectors
from rag.store import ann, lexical
from rag.types import Document, DocumentInfo


class RandomEmbedder(Embedder):
    """Unit vectors of the default model's size; no model, so only rag's memory is measured."""

    id = "random-384"
    dim = 384

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        vectors = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dim)).astype(np.float32)
        out: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return out


class NoAnnotations:
    """An annotator that finds nothing (``--no-annotate``; tests where annotations play no part)."""

    def annotate(self, texts: list[str], langs: list[str]) -> list[list[Any]]:
        return [[] for _ in texts]


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _traced(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        before = _rss_mib()
        result = fn(*args, **kwargs)
        print(f"  {name}: resident {before:.0f} → {_rss_mib():.0f} MiB; peak so far {_peak_mib():.0f} MiB", flush=True)
        return result

    return run


def documents(scale_dir: Path, paragraphs: int, per_document: int = 20) -> list[Document]:
    """service-public.fr paragraphs, ``per_document`` to a document."""
    with gzip.open(scale_dir / "fr_service_public_paragraphs.jsonl.gz", "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line, _ in zip(fh, range(paragraphs), strict=False)]
    out = []
    for i in range(0, len(texts), per_document):
        text = "\n\n".join(texts[i : i + per_document])
        info = DocumentInfo(source=f"sp-{i:07d}.txt", title=f"service-public {i}")
        out.append(Document(info, text, "txt", hashlib.sha256(text.encode("utf-8")).hexdigest()))
    return out


def arguments(description: str | None) -> argparse.Namespace:
    """``--paragraphs`` and ``--scale-dir`` of the benchmarks that index service-public paragraphs (checked)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=200_000, help="service-public paragraphs (at most ~210,000)")
    parser.add_argument("--scale-dir", type=Path, default=DEFAULT_SCALE_DIR)
    parser.add_argument(
        "--passages", type=int, default=0,
        help="instead of --paragraphs: about this many passages from both scale corpora, repeated (each copy's "
        "paragraphs marked with its number) above ~100k (bench.stores.documents)",
    )  # fmt: skip
    parser.add_argument(
        "--no-annotate", action="store_true",
        help="replace the annotator (spaCy, ~17 ms a passage on this machine: hours at 1M) by one that finds "
        "nothing; the figures are then rag's own without spaCy's model and the annotations",
    )  # fmt: skip
    args = parser.parse_args()
    if not (args.scale_dir / "fr_service_public_paragraphs.jsonl.gz").is_file():
        parser.error(f"no fr_service_public_paragraphs.jsonl.gz in {args.scale_dir}; give the folder with --scale-dir")
    return args


def main() -> None:
    args = arguments(__doc__)
    if args.passages:
        from bench.stores import documents as repeated

        docs = list(repeated(args.passages))
    else:
        docs = documents(args.scale_dir, args.paragraphs)
    if args.no_annotate:
        annotating.shared_annotator = lambda: NoAnnotations()  # type: ignore[assignment,return-value]
    index_vectors.embed_missing = _traced("embedding", index_vectors.embed_missing)
    index_vectors.write_vectors = _traced("writing vectors to the new generation", index_vectors.write_vectors)
    annotating.annotations_for = _traced("annotating", annotating.annotations_for)
    ann.build = _traced("FAISS build", ann.build)
    store.save = _traced("writing (BM25 included)", store.save)
    build = lexical.LexicalIndex.build.__func__  # type: ignore[attr-defined]
    lexical.LexicalIndex.build = classmethod(_traced("BM25 build", build))  # type: ignore[assignment]
    before = _rss_mib()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-build-memory-") as tmp:
        report = index.build_from_documents(docs, Path(tmp) / "index", RandomEmbedder())
    print(report.summary())
    print(
        f"peak resident memory {_peak_mib():.0f} MiB ({before:.0f} MiB with the documents loaded, before the build); "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
