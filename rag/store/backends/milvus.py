"""Vectors in Milvus (``pymilvus``): two collections per index, passages and sentences, keyed by content.

- ``<collection>_passages``: ``pk`` (the passage's key: a hash of the embedder, the passage id and the text embedded),
  ``vector`` (float32, inner product), and the payload of a citation: ``source`` (what ``--source`` filters on),
  ``paragraph``, ``start``, ``end``, ``page`` (-1: none) and ``text``. Index: ``FLAT`` (exact) below
  ``rag.store.ann.APPROX_THRESHOLD`` passages, ``HNSW`` with FAISS's parameters from it on.
- ``<collection>_sentences``: ``pk``, ``passage`` (its passage's key), ``ord`` (its place in the passage) and
  ``vector`` (the float16-rounded values the FAISS files store, as float32: milvus-lite has no float16 vectors, and
  the same values give the same scores).

Atomicity without transactions: rows are immutable and keyed by content, so a build only adds the rows of passages
no committed generation has (an update touches only the documents that changed), records their keys in its
generation folder (``keys.npy``) before it writes them, and commits by switching the manifest as the FAISS store
does. A search keeps only rows of the generation it loaded (keys it knows): rows of a build that has not committed,
or was killed, are invisible. After the switch, rows no committed generation uses are deleted (``collect``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.config import store_address
from rag.errors import BadInputError, IndexIncompatibleError, RagError
from rag.store import ann
from rag.store.backends.base import Backend, Keys, RowIds, RowSearch, Scores
from rag.store.data import SENTENCE_DTYPE, IndexData, lexical_texts
from rag.store.rows import Rows, Vectors, concat_ranges
from rag.types import Passage

log = logging.getLogger("rag")

# Rows per insert or delete call, and vectors per query (Milvus caps a query's result at 16,384 rows).
WRITE_ROWS = 2000
READ_ROWS = 8000
# Vectors of the last rows read kept in memory (a question reads ~200 candidates and ~700 sentences): 6 and 10 MiB.
CACHED_PASSAGES = 4096
CACHED_SENTENCES = 16384
MAX_TEXT_BYTES = 65_535  # Milvus VARCHAR limit
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def new_record(uri: str) -> dict[str, Any]:
    """The ``store`` record of a new index in ``uri``: a collection name of its own."""
    _address(uri)  # check it now
    return {"backend": "milvus", "uri": uri, "collection": f"rag_{uuid.uuid4().hex[:16]}"}


def _address(uri: str) -> str:
    """What pymilvus connects to: ``milvus://HOST:PORT`` → ``http://HOST:PORT``; ``milvus:///PATH.db`` → the path."""
    try:
        address = store_address(uri)
    except ValueError as exc:
        raise BadInputError(f"{uri}: {exc}") from None
    if address is None:
        raise BadInputError(f"{uri} is not a Milvus store")
    return address


def _unimplemented(record: logging.LogRecord) -> bool:
    """False for the in-process milvus-lite server's report of an RPC it lacks: pymilvus asks for a timestamp
    (AllocTimestamp) while creating an index, does without it, and the gRPC server logs a traceback for it."""
    return "Method not implemented" not in record.getMessage()


@functools.cache
def _pymilvus_logs_to_the_application() -> None:
    """pymilvus installs its own handlers on its loggers when imported (a timestamped line and a traceback on stderr
    for each failed reconnection): its records go to the application's logging instead, as a library's should (the
    CLI shows their message, and the traceback with --debug)."""
    import pymilvus  # noqa: F401  (configures its loggers)

    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def client(uri: str) -> Any:
    """One pymilvus client per store in this process (milvus-lite serves a local folder to one process at a time)."""
    with _clients_lock:
        if uri not in _clients:
            _pymilvus_logs_to_the_application()
            from pymilvus import MilvusClient

            address = _address(uri)
            if address.endswith(".db"):
                logging.getLogger("grpc._server").addFilter(_unimplemented)
            try:
                _clients[uri] = MilvusClient(address) if address.endswith(".db") else MilvusClient(uri=address)
            except store_errors() as exc:
                raise RagError(
                    f"cannot open the Milvus store {uri} ({_reason(exc)}); start the server, or check that no other "
                    "process has this local store open (a `rag serve`: use a Milvus server for both)"
                ) from exc
        return _clients[uri]


