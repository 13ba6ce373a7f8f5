"""Vectors a build reuses: what is embedded for a passage, the content hash vectors are reused by, which stored rows
are sound, embedding only what the build lacks, and writing every vector from where it is. (Reading the previous
index's vectors: ``rag.index.reuse``.)"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder, Kind
from rag.errors import IndexIncompatibleError
from rag.index.lookup import Lookup, Reader, key_view
from rag.store.rows import Rows, Vectors
from rag.store.vector_files import KEY_BYTES, Keys, key_strings

log = logging.getLogger("rag")


# Vectors read and checked at a time when reusing a previous index's.
REUSE_ROWS = 4096
# How far from length 1 a stored unit vector may be (float16 rounding moves it by ~1e-4) before it counts as damaged.
UNIT_TOLERANCE = 1e-2


def embedding_text(title: str, text: str) -> str:
    """What the model embeds for a passage: its document's title gives it context ("selon l'OTAN")."""
    return f"{title}\n{text}" if title else text


def text_key(text: str, kind: Kind = "passage") -> str:
    """Content hash of a text as embedded (vectors are reused by this key, for the same embedder only); a question's
    key differs from the same text's as a passage (the model embeds them differently)."""
    return hashlib.sha1((text if kind == "passage" else f"query\n{text}").encode("utf-8")).hexdigest()


def sound_rows(rows: Vectors | Rows) -> Iterator[npt.NDArray[np.float32] | None]:
    """Each row of a stored vector matrix (float32), or None when it is damaged: in a block whose checksum does not
    match, or not a finite unit vector (the only sign of damage in formats without vector checksums)."""
    for start in range(0, len(rows), REUSE_ROWS):
        stop = min(len(rows), start + REUSE_ROWS)
        readable = np.ones(stop - start, dtype=bool)
        try:
            block = np.array(rows[start:stop], dtype=np.float32)
        except IndexIncompatibleError:  # a damaged block: read row by row to keep the sound ones
            block = np.zeros((stop - start, rows.shape[1]), dtype=np.float32)
            for i in range(start, stop):
                try:
                    block[i - start] = rows[i]
                except IndexIncompatibleError:
                    readable[i - start] = False
        with np.errstate(all="ignore"):  # overflow or NaN in a damaged row: it fails the test below
            norms = np.linalg.norm(block, axis=1)
        sound = readable & (np.abs(norms - 1.0) <= UNIT_TOLERANCE)
        for row, ok in zip(block, sound.tolist(), strict=True):
            yield row if ok else None


# Texts embedded per call while building (in whole batches): bounds the memory of the not-yet-written vectors.
EMBED_CHUNK_BATCHES = 128
# Rows read from where they are and written to the new index at a time (25 MiB of 384-d float32 vectors).
WRITE_ROWS = 16_384
# Keys hashed at a time.
KEY_ROWS = 65_536

# Saves a chunk of new vectors (a shard, ``rag.index.shards.Checkpoint``); returns how to read its rows back.
Checkpoint = Callable[[list[str], npt.NDArray[np.float32]], Reader]


def text_keys(texts: Iterable[str], n: int, kind: Kind = "passage") -> Keys:
    """The ``text_key`` of each of ``n`` texts, as an ``(n, 20)`` array (24 bytes a key where a hex string took 90)."""
    out = np.empty((n, KEY_BYTES), dtype=np.uint8)
    digests: list[bytes] = []
    i = 0
    for text in texts:
        digests.append(hashlib.sha1((text if kind == "passage" else f"query\n{text}").encode("utf-8")).digest())
        if len(digests) == KEY_ROWS:
            out[i : i + len(digests)] = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, KEY_BYTES)
            i += len(digests)
            digests.clear()
    if digests:
        out[i : i + len(digests)] = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, KEY_BYTES)
        i += len(digests)
    if i != n:
        raise ValueError(f"{i} texts for {n} keys")
    return out


@dataclass(frozen=True)
class Texts:
    """The ``len(keys)`` texts of one vector file, made only when embedded (``make(rows)``: the texts of those rows):
    at a million passages the texts of the sentences alone would be gigabytes."""

    keys: Keys
    make: Callable[[npt.NDArray[np.int64]], list[str]]

    def __len__(self) -> int:
        return len(self.keys)


def to_embed(keys: Keys, lookup: Lookup) -> npt.NDArray[np.int64]:
    """The rows whose key ``lookup`` lacks, each key once (at its last row: the order the build always embedded in,
    so that the embedder sees the same batches)."""
    missing = np.flatnonzero(~lookup.contains(keys))[::-1]
    _, last = np.unique(key_view(keys[missing]), return_index=True)
    rows: npt.NDArray[np.int64] = np.sort(missing[last]).astype(np.int64)
    return rows


def embed_missing(
    embedder: Embedder,
    texts: Texts,
    lookup: Lookup,
    progress: bool,
    kind: Kind = "passage",
    what: str = "texts",
    checkpoint: Checkpoint | None = None,
) -> int:
    """Embed the texts whose key ``lookup`` lacks (each once), chunk by chunk, and add each chunk to ``lookup``;
    returns how many were embedded. ``what`` names them on the progress bar. ``checkpoint`` saves each chunk as soon as
    it is embedded (a shard: a rerun of a killed build embeds only what no shard holds, ``rag.index.shards``), and
    ``lookup`` then reads the chunk's rows from it; without one, the chunk stays in memory (a build of one chunk)."""
    todo = to_embed(texts.keys, lookup)
    if not len(todo):
        return 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"embedding {what}", unit="text", dynamic_ncols=True)
    # Whole batches per chunk, so that the embedder sees the same batches as in one call.
    chunk = EMBED_CHUNK_BATCHES * embedder.batch_size
    try:
        for start in range(0, len(todo), chunk):
            rows = todo[start : start + chunk]
            vectors = embedder.embed(texts.make(rows), kind, progress=bar.update if bar else None)
            keys = texts.keys[rows]
            if checkpoint is not None:
                lookup.add(keys, checkpoint(key_strings(keys), vectors))
            else:
                lookup.add_rows(keys, vectors)
    finally:
        if bar is not None:
            bar.close()
    return len(todo)


def write_vectors(keys: Keys, lookup: Lookup, dim: int, write: Callable[[npt.NDArray[np.float32]], None]) -> None:
    """The vector of every key, in order, read from where ``lookup`` keeps it, given to ``write`` block by block."""
    for start in range(0, len(keys), WRITE_ROWS):
        write(lookup.read(keys[start : start + WRITE_ROWS], dim))
