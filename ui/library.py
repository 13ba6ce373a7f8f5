"""The app's handle on the index and its collection: searches with the current ``Retriever``; adds, removes, replaces,
restores and describes uploaded documents, and swaps in a new retriever after each change.

Searches keep using the retriever object they started with while the collection changes; the swap to the freshly
loaded retriever is guarded by a lock, and only one change runs at a time. An uploaded document is read alone and
added with ``rag.index.add_documents`` (the corpus is not read again); removals and replacements reuse every other
document's text, passages and vectors (``rag.index.remove_documents``, ``replace_documents``). Uploaded files, their
catalogue, the trash and the history live in the uploads folder (``ui.collection``), never in the corpus, which the
app does not change. ``version`` counts the changes, so that every open page can tell when to refresh its lists.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import store
from rag.config import Config
from rag.errors import NoPassageError, RagError
from rag.i18n import number, text
from rag.index import BuildReport, add_documents, remove_documents, replace_documents
from rag.ingest.load import SkipFile, load_file
from rag.ingest.ocr_cache import FOLDER as OCR_CACHE
from rag.retrieve.retriever import Retriever
from rag.types import Document, DocumentInfo, Passage, Results
from ui.collection import TRASH_DAYS, Collection, Removed, now_iso
from ui.uploads import Refused, UploadRejected, check_details, check_upload, free_name, reading_problem, safe_filename

log = logging.getLogger("rag.ui")

DEFAULT_MAX_UPLOAD_BYTES = Config().max_upload_bytes
DEFAULT_K, DEFAULT_MODE = Config().k, Config().mode
DETAILS = ("title", "date", "author")  # what a person sets of a document's bibliographic data in the app


@dataclass(frozen=True)
class Added:
    """A document added from the web app: its uploaded name, the name it was stored under, its passages, the build."""

    name: str
    stored_as: str
    passages: int
    report: BuildReport

    def message(self, lang: str = "en") -> str:
        """What the app says about it, in ``lang`` (``fr`` or English)."""
        renamed = text("upload.renamed", lang, dest=self.stored_as) if self.stored_as != self.name else ""
        passages = text("upload.passage" if self.passages == 1 else "upload.passages", lang, n=self.passages)
        index = index_summary(self.report, lang)
        return text("upload.added", lang, name=self.name, renamed=renamed, passages=passages, index=index)


@dataclass(frozen=True)
class Changed:
    """A change of the collection other than an addition: what the app says (``library.<key>``) and the build."""

    key: str
    params: Mapping[str, Any]
    report: BuildReport | None = None
    source: str = ""  # the document's name after the change ("" when it left the collection)

    def message(self, lang: str = "en") -> str:
        params = dict(self.params)
        if isinstance(params.get("passages"), int):
            n = params["passages"]
            params["passages"] = text("upload.passage" if n == 1 else "upload.passages", lang, n=n)
        if isinstance(params.get("days"), float):
            params["days"] = number(params["days"], lang)
        said = text(f"library.{self.key}", lang, **params)
        return f"{said} {index_summary(self.report, lang)}" if self.report is not None else said


def index_summary(report: BuildReport, lang: str = "en") -> str:
    r = report
    return text(
        "upload.index", lang, documents=r.documents, total=r.passages, embedded=r.embedded, reused=r.reused,
        seconds=number(r.seconds, lang, ".1f"),
    )  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """The results of one search with the neighbouring passages of each hit (from the same retriever snapshot)."""

    results: Results
    contexts: list[list[Passage]]


@dataclass(frozen=True)
class Listed:
    """One document of the collection as the app lists it: whether it was uploaded here (it can then be changed in
    the app; the corpus cannot), and when and by whom (with a login) it was added."""

    info: DocumentInfo
    passages: int
    uploaded: bool = False
    added: str = ""
    added_by: str = ""


class Library:
    """The index, the retriever currently serving searches, and the collection of uploaded documents."""

    def __init__(
        self,
        index: str | Path,
        uploads: str | Path,
        retriever: Retriever | None = None,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        k: int = DEFAULT_K,
        mode: str = DEFAULT_MODE,
        trash_days: float = TRASH_DAYS,
    ) -> None:
        self.index = Path(index)
        self.uploads = Path(uploads)
        self.max_upload_bytes = max_upload_bytes
        # The settings' defaults (rag.config: `k` and `mode`): passages shown at first, and how every search ranks.
        self.k, self.mode = k, mode
        self.collection = Collection(self.uploads, trash_days)
        self._retriever = retriever or Retriever.load(self.index)
        self._version = 0
        self._swap_lock = threading.Lock()
        self._index_lock = threading.Lock()
        # A change the app was stopped in the middle of is finished or undone first (ui.collection).
        documents = {d.info.source: d for d in self._retriever.data.documents}
        self.collection.recover(documents.get)
        self.collection.purge()
        # The models load in the background: the first questions do not wait for the second opinion.
        threading.Thread(target=_warm, args=(self._retriever,), daemon=True, name="rag-warm").start()

    @property
    def retriever(self) -> Retriever:
        with self._swap_lock:
            return self._retriever

    @property
    def version(self) -> int:
        """How many changes the collection has had since the app started (a page's lists are current when it has
        seen this one)."""
        with self._swap_lock:
            return self._version

    def _swap(self, retriever: Retriever) -> None:
        with self._swap_lock:
            self._retriever = retriever
            self._version += 1

    def documents(self) -> list[tuple[DocumentInfo, int]]:
        """Indexed documents with their number of passages."""
        r = self.retriever
        return [(info, r.passage_count(info.source)) for info in r.documents]

    def listing(self) -> list[Listed]:
        """Every indexed document, as the app lists it."""
        r = self.retriever
        catalog = self.collection.catalog()
        out = []
        for info in r.documents:
            uploaded = self._uploaded(r, info.source)
            entry = catalog.get(info.source, {}) if uploaded else {}
            out.append(Listed(info, r.passage_count(info.source), uploaded, entry.get("added", ""), entry.get("added_by", "")))
        return out

    def uploaded(self) -> list[DocumentInfo]:
        """The documents that were uploaded here: those the app can remove, replace and describe."""
        r = self.retriever
        return [info for info in r.documents if self._uploaded(r, info.source)]

    def trash(self) -> list[Removed]:
        """Removed and replaced uploads that can still be restored, most recent first."""
        return self.collection.removed()

    def _uploaded(self, retriever: Retriever, source: str) -> bool:
        entry = (retriever.manifest.get("documents") or {}).get(source)
        return isinstance(entry, dict) and entry.get("folder") == str(self.uploads.resolve())

    def search(self, question: str, k: int, sources: Sequence[str] | None = None) -> Answer:
        """Search and fetch each hit's context with one retriever (safe against a concurrent swap)."""
        r = self.retriever
        results = r.search(question, k=k, sources=sources or None, mode=self.mode)  # (a string is one source)
        return Answer(results, [r.context(hit, 1, 1) for hit in results])

    # -- changes -------------------------------------------------------------------------------------------------

    def _read_upload(self, upload: str | Path, original_name: str | None) -> tuple[str, bytes, Document]:
        """An uploaded file checked (name, type, size) and read: its safe name, its bytes, the document they hold.
        Raises ``UploadRejected`` when it cannot be added."""
        src = Path(upload)
        name = safe_filename(original_name or src.name)
        check_upload(src, name, self.max_upload_bytes)
        data = src.read_bytes()
        return name, data, _readable(data, name, self.index / OCR_CACHE)

    def add_document(
        self, upload: str | Path, original_name: str | None = None, *, details: Mapping[str, str] | None = None, user: str = ""
    ) -> Added:
        """Validate an uploaded file, keep it in the uploads folder, add it to the index, swap in the new retriever.

        ``details``: the title, date and author given with it (each optional: the title defaults to the document's
        own, ``rag.ingest.titles``). Returns what was added (``Added.message(lang)`` says it); raises
        ``UploadRejected`` (with the reason) and leaves the index and the uploads folder unchanged when the file
        cannot be added.
        """
        given = check_details(details or {}, title_required=False)
        name, data, document = self._read_upload(upload, original_name)
        with self._index_lock:
            current = self.retriever
            _reject_duplicate(current, document, name)
            dest = free_name(self.uploads, name, taken={info.source for info in current.documents})
            info = document.info
            entry = {
                "title": given.get("title") or info.title, "date": given.get("date") or info.date,
                "author": given.get("author") or info.author, "added": now_iso(), "added_by": user,
            }  # fmt: skip
            stored = _described(document, entry, source=dest)
            op = self.collection.operation("add", dest, user=user, sha256=document.sha256, entry=entry)
            report = self._change(op, lambda: add_documents(self.index, [stored], current.embedder, folder=self.uploads), data)
            new = self._reload(current)
        return Added(name, dest, new.passage_count(dest), report)

    def replace_document(self, source: str, upload: str | Path, original_name: str | None = None, *, user: str = "") -> Changed:
        """Put a new version of the uploaded document ``source`` in its place (its title, date and author kept);
        the previous file goes to the trash. Raises ``UploadRejected`` when the new file cannot be added, ``Refused``
        when ``source`` cannot be replaced here; nothing changes then."""
        name, data, document = self._read_upload(upload, original_name)
        with self._index_lock:
            current = self.retriever
            old = self._own(current, source)
            _reject_duplicate(current, document, name)
            suffix = Path(name).suffix
            if suffix == Path(source).suffix:
                target = source
            else:  # another format: the same name with the new extension
                taken = {info.source for info in current.documents} - {source}
                target = free_name(self.uploads, Path(source).stem + suffix, taken=taken)
            entry = self._entry(old)
            stored = _described(document, entry, source=target)
            op = self.collection.operation(
                "replace", source, user=user, target=target, sha256=document.sha256, old=old.sha256,
                item=self.collection.new_item_id(), entry=entry, old_entry=entry,
            )  # fmt: skip
            commit = lambda: replace_documents(self.index, {source: stored}, current.embedder, folder=self.uploads)  # noqa: E731
            report = self._change(op, commit, data)
            new = self._reload(current)
        passages = new.passage_count(target)
        params = {"name": source, "new": name, "title": entry["title"], "passages": passages, "days": self._days()}
        return Changed("replaced", params, report, target)

    def remove_document(self, source: str, *, user: str = "") -> Changed:
        """Take the uploaded document ``source`` out of the collection: out of the index at once, its file into the
        trash (restorable for the trash's days). Raises ``Refused`` when it cannot be removed here."""
        with self._index_lock:
            current = self.retriever
            old = self._own(current, source)
            entry = self._entry(old)
            op = self.collection.operation(
                "remove", source, user=user, sha256=old.sha256, item=self.collection.new_item_id(), old_entry=entry
            )
            report = self._change(op, lambda: remove_documents(self.index, [source], current.embedder))
            self._reload(current)
        self.collection.purge()
        return Changed("removed", {"name": source, "title": entry["title"], "days": self._days()}, report)

    def restore(self, item_id: str, *, user: str = "") -> Changed:
        """Put a document back from the trash: its file into the uploads folder, it into the index with the details
        it had. Raises ``Refused`` when the item is gone or its content is indexed again meanwhile."""
        item = self.collection.item(item_id)
        if item is None:
            raise Refused("not_in_trash")
        path = self.collection.trash_folder / item.id / item.source
        data = path.read_bytes()
        document = _readable(data, item.source, self.index / OCR_CACHE)
        with self._index_lock:
            current = self.retriever
            _reject_duplicate(current, document, item.source)
            target = free_name(self.uploads, item.source, taken={info.source for info in current.documents})
            entry = {key: item.entry.get(key, "") for key in (*DETAILS, "added", "added_by")}
            entry["title"] = entry["title"] or document.info.title
            stored = _described(document, entry, source=target)
            op = self.collection.operation(
                "restore", item.source, user=user, target=target, sha256=document.sha256, item=item.id, entry=entry
            )
            report = self._change(op, lambda: add_documents(self.index, [stored], current.embedder, folder=self.uploads))
            new = self._reload(current)
        params = {"name": item.source, "title": entry["title"], "passages": new.passage_count(target), "dest": target}
        return Changed("restored" if target == item.source else "restored_as", params, report, target)

    def describe(self, source: str, details: Mapping[str, str], *, user: str = "") -> Changed:
        """Set the title, date and author of the uploaded document ``source`` (in its citations from now on).
        Raises ``Refused`` when a value cannot be used, nothing changes, or ``source`` cannot be changed here."""
        given = check_details(details, title_required=True)
        with self._index_lock:
            current = self.retriever
            old = self._own(current, source)
            entry = {**self._entry(old), **{key: given.get(key, "") for key in DETAILS}}
            if all(getattr(old.info, key) == entry[key] for key in DETAILS):
                raise Refused("unchanged", name=source)
            stored = _described(old, entry, source=source)
            op = self.collection.operation("describe", source, user=user, entry=entry, old_entry=self._entry(old))
            commit = lambda: replace_documents(self.index, {source: stored}, current.embedder, folder=self.uploads)  # noqa: E731
            report = self._change(op, commit)
            self._reload(current)
        return Changed("described", {"name": source, "title": entry["title"]}, report, source)

    # -- the steps of a change -----------------------------------------------------------------------------------

    def _own(self, retriever: Retriever, source: str) -> Document:
        """The indexed document ``source`` when it was uploaded here; else ``Refused`` saying why it cannot change."""
        if source not in {info.source for info in retriever.documents}:
            raise Refused("unknown", name=source)
        if not self._uploaded(retriever, source):
            raise Refused("shipped", name=source)
        return retriever.document(source)

    def _entry(self, document: Document) -> dict[str, str]:
        """A document's catalogue entry: what the catalogue has, completed from what the index holds."""
        entry = dict(self.collection.catalog().get(document.info.source, {}))
        for key in DETAILS:
            entry.setdefault(key, getattr(document.info, key))
        return entry

    def _days(self) -> float:
        return float(self.collection.trash_days)

    def _change(self, op: dict[str, Any], commit: Callable[[], BuildReport], data: bytes | None = None) -> BuildReport:
        """Run the change ``op`` of the collection around the index's ``commit`` (``ui.collection``); errors of the
        index become ``UploadRejected`` (the reason goes to the log)."""
        source = op.get("target") or op["source"]
        try:
            report: BuildReport = self.collection.change(op, commit, self._indexed, data)
            return report
        except NoPassageError as exc:
            log.warning("upload %s refused: %s", source, exc)
            raise UploadRejected("no_passage", name=source) from exc
        except RagError as exc:
            log.error("changing %s in %s failed: %s", source, self.index, exc)
            raise UploadRejected("index_failed", name=source) from exc

    def _indexed(self) -> Callable[[str], Document | None]:
        """What the index on disk holds now, by name (after a change failed: did it commit?)."""
        documents = {d.info.source: d for d in store.load(self.index, with_vectors=False).documents}
        return documents.get

    def _reload(self, current: Retriever) -> Retriever:
        """Open the index just written with the models already loaded, and serve it."""
        try:
            new = Retriever.load(self.index, embedder=current.embedder, second=current.second)
        except RagError as exc:
            log.error("the index %s was changed but cannot be opened: %s", self.index, exc)
            raise UploadRejected("index_failed", name=self.index.name) from exc
        self._swap(new)
        return new


