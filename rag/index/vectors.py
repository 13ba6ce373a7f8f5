"""Vectors a build reuses: what is embedded for a passage, the content hash vectors are reused by, which stored rows
are sound, and embedding only what the cache lacks. (Reading the previous index's vectors: ``rag.index.reuse``.)"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder, Kind
from rag.errors import IndexIncompatibleError
from rag.store.rows import Rows, Vectors

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


# Texts embedded per call while building (in whole batches): bounds the memory of the not-yet-placed vectors.
EMBED_CHUNK_BATCHES = 128


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: dict[str, npt.NDArray[np.float32]],
    progress: bool,
    kind: Kind = "passage",
    what: str = "texts",
    keys: Sequence[str] | None = None,
) -> tuple[npt.NDArray[np.float32], int]:
    """Vectors for ``texts`` (as passages, or as questions), embedding only those whose hash is not in ``cache``;
    ``what`` names them on the progress bar (``keys``: the texts' ``text_key``, when the caller has them already).

    New vectors are added to ``cache`` as views of the returned matrix: each is held once, not twice (at 100k
    passages the copies were a third of the build's peak memory).
    """
    keys = keys if keys is not None else [text_key(t, kind) for t in texts]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in cache}.values())
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    if todo:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=f"embedding {what}", unit="text", dynamic_ncols=True)
        # In chunks, each copied into place: the new vectors are never all held twice. Whole batches per chunk,
        # so that the embedder sees the same batches as in one call.
        chunk = EMBED_CHUNK_BATCHES * embedder.batch_size
        try:
            for start in range(0, len(todo), chunk):
                rows = todo[start : start + chunk]
                out[rows] = embedder.embed([texts[i] for i in rows], kind, progress=bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
    for i in todo:
        cache[keys[i]] = out[i]
    new = set(todo)
    for i, key in enumerate(keys):
        if i not in new:
            out[i] = cache[key]
    return out, len(todo)
