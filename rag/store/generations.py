"""What rag owns in an index folder, and nothing else: the journal of the generations it has written, the
generation folders it names, and the check that a folder may hold an index at all (``check_folder``)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from rag.errors import BadInputError
from rag.ingest.ocr_cache import FOLDER as OCR_CACHE
from rag.ingest.ocr_cache import MARKER as OCR_MARKER
from rag.store import files
from rag.store.files import LOCK

MANIFEST = "manifest.json"
JOURNAL = "journal.json"
# Vectors embedded by the workers of a build not yet committed (rag.index.shards): kept when a build is killed.
SHARDS = "embedding-shards"
# A generation folder, or a data file of format 1 or 2 (flat in the index folder).
GENERATION_NAME = re.compile(
    r"gen-[0-9a-f]+|(documents|passages|vectors|sentences|faiss|bm25)-[0-9a-f]+(\.jsonl|\.npy|\.index)?"
)


def start_generation(path: Path, current: list[str]) -> str:
    """Name a new generation, record it in the journal (with the generation in use, removed after the switch), then
    create its folder: whatever a crash leaves behind, the journal names it."""
    gen = f"gen-{time.time_ns():x}"
    while (path / gen).exists():  # never write into a folder rag did not create
        gen = f"gen-{time.time_ns():x}"
    journal = read_journal(path)
    journal += [name for name in current if name not in journal]
    write_journal(path, [*journal, gen])
    os.mkdir(path / gen)
    return gen


def remove_generations(path: Path, keep: str) -> None:
    """Delete the generations the journal names other than ``keep`` (older ones, those of killed builds).

    A generation that cannot be deleted yet (a file still open on Windows) stays in the journal for the next build.
    """
    left = [keep]
    for name in read_journal(path):
        if name != keep:
            files.remove(path / name)
            if os.path.lexists(path / name):
                left.append(name)
    write_journal(path, left)  # (if this fails, the journal names deleted generations: harmless)


def read_journal(path: Path) -> list[str]:
    """The generations the journal names (none when it is missing or unreadable: then nothing can be deleted)."""
    try:
        journal = json.loads((path / JOURNAL).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    names = journal.get("generations") if isinstance(journal, dict) else None
    return [n for n in names if isinstance(n, str) and GENERATION_NAME.fullmatch(n)] if isinstance(names, list) else []


def write_journal(path: Path, names: list[str]) -> None:
    tmp = path / f"{JOURNAL}.tmp"
    try:
        files.write_bytes(tmp, json.dumps({"generations": names}, indent=1).encode("utf-8"))
        os.replace(tmp, path / JOURNAL)
    except BaseException:
        files.remove(tmp)
        raise
    files.fsync_dir(path)


def own_entries(path: Path) -> set[str]:
    """The entries of an index folder without a manifest that rag wrote (as far as it can prove)."""
    return {LOCK, JOURNAL, f"{JOURNAL}.tmp", SHARDS, OCR_CACHE, *read_journal(path)}


def check_folder(index_dir: str | os.PathLike[str], corpus: str | os.PathLike[str] | None = None) -> None:
    """Raise ``BadInputError`` unless ``index_dir`` can hold an index: a new or empty folder, or one rag has built
    an index in, which is neither the ``corpus`` folder, nor inside it, nor holding it."""
    path = Path(index_dir)
    if corpus is not None:
        here, documents = path.resolve(), Path(corpus).resolve()
        if here == documents or documents in here.parents or here in documents.parents:
            where = "is" if here == documents else "is inside" if documents in here.parents else "holds"
            raise BadInputError(
                f"the index folder {path} {where} the corpus folder {corpus}: give --index a folder of its own "
                "outside the corpus (rag would mix its files with your documents)"
            )
    if not path.exists():
        return
    if not path.is_dir():
        raise BadInputError(f"{path} is a file, not a folder: give --index a new or empty folder")
    entries = {child.name for child in path.iterdir()}
    if entries & {LOCK, JOURNAL} or is_manifest(path / MANIFEST):
        return  # rag has built here: what it did not write stays untouched
    if entries == {OCR_CACHE} and (path / OCR_CACHE / OCR_MARKER).is_file():
        return  # the pages a first build recognised before it stopped (rag.ingest.ocr_cache)
    if entries:
        shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise BadInputError(
            f"{path} already holds files that are not a rag index ({shown}): give --index a new or empty folder "
            "(rag never writes among other files)"
        )


def is_manifest(path: Path) -> bool:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(manifest, dict) and "format_version" in manifest and "files" in manifest