def store_errors() -> tuple[type[Exception], ...]:
    """What the Milvus client raises when the store cannot be reached or refuses a request (pymilvus's own errors, the
    gRPC transport's, the system's): the store's problem, reported as such. Anything else is a bug of rag's, raised
    as it is (never disguised as an unreachable or damaged store)."""
    import grpc
    from pymilvus.exceptions import MilvusException

    return (MilvusException, grpc.RpcError, OSError)


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "message", None) or exc).split())[:200]


def _key(*parts: str) -> int:
    """A positive 63-bit key (Milvus primary keys are signed int64)."""
    digest = hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def sentence_key(passage_key: int, ordinal: int) -> int:
    """The key of a passage's ``ordinal``-th sentence: derived from the passage's, so it is read by key, not by a
    filter (a filter scans the collection)."""
    return _key(str(passage_key), str(ordinal))


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class MilvusBackend(Backend):
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.uri = str(record["uri"])
        name = str(record["collection"])
        self.passages = f"{name}_passages"
        self.sentences = f"{name}_sentences"

    # -- writing -------------------------------------------------------------------------------------------------

    def keys(self, data: IndexData) -> Keys:
        embedder = str(data.manifest.get("embedder", {}).get("id", ""))
        texts = lexical_texts(data)  # title + passage text: what the passage key depends on besides its id
        return np.array([_key(embedder, p.id, t) for p, t in zip(data.passages, texts, strict=True)], dtype=np.int64)

    def _create(self, dim: int, n: int) -> str:
        """Create the two collections when missing; returns the passage index kind."""
        from pymilvus import DataType, MilvusClient

        milvus = client(self.uri)
        kind = str(self.record.get("index") or ann.choose_kind(n))
        if not milvus.has_collection(self.passages):
            schema = MilvusClient.create_schema(auto_id=False)
            schema.add_field("pk", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
            schema.add_field("paragraph", DataType.INT64)
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
            schema.add_field("page", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
            params = milvus.prepare_index_params()
            if kind == "flat":
                params.add_index("vector", index_type="FLAT", metric_type="IP")
            else:
                kind = "hnsw"
                params.add_index(
                    "vector", index_type="HNSW", metric_type="IP",
                    params={"M": ann.HNSW_M, "efConstruction": ann.HNSW_EF_CONSTRUCTION},
                )  # fmt: skip
            milvus.create_collection(self.passages, schema=schema, index_params=params, consistency_level="Strong")
        if not milvus.has_collection(self.sentences):
            schema = MilvusClient.create_schema(auto_id=False)
            schema.add_field("pk", DataType.INT64, is_primary=True)
            schema.add_field("passage", DataType.INT64)
            schema.add_field("ord", DataType.INT64)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            params = milvus.prepare_index_params()
            params.add_index("vector", index_type="FLAT", metric_type="IP")  # never searched: read by passage
            milvus.create_collection(self.sentences, schema=schema, index_params=params, consistency_level="Strong")
        return kind

    def write(self, data: IndexData, keys: Keys, present: Keys) -> dict[str, Any]:
        dim = int(data.manifest["embedder"]["dim"])
        try:
            kind = self._create(dim, len(data.passages))
            milvus = client(self.uri)
            new = np.flatnonzero(~np.isin(keys, present))
            starts = _sentence_starts(data.sentence_spans)
            for part in _batches(len(new), WRITE_ROWS):
                rows = new[part]
                vectors = np.asarray(data.vectors[np.sort(rows)], dtype=np.float32)[np.argsort(np.argsort(rows))]
                passage_rows = [_passage_row(int(keys[r]), data.passages[r], v) for r, v in zip(rows, vectors, strict=True)]
                milvus.upsert(self.passages, passage_rows)
                lo, hi = starts[rows], starts[rows + 1]
                sentence_vectors = _float16_values(np.asarray(data.sentence_vectors[concat_ranges(lo, hi)]))
                sentence_rows, i = [], 0
                for r, a, b in zip(rows.tolist(), lo.tolist(), hi.tolist(), strict=True):
                    for ordinal in range(b - a):
                        sentence_rows.append({
                            "pk": sentence_key(int(keys[r]), ordinal), "passage": int(keys[r]), "ord": ordinal,
                            "vector": sentence_vectors[i],
                        })  # fmt: skip
                        i += 1
                for chunk in _batches(len(sentence_rows), WRITE_ROWS):
                    milvus.upsert(self.sentences, sentence_rows[chunk])
            milvus.flush(self.passages)
            milvus.flush(self.sentences)
        except store_errors() as exc:
            raise RagError(f"cannot write to the Milvus store {self.uri} ({_reason(exc)})") from exc
        log.info("milvus: %d of %d passages written", len(new), len(keys))
        return {**self.record, "index": kind, "passages": len(keys), "written": len(new)}

    def collect(self, keep: Keys, others: Sequence[Keys]) -> None:
        stale = np.setdiff1d(np.concatenate([np.zeros(0, np.int64), *others]), keep)
        if not len(stale):
            return
        try:
            milvus = client(self.uri)
            for part in _batches(len(stale), WRITE_ROWS):
                ids = stale[part].tolist()
                milvus.delete(self.passages, ids=ids)
                milvus.delete(self.sentences, filter=f"passage in {json.dumps(ids)}")
            milvus.flush(self.passages)
            milvus.flush(self.sentences)
        except store_errors() as exc:  # the new index is committed: leftovers are invisible, and removed next time
            log.warning("the Milvus store %s kept %d unused passages (%s)", self.uri, len(stale), _reason(exc))

    # -- serving -------------------------------------------------------------------------------------------------

    def open(
        self, keys: Keys, passages: Sequence[Passage], sentence_starts: npt.NDArray[np.int64], dim: int
    ) -> tuple[Rows, Rows, RowSearch]:
        milvus = client(self.uri)
        try:
            for name in (self.passages, self.sentences):
                if len(keys) and not milvus.has_collection(name):
                    raise IndexIncompatibleError(
                        f"the Milvus store {self.uri} has no collection {name}; re-run `rag index` to rebuild the index"
                    )
                if len(keys):
                    milvus.load_collection(name)
        except store_errors() as exc:
            raise IndexIncompatibleError(f"cannot read the Milvus store {self.uri} ({_reason(exc)})") from exc
        table = _KeyTable(keys)
        passage_rows = _PassageRows(milvus, self.passages, keys, dim)
        kind = str(self.record.get("index"))
        search = _Search(milvus, self.passages, table, [p.source for p in passages], dim, kind, passage_rows.cache)
        return passage_rows, _SentenceRows(milvus, self.sentences, keys, sentence_starts, dim), search


def _sentence_starts(spans: Any) -> npt.NDArray[np.int64]:
    starts = getattr(spans, "starts", None)
    if starts is not None:
        return np.asarray(starts, dtype=np.int64)
    counts = np.array([len(s) for s in spans], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _float16_values(vectors: Vectors) -> Vectors:
    """The values the FAISS store keeps for sentences (float16), as float32."""
    return np.asarray(vectors, dtype=np.float32).astype(SENTENCE_DTYPE).astype(np.float32)


def _passage_row(key: int, passage: Passage, vector: Vectors) -> dict[str, Any]:
    text = passage.text
    while len(text.encode("utf-8")) > MAX_TEXT_BYTES:  # a chunk is ~1,200 characters; never in practice
        text = text[: len(text) * 9 // 10]
    return {
        "pk": key, "vector": vector, "source": passage.source, "paragraph": passage.paragraph,
        "start": passage.start, "end": passage.end, "page": -1 if passage.page is None else passage.page, "text": text,
    }  # fmt: skip


class _KeyTable:
    """Passage key → row of the loaded generation (sorted keys and a binary search: 16 bytes a passage)."""

    def __init__(self, keys: Keys) -> None:
        self.order = np.argsort(keys, kind="stable").astype(np.int64)
        self.sorted = keys[self.order]

    def rows(self, keys: Keys) -> RowIds:
        """The row of each key, -1 for keys this generation does not have."""
        where = np.minimum(np.searchsorted(self.sorted, keys), max(0, len(self.sorted) - 1))
        found = (len(self.sorted) > 0) & (self.sorted[where] == keys) if len(self.sorted) else np.zeros(len(keys), bool)
        out: RowIds = np.where(found, self.order[where] if len(self.sorted) else -1, -1).astype(np.int64)
        return out


def _vectors_of(hits: list[dict[str, Any]], dim: int) -> Vectors:
    return np.asarray([h["vector"] for h in hits], dtype=np.float32).reshape(len(hits), dim)


class _Cache:
    """The vectors of the last rows read, by row (a question reads the same candidates' vectors several times:
    scoring, near-duplicates, highlights; each read is a round trip to the engine)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rows: OrderedDict[int, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, rows: list[int]) -> list[Vectors | None]:
        with self._lock:
            found = [self._rows.get(r) for r in rows]
            for r, v in zip(rows, found, strict=True):
                if v is not None:
                    self._rows.move_to_end(r)
            return found

    def put(self, rows: list[int], vectors: Vectors) -> None:
        with self._lock:
            for r, v in zip(rows, vectors, strict=True):
                self._rows[r] = v
                self._rows.move_to_end(r)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)


class _KeyedRows(Rows):
    """Vectors read from a collection by primary key, through a cache of the last rows read."""

    def __init__(self, milvus: Any, collection: str, n: int, dim: int, cache_rows: int) -> None:
        self._milvus, self._collection = milvus, collection
        self.shape = (n, dim)
        self.cache = _Cache(cache_rows)

    def _keys_of(self, rows: npt.NDArray[np.int64]) -> list[int]:
        raise NotImplementedError

    def _block(self, start: int, stop: int) -> Vectors:
        return self._gather(np.arange(start, stop, dtype=np.int64))

    def ranges(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Vectors:
        return self._gather(concat_ranges(lo, hi))

    def _gather(self, rows: npt.NDArray[np.int64]) -> Vectors:
        out = np.zeros((len(rows), self.shape[1]), dtype=np.float32)
        if not len(rows):
            return out
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError(f"rows out of range for {len(self)} rows")
        wanted = rows.tolist()
        cached = self.cache.get(wanted)
        todo = sorted({r for r, v in zip(wanted, cached, strict=True) if v is None})
        fetched: dict[int, Vectors] = {}
        for part in _batches(len(todo), READ_ROWS):
            chunk = np.asarray(todo[part], dtype=np.int64)
            keys = self._keys_of(chunk)
            try:
                hits = self._milvus.query(self._collection, ids=keys, output_fields=["pk", "vector"])
            except store_errors() as exc:
                raise IndexIncompatibleError(
                    f"cannot read the vectors of the Milvus collection {self._collection} ({_reason(exc)})"
                ) from exc
            by_key = {int(h["pk"]): i for i, h in enumerate(hits)}
            if len(by_key) != len(set(keys)):
                raise IndexIncompatibleError(
                    f"the Milvus collection {self._collection} lacks vectors of this index; re-run `rag index`"
                )
            vectors = _vectors_of(hits, self.shape[1])[[by_key[k] for k in keys]]
            fetched.update(zip(chunk.tolist(), vectors, strict=True))
            self.cache.put(chunk.tolist(), vectors)
        for i, (r, v) in enumerate(zip(wanted, cached, strict=True)):
            out[i] = v if v is not None else fetched[r]
        return out


class _PassageRows(_KeyedRows):
    """Passage vectors in row order."""

    def __init__(self, milvus: Any, collection: str, keys: Keys, dim: int) -> None:
        super().__init__(milvus, collection, len(keys), dim, CACHED_PASSAGES)
        self._keys = keys

    def _keys_of(self, rows: npt.NDArray[np.int64]) -> list[int]:
        return [int(k) for k in self._keys[rows]]


class _SentenceRows(_KeyedRows):
    """Sentence vectors in passage then sentence order (as ``sentences.npy``), by their keys (``sentence_key``)."""

    def __init__(self, milvus: Any, collection: str, keys: Keys, starts: npt.NDArray[np.int64], dim: int) -> None:
        super().__init__(milvus, collection, int(starts[-1]) if len(starts) else 0, dim, CACHED_SENTENCES)
        self._keys, self._starts = keys, starts

    def _keys_of(self, rows: npt.NDArray[np.int64]) -> list[int]:
        owner = np.searchsorted(self._starts, rows, side="right") - 1
        ordinal = rows - self._starts[owner]
        return [sentence_key(int(k), o) for k, o in zip(self._keys[owner].tolist(), ordinal.tolist(), strict=True)]


class _Search:
    """Passage search in the passages collection, in rows of the loaded generation (``RowSearch``)."""

    def __init__(
        self, milvus: Any, collection: str, table: _KeyTable, sources: list[str], dim: int, kind: str, cache: _Cache
    ) -> None:
        self._milvus, self._collection, self._table, self._kind, self._cache = milvus, collection, table, kind, cache
        self._sources = np.asarray(sources, dtype=object)
        self.ntotal = len(sources)
        self.d = dim

    def search_rows(self, query: npt.NDArray[np.float32], k: int, allowed: RowIds | None) -> tuple[Scores, RowIds]:
        """The ``k`` best rows (among ``allowed``). With a ``FLAT`` collection, exactly FAISS's answer: the engine's
        candidates, with a margin, are scored again by FAISS's own flat search, which breaks ties as the FAISS files do
        (lower rows first), so that both stores give the same candidates even where scores tie or differ in the last
        bit (the engine sums in another order)."""
        expression = ""
        if allowed is not None:
            allowed = np.unique(allowed.astype(np.int64))
            sources = sorted(set(self._sources[allowed].tolist())) if len(allowed) else []
            if not sources:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            expression = f"source in {json.dumps(sources, ensure_ascii=False)}"
        k = max(1, min(k, self.ntotal))
        exact = self._kind != "hnsw"
        limit = min(MAX_LIMIT, k + k // 4 + 16) if exact else k
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        while True:
            scores, rows, vectors, more = self._candidates(q, limit, expression, allowed)
            if not exact:
                if len(rows) >= k or not more:
                    order = np.argsort(-scores, kind="stable")[:k]
                    return scores[order], rows[order]
            else:
                top_scores, top_rows = _exact_top(q, rows, vectors, k)
                # Done when nothing the engine did not return can still be in the top k (its scores are lower).
                if not more or (len(top_rows) == k and float(scores.min()) < float(top_scores[-1]) - BOUNDARY):
                    return top_scores, top_rows
            limit = min(MAX_LIMIT, limit * 2)

    def _candidates(
        self, q: npt.NDArray[np.float32], limit: int, expression: str, allowed: RowIds | None
    ) -> tuple[Scores, RowIds, Vectors, bool]:
        """The engine's ``limit`` best of this generation (scores, rows, vectors); ``more``: it may hold others."""
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._kind == "hnsw":
            params["params"] = {"ef": max(ann.HNSW_EF_SEARCH, limit)}
        try:
            (hits,) = self._milvus.search(
                self._collection, data=[q.tolist()], limit=limit, filter=expression, search_params=params,
                output_fields=["vector"],
            )  # fmt: skip
        except store_errors() as exc:
            raise IndexIncompatibleError(f"the Milvus search failed ({_reason(exc)})") from exc
        keys = np.array([int(h["pk"]) for h in hits], dtype=np.int64)
        scores = np.array([float(h["distance"]) for h in hits], dtype=np.float32)
        vectors = np.asarray([h["entity"]["vector"] for h in hits], dtype=np.float32).reshape(len(hits), self.d)
        rows = self._table.rows(keys)
        # Rows this generation does not know (written by a build not committed yet, or killed) are skipped.
        keep = rows >= 0
        if allowed is not None:
            keep &= np.isin(rows, allowed)
        more = len(hits) >= limit and limit < MAX_LIMIT
        self._cache.put(rows[keep].tolist(), vectors[keep])  # the candidates' vectors are read next: no round trip
        return scores[keep], rows[keep], vectors[keep], more


# Milvus caps a search's limit at 16,384.
MAX_LIMIT = 16_384
# Engine and FAISS scores of the same pair differ by float rounding (~1e-7): a candidate the engine scores this close
# to the k-th may belong in the top k.
BOUNDARY = 1e-5


def _exact_top(q: Vectors, rows: RowIds, vectors: Vectors, k: int) -> tuple[Scores, RowIds]:
    """FAISS's flat top-k over these candidates, as over the whole index: same kernel, lower rows first on ties."""
    order = np.argsort(rows, kind="stable")
    if not len(order):
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    index = ann.build(np.ascontiguousarray(vectors[order]), "flat")
    scores, positions = ann.search(index, q, k)
    return scores, rows[order][positions]
