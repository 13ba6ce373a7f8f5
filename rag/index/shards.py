"""Vectors embedded by workers, kept on disk shard by shard until the build that asked for them commits.

A shard is two files in the index folder's ``SHARDS`` folder: ``<name>.npy`` (float32 rows) and ``<name>.json`` (the
embedder id, the text hash of each row, the SHA-256 of the ``.npy``), the JSON written last, so a shard without one
(a run killed while writing it) is ignored. A rerun of a killed build loads the finished shards into its vector cache
and embeds only the rest; the build that commits removes the folder (its vectors are then in the index, reused by
the same text hashes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag.index.vectors import sound_rows
from rag.store import files
from rag.store.generations import SHARDS

log = logging.getLogger("rag")

__all__ = ["SHARDS", "load_shards", "remove_shards", "save_shard"]
SHARD_VERSION = 1
_NAME = re.compile(r"shard-[0-9a-f]{16}")


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


def load_shards(folder: Path, embedder_id: str, cache: dict[str, npt.NDArray[np.float32]]) -> int:
    """Add the sound vectors of every finished shard of ``embedder_id`` to ``cache``; returns how many were added.

    A damaged shard (checksum, shape, not unit vectors) is skipped with a warning: its texts are embedded again.
    """
    added = 0
    if not folder.is_dir():
        return 0
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
        keys = record["keys"]
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
        for key, row in zip(keys, sound_rows(vectors), strict=True):
            if row is not None and key not in cache:
                cache[key] = row
                added += 1
    return added


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
