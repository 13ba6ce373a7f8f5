"""What each vector file of a generation holds, told by a small record beside it: its vectors can be reused without
the rest of the index.

Beside ``vectors.npy`` (and ``sentences.npy``, ``second_opinion.npy``, ``null_questions.npy``) a generation holds
``vectors.json``::

    {"record": {"format": "rag-vector-file", "version": 1, "vectors": "vectors.npy", "dtype": "<f4",
                "rows": N, "dim": D, "embedder": "<embedder id>", "kind": "passage",
                "keys": "passage_keys.npy", "keys_sha256": "<hex>", "block_bytes": 65536, "blocks": ["<hex>", ...]},
     "sha256": "<hex>"}

``sha256`` is the SHA-256 of the record written as JSON with sorted keys and no spaces (``json.dumps(record,
sort_keys=True, separators=(",", ":"))``, all ASCII): a damaged record is known as such and never trusted. The keys
file is an ``(N, 20)`` uint8 ``.npy`` whose row i is the SHA-1 of the text vector i embeds (``rag.index.vectors
.text_key``: a passage with its document's title, a sentence alone, a calibration question as a query); ``blocks``
are the checksums of the vector file's consecutive ``block_bytes`` blocks (``rag.store.rows.block_checksum``), as in
the manifest. With a record and its keys, a rebuild reuses every vector whose block checksum holds, whatever else is
damaged or missing: the manifest, the FAISS index, the documents, the passages, the BM25 index.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.errors import IndexIncompatibleError
from rag.store import files
from rag.store.rows import NpyRows, block_checksums

FORMAT = "rag-vector-file"
VERSION = 1
KEY_BYTES = 20  # a SHA-1
Keys = npt.NDArray[np.uint8]  # (n, KEY_BYTES)
_NAME = re.compile(r"[A-Za-z0-9_.-]+\.npy")  # a file of the same folder, nothing else


@dataclass(frozen=True)
class TextKeys:
    """The key of the text behind each stored vector: passages (rows of ``vectors`` and ``second``), sentences,
    calibration questions. What a build gives ``store.save`` so that the generation records them."""

    passages: Keys
    sentences: Keys
    questions: Keys | None = None


@dataclass(frozen=True)
class VectorFile:
    """A vector file's record (see the module docstring)."""

    vectors: str
    dtype: str
    rows: int
    dim: int
    embedder: str
    kind: str
    keys: str
    keys_sha256: str
    block_bytes: int
    blocks: tuple[str, ...]


def key_array(keys: Sequence[str]) -> Keys:
    """Hex SHA-1 keys as an ``(n, 20)`` uint8 array."""
    out: Keys = np.frombuffer(b"".join(bytes.fromhex(k) for k in keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES)
    return out


def key_strings(keys: Keys) -> list[str]:
    raw = np.ascontiguousarray(keys, dtype=np.uint8).tobytes()
    return [raw[i : i + KEY_BYTES].hex() for i in range(0, len(raw), KEY_BYTES)]


def record_name(vectors_name: str) -> str:
    """``vectors.npy`` → ``vectors.json``."""
    return f"{vectors_name.removesuffix('.npy')}.json"


def save_keys(path: Path, keys: Keys) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(keys, dtype=np.uint8), allow_pickle=False)
    files.write_bytes(path, buffer.getvalue())


def save_record(
    folder: Path, vectors: str, keys: str, embedder: str, kind: str, block_bytes: int, blocks: Sequence[str] | None = None
) -> str:
    """Write the record of ``folder/vectors`` (written and synced, as ``folder/keys``) last; returns its name.
    ``blocks``: the file's block checksums when the caller has them already."""
    rows = NpyRows(folder / vectors)
    try:
        record = VectorFile(
            vectors=vectors, dtype=rows.dtype.str, rows=rows.shape[0], dim=rows.shape[1], embedder=embedder, kind=kind,
            keys=keys, keys_sha256=files.sha256(folder / keys), block_bytes=block_bytes,
            blocks=tuple(blocks if blocks is not None else block_checksums(folder / vectors, block_bytes)),
        )  # fmt: skip
    finally:
        rows.close()
    body = {"format": FORMAT, "version": VERSION, **asdict(record), "blocks": list(record.blocks)}
    name = record_name(vectors)
    files.write_bytes(folder / name, json.dumps({"record": body, "sha256": _digest(body)}).encode("ascii"))
    return name


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()


def read_record(path: Path) -> VectorFile:
    """The record at ``path``; ``IndexIncompatibleError`` naming it when it is missing, damaged or not a record."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path} is missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexIncompatibleError(f"{path} is damaged (not JSON: {exc})") from exc
    body = data.get("record") if isinstance(data, dict) else None
    if not isinstance(body, dict) or data.get("sha256") != _digest(body):
        raise IndexIncompatibleError(f"{path} is damaged (its checksum does not match)")
    if body.get("format") != FORMAT or body.get("version") != VERSION:
        version = f"{body.get('format')!r} version {body.get('version')!r}"
        raise IndexIncompatibleError(f"{path} is not a vector file record of this rag ({version})")
    fields = {
        "vectors": str, "dtype": str, "rows": int, "dim": int, "embedder": str, "kind": str, "keys": str,
        "keys_sha256": str, "block_bytes": int, "blocks": list,
    }  # fmt: skip
    wrong = [name for name, kind in fields.items() if type(body.get(name)) is not kind]
    if wrong or not all(_NAME.fullmatch(body[n]) for n in ("vectors", "keys")) or body["dtype"] not in ("<f4", "<f2"):
        raise IndexIncompatibleError(f"{path} is not a valid vector file record ({', '.join(wrong) or 'names or dtype'})")
    if not all(isinstance(b, str) for b in body["blocks"]):
        raise IndexIncompatibleError(f"{path} is not a valid vector file record (blocks)")
    return VectorFile(**{name: body[name] for name in fields if name != "blocks"}, blocks=tuple(body["blocks"]))


def read_keys(folder: Path, record: VectorFile) -> list[str]:
    """The keys of a record's rows as hex strings (``read_key_array``)."""
    return key_strings(read_key_array(folder, record))


def read_key_array(folder: Path, record: VectorFile) -> Keys:
    """The keys of a record's rows, checked against the record; ``IndexIncompatibleError`` naming the file."""
    path = folder / record.keys
    try:
        if files.sha256(path) != record.keys_sha256:
            raise IndexIncompatibleError(f"{path} is damaged (its checksum does not match)")
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path} is missing") from exc
    keys = np.load(path, allow_pickle=False)  # the bytes are those written: this cannot fail on damage
    if keys.dtype != np.uint8 or keys.shape != (record.rows, KEY_BYTES):
        raise IndexIncompatibleError(f"{path} holds {keys.shape} {keys.dtype} keys for {record.rows} vectors")
    out: Keys = keys
    return out


def open_vectors(folder: Path, record: VectorFile) -> NpyRows:
    """The record's vector rows, every block checked when read, its header and size not trusted (``NpyRows.salvage``)."""
    path = folder / record.vectors
    if not path.is_file():
        raise IndexIncompatibleError(f"{path} is missing")
    return NpyRows.salvage(path, (record.rows, record.dim), np.dtype(record.dtype), record.blocks, record.block_bytes)
