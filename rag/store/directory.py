"""The index directory: open formats, symmetric ``save``/``load``, atomic replacement, nothing deleted by guesswork.

Layout of ``index/``:

- ``manifest.json``            format version, rag version, embedder, settings, documents and their hashes, the
                               generation in use and its files, their sizes and checksums (checked when read: a
                               damaged file is reported, never half-read)
- ``journal.json``             the generations rag has written here (the one in use, and any not yet removed)
- ``gen-<id>/``                one generation of data files:
  - ``documents.jsonl``        one document a line: source, bibliographic data, format, sha256, page starts, text
  - ``passages.jsonl``         one passage a line, in vector order: id, source, paragraph, start, end, page, text,
                               sentence spans
  - ``vectors.npy``            passage vectors, float32 ``(n, dim)``, unit length
  - ``sentences.npy``          sentence vectors, float16, in passage then sentence order: half the disk and page
                               cache, and scores move by < 1e-4
  - ``faiss.index``            the FAISS index over the passage vectors
  - ``bm25/``                  the lexical (BM25) index: bm25s's ``.npy`` arrays and JSON vocabulary/params

A build first records its new generation in the journal, then creates the generation's folder and writes its files,
then atomically replaces ``manifest.json``; only then are the other generations the journal names deleted. A crash at
any point leaves the previous manifest pointing at complete files (the previous index stays usable), and the files
of a killed build are known to be rag's (the journal names them) and are removed by the next build. rag deletes
nothing else: a folder holding other files is refused for a first build (``check_folder``), and files put next to an
index are left alone. A reader that opens the index while a build commits retries on the new manifest (``load``).

Checksums: files read whole at load (documents, passages, FAISS, BM25) have a SHA-256 checked at load; the vector
files, read by position, have one checksum per 64 KiB block, checked the first time a read touches the block
(``rag.store.rows.NpyRows``). Format 2 (flat ``documents-<gen>.jsonl``... files, no checksums for the vectors) and format
1 (float32 sentence vectors) are read only by a rebuild, which reuses their vectors after checking them.

Serving (``load(..., with_vectors=False)``) keeps the process small: passage vectors are read from the FAISS index
(which holds them anyway), sentence vectors are read from disk row by row with ``pread`` (a memory map would leave
every page it ever touched in the process's resident set: the whole file after a hundred questions), BM25 arrays are
memory-mapped (a question reads a few columns), and sentence spans are two integer arrays instead of tuples.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rag.errors import IndexIncompatibleError, IndexMissingError, RagError
from rag.store import ann, annotation_files, backends, files, generations, vector_files
from rag.store.data import SECOND_DTYPE, SENTENCE_DTYPE, IndexData, lexical_texts
from rag.store.generations import GENERATION_NAME, MANIFEST
from rag.store.lexical import LexicalIndex
from rag.store.manifest import check_manifest
from rag.store.rows import FaissRows, NpyRows, OffsetTable, Rows, SpanTable, Vectors
from rag.types import Document, DocumentInfo, OffsetMap, Passage
from rag.version import version

# 7: the typed candidates of every passage (names, dates, counts, amounts, percentages: rag.store.annotation_files),
# found at index time so that no model reads text at query time; the manifest names their ``annotator``.
# 6: each vector file has a record beside it (its embedder, the key of the text behind each row, its block checksums:
# rag.store.vector_files), so that a rebuild reuses its vectors whatever else is damaged. 5: each passage row carries
# the map from its text to its document's (``offsets``: every highlight and answer is cited by document offsets).
# 4: the manifest records the corpus's null distribution (rag.retrieve.calibration). 3: one folder per generation, a
# journal of the generations written, a checksum for every file (per block for the vector files). 2: sentence vectors
# stored as float16 (format 1: float32). An older index is refused for serving; `rag index` (and `rag serve` on the
# same corpus) rebuild it reusing its vectors, checked first.
FORMAT_VERSION = 7
# Formats whose data ``load(..., reuse_old=True)`` still reads, so a rebuild can reuse their vectors (not re-embed).
REUSABLE_FORMATS = (1, 2, 3, 4, 5, 6, 7)
# The vector files of a generation (each with a record, from format 6 on).
VECTOR_FILES = {
    "vectors": "vectors.npy",
    "sentences": "sentences.npy",
    "second": "second_opinion.npy",
    "questions": "null_questions.npy",
}
# The files of a generation, inside its folder.
FILES = {
    "documents": "documents.jsonl",
    "passages": "passages.jsonl",
    "vectors": "vectors.npy",
    "sentences": "sentences.npy",
    "faiss": "faiss.index",
    "bm25": "bm25",
    "questions": "null_questions.npy",  # format 4 on: the calibration questions' vectors (rag.retrieve.calibration)
    "second": "second_opinion.npy",  # format 4 on, optional: the second opinion's passage vectors (rag.embed.use)
    # Format 5 on: the key of the text behind each vector row, and each vector file's record (rag.store.vector_files).
    "passage_keys": "passage_keys.npy",
    "sentence_keys": "sentence_keys.npy",
    "question_keys": "question_keys.npy",
    **{f"{kind}_record": vector_files.record_name(name) for kind, name in VECTOR_FILES.items()},
    "annotations": "annotations.npy",  # format 7 on: the passages' typed candidates (rag.store.annotation_files)
    "annotation_meta": "annotations.json",
}
# Read by position rather than whole: checksummed per block.
ROW_FILES = ("vectors", "sentences", "second")
# Each vector file's keys, and whose vectors it holds ("embedder" or "second_opinion", as the manifest names them).
RECORDED = {
    "vectors": ("passage_keys", "embedder", "passage"),
    "sentences": ("sentence_keys", "embedder", "passage"),
    "second": ("passage_keys", "second_opinion", "passage"),
    "questions": ("question_keys", "embedder", "query"),
}
# What a load reads (and so checks: sizes, checksums); the keys and records are for a rebuild and `rag verify`.
READ_AT_LOAD = (
    "documents", "passages", "vectors", "sentences", "faiss", "bm25", "questions", "second", "keys", "annotations",
    "annotation_meta",
)  # fmt: skip
# The files of a generation that hold its passage and sentence vectors: the store's (``rag.store.backends``) and
# written by it, wherever it keeps them (the FAISS files: these names; a vector database: only the key of each row).
# The calibration questions' and the second opinion's vectors stay files whatever the store: the first are read
# whole once, the second a few rows a question.
STORE_KINDS = ("vectors", "sentences", "faiss")
# 64 KiB: a question reads the sentences of ~200 passages, and checking a block means reading all of it.
BLOCK_BYTES = 1 << 16
# What rag names the entries it writes at the top of an index folder: a generation folder (format 3), or a data file
# of formats 1 and 2. Nothing else is ever deleted, whatever a journal or manifest says.
# A load that meets a missing or changed file because a build switched generations meanwhile tries again.
LOAD_ATTEMPTS = 5


def _passage_row(passage: Passage, spans: Sequence[tuple[int, int]], offsets: OffsetMap) -> dict[str, Any]:
    row = passage.to_dict()
    row["sentences"] = [list(s) for s in spans]
    row["offsets"] = offsets.to_row()
    return row


def _document_row(doc: Document) -> dict[str, Any]:
    info = doc.info
    return {
        "source": info.source,
        "title": info.title,
        "short_title": info.short_title,
        "date": info.date,
        "author": info.author,
        "lang": info.lang,
        "format": doc.format,
        "sha256": doc.sha256,
        "page_starts": list(doc.page_starts),
        "ocr": [list(page) for page in info.ocr],
        "text": doc.text,
    }


def _document_from_row(row: dict[str, Any]) -> Document:
    info = DocumentInfo(
        source=row["source"],
        title=row["title"],
        short_title=row.get("short_title", ""),
        date=row.get("date", ""),
        author=row.get("author", ""),
        lang=row.get("lang", ""),
        ocr=tuple((int(page), float(confidence)) for page, confidence in row.get("ocr", ())),
    )
    return Document(info, row["text"], row["format"], row["sha256"], tuple(row.get("page_starts", ())))


# The dtype each vector file is stored in.
VECTOR_DTYPES: dict[str, type[np.floating[Any]]] = {
    "vectors": np.float32, "sentences": SENTENCE_DTYPE, "second": SECOND_DTYPE, "questions": np.float32,
}  # fmt: skip


class Staging:
    """A generation being written, started before the build embeds anything: it is named in the journal and its
    folder exists, so that its vector files are written as the vectors come (``writer``), shard by shard, and a kill
    at any moment leaves files the next build knows to be rag's (and removes once it has committed). ``save``
    commits it; ``abort`` removes it."""

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.path = Path(index_dir)
        self.path.mkdir(parents=True, exist_ok=True)
        self.current = _current_names(self.path)
        self.gen = generations.start_generation(self.path, self.current)
        self.folder = self.path / self.gen
        self.blocks: dict[str, list[str]] = {}  # kind → the block checksums of its finished file
        self._writers: dict[str, files.NpyWriter] = {}
        self.committed = False

    def file(self, kind: str) -> Path:
        return self.folder / VECTOR_FILES[kind]

    def writer(self, kind: str, shape: tuple[int, int]) -> files.NpyWriter:
        """The vector file of ``kind`` (``VECTOR_FILES``), written row block after row block."""
        if kind in self._writers or kind in self.blocks:
            raise ValueError(f"the {kind} file of {self.folder} is written already")
        self._writers[kind] = files.NpyWriter(self.file(kind), shape, VECTOR_DTYPES[kind], BLOCK_BYTES)
        return self._writers[kind]

    def rows(self, kind: str) -> NpyRows:
        """The finished vector file of ``kind``, read back by position (closed and synced first)."""
        if kind in self._writers:
            self.blocks[kind] = self._writers.pop(kind).close()
        return NpyRows(self.file(kind))

    def write(self, kind: str, vectors: Vectors | Rows) -> None:
        """A whole vector file from rows at hand."""
        self.writer(kind, (len(vectors), int(vectors.shape[1]))).append(vectors)
        self.rows(kind).close()

    def abort(self) -> None:
        """Remove the generation (before its commit only: after it, its files are the index)."""
        for writer in self._writers.values():
            writer.abort()
        self._writers.clear()
        if self.committed:
            return
        files.remove(self.folder)
        with contextlib.suppress(OSError):
            generations.write_journal(self.path, [name for name in generations.read_journal(self.path) if name != self.gen])


@contextlib.contextmanager
def staged(index_dir: str | os.PathLike[str]) -> Iterator[Staging]:
    """A new generation to write into; removed if the block raises before ``save`` commits it."""
    staging = Staging(index_dir)
    try:
        yield staging
    except BaseException:
        staging.abort()
        raise


def save(index_dir: str | os.PathLike[str], data: IndexData, staging: Staging | None = None) -> None:
    """Write ``data`` as a new generation and switch ``manifest.json`` to it atomically.

    ``staging``: the generation the build has streamed its vector files into (``data``'s vectors are then its rows);
    without one, a generation is started and the vectors of ``data`` written first. The caller holds ``lock`` and has
    checked the folder (``check_folder``).
    """
    if data.annotations is None:
        raise ValueError("a generation is written with the annotations of every passage (rag.index.annotate)")
    path = Path(index_dir)
    path.mkdir(parents=True, exist_ok=True)
    backend = backends.backend_for(data.manifest.get("store"))
    staging = staging or Staging(path)
    current, gen = staging.current, staging.gen
    layout = _layout(backend)
    names = {kind: f"{gen}/{name}" for kind, name in layout.items() if _present(data, layout, kind)}
    tmp = path / gen / f"{MANIFEST}.tmp"
    try:
        files.write_jsonl(path / names["documents"], (_document_row(d) for d in data.documents))
        if data.offsets is None:
            raise ValueError("a generation is written with the offset map of every passage (rag.ingest.chunk)")
        passage_rows = zip(data.passages, data.sentence_spans, data.offsets, strict=True)
        files.write_jsonl(path / names["passages"], (_passage_row(p, spans, o) for p, spans, o in passage_rows))
        manifest = dict(data.manifest)
        annotation_files.save(path / names["annotations"], path / names["annotation_meta"], data.annotations)
        if data.null_vectors is not None:
            files.save_npy(path / names["questions"], data.null_vectors)
        streamed = {"vectors": data.vectors, "sentences": data.sentence_vectors, "second": data.second_vectors}
        for kind, vectors in streamed.items():
            if kind in names and vectors is not None and not staging.file(kind).exists():
                staging.write(kind, vectors)
        record = backend.write(_Generation(path, names, manifest), data, [path / name for name in current])
        if record is not None:
            manifest["store"] = record
        for kind in streamed:  # the vector files a store outside the folder has copied: not the generation's
            if kind not in names:
                files.remove(staging.file(kind))
        lexical = data.lexical or LexicalIndex.build(lexical_texts(data))
        lexical.save(path / names["bm25"])
        files.fsync_tree(path / names["bm25"])
        for kind in ROW_FILES:
            if kind in names:
                staging.rows(kind).close()  # (finished and synced)
        blocks = {kind: staging.blocks[kind] for kind in ROW_FILES if kind in names}
        _save_records(path / gen, data, names, blocks)
        files.fsync_dir(path / gen)
        whole = [name for kind, name in names.items() if kind not in ROW_FILES]
        manifest.update(
            format_version=FORMAT_VERSION,
            rag_version=version(),
            generation=gen,
            files=names,
            # Checked on load: a truncated or extended data file is reported instead of half-read.
            sizes=_sizes(path, names.values()),
            # Checked on load before parsing: FAISS trusts the sizes in its header (a damaged one makes it allocate
            # gigabytes) and bm25s its arrays (a damaged one crashes searches).
            checksums={name: files.sha256(path / name) for name in _sizes(path, whole)},
            # Checked block by block as the vectors are read (serving reads a few rows per question).
            block_checksums={"block_bytes": BLOCK_BYTES, "files": {names[kind]: sums for kind, sums in blocks.items()}},
            passages=len(data.passages),
            sentences=len(data.sentence_vectors),
        )
        files.write_bytes(tmp, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        os.replace(tmp, path / MANIFEST)  # the commit point
        staging.committed = True
        files.fsync_dir(path)
    except BaseException as exc:
        full = files.disk_full(path) if isinstance(exc, (OSError, RuntimeError)) else False
        staging.abort()  # (after the switch, these files are the index: never deleted)
        if full and getattr(exc, "errno", None) != errno.ENOSPC:
            # numpy ("N requested and M written") and FAISS (a RuntimeError) do not say that the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
        raise
    others = [name for name in generations.read_journal(path) if name != gen]
    backend.collect(path / gen, [path / name for name in others])
    generations.remove_generations(path, keep=gen)


def _layout(backend: backends.Backend) -> dict[str, str]:
    """The files of a generation whose vectors ``backend`` keeps: the directory's own and the backend's."""
    own = {kind: name for kind, name in FILES.items() if kind not in STORE_KINDS}
    return {**own, **backend.files}


def _present(data: IndexData, layout: dict[str, str], kind: str) -> bool:
    """Whether the generation of ``data`` has a file of ``kind`` (optional files: the questions', the second opinion's
    vectors; the keys and records when the build gave the keys)."""
    keys = data.text_keys
    has = {
        "questions": data.null_vectors is not None,
        "second": data.second_vectors is not None,
        "passage_keys": keys is not None and ("vectors" in layout or data.second_vectors is not None),
        "sentence_keys": keys is not None and "sentences" in layout,
        "question_keys": keys is not None and keys.questions is not None and data.null_vectors is not None,
    }
    if kind.endswith("_record"):
        vectors = kind.removesuffix("_record")
        return vectors in layout and has.get(vectors, True) and has[RECORDED[vectors][0]]
    return has.get(kind, True)


def _save_records(folder: Path, data: IndexData, names: dict[str, str], blocks: dict[str, list[str]]) -> None:
    """The keys of the generation's vector files, then each one's record (``rag.store.vector_files``)."""
    keys = data.text_keys
    if keys is None:
        return
    arrays = {"passage_keys": keys.passages, "sentence_keys": keys.sentences, "question_keys": keys.questions}
    for kind, array in arrays.items():
        if kind in names and array is not None:
            vector_files.save_keys(folder / Path(names[kind]).name, array)
    for kind, (keys_kind, owner, text_kind) in RECORDED.items():
        if f"{kind}_record" in names:
            embedder = str(data.manifest[owner]["id"])
            vector_files.save_record(
                folder, Path(names[kind]).name, Path(names[keys_kind]).name, embedder, text_kind, BLOCK_BYTES,
                blocks.get(kind),
            )  # fmt: skip


def _current_names(path: Path) -> list[str]:
    """The top-level entries the current manifest names (a generation folder, or an older format's files)."""
    try:
        names = read_manifest(path, reuse_old=True)["files"].values()
    except RagError:  # none, or damaged: nothing of it is kept
        return []
    return sorted({n for name in names if GENERATION_NAME.fullmatch(n := name.split("/", 1)[0])})


def read_manifest(index_dir: str | os.PathLike[str], *, reuse_old: bool = False) -> dict[str, Any]:
    """The manifest of an index, checked for format version; raises a typed error saying what to do.

    ``reuse_old`` also accepts the older formats of ``REUSABLE_FORMATS`` (for a rebuild that reuses their vectors).
    """
    path = Path(index_dir)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise IndexMissingError(_missing_message(path))
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexIncompatibleError(f"{manifest_path} is damaged ({exc}); re-run `rag index` to rebuild it") from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION and not (reuse_old and version in REUSABLE_FORMATS and type(version) is int):
        older = version in REUSABLE_FORMATS and type(version) is int
        raise IndexIncompatibleError(
            f"{path} was written in index format {version!r} but this rag reads format {FORMAT_VERSION}; "
            "re-run `rag index` to rebuild it" + (" (its vectors are reused: nothing is embedded again)" if older else "")
        )
    check_manifest(manifest_path, manifest)
    return manifest


def _missing_message(path: Path) -> str:
    """Why there is no index at ``path``, and the command that builds one (never into a folder of documents)."""
    try:
        foreign = sorted({child.name for child in path.iterdir()} - generations.own_entries(path))
    except OSError:
        foreign = []
    if foreign:
        other = f"{path.name or 'corpus'}-index"
        return (
            f"no index at {path}, which holds other files ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); "
            f"if they are your documents, index them into a folder of their own: `rag index {path} --index {other}`, "
            f"then use --index {other}"
        )
    return f"no index at {path}: build it with `rag index corpus/ --index {path}`"


def load(index_dir: str | os.PathLike[str], *, with_vectors: bool = True, reuse_old: bool = False) -> IndexData:
    """Read an index directory. Every failure is an ``IndexMissingError`` or ``IndexIncompatibleError``.

    ``with_vectors=False`` (serving) reads vectors on demand instead of loading them (see the module docstring);
    ``reuse_old`` also reads older formats, whose vectors a rebuild can reuse (``read_manifest``). A build that
    switches generations while the files are being read deletes the previous ones: the load starts again on the new
    manifest (what it read is one generation, never a mixture).
    """
    path = Path(index_dir)
    attempts = 0
    while True:
        manifest = read_manifest(path, reuse_old=reuse_old)
        try:
            return _load_generation(path, manifest, with_vectors)
        except IndexIncompatibleError:
            attempts += 1
            if attempts >= LOAD_ATTEMPTS or not _switched(path, manifest):
                raise


def _switched(path: Path, manifest: dict[str, Any]) -> bool:
    """True when ``manifest.json`` no longer is ``manifest`` (a build has committed another generation)."""
    try:
        current = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return bool(current != manifest)


def _load_generation(path: Path, manifest: dict[str, Any], with_vectors: bool) -> IndexData:
    """Read the generation ``manifest`` names, checking what it reads (sizes, checksums) before parsing it.

    Only the signs of damage become ``IndexIncompatibleError`` naming the file: a file missing, a size or checksum
    that does not match, a file that cannot be parsed although no checksum vouches for it (older formats), files that
    disagree. Anything else that goes wrong is a bug and is raised as such.
    """
    names: dict[str, str] = manifest["files"]
    try:
        _check_files(path, manifest)
        documents = _parse_rows(path, manifest, names["documents"], _document_from_row)
        # Every passage of a document shares its document's source string (one copy, not one per passage).
        shared = {d.info.source: d.info.source for d in documents}

        def passage(row: dict[str, Any]) -> tuple[list[list[int]], list[list[int]] | None, Passage]:
            sentences, offsets = row.pop("sentences"), row.pop("offsets", None)  # offsets: format 5 on
            row["source"] = shared.get(row["source"], row["source"])
            return sentences, offsets, Passage(**row)

        rows = _parse_rows(path, manifest, names["passages"], passage)
        spans = _parsed(path, manifest, names["passages"], lambda: SpanTable(sentences for sentences, _, _ in rows))
        offset_lists = [o for _, o, _ in rows if o is not None]
        offsets = None
        if len(offset_lists) == len(rows):
            offsets = _parsed(path, manifest, names["passages"], lambda: OffsetTable(offset_lists))
        passages = [p for _, _, p in rows]
        rows.clear()  # the sentence and offset lists: the tables hold them compactly now
        dim = int(manifest.get("embedder", {}).get("dim", 0))
        lexical = _parsed(
            path, manifest, names["bm25"], lambda: LexicalIndex.load(path / names["bm25"], len(passages), mmap=not with_vectors)
        )
        vectors: Vectors | Rows
        sentence_vectors: Vectors | Rows
        backend = backends.backend_for(manifest.get("store"))
        generation = _Generation(path, names, manifest)
        vectors, sentence_vectors, faiss_index = backend.open(generation, passages, spans.starts, dim, whole=with_vectors)
        if with_vectors:
            vectors, sentence_vectors = np.asarray(vectors), np.asarray(sentence_vectors)
        annotations = None
        if "annotations" in names:  # format 7 on
            lengths = [len(p.text) for p in passages]
            rows_path, meta_path = path / names["annotations"], path / names["annotation_meta"]
            annotations = _parsed(
                path, manifest, names["annotations"], lambda: annotation_files.load(rows_path, meta_path, lengths)
            )
        # Small (400 rows), and checked whole at load like the other files read whole.
        null_vectors = None
        if "questions" in names:
            questions = path / names["questions"]
            null_vectors = _parsed(path, manifest, names["questions"], lambda: np.load(questions, allow_pickle=False))
        second_vectors: Vectors | Rows | None = None
        if "second" in names:
            second_rows = _npy_rows(path, manifest, names["second"])
            if len(second_rows) != len(passages):
                raise _disagree(path, f"{names['second']} holds {len(second_rows)} vectors for {len(passages)} passages")
            second_vectors = np.asarray(second_rows, dtype=np.float32) if with_vectors else second_rows
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path} is incomplete ({exc.filename} is missing); re-run `rag index`") from exc
    data = IndexData(
        manifest, documents, passages, spans, vectors, sentence_vectors, faiss_index, lexical, null_vectors, second_vectors,
        offsets, annotations=annotations,
    )  # fmt: skip
    return _checked(path, data)


def _check_files(path: Path, manifest: dict[str, Any], kinds: Sequence[str] = READ_AT_LOAD) -> None:
    """The sizes and whole-file checksums of the files of ``kinds`` (by default, those a load reads)."""
    read = [name for kind, name in manifest["files"].items() if kind in kinds]
    inside = [n for n in (manifest.get("sizes") or {}) if any(n == r or n.startswith(f"{r}/") for r in read)]
    for name in inside:
        size = manifest["sizes"][name]
        actual = (path / name).stat().st_size
        if actual != size:
            raise IndexIncompatibleError(
                f"{path / name} is damaged ({actual} bytes instead of {size}: truncated or overwritten); "
                "re-run `rag index` to rebuild it"
            )
    for name, digest in (manifest.get("checksums") or {}).items():
        if any(name == r or name.startswith(f"{r}/") for r in read) and files.sha256(path / name) != digest:
            raise IndexIncompatibleError(f"{path / name} is damaged (its checksum does not match); re-run `rag index`")


_T = TypeVar("_T")


def _vouched(manifest: dict[str, Any], name: str) -> bool:
    """True when the manifest has a checksum for every file of ``name`` (a file, or a folder's files): checked by
    ``_check_files`` before parsing, so that what is parsed is exactly what rag wrote."""
    checksums = manifest.get("checksums") or {}
    sizes = manifest.get("sizes") or {}
    covered = [n for n in sizes if n == name or n.startswith(f"{name}/")] or [name]
    return all(n in checksums for n in covered)


def _parsed(path: Path, manifest: dict[str, Any], name: str, parse: Callable[[], _T]) -> _T:
    """``parse()`` of the file ``name``. When no checksum vouches for its bytes, its failing to parse is the sign of
    damage it is reported as; when one does, the bytes are the ones rag wrote, and a failure is a bug: raised as is."""
    if _vouched(manifest, name):
        return parse()
    try:
        return parse()
    except (ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError, IndexError) as exc:
        raise IndexIncompatibleError(
            f"{path / name} is damaged ({exc.__class__.__name__}: {str(exc)[:200]}); re-run `rag index` to rebuild it"
        ) from exc


def _parse_rows(path: Path, manifest: dict[str, Any], name: str, make: Callable[[dict[str, Any]], _T]) -> list[_T]:
    """The rows of a JSONL file, each made by ``make`` (see ``_parsed`` for what a failure means)."""
    return _parsed(path, manifest, name, lambda: [make(json.loads(line)) for line in files.read_lines(path / name)])


def read_texts(index_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> tuple[list[Document], list[Passage], SpanTable]:
    """The documents and passages of ``manifest``'s generation, checked as ``load`` checks them, and nothing else (a
    rebuild keys the stored vectors by their texts when their records are damaged: the other files may be too)."""
    path = Path(index_dir)
    names = manifest["files"]
    try:
        _check_files(path, manifest, ("documents", "passages"))
        documents = _parse_rows(path, manifest, names["documents"], _document_from_row)
        rows = _parse_rows(
            path, manifest, names["passages"], lambda row: (row.pop("sentences"), row.pop("offsets", None), Passage(**row))
        )
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path} is incomplete ({exc.filename} is missing)") from exc
    spans = _parsed(path, manifest, names["passages"], lambda: SpanTable(spans for spans, _, _ in rows))
    return documents, [p for _, _, p in rows], spans


def stored_rows(
    index_dir: str | os.PathLike[str], manifest: dict[str, Any], kind: str, passages: Sequence[Passage], spans: SpanTable
) -> Rows:
    """The rows of a vector file of ``manifest``'s generation (``vectors``, ``sentences``, ``second``), blocks checked
    against the manifest as they are read; from the vector database for an index that keeps them there."""
    path = Path(index_dir)
    names = manifest["files"]
    try:
        if kind in names:
            return _npy_rows(path, manifest, names[kind])
        if kind not in ("vectors", "sentences"):
            raise IndexIncompatibleError(f"{path} has no {kind} vectors")
        backend = backends.backend_for(manifest.get("store"))
        generation = _Generation(path, names, manifest, check=True)
        dim = int(manifest["embedder"].get("dim", 0))
        vectors, sentences, _ = backend.open(generation, passages, spans.starts, dim, whole=True)
        return vectors if kind == "vectors" else sentences
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path} is incomplete ({exc.filename} is missing)") from exc


