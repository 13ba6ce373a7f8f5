"""Rows of the index's vector matrices, read when asked for, and the sentence spans of every passage, compactly.

Serving a large index should not hold its vectors in the process: ``NpyRows`` reads rows of a ``.npy`` file with
positional reads (a memory map would leave every page it ever touched in the resident set: the whole file after a hundred
questions), ``FaissRows`` reads the passage vectors back from the FAISS index (which holds them anyway), and
``SpanTable`` keeps sentence spans as two integer arrays instead of a list of tuples per passage.

A file read by position cannot be checked whole at load without reading all of it: ``NpyRows`` checks each fixed-size
block against its recorded checksum (``block_checksums``) the first time it reads from it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from rag.errors import IndexIncompatibleError
from rag.types import OffsetMap

Vectors = npt.NDArray[np.float32]
Key = int | slice | npt.NDArray[np.integer[Any]] | list[int]


class _PositionalReader:
    """Reads at an offset without moving a shared file position: ``os.pread``/``os.preadv`` where the platform has
    them (Linux, the BSDs, recent macOS), else a seek and a read under a lock (Windows, some macOS builds)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()

    def read(self, size: int, offset: int) -> bytes:
        if hasattr(os, "pread"):
            data: bytes = os.pread(self.fd, size, offset)  # typed: mypy for Windows has no os.pread
            return data
        with self._lock:
            os.lseek(self.fd, offset, os.SEEK_SET)
            chunks, left = [], size
            while left:
                chunk = os.read(self.fd, left)
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

    def read_into(self, view: memoryview, offset: int) -> int:
        """Fill ``view`` from ``offset``; returns the bytes read (fewer at the end of the file)."""
        if hasattr(os, "preadv"):
            count: int = os.preadv(self.fd, [view], offset)
            return count
        data = self.read(len(view), offset)
        view[: len(data)] = data
        return len(data)


