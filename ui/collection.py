"""The uploads folder as a team's collection: its files, its catalogue, its trash, its history, and the change in
progress, so that every change survives a crash.

    uploads/
      catalog.toml        title, date, author of each uploaded document (the corpus catalogue's format), with who
                          added it and when (``added``, ``added_by``)
      <files>             the uploaded documents, one a document of the index
      history.jsonl       one line a change: when, what, which document, who (when the app has a login)
      .trash/<id>/        a removed or replaced file, with ``removed.json`` (its catalogue entry, when, who, why);
                          restorable from the app for ``trash_days`` days, then deleted
      .pending.json       the change in progress (gone when it is done)

A change of the collection is one commit of the index (``rag.index``: atomic) with file moves and a catalogue
rewrite around it. It is written down in ``.pending.json`` before anything moves; when the app starts and finds one,
the index says how far it went: committed, the change is finished (files moved, catalogue and history written);
not committed, what was moved before the commit is moved back. Searches therefore see the collection before or after
a change, never a mixture, and no file is ever deleted: a removed, replaced or interrupted upload goes to the trash.
The app runs one change at a time (``ui.library.Library``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.ingest.catalog import CATALOG_NAME, load_catalog, write_catalog
from rag.types import Document

log = logging.getLogger("rag.ui")

TRASH = ".trash"
PENDING = ".pending.json"
HISTORY = "history.jsonl"
RECORD = "removed.json"
TRASH_DAYS = 30.0
CATALOG_HEADER = (
    "Bibliographic data of the documents added in the web app, keyed by file name (the corpus catalogue's format).\n"
    "Written by rag serve; a later `rag index` reads it too."
)
# Why a file is in the trash.
REMOVED, REPLACED, INTERRUPTED = "removed", "replaced", "interrupted"


def now_iso(clock: Callable[[], float] = time.time) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(clock()))


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class Removed:
    """A file in the trash: the name it had in the collection, its content's hash, its catalogue entry, when it was
    removed, by whom ("" without a login), and why (``removed``, ``replaced`` by a new version, ``interrupted``: an
    upload the app stopped during)."""

    id: str
    source: str
    sha256: str
    entry: dict[str, str] = field(default_factory=dict)
    removed: str = ""
    by: str = ""
    why: str = REMOVED

    @property
    def title(self) -> str:
        return self.entry.get("title") or self.source

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Removed:
        entry = data.get("entry") or {}
        return cls(
            id=str(data["id"]), source=str(data["source"]), sha256=str(data["sha256"]),
            entry={str(k): str(v) for k, v in entry.items()} if isinstance(entry, dict) else {},
            removed=str(data.get("removed", "")), by=str(data.get("by", "")), why=str(data.get("why", REMOVED)),
        )  # fmt: skip


class Collection:
    """The uploads ``folder``: its catalogue, its trash (items kept ``trash_days`` days), its history, its journal."""

    def __init__(self, folder: str | os.PathLike[str], trash_days: float = TRASH_DAYS, clock: Callable[[], float] = time.time):
        self.folder = Path(folder)
        self.trash_folder = self.folder / TRASH
        self.trash_days = trash_days
        self.clock = clock

    # -- the catalogue ---------------------------------------------------------------------------------------------

    def catalog(self) -> dict[str, dict[str, str]]:
        """Each uploaded document's entry (title, date, author, added, added_by), by file name."""
        return {s: {str(k): str(v) for k, v in e.items()} for s, e in load_catalog(self.folder).items()}

    def _set_entry(self, source: str, entry: Mapping[str, str] | None, *, drop: str | None = None) -> None:
        """Write the catalogue with ``source``'s entry replaced (or removed when ``entry`` is None), and ``drop``'s removed."""
        entries = self.catalog()
        if drop is not None:
            entries.pop(drop, None)
        if entry is None:
            entries.pop(source, None)
        else:
            entries[source] = {k: v for k, v in entry.items() if v}
        if entries or (self.folder / CATALOG_NAME).exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_catalog(self.folder, entries, CATALOG_HEADER)

    # -- the trash -------------------------------------------------------------------------------------------------

    def removed(self) -> list[Removed]:
        """The trash, most recently removed first."""
        items = []
        if not self.trash_folder.is_dir():
            return []
        for folder in self.trash_folder.iterdir():
            item = self._item(folder.name)
            if item is not None and (folder / item.source).is_file():
                items.append(item)
        return sorted(items, key=lambda i: i.id, reverse=True)

    def item(self, item_id: str) -> Removed | None:
        """The trash item ``item_id`` while its file is there."""
        item = self._item(item_id)
        return item if item is not None and (self.trash_folder / item.id / item.source).is_file() else None

    def _item(self, item_id: str) -> Removed | None:
        if not item_id or "/" in item_id or "\\" in item_id or item_id.startswith("."):
            return None
        try:
            item = Removed.from_json(json.loads((self.trash_folder / item_id / RECORD).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return item if item.id == item_id and Path(item.source).name == item.source else None

    def new_item_id(self) -> str:
        """A new trash item's name: when (to the nanosecond, so that names sort as removals happened), and a nonce."""
        ns = time.time_ns()
        return f"{time.strftime('%Y%m%dT%H%M%S', time.localtime(ns / 1e9))}.{ns % 10**9:09d}-{secrets.token_hex(2)}"

    def _put_item(self, item: Removed) -> Path:
        """The folder of the trash item ``item``, with its record (written once: a change finished again after a
        crash keeps the first)."""
        folder = self.trash_folder / item.id
        folder.mkdir(parents=True, exist_ok=True)
        if self._item(item.id) is None:
            _write_json(folder / RECORD, item.to_json())
        return folder

    def purge(self) -> int:
        """Delete the trash items older than ``trash_days``; how many."""
        limit = self.clock() - self.trash_days * 86400
        gone = 0
        for item in self.removed():
            folder = self.trash_folder / item.id
            try:
                removed_at = (folder / RECORD).stat().st_mtime
            except OSError:
                continue
            if removed_at < limit:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
                log.info("trash: deleted %s (%s), removed on %s", item.source, item.title, item.removed)
        return gone

    # -- the history -----------------------------------------------------------------------------------------------

    def history(self) -> list[dict[str, Any]]:
        try:
            lines = (self.folder / HISTORY).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict):
                    out.append(row)
        return out

    def _record(self, op: Mapping[str, Any]) -> None:
        """Append the change ``op`` to the history, once (a change finished again after a crash is not repeated)."""
        if any(row.get("op") == op["id"] for row in self.history()[-50:]):
            return
        row = {"time": op["time"], "action": op["op"], "source": op.get("target") or op["source"], "op": op["id"]}
        if op.get("target") and op["target"] != op["source"]:
            row["from"] = op["source"]
        title = (op.get("entry") or {}).get("title") or (op.get("old_entry") or {}).get("title")
        if title:
            row["title"] = title
        if op.get("user"):
            row["user"] = op["user"]
        with open(self.folder / HISTORY, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- changes ---------------------------------------------------------------------------------------------------

    def pending(self) -> dict[str, Any] | None:
        try:
            op = json.loads((self.folder / PENDING).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise OSError(f"{self.folder / PENDING} cannot be read ({exc}): the change it records is unknown") from exc
        return op if isinstance(op, dict) else None

    def change(
        self,
        op: dict[str, Any],
        commit: Callable[[], Any],
        indexed: Callable[[], Callable[[str], Document | None]],
        data: bytes | None = None,
    ) -> Any:
        """Run the change ``op`` (see ``operation``) around ``commit`` (the index's commit); its value. ``data``: the
        bytes of the file an upload or a replacement adds.

        Written down first; the moves before the commit are done, then ``commit``; after it, the change is finished.
        When ``commit`` raises, ``indexed`` (the document the index now holds under a name) says whether it committed
        all the same; if not, what was moved is moved back (the new file of an upload deleted: the person who gave
        it is told that nothing was added) and the exception goes on.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_json(self.folder / PENDING, op)
        try:
            self._before(op, data)
            value = commit()
        except BaseException:
            try:
                done = committed(op, indexed())
            except Exception:
                done = False
            if done:
                self._finish(op)
                self._end()
            else:
                self._undo(op, keep=False)
                self._end()
            raise
        self._finish(op)
        self._end()
        return value

    def recover(self, indexed: Callable[[str], Document | None]) -> str | None:
        """Finish or undo the change a stopped app left (``indexed``: the document the index holds under a name, or
        None); what was done (``finished`` or ``undone``), None when nothing was pending."""
        self._sweep()
        op = self.pending()
        if op is None:
            return None
        if committed(op, indexed):
            self._finish(op)
            done = "finished"
        else:
            self._undo(op)
            done = "undone"
        self._end()
        log.warning("the app stopped during a change of %s (%s %s): %s now", self.folder, op.get("op"), op.get("source"), done)
        return done

    def operation(self, kind: str, source: str, *, user: str = "", **fields: Any) -> dict[str, Any]:
        """A new change: ``kind`` (add, remove, replace, restore, describe) of ``source`` by ``user``, with its
        ``fields``: ``sha256`` (of the file the index will hold, or of the file removed), ``entry`` (the catalogue
        entry the document will have), ``old_entry`` (the one it had), ``target`` (the name a replacement or a
        restored file takes), ``item`` (the trash item it goes to or comes from), ``old`` (a replaced file's hash)."""
        op = {"version": 1, "id": secrets.token_hex(8), "op": kind, "source": source, "user": user, "time": now_iso(self.clock)}
        return {**op, **fields}

    def _sweep(self) -> None:
        """Delete the temporary files of writes a stopped app left half done (never a whole file: each is renamed
        into place once written)."""
        for folder in [self.folder, *(self.trash_folder.iterdir() if self.trash_folder.is_dir() else [])]:
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else []:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _end(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.folder / PENDING)
        _fsync_dir(self.folder)

    def _before(self, op: Mapping[str, Any], data: bytes | None) -> None:
        """What a change does before the index commits: an upload's file written; a replaced file moved into the
        trash and its new version written in its place; a restored file moved back from the trash."""
        kind = op["op"]
        if kind == "add":
            assert data is not None
            _write_bytes(self.folder / op["source"], data, exclusive=True)
        elif kind == "replace":
            assert data is not None
            folder = self._put_item(self._trash_record(op, REPLACED, op["old"]))
            _move(self.folder / op["source"], folder / op["source"])
            _write_bytes(self.folder / op["target"], data, exclusive=True)
        elif kind == "restore":
            item = self._item(op["item"])
            if item is None:
                raise FileNotFoundError(f"trash item {op['item']} is gone")
            _move(self.trash_folder / item.id / item.source, self.folder / op["target"], must=True)

    def _finish(self, op: Mapping[str, Any]) -> None:
        """What follows the index's commit: files into the trash, the catalogue, the history (each step idempotent)."""
        kind, source = op["op"], op["source"]
        if kind == "remove":
            folder = self._put_item(self._trash_record(op, REMOVED, op["sha256"]))
            if sha256_of(self.folder / source) == op["sha256"]:
                _move(self.folder / source, folder / source)
            self._set_entry(source, None)
        elif kind == "replace":
            self._set_entry(op["target"], op["entry"], drop=source)
        elif kind == "restore":
            self._set_entry(op["target"], op["entry"])
            _drop_record(self.trash_folder / op["item"])
        elif kind in ("add", "describe"):
            self._set_entry(source, op["entry"])
        self._record(op)
        _fsync_dir(self.folder)

    def _undo(self, op: Mapping[str, Any], keep: bool = True) -> None:
        """Move back what a change moved before its commit failed or the app stopped. The new file of an upload that
        was not added goes to the trash (``interrupted``) when the app stopped (``keep``): nobody was told."""
        kind, source = op["op"], op["source"]
        if kind == "add":
            self._interrupted(op, self.folder / source, keep=keep)
        elif kind == "replace":
            folder = self.trash_folder / op["item"]
            self._interrupted(op, self.folder / op["target"], name=op["target"], keep=keep)
            if not (self.folder / source).exists():
                _move(folder / source, self.folder / source)
            _drop_record(folder)
        elif kind == "restore":
            item = self._item(op["item"])
            if item is not None and sha256_of(self.folder / op["target"]) == item.sha256:
                _move(self.folder / op["target"], self.trash_folder / item.id / item.source)
        elif kind == "remove":
            _drop_record(self.trash_folder / op["item"])
        for stray in (op.get("target"), source):  # a file being written when the app stopped: never a whole one
            if stray:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(_tmp(self.folder / stray))

    def _interrupted(self, op: Mapping[str, Any], path: Path, name: str | None = None, keep: bool = True) -> None:
        """The new file of an upload that was not added, when it is ``path``: into the trash (``interrupted``), or
        deleted when not ``keep``."""
        if sha256_of(path) != op["sha256"]:
            return
        if not keep:
            path.unlink()
            _fsync_dir(path.parent)
            return
        name = name or op["source"]
        entry = dict(op.get("entry") or {})
        item = Removed(self.new_item_id(), name, op["sha256"], entry, now_iso(self.clock), op.get("user", ""), INTERRUPTED)
        _move(path, self._put_item(item) / name)

    def _trash_record(self, op: Mapping[str, Any], why: str, sha: str) -> Removed:
        return Removed(op["item"], op["source"], sha, dict(op.get("old_entry") or {}), op["time"], op.get("user", ""), why)


def committed(op: Mapping[str, Any], indexed: Callable[[str], Document | None]) -> bool:
    """Whether the index holds what the change ``op`` commits."""
    kind, source = op["op"], op["source"]
    if kind == "remove":
        return indexed(source) is None
    if kind == "describe":
        document = indexed(source)
        wanted = {k: v for k, v in (op.get("entry") or {}).items() if k in ("title", "date", "author")}
        return document is not None and all(getattr(document.info, k) == v for k, v in wanted.items())
    target = op.get("target") or source
    document = indexed(target)
    replaced_gone = kind != "replace" or target == source or indexed(source) is None
    return document is not None and document.sha256 == op["sha256"] and replaced_gone


def _move(src: Path, dst: Path, must: bool = False) -> None:
    """Rename ``src`` to ``dst`` (same folder tree: atomic) when ``src`` is there (``must``: or raise); never over an
    existing file."""
    if not src.exists():
        if must:
            raise FileNotFoundError(f"{src} is gone")
        return
    if dst.exists():
        raise FileExistsError(f"{dst} exists: {src} is not moved over it")
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    _fsync_dir(dst.parent)
    if src.parent != dst.parent:
        _fsync_dir(src.parent)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _write_bytes(path: Path, data: bytes, exclusive: bool = False) -> None:
    """``path`` holding ``data``, written to a temporary file first and renamed (never a half-written file);
    ``exclusive``: refuse to replace a file that is there."""
    if exclusive and path.exists():
        raise FileExistsError(f"{path} exists: it is not written over")
    tmp = _tmp(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _drop_record(folder: Path) -> None:
    """A trash item's folder removed once its file has left it (never with a file in it)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(folder / RECORD)
    with contextlib.suppress(OSError):
        folder.rmdir()  # (fails, leaving the folder, if anything else is in it)


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    _write_bytes(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32" or not folder.is_dir():
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
