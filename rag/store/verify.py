"""``rag verify``: every file and block of the current generation checked against the checksums recorded for it.

Loading checks what it reads (the files read whole by their SHA-256, the vector blocks a question reads by theirs);
this reads everything, ``vectors.npy`` included (serving takes the passage vectors from the FAISS index), and the
vector files' own records (``rag.store.vector_files``). Without a readable manifest, it checks what a rebuild would
reuse: the vector files that have a record, in each generation rag wrote.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexIncompatibleError, IndexMissingError
from rag.store import directory, files, generations, vector_files
from rag.store.generations import MANIFEST
from rag.store.rows import block_checksums, npy_header

# Files checked at once: reading and hashing release the GIL, and a disk or page cache serves several readers.
THREADS = 4


@dataclass(frozen=True)
class Problem:
    """A file that is missing or does not match what was recorded for it."""

    path: Path
    what: str

    def line(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass
class Verification:
    """What ``verify`` checked and found."""

    index: Path
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(index_dir: str | os.PathLike[str]) -> Verification:
    """Check every file of the index at ``index_dir``; ``IndexMissingError`` when there is no index there at all."""
    started = time.perf_counter()
    path = Path(index_dir)
    result = Verification(path)
    try:
        manifest: dict[str, Any] | None = directory.read_manifest(path, reuse_old=True)
    except IndexMissingError:
        if not _generation_folders(path):
            raise
        manifest = None
        result.problems.append(Problem(path / MANIFEST, "missing"))
    except IndexIncompatibleError as exc:
        manifest = None
        result.problems.append(Problem(path / MANIFEST, _reason(exc, path / MANIFEST)))
    checks = _checks(path, manifest, result) if manifest is not None else _orphan_checks(path, result)
    with ThreadPoolExecutor(THREADS) as pool:
        for found, size in pool.map(lambda check: check(), checks):
            result.files += 1
            result.bytes += size
            result.problems.extend(found)
    first = {p.path: p for p in reversed(result.problems)}  # one line per file: the first problem found
    result.problems = sorted(first.values(), key=lambda p: str(p.path))
    result.seconds = time.perf_counter() - started
    return result


Check = Any  # a callable returning (problems, bytes read)


def _checks(path: Path, manifest: dict[str, Any], result: Verification) -> list[Check]:
    names: dict[str, str] = manifest["files"]
    sizes: dict[str, int] = manifest.get("sizes") or {}
    checksums: dict[str, str] = manifest.get("checksums") or {}
    blocks = manifest.get("block_checksums") or {"block_bytes": 0, "files": {}}
    listed = sorted({*sizes, *checksums, *blocks["files"], *_expand(path, names.values())})
    records = {names[f"{kind}_record"]: names[kind] for kind in directory.VECTOR_FILES if f"{kind}_record" in names}
    if manifest.get("store"):
        result.notes.append(f"the vectors kept in {manifest['store'].get('uri', 'the vector database')} are not checked")
    if manifest["format_version"] < 3:
        result.notes.append(f"format {manifest['format_version']} records no checksums for its vector files")
    checks: list[Check] = []
    for name in listed:
        target = path / name

        def check(name: str = name, target: Path = target) -> tuple[list[Problem], int]:
            return _check_file(target, sizes.get(name), checksums.get(name), blocks["files"].get(name), blocks["block_bytes"])

        checks.append(check)
    for record, vectors in records.items():

        def check_record(record: str = record, vectors: str = vectors) -> tuple[list[Problem], int]:
            vouched = blocks["files"].get(vectors), checksums.get(vectors)
            return _check_record(path / record, path / vectors, vouched)

        checks.append(check_record)
    return checks


def _orphan_checks(path: Path, result: Verification) -> list[Check]:
    """Without a manifest: the vector files of every generation that have a record (what a rebuild reuses)."""
    result.notes.append("without a manifest, only the vector files with a record are checked")
    checks: list[Check] = []
    for folder in _generation_folders(path):
        for name in directory.VECTOR_FILES.values():
            record = folder / vector_files.record_name(name)
            if record.exists():
                checks.append(lambda record=record, vectors=folder / name: _check_record(record, vectors, None))
    return checks


def _check_file(
    target: Path, size: int | None, checksum: str | None, blocks: Sequence[str] | None, block_bytes: int
) -> tuple[list[Problem], int]:
    try:
        actual = target.stat().st_size
    except FileNotFoundError:
        return [Problem(target, "missing")], 0
    problems = []
    if size is not None and actual != size:
        problems.append(Problem(target, f"{actual} bytes instead of {size} (truncated or extended)"))
    if checksum is not None and files.sha256(target) != checksum:
        problems.append(Problem(target, "its SHA-256 does not match"))
    if blocks is not None:
        bad = _bad_blocks(block_checksums(target, block_bytes), blocks)
        if bad:
            problems.append(Problem(target, _blocks_message(bad, len(blocks), block_bytes)))
    return problems[:1], actual  # the first sign is enough: one line per file


def _check_record(
    record_path: Path, vectors: Path, vouched: tuple[Sequence[str] | None, str | None] | None
) -> tuple[list[Problem], int]:
    """A vector file's record: intact, and agreeing with its keys and its vector file. ``vouched``: what the manifest
    recorded for the vector file (its blocks, its SHA-256), which is then checked against the manifest already: a
    disagreement is the record's fault only when the file matches the manifest. None: no manifest; the vector file
    is checked against the record alone."""
    whole = vouched is None
    try:
        record = vector_files.read_record(record_path)
        vector_files.read_keys(record_path.parent, record)
    except IndexIncompatibleError as exc:
        named = _named(exc, record_path)
        return [Problem(named, _reason(exc, named))], 0
    if record.vectors != vectors.name:
        return [Problem(record_path, f"describes {record.vectors}, not {vectors.name}")], 0
    if not vectors.exists():
        return ([Problem(vectors, "missing")] if whole else []), 0
    actual = block_checksums(vectors, record.block_bytes)
    bad = _bad_blocks(actual, record.blocks)
    expected = len(npy_header((record.rows, record.dim), np.dtype(record.dtype))) + record.rows * record.dim * (
        np.dtype(record.dtype).itemsize
    )
    if not bad and vectors.stat().st_size != expected:
        return [Problem(vectors, f"{vectors.stat().st_size} bytes instead of {expected}")], 0
    if bad and whole:
        return [Problem(vectors, _blocks_message(bad, len(record.blocks), record.block_bytes))], vectors.stat().st_size
    if bad and vouched is not None:
        blocks, sha = vouched
        file_intact = (blocks is None or not _bad_blocks(actual, blocks)) and (sha is None or files.sha256(vectors) == sha)
        if file_intact:  # else the manifest's check of the vector file reports it
            return [Problem(record_path, f"does not match {vectors.name} ({len(bad)} blocks differ)")], 0
    return [], (vectors.stat().st_size if whole else 0)


def _bad_blocks(actual: Sequence[str], expected: Sequence[str]) -> list[int]:
    bad = [i for i, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e]
    return bad + list(range(min(len(actual), len(expected)), max(len(actual), len(expected))))


def _blocks_message(bad: list[int], total: int, block_bytes: int) -> str:
    shown = ", ".join(f"{i * block_bytes}-{(i + 1) * block_bytes}" for i in bad[:3]) + (", ..." if len(bad) > 3 else "")
    return f"{len(bad)} of {total} blocks do not match their checksums (bytes {shown})"


def _expand(path: Path, names: Iterable[str]) -> list[str]:
    """File names, a folder's (bm25/) replaced by those of the files it holds."""
    out = []
    for name in names:
        target = path / name
        out += [p.relative_to(path).as_posix() for p in sorted(target.rglob("*")) if p.is_file()] if target.is_dir() else [name]
    return out


def _generation_folders(path: Path) -> list[Path]:
    names = {*generations.read_journal(path)}
    try:
        names |= {p.name for p in path.iterdir() if p.is_dir() and generations.GENERATION_NAME.fullmatch(p.name)}
    except OSError:
        return []
    return [path / n for n in sorted(names, reverse=True) if (path / n).is_dir()]


def _named(exc: IndexIncompatibleError, default: Path) -> Path:
    """The file an error names at its start (``PATH is damaged (...)``), else ``default``."""
    text = str(exc)
    for marker in (" is damaged", " is missing", " holds ", " is not a"):
        if marker in text:
            return Path(text.split(marker, 1)[0])
    return default


def _reason(exc: IndexIncompatibleError, path: Path) -> str:
    """The error's message without the file's name and the advice to rebuild (the report gives those once)."""
    text = str(exc).removeprefix(str(path)).strip()
    for advice in ("; re-run `rag index` to rebuild it", "; re-run `rag index`"):
        text = text.replace(advice, "")
    return text.removeprefix("is ").strip() or "damaged"
