"""Where a build finds the vectors it does not embed: text key → (source, row), the rows read when needed.

The sources are vector files on disk (the previous index's, the shards of an interrupted build or of this one, read
by position: ``rag.store.rows.NpyRows``) or, for a few rows, arrays. Keys are 20-byte SHA-1 digests
(``rag.index.vectors.text_key``) held in numpy arrays: 32 bytes a vector in all, where a dict of the vectors
themselves held 1.5 KiB each (13.8 GiB of build memory at a million passages).

When a key is in several sources, the first source added wins (the previous index's passage vectors, then its
sentence vectors, then the shards: as the dict it replaces, which kept the first vector put in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.store.rows import Rows
from rag.store.vector_files import KEY_BYTES, Keys

Vectors = npt.NDArray[np.float32]
# Reads the rows ``rows`` (sorted, distinct) of a source, as float32.
Reader = Callable[[npt.NDArray[np.int64]], Vectors]


def key_view(keys: Keys) -> npt.NDArray[np.bytes_]:
    """``(n, 20)`` uint8 keys as ``n`` 20-byte strings (sortable, comparable; every key is 20 bytes long, so the
    padding rules of numpy's bytes type never make two distinct keys equal)."""
    flat = np.ascontiguousarray(keys, dtype=np.uint8).reshape(-1, KEY_BYTES)
    view: npt.NDArray[np.bytes_] = flat.view(f"S{KEY_BYTES}").reshape(-1)
    return view


def rows_reader(rows: Rows | Vectors) -> Reader:
    def read(wanted: npt.NDArray[np.int64]) -> Vectors:
        return np.asarray(rows[wanted], dtype=np.float32)

    return read


@dataclass
class _Part:
    keys: npt.NDArray[np.bytes_]
    sources: npt.NDArray[np.int32]
    rows: npt.NDArray[np.int64]


class Lookup:
    """Vectors by text key, kept where they are (see the module docstring)."""

    def __init__(self) -> None:
        self._readers: list[Reader] = []
        self._parts: list[_Part] = []
        self._table: tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int32], npt.NDArray[np.int64]] | None = None

    def add(self, keys: Keys, read: Reader, usable: npt.NDArray[np.bool_] | None = None) -> None:
        """A source whose row i embeds the text of ``keys[i]`` (only the rows ``usable`` when given: the sound ones)."""
        rows = np.arange(len(keys), dtype=np.int64) if usable is None else np.flatnonzero(usable).astype(np.int64)
        self._readers.append(read)
        if len(rows):
            source = np.full(len(rows), len(self._readers) - 1, dtype=np.int32)
            self._parts.append(_Part(key_view(keys)[rows].copy(), source, rows))
            self._table = None

    def add_rows(self, keys: Keys, rows: Rows | Vectors, usable: npt.NDArray[np.bool_] | None = None) -> None:
        self.add(keys, rows_reader(rows), usable)

    def _built(self) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        if self._table is None:
            if not self._parts:
                self._table = (np.zeros(0, f"S{KEY_BYTES}"), np.zeros(0, np.int32), np.zeros(0, np.int64))
            else:
                keys = np.concatenate([p.keys for p in self._parts])
                sources = np.concatenate([p.sources for p in self._parts])
                rows = np.concatenate([p.rows for p in self._parts])
                order = np.argsort(keys, kind="stable")  # stable: the first source of a key comes first
                keys, sources, rows = keys[order], sources[order], rows[order]
                first = np.ones(len(keys), dtype=bool)
                first[1:] = keys[1:] != keys[:-1]
                self._table = (keys[first], sources[first], rows[first])
                self._parts = [_Part(*self._table)]  # one part from now on: merged again when sources are added
        return self._table

    def __len__(self) -> int:
        return len(self._built()[0])

    def find(self, keys: Keys) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """The source and row of each key (source -1 where none holds it)."""
        table_keys, sources, rows = self._built()
        wanted = key_view(keys)
        if not len(table_keys):
            return np.full(len(wanted), -1, np.int32), np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(table_keys, wanted), len(table_keys) - 1)
        found = table_keys[at] == wanted
        return np.where(found, sources[at], -1).astype(np.int32), np.where(found, rows[at], -1).astype(np.int64)

    def contains(self, keys: Keys) -> npt.NDArray[np.bool_]:
        found: npt.NDArray[np.bool_] = self.find(keys)[0] >= 0
        return found

    def read(self, keys: Keys, dim: int) -> Vectors:
        """The vectors of ``keys``, every one of which a source holds (``KeyError`` otherwise), read source by source
        in row order."""
        sources, rows = self.find(keys)
        if len(sources) and sources.min() < 0:
            raise KeyError(f"{int((sources < 0).sum())} vectors are in no source")
        out = np.empty((len(keys), dim), dtype=np.float32)
        for source in np.unique(sources).tolist():
            where = np.flatnonzero(sources == source)
            wanted, back = np.unique(rows[where], return_inverse=True)
            out[where] = self._readers[source](wanted)[back]
        return out
