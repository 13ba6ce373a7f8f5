"""What checking an index costs: ``python -m bench.verify_cost --paragraphs 10000``.

Builds an index of service-public paragraphs with random unit vectors (as ``bench.build_memory``; the checks read
bytes, whatever they hold), with a second opinion's vector file of USE's size (512 float16 per passage) as the
default model's index has, then times, in this process:

- ``rag verify`` (``rag.store.verify.verify``) with its reader threads and with one, the page cache warm;
- reading the vector files from the disk itself (``O_DIRECT``: the page cache neither helps nor is dropped, so the
  machine's other users are not disturbed), the bound on a cold ``rag verify``;
- a serving load (``store.load(..., with_vectors=False)``), and what checking every block of ``vectors.npy`` (which
  serving does not read) would add to it;

and projects the checks to 1M passages by the index's bytes (every file grows with the passages; the calibration
questions' vectors, 400 rows, do not). Writes ``bench/results/verify-<N>k.json``.
"""

from __future__ import annotations

import json
import mmap
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.build_memory import RandomEmbedder, arguments, documents
from rag import index, store
from rag.embed import Embedder
from rag.store import verify as verifying
from rag.store.rows import block_checksums

MILLION = 1_000_000
REPEATS = 3


class RandomSecondOpinion(RandomEmbedder):
    """Unit vectors of USE's size: the default model's index has a second opinion's vector file of this shape."""

    id = "random-512"
    dim = 512


def _median(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _disk_read_seconds(paths: list[Path]) -> tuple[float, int]:
    """Seconds to read ``paths`` from the disk, bypassing the page cache (O_DIRECT, aligned buffer)."""
    buffer = mmap.mmap(-1, 1 << 22)  # page-aligned, as O_DIRECT wants
    total = 0
    started = time.perf_counter()
    for path in paths:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECT", 0))
        try:
            offset = 0
            while count := os.preadv(fd, [buffer], offset):
                offset += count
                total += count
        finally:
            os.close(fd)
    return time.perf_counter() - started, total


def measure(path: Path) -> dict[str, Any]:
    manifest = store.read_manifest(path)
    passages = manifest["passages"]
    scale = MILLION / passages
    sizes = manifest["sizes"]
    questions = manifest["files"]["questions"]
    total = sum(sizes.values())
    growing = total - sizes[questions]
    vector_names = [manifest["files"][k] for k in ("vectors", "sentences", "second") if k in manifest["files"]]
    vector_bytes = sum(sizes[n] for n in vector_names)
    result: dict[str, Any] = {
        "load_average": os.getloadavg(),
        "passages": passages,
        "sentences": manifest["sentences"],
        "files": len(sizes),
        "index_bytes": total,
        "vector_file_bytes": vector_bytes,
        "projected_1m_index_bytes": int(growing * scale + sizes[questions]),
    }
    assert verifying.verify(path).intact
    threads = verifying.THREADS
    result["verify_seconds"] = _median(lambda: verifying.verify(path))
    verifying.THREADS = 1
    result["verify_one_thread_seconds"] = _median(lambda: verifying.verify(path))
    verifying.THREADS = threads
    disk_seconds, disk_bytes = _disk_read_seconds([path / n for n in sizes])
    result["disk_read_seconds"] = disk_seconds
    result["disk_read_mib_per_s"] = disk_bytes / 2**20 / disk_seconds
    result["serving_load_seconds"] = _median(lambda: store.load(path, with_vectors=False))
    vectors = path / manifest["files"]["vectors"]
    result["vectors_npy_block_check_seconds"] = _median(lambda: block_checksums(vectors, store.BLOCK_BYTES))
    result["projected_1m_vectors_npy_bytes"] = int(vectors.stat().st_size * scale)
    for key in ("verify_seconds", "verify_one_thread_seconds", "disk_read_seconds", "vectors_npy_block_check_seconds"):
        result[f"projected_1m_{key}"] = result[key] * scale
    result["verify_warm_mib_per_s"] = total / 2**20 / result["verify_seconds"]
    return result


def report(result: dict[str, Any]) -> str:
    gib = 2**30
    r = result
    return "\n".join(
        [
            f"load average {', '.join(f'{x:.2f}' for x in r['load_average'])}",
            f"{r['passages']} passages, {r['sentences']} sentences; {r['files']} files, {r['index_bytes'] / 2**20:.0f} MiB "
            f"({r['vector_file_bytes'] / 2**20:.0f} MiB of vector files); at 1M passages about "
            f"{r['projected_1m_index_bytes'] / gib:.1f} GiB",
            f"rag verify, page cache warm: {r['verify_seconds']:.2f} s ({r['verify_warm_mib_per_s']:.0f} MiB/s; one "
            f"thread {r['verify_one_thread_seconds']:.2f} s) -> at 1M {r['projected_1m_verify_seconds']:.0f} s "
            f"(one thread {r['projected_1m_verify_one_thread_seconds']:.0f} s)",
            f"reading the files from disk (O_DIRECT): {r['disk_read_seconds']:.2f} s ({r['disk_read_mib_per_s']:.0f} MiB/s) "
            f"-> at 1M {r['projected_1m_disk_read_seconds']:.0f} s: a cold rag verify takes at least that",
            f"serving load {r['serving_load_seconds'] * 1000:.0f} ms; checking every block of vectors.npy (which serving "
            f"does not read) would add {r['vectors_npy_block_check_seconds'] * 1000:.0f} ms -> at 1M "
            f"{r['projected_1m_vectors_npy_block_check_seconds']:.1f} s warm, or "
            f"{r['projected_1m_vectors_npy_bytes'] / 2**20 / r['disk_read_mib_per_s']:.1f} s to read its "
            f"{r['projected_1m_vectors_npy_bytes'] / gib:.1f} GiB from disk at every start",
        ]
    )


def main() -> None:
    args = arguments(__doc__)
    import rag.index.build as build

    second: Embedder = RandomSecondOpinion()
    build.second_opinion_for = lambda embedder: second  # type: ignore[attr-defined]  # (the default model's has one)
    with tempfile.TemporaryDirectory(prefix="rag-verify-cost-") as tmp:
        path = Path(tmp) / "index"
        index.build_from_documents(documents(args.scale_dir, args.paragraphs), path, RandomEmbedder())
        result = measure(path)
    print(report(result))
    out = Path(__file__).parent / "results" / f"verify-{round(result['passages'], -3) // 1000}k.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
