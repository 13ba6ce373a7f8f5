"""Vectors embedded by a build, kept on disk shard by shard until the build that asked for them commits.

Every build keeps them: the worker executors one shard per task, the default (in-process) build one per chunk it
embeds (``Checkpoint``).

A shard is two files in the index folder's ``SHARDS`` folder: ``<name>.npy`` (float32 rows) and ``<name>.json`` (the
embedder id, the text hash of each row, the SHA-256 of the ``.npy``), the JSON written last, so a shard without one
(a run killed while writing it) is ignored. A rerun of a killed build looks up the finished shards' vectors
(``rag.index.lookup``) and embeds only the rest; the build that commits removes the folder (its vectors are then in
the index, reused by the same text hashes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag.index.lookup import Lookup, Reader
from rag.index.vectors import sound_rows
from rag.store import files
from rag.store.generations import SHARDS
from rag.store.vector_files import KEY_BYTES, Keys, key_array

log = logging.getLogger("rag")

__all__ = ["SHARDS", "Checkpoint", "load_shards", "remove_shards", "save_shard", "shard_name", "shard_reader"]
SHARD_VERSION = 1
_NAME = re.compile(r"shard-[0-9a-f]{16}")


def shard_name(keys: Sequence[str], embedder_id: str = "") -> str:
    """The name of the shard of these texts' vectors: the same texts (and model), the same name."""
    digest = hashlib.sha1("\n".join([embedder_id, *keys] if embedder_id else keys).encode("utf-8")).hexdigest()[:16]
    return f"shard-{digest}"


class Checkpoint:
    """Saves each chunk of vectors a build embeds in this process as a shard (``embed_missing(checkpoint=...)``); the
    build then reads the chunk's rows from the shard, not from memory."""

    def __init__(self, folder: Path, embedder_id: str) -> None:
        self.folder, self.embedder_id = folder, embedder_id

    def __call__(self, keys: list[str], vectors: npt.NDArray[np.float32]) -> Reader:
        name = shard_name(keys, self.embedder_id)
        save_shard(self.folder, name, self.embedder_id, keys, vectors)
        return shard_reader(self.folder / f"{name}.npy")


def shard_reader(npy: Path) -> Reader:
    """Rows of a shard read when asked for (mapped for the read only: a build reads from thousands of shards, and
    keeps no file open)."""

    def read(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return np.array(np.load(npy, mmap_mode="r", allow_pickle=False)[rows], dtype=np.float32)

    return read


def save_shard(folder: Path, name: str, embedder_id: str, keys: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
    """Write one finished shard (durably; the JSON is its commit mark)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a shard name: {name!r}")
    folder.mkdir(exist_ok=True)
    npy = folder / f"{name}.npy"
    files.save_npy(npy, np.ascontiguousarray(vectors, dtype=np.float32))
    record = {"version": SHARD_VERSION, "embedder": embedder_id, "keys": list(keys), "sha256": files.sha256(npy)}
    tmp = folder / f"{name}.json.tmp"
    files.write_bytes(tmp, json.dumps(record).encode("utf-8"))
    os.replace(tmp, folder / f"{name}.json")


def load_shards(folder: Path, embedder_id: str, lookup: Lookup) -> Keys:
    """Add the sound vectors of every finished shard of ``embedder_id`` to ``lookup`` (read from the shard when
    needed); returns the keys added (those ``lookup`` lacked).

    A damaged shard (checksum, shape, not unit vectors) is skipped with a warning: its texts are embedded again.
    """
    added = [np.zeros((0, KEY_BYTES), dtype=np.uint8)]
    if not folder.is_dir():
        return added[0]
    for record_path in sorted(folder.glob("shard-*.json")):
        name = record_path.stem
        if not _NAME.fullmatch(name):
            continue
        try:
            record = json.loads(record_path.read_bytes())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("%s: unusable embedding shard (%s); its texts are embedded again", record_path, exc)
            continue
        if not _is_record(record) or record["version"] != SHARD_VERSION or record["embedder"] != embedder_id:
            continue  # another rag's, another model's, or not a shard record
        keys = key_array(record["keys"])
        npy = folder / f"{name}.npy"
        try:
            if files.sha256(npy) != record["sha256"]:
                raise ValueError("checksum mismatch")
            vectors = np.load(npy, allow_pickle=False)
            if vectors.ndim != 2 or len(vectors) != len(keys):
                raise ValueError(f"{vectors.shape} rows for {len(keys)} keys")
        except (OSError, ValueError) as exc:
            log.warning("%s: unusable embedding shard (%s); its texts are embedded again", record_path, exc)
            continue
        sound = np.array([row is not None for row in sound_rows(vectors)], dtype=bool)
        del vectors
        added.append(keys[sound & ~lookup.contains(keys)])
        lookup.add(keys, shard_reader(npy), sound)
    return np.concatenate(added)


def _is_record(record: object) -> bool:
    """A shard's JSON as ``save_shard`` writes it (a damaged one may parse into anything)."""
    return (
        isinstance(record, dict)
        and isinstance(record.get("embedder"), str)
        and isinstance(record.get("sha256"), str)
        and isinstance(record.get("keys"), list)
        and all(isinstance(k, str) for k in record["keys"])
        and "version" in record
    )


def remove_shards(folder: Path) -> None:
    """Delete the shard files rag wrote (and the folder once empty); anything else in it is left alone."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        stem = path.name.split(".", 1)[0]
        if _NAME.fullmatch(stem) and path.name in (f"{stem}.npy", f"{stem}.json", f"{stem}.json.tmp"):
            files.remove(path)
    with contextlib.suppress(OSError):  # not empty: files of someone else's
        folder.rmdir()