def _warm(retriever: Retriever) -> None:
    try:
        retriever.warm()
    except Exception:  # the first question will load what failed here, and report it
        log.warning("loading the models in the background failed", exc_info=True)


def _readable(data: bytes, name: str, ocr_cache: Path) -> Document:
    """Load the file with rag's own readers in a private temporary folder (nothing else is touched; a scan's
    recognised pages are kept in the index's OCR cache, for the page view)."""
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        staged = Path(tmp) / name
        staged.write_bytes(data)
        try:
            return load_file(staged, name, ocr_cache=ocr_cache)
        except SkipFile as exc:
            log.warning("upload %s refused: %s", name, exc)
            raise UploadRejected(reading_problem(str(exc), name), name=name) from exc
        except Exception as exc:  # a reader failing in an unexpected way is still a bad file, not a crash
            log.warning("reading upload %s failed", name, exc_info=True)
            raise UploadRejected(reading_problem("", name), name=name) from exc


def _described(document: Document, entry: Mapping[str, str], source: str) -> Document:
    """The document under the name its file is stored as, with the title, date and author of ``entry``."""
    title, date, author = (entry.get(key, "") for key in DETAILS)
    info = dataclasses.replace(document.info, source=source, title=title, date=date, author=author)
    return dataclasses.replace(document, info=info)


def _reject_duplicate(retriever: Retriever, document: Document, name: str) -> None:
    for info in retriever.documents:
        if retriever.document(info.source).sha256 == document.sha256:
            raise UploadRejected("duplicate", name=name, other=info.source, title=info.title)