class _Generation:
    """One generation's files as a store backend reads and writes them (``rag.store.backends.base.Generation``),
    checked against ``manifest`` as ``load`` checks its own. ``check``: whole files are checked when read (``load``
    has checked them all first)."""

    def __init__(self, path: Path, names: dict[str, str], manifest: dict[str, Any], check: bool = False) -> None:
        self.folder = path
        self._names, self._manifest, self._check = names, manifest, check

    def _name(self, kind: str) -> str:
        if kind not in self._names:
            raise IndexIncompatibleError(f"{self.folder / MANIFEST} is damaged (its file list lacks {kind}); re-run `rag index`")
        return self._names[kind]

    def file(self, kind: str) -> Path:
        return self.folder / self._name(kind)

    def rows(self, kind: str) -> NpyRows:
        return _npy_rows(self.folder, self._manifest, self._name(kind))

    def array(self, kind: str) -> np.ndarray[Any, Any]:
        name = self._name(kind)
        if self._check:
            _check_files(self.folder, self._manifest, (kind,))
        loaded: np.ndarray[Any, Any] = _parsed(
            self.folder, self._manifest, name, lambda: np.load(self.folder / name, allow_pickle=False)
        )
        return loaded

    def inconsistent(self, what: str) -> IndexIncompatibleError:
        return _disagree(self.folder, what)