class Rows:
    """Read-only rows of a ``(n, dim)`` float32 matrix kept out of the process's memory; indexing returns arrays."""

    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Key) -> Vectors:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._block(start, max(start, stop))
            key = np.arange(start, stop, step)
        if isinstance(key, (int, np.integer)):
            row = int(key) + len(self) if key < 0 else int(key)
            if not 0 <= row < len(self):
                raise IndexError(f"row {key} out of range for {len(self)} rows")
            one: Vectors = self._block(row, row + 1)[0]
            return one
        rows = np.asarray(key, dtype=np.int64)
        if rows.ndim != 1 or (len(rows) and (rows.min() < -len(self) or rows.max() >= len(self))):
            raise IndexError(f"rows out of range for {len(self)} rows")
        return self._gather(np.where(rows < 0, rows + len(self), rows))

    def __iter__(self) -> Iterator[Vectors]:
        for start in range(0, len(self), 4096):
            yield from self._block(start, min(len(self), start + 4096))

    def __array__(self, dtype: Any = None, copy: Any = None) -> Vectors:
        whole = self._block(0, len(self))
        return whole if dtype is None else whole.astype(dtype)

    def ranges(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Vectors:
        """Rows ``lo[i]:hi[i]`` for every i, concatenated in that order (the sentences of several passages)."""
        return self._gather(concat_ranges(lo, hi))

    def _block(self, start: int, stop: int) -> Vectors:
        raise NotImplementedError

    def _gather(self, rows: npt.NDArray[np.int64]) -> Vectors:
        raise NotImplementedError


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class NpyRows(Rows):
    """Rows of a 2-D ``.npy`` file (float32 or float16, returned as float32), read from disk when asked for.

    Unlike a memory map, nothing stays mapped into the process: its resident memory does not grow with the rows it
    has read (the kernel's page cache still keeps hot rows, and can drop them). Reads are thread-safe.

    With ``checksums`` (``block_checksums`` of the file, blocks of ``block_bytes``), a block is verified the first
    time a read touches it; a mismatch raises ``IndexIncompatibleError``. (The header is checked by its own
    consistency with the file's size; its block, when rows in it are read: then damage in the first rows does not
    make the whole file unusable, and a rebuild embeds again only the rows of damaged blocks.) A file whose header or
    size is wrong raises ``IndexIncompatibleError`` naming it.
    """

    def __init__(self, path: Path, checksums: Sequence[str] | None = None, block_bytes: int = 0) -> None:
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                if version not in _NPY_HEADERS:
                    raise ValueError(f".npy format version {version}")
                shape, fortran, dtype = _NPY_HEADERS[version](fh)  # validates the header
                offset = fh.tell()
                size = os.fstat(fh.fileno()).st_size
        except ValueError as exc:  # numpy's word for a header it cannot read
            raise _damaged(path, f"not a .npy header: {exc}") from exc
        if len(shape) != 2 or fortran or dtype not in (np.dtype("<f4"), np.dtype("<f2")):
            raise _damaged(path, f"not a C-ordered 2-D float16/float32 array ({dtype}, shape {shape})")
        self._setup(path, (int(shape[0]), int(shape[1])), dtype, offset, checksums, block_bytes)
        if size != self._size:
            raise _damaged(path, f"{size} bytes instead of {self._size}")
        if checksums is not None and (block_bytes <= 0 or len(checksums) != -(-size // block_bytes)):
            raise _damaged(path, f"{size} bytes: not the {len(checksums)} blocks its checksums cover")

    @classmethod
    def salvage(
        cls, path: Path, shape: tuple[int, int], dtype: np.dtype[Any], checksums: Sequence[str], block_bytes: int
    ) -> NpyRows:
        """The rows of a file known from elsewhere (its shape and block checksums), without trusting its header or
        size: every block read is checked, so a truncated file or a damaged header loses only the rows of the blocks
        concerned (what a rebuild reuses from a damaged generation)."""
        rows = cls.__new__(cls)
        rows._setup(path, shape, np.dtype(dtype), len(npy_header(shape, np.dtype(dtype))), checksums, block_bytes)
        if block_bytes <= 0 or len(checksums) != -(-rows._size // block_bytes):
            raise _damaged(path, f"its {len(checksums)} block checksums do not cover {shape[0]} rows")
        return rows

    def _setup(
        self, path: Path, shape: tuple[int, int], dtype: np.dtype[Any], offset: int, checksums: Sequence[str] | None,
        block_bytes: int,
    ) -> None:  # fmt: skip
        self.shape = shape
        self.dtype = dtype
        self.path = path
        self._offset = offset
        self._row_bytes = shape[1] * dtype.itemsize
        self._size = offset + shape[0] * self._row_bytes  # as written: bytes past it are no part of the file
        self._checksums = checksums
        self._block_bytes = block_bytes
        self._verified = np.zeros(len(checksums) if checksums is not None else 0, dtype=bool)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # O_BINARY: no newline translation on Windows
        self._reader = _PositionalReader(fd)
        self._close = weakref.finalize(self, os.close, fd)  # closed with the last reference

    def close(self) -> None:
        self._close()

    @property
    def checksums(self) -> Sequence[str] | None:
        """The block checksums the rows are checked against (None: unchecked)."""
        return self._checksums

    @property
    def block_bytes(self) -> int:
        return self._block_bytes

    def _verify(self, offset: int, size: int) -> None:
        """Check the blocks that bytes ``[offset, offset + size)`` fall in, unless already checked."""
        if self._checksums is None or size <= 0:
            return
        for block in range(offset // self._block_bytes, (offset + size - 1) // self._block_bytes + 1):
            if self._verified[block]:
                continue
            start = block * self._block_bytes
            length = min(self._block_bytes, self._size - start)
            if block_checksum(self._reader.read(length, start)) != self._checksums[block]:
                raise IndexIncompatibleError(
                    f"{self.path} is damaged (bytes {start}-{start + self._block_bytes} do not match their checksum); "
                    "re-run `rag index` to rebuild it"
                )
            self._verified[block] = True  # a race only checks a block twice

    def _block(self, start: int, stop: int) -> Vectors:
        size = (stop - start) * self._row_bytes
        self._verify(self._offset + start * self._row_bytes, size)
        data = self._reader.read(size, self._offset + start * self._row_bytes) if size else b""
        if len(data) != size:
            raise OSError(errno.EIO, f"short read from an index file ({len(data)} of {size} bytes)")
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, self.shape[1]).astype(np.float32)

    def _gather(self, rows: npt.NDArray[np.int64]) -> Vectors:
        return self.ranges(rows, rows + 1)

    def ranges(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Vectors:
        # One read per run of adjacent ranges (candidates come sorted, so neighbours often touch), straight into one
        # buffer: the sentences of 200 candidates cost ~0.2 ms, against ~2 ms sliced one passage at a time.
        lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
        if len(lo) and (lo.min() < 0 or hi.max() > len(self) or (hi < lo).any()):
            raise IndexError(f"row ranges out of range for {len(self)} rows")
        buffer = bytearray(int((hi - lo).sum()) * self._row_bytes)
        view = memoryview(buffer)
        pos = 0
        run_start = run_stop = 0
        for start, stop in [*zip(lo.tolist(), hi.tolist(), strict=True), (-1, -1)]:
            if start == run_stop and start >= 0:
                run_stop = stop
                continue
            size = (run_stop - run_start) * self._row_bytes
            if size:
                self._verify(self._offset + run_start * self._row_bytes, size)
                if self._reader.read_into(view[pos : pos + size], self._offset + run_start * self._row_bytes) != size:
                    raise OSError(errno.EIO, "short read from an index file")
                pos += size
            run_start, run_stop = start, stop
        return np.frombuffer(buffer, dtype=self.dtype).reshape(-1, self.shape[1]).astype(np.float32)


def _damaged(path: Path, why: str) -> IndexIncompatibleError:
    return IndexIncompatibleError(f"{path} is damaged ({why}); re-run `rag index` to rebuild it")


def npy_header(shape: tuple[int, int], dtype: np.dtype[Any]) -> bytes:
    """The header rag writes before the rows of a ``.npy`` file (format 1.0, as ``np.save`` writes it)."""
    import io

    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def block_checksum(data: bytes) -> str:
    """Checksum of one block: the first 64 bits of its SHA-256 (damage detection, not authentication)."""
    return hashlib.sha256(data).hexdigest()[:16]


def block_checksums(path: Path, block_bytes: int) -> list[str]:
    """Checksums of a file's consecutive ``block_bytes`` blocks (the last one may be shorter)."""
    with open(path, "rb") as fh:
        return [block_checksum(block) for block in iter(lambda: fh.read(block_bytes), b"")]


def concat_ranges(lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``concatenate([arange(a, b) for a, b in zip(lo, hi)])``, without the Python loop."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    out: npt.NDArray[np.int64] = starts + np.arange(total, dtype=np.int64)
    return out


def read_ranges(matrix: Vectors | Rows, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> Vectors:
    """Rows ``lo[i]:hi[i]`` of ``matrix`` for every i, concatenated, as float32 (an array or on-demand ``Rows``)."""
    if isinstance(matrix, Rows):
        return matrix.ranges(lo, hi)
    out: Vectors = np.asarray(matrix[concat_ranges(lo, hi)], dtype=np.float32)
    return out


class FaissRows(Rows):
    """Passage vectors as stored inside the FAISS index (exact copies for flat, HNSW and IVF-flat indexes).

    Serving then holds them once (in FAISS) instead of twice (FAISS, and the pages of ``vectors.npy`` it touched).
    """

    def __init__(self, index: Any) -> None:
        self._index = index
        self.shape = (int(index.ntotal), int(index.d))

    def _block(self, start: int, stop: int) -> Vectors:
        return self._gather(np.arange(start, stop, dtype=np.int64))

    def _gather(self, rows: npt.NDArray[np.int64]) -> Vectors:
        if not len(rows):
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        out: Vectors = np.asarray(self._index.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64)), dtype=np.float32)
        return out


class PackedRows:
    """Per passage, a few fixed-width integer rows (its sentences' spans, its offset runs): packed in one array with
    the start of each passage's rows, instead of millions of Python tuples."""

    width = 2

    def __init__(self, rows: Iterable[Iterable[Iterable[int]]]) -> None:
        counts: list[int] = []
        flat: list[int] = []
        for passage_rows in rows:
            before = len(flat)
            for row in passage_rows:
                flat += row
            counts.append((len(flat) - before) // self.width)
        self.starts: npt.NDArray[np.int64] = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
        self.bounds: npt.NDArray[np.int64] = np.asarray(flat, dtype=np.int64).reshape(-1, self.width)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def rows(self, row: int) -> list[list[int]]:
        """The integer rows of passage ``row``."""
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"passage {row} out of range")
        rows: list[list[int]] = self.bounds[self.starts[row] : self.starts[row + 1]].tolist()
        return rows


class SpanTable(PackedRows, Sequence[list[tuple[int, int]]]):
    """Per passage, the ``(start, end)`` offsets of its sentences."""

    @overload
    def __getitem__(self, row: int) -> list[tuple[int, int]]: ...
    @overload
    def __getitem__(self, row: slice) -> list[list[tuple[int, int]]]: ...
    def __getitem__(self, row: int | slice) -> list[tuple[int, int]] | list[list[tuple[int, int]]]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return [(s, e) for s, e in self.rows(row)]


class OffsetTable(PackedRows, Sequence[OffsetMap]):
    """Per passage, its ``OffsetMap`` (``at, start, end`` runs), made a map only for the passage asked for."""

    width = 3

    @overload
    def __getitem__(self, row: int) -> OffsetMap: ...
    @overload
    def __getitem__(self, row: slice) -> list[OffsetMap]: ...
    def __getitem__(self, row: int | slice) -> OffsetMap | list[OffsetMap]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return OffsetMap.from_row(self.rows(row))
