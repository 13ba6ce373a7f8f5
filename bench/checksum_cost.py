"""What checking the index's checksums costs: ``python -m bench.checksum_cost --paragraphs 200000``.

Builds an index of service-public paragraphs with random unit vectors (as ``bench.build_memory``), then prints the
time of a serving load and the part of it spent on whole-file SHA-256, and the time of new questions on a fresh load
with the vector blocks checked and not (the blocks a question reads are checked once, then known good).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.build_memory import RandomEmbedder, arguments, documents
from rag import index, store
from rag.retrieve.retriever import Retriever
from rag.store import files, rows

QUESTIONS = [
    "déclaration de naissance", "carte grise changement d'adresse", "allocation logement étudiant",
    "permis de conduire perdu", "impôt sur le revenu", "congé maternité durée", "passeport délai",
    "retraite anticipée carrière longue", "RSA conditions", "succession notaire", "divorce par consentement mutuel",
    "chômage indemnisation",
]  # fmt: skip


def _timed(spent: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent[key] += time.perf_counter() - started
            spent[key + " calls"] += 1

    return run


def _query_vector(text: str) -> np.ndarray:
    vector = np.random.default_rng(sum(map(ord, text))).standard_normal(384).astype(np.float32)
    out: np.ndarray = vector / np.linalg.norm(vector)
    return out


def measure(path: Path) -> None:
    manifest = store.read_manifest(path)
    size = sum(manifest["sizes"][name] for name in manifest["block_checksums"]["files"]) / 2**20
    print(f"{manifest['passages']} passages, {manifest['sentences']} sentences; vector files {size:.0f} MiB")
    spent = {"sha": 0.0, "sha calls": 0.0, "block": 0.0, "block calls": 0.0}
    files.sha256 = _timed(spent, "sha", files.sha256)
    rows.block_checksum = _timed(spent, "block", rows.block_checksum)
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        store.load(path, with_vectors=False)
        loads.append(time.perf_counter() - started)
    print(f"serving load: median {statistics.median(loads) * 1000:.0f} ms, of which whole-file SHA-256 "
          f"{spent['sha'] / 5 * 1000:.0f} ms")  # fmt: skip
    embedder = RandomEmbedder()
    embedder.embed_query = _query_vector  # type: ignore[method-assign]
    for check in (False, True, False, True):
        data = store.load(path, with_vectors=False)
        if not check:
            data.sentence_vectors._checksums = None  # type: ignore[union-attr]
        retriever = Retriever(data, embedder, path)
        spent.update(block=0.0, **{"block calls": 0.0})
        first = []
        for question in QUESTIONS:
            started = time.perf_counter()
            retriever.search(question, k=5)
            first.append(time.perf_counter() - started)
        blocks, block_seconds = spent["block calls"], spent["block"]
        again = []
        for question in QUESTIONS * 3:
            started = time.perf_counter()
            retriever.search(question, k=5)
            again.append(time.perf_counter() - started)
        print(
            f"blocks checked {'yes' if check else 'no '}: {len(QUESTIONS)} new questions, median "
            f"{statistics.median(first) * 1000:.2f} ms ({blocks / len(QUESTIONS):.0f} blocks checked a question, "
            f"{block_seconds / len(QUESTIONS) * 1000:.2f} ms); asked again, median {statistics.median(again) * 1000:.2f} ms"
        )


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory(prefix="rag-checksum-cost-") as tmp:
        path = Path(tmp) / "index"
        index.build_from_documents(documents(args.scale_dir, args.paragraphs), path, RandomEmbedder())
        measure(path)


if __name__ == "__main__":
    main()