def stored_faiss(index_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> FaissRows:
    """The passage vectors held by the FAISS index of ``manifest``'s generation, checked whole first."""
    path = Path(index_dir)
    name = manifest["files"]["faiss"]
    try:
        _check_files(path, manifest, ("faiss",))
        return FaissRows(ann.read(str(path / name)))
    except FileNotFoundError as exc:
        raise IndexIncompatibleError(f"{path / name} is missing") from exc
    except RuntimeError as exc:
        raise IndexIncompatibleError(f"{path / name} is damaged (FAISS cannot read it)") from exc


def _disagree(path: Path, what: str) -> IndexIncompatibleError:
    return IndexIncompatibleError(f"{path} is inconsistent ({what}); re-run `rag index` to rebuild it")


def _checked(path: Path, data: IndexData) -> IndexData:
    """The loaded generation, once its parts agree on their sizes."""
    manifest, passages = data.manifest, data.passages
    dim = int(manifest.get("embedder", {}).get("dim", 0))
    spans = data.sentence_spans
    n_sentences = int(spans.starts[-1]) if isinstance(spans, SpanTable) else sum(len(s) for s in spans)
    sources = {d.info.source for d in data.documents}
    listed = manifest.get("documents")
    consistent = (
        data.faiss_index.ntotal == len(passages) == len(data.vectors)
        and len(data.sentence_vectors) == n_sentences
        and (len(passages) == 0 or (data.faiss_index.d == dim and data.vectors.shape[1] == dim))
        and all(p.source in sources for p in passages)
        and (not isinstance(listed, dict) or set(listed) == sources)
        and (data.offsets is not None or manifest.get("format_version", 0) < 5)
        and (data.annotations is not None or manifest.get("format_version", 0) < 7)
    )
    if not consistent:
        raise IndexIncompatibleError(f"{path} is inconsistent (its files disagree on sizes); re-run `rag index`")
    return data


def _npy_rows(path: Path, manifest: dict[str, Any], name: str) -> NpyRows:
    """A vector file read by position, its blocks checked against the manifest's checksums (format 3 on)."""
    if manifest["format_version"] < 3:
        return NpyRows(path / name)
    blocks = manifest["block_checksums"]
    checksums = blocks["files"].get(name)
    if checksums is None:
        raise IndexIncompatibleError(f"{path / MANIFEST} is damaged (no block checksums for {name}); re-run `rag index`")
    return NpyRows(path / name, checksums, blocks["block_bytes"])


def _sizes(path: Path, names: Iterable[str]) -> dict[str, int]:
    """Byte size of every data file of a generation (files inside its folders by relative path)."""
    sizes: dict[str, int] = {}
    for name in names:
        target = path / name
        files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
        sizes.update({f.relative_to(path).as_posix(): f.stat().st_size for f in files})
    return sizes
