"""Durable file operations for the index directory: writes that reach the disk before they count (fsync of files and
folders), ``.npy`` and JSONL written as they come, the build lock, checksums, removal that never raises."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagError
from rag.store.rows import Rows, Vectors, block_checksum, npy_header

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

LOCK = ".lock"


def write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


# Rows converted and written at a time: a float16 copy of all the sentence vectors (170 MiB at 100k passages) is
# never made at once.
NPY_WRITE_ROWS = 65_536


class NpyWriter:
    """A standard ``.npy`` file of ``shape`` (``np.load`` reads it) written as its rows come, block by block: the
    header first (the shape is known), then ``append``; the checksum of every ``block_bytes`` block of the file is
    computed as it is written (``rag.store.rows.block_checksum``), so a build that streams a million vectors to disk
    never reads them back to checksum them. ``close`` syncs the file and checks that every row was written."""

    def __init__(self, path: Path, shape: tuple[int, int], dtype: type[np.floating[Any]] = np.float32,
                 block_bytes: int = 1 << 16) -> None:  # fmt: skip
        self.path, self.shape, self.dtype = path, shape, np.dtype(dtype)
        self.rows = 0
        self.blocks: list[str] = []
        self._block_bytes = block_bytes
        self._pending = bytearray()
        self._fh = open(path, "wb")  # noqa: SIM115  (closed by close(), or by abort() when the build fails)
        self._write(npy_header(shape, self.dtype))

    def _write(self, data: bytes) -> None:
        self._fh.write(data)
        self._pending += data
        whole = len(self._pending) // self._block_bytes * self._block_bytes
        for start in range(0, whole, self._block_bytes):
            self.blocks.append(block_checksum(bytes(self._pending[start : start + self._block_bytes])))
        del self._pending[:whole]

    def append(self, rows: Vectors | Rows) -> None:
        """Write the next rows (converted to the file's dtype)."""
        n = len(rows)
        if n and (rows.shape[1] != self.shape[1] or self.rows + n > self.shape[0]):
            raise ValueError(f"{self.path}: {n} rows of {rows.shape[1]} for a file of shape {self.shape}, {self.rows} written")
        for start in range(0, n, NPY_WRITE_ROWS):
            block = np.asarray(rows[start : start + NPY_WRITE_ROWS])
            self._write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows += n

    def close(self) -> list[str]:
        """Sync the complete file; returns its block checksums."""
        if self.rows != self.shape[0]:
            self.abort()
            raise ValueError(f"{self.path}: {self.rows} rows written of {self.shape[0]}")
        if self._pending:
            self.blocks.append(block_checksum(bytes(self._pending)))
            self._pending.clear()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return self.blocks

    def abort(self) -> None:
        self._fh.close()


def save_npy(path: Path, array: Vectors | Rows, dtype: type[np.floating[Any]] = np.float32) -> list[str]:
    """A standard ``.npy`` file (``np.load`` reads it), written in blocks of rows; returns its block checksums."""
    writer = NpyWriter(path, (len(array), int(array.shape[1])), dtype)
    try:
        writer.append(array)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object a line, written as they come (not joined into one string first)."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def lock(index_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Exclusive lock on an index directory, so two builds never write it at once."""
    path = Path(index_dir)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / LOCK, "a+") as fh:
        try:
            _lock_file(fh.fileno())
        except (BlockingIOError, PermissionError) as exc:
            raise RagError(f"{path} is being written by another `rag index` run; wait for it to finish") from exc
        try:
            yield
        finally:
            _unlock_file(fh.fileno())


# An exclusive lock taken without waiting: flock on Unix; on Windows msvcrt.locking of the file's first byte, which
# raises PermissionError (EACCES) when another process holds it. (The Windows branch is not run by the tests here.)
if sys.platform == "win32":

    def _lock_file(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_file(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:

    def _lock_file(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def disk_full(path: Path) -> bool:
    """True when the file system holding ``path`` has (almost) no space left: why a write just failed."""
    try:
        return shutil.disk_usage(path).free < 1024 * 1024  # portable (os.statvfs is Unix-only)
    except OSError:
        return False


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_tree(folder: Path) -> None:
    """fsync the files a library wrote into ``folder``, and the folder itself, before the manifest points at them."""
    for child in sorted(folder.rglob("*")):
        if child.is_file():
            with open(child, "rb+") as fh:
                os.fsync(fh.fileno())
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (new files, a rename) durable. Windows cannot open a folder, and NTFS journals them."""
    if sys.platform == "win32":
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_lines(path: Path) -> Iterator[str]:
    """The non-blank lines of a JSONL file, streamed (reading them all first doubled the peak memory of a load)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line
