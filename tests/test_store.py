"""The index directory's format 2: float16 sentence vectors, on-demand vector rows for serving, old-format errors."""

from __future__ import annotations

import json
import os
import random
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import rag.store.rows as rows_module
from rag import store
from rag.cli import main
from rag.embed.fake import FakeEmbedder
from rag.errors import IndexIncompatibleError
from rag.index import build_index
from rag.retrieve.retriever import Retriever
from rag.store import ann, files
from rag.store.lexical import LexicalIndex
from rag.store.rows import FaissRows, NpyRows, SpanTable, block_checksums, read_ranges
from tests.helpers import downgrade, downgrade_to_format_1

QUESTIONS = ["référendums Donetsk Kherson", "groupe-pays Russie créé", "Force multinationale", "What did NATO say?"]


@pytest.fixture
def index(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    build_index(corpus_copy, tmp_path / "index", embedder=fake_embedder)
    return tmp_path / "index"


def _manifest(index: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((index / store.MANIFEST).read_text("utf-8"))
    return manifest


def _file(index: Path, kind: str) -> Path:
    files = _manifest(index)["files"]
    assert isinstance(files, dict)
    return index / files[kind]


def test_round_trip_keeps_everything(index: Path) -> None:
    full = store.load(index)
    served = store.load(index, with_vectors=False)
    assert isinstance(full.vectors, np.ndarray) and isinstance(served.vectors, FaissRows)
    assert isinstance(served.sentence_vectors, NpyRows)
    assert served.passages == full.passages and list(served.sentence_spans) == list(full.sentence_spans)
    assert np.array_equal(np.asarray(served.vectors), full.vectors)  # FAISS holds exact copies
    assert np.array_equal(np.asarray(served.sentence_vectors), full.sentence_vectors)
    # Saving what was loaded writes the same data again (float16 sentence vectors round-trip exactly).
    store.save(index, full)
    again = store.load(index)
    assert again.passages == full.passages and list(again.sentence_spans) == list(full.sentence_spans)
    assert np.array_equal(again.vectors, full.vectors) and np.array_equal(again.sentence_vectors, full.sentence_vectors)


def test_sentence_vectors_are_float16_in_an_open_format(index: Path) -> None:
    on_disk = np.load(_file(index, "sentences"), allow_pickle=False)
    assert on_disk.dtype == np.float16 and on_disk.ndim == 2
    assert np.load(_file(index, "vectors"), allow_pickle=False).dtype == np.float32
    # The rounding moves a cosine by far less than the scores' meaningful digits.
    norms = np.linalg.norm(on_disk.astype(np.float32), axis=1)
    assert np.allclose(norms, 1, atol=1e-3)


def test_float16_changes_scores_by_less_than_1e_3(index: Path, fake_embedder: FakeEmbedder) -> None:
    served = Retriever.load(index, embedder=fake_embedder)
    exact = Retriever.load(index, embedder=fake_embedder)
    # The same index with the sentence vectors the embedder gave (float32, before rounding).
    texts = [p.text[s:e] for p, spans in zip(exact.data.passages, exact.data.sentence_spans, strict=True) for s, e in spans]
    exact.data.sentence_vectors = fake_embedder.embed(texts, "passage")
    for question in QUESTIONS:
        a, b = served.search(question, k=5), exact.search(question, k=5)
        assert [h.id for h in a] == [h.id for h in b]
        assert max(abs(x.score - y.score) for x, y in zip(a, b, strict=True)) < 1e-3


def test_serving_and_full_loads_rank_identically(index: Path, fake_embedder: FakeEmbedder) -> None:
    served = Retriever.load(index, embedder=fake_embedder)
    full = Retriever(store.load(index), fake_embedder, index)
    source = served.data.passages[0].source
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "lexical"):
            for sources in (None, [source]):
                a = served.search(question, k=5, mode=mode, sources=sources)
                b = full.search(question, k=5, mode=mode, sources=sources)
                assert [(h.id, h.score, h.highlights) for h in a] == [(h.id, h.score, h.highlights) for h in b]


def test_format_1_index_says_to_reindex_in_one_line(index: Path, fake_embedder: FakeEmbedder) -> None:
    downgrade_to_format_1(index)
    with pytest.raises(IndexIncompatibleError) as error:
        Retriever.load(index, embedder=fake_embedder)
    message = str(error.value)
    assert "format 1" in message and "re-run `rag index`" in message and "\n" not in message
    # A rebuild may still read it, to reuse its vectors instead of embedding everything again.
    old = store.load(index, reuse_old=True)
    assert old.sentence_vectors.shape[0] == len(old.sentence_vectors) > 0
    assert np.asarray(old.sentence_vectors).dtype == np.float32
    with pytest.raises(IndexIncompatibleError, match="format 99"):
        _set(index, format_version=99)
        store.load(index, reuse_old=True)


def test_rebuilding_a_format_1_index_embeds_nothing_again(index: Path, corpus_copy: Path, fake_embedder: FakeEmbedder) -> None:
    def answers() -> list[list[tuple[str, float]]]:
        retriever = Retriever.load(index, embedder=fake_embedder)
        return [[(h.id, round(h.score, 4)) for h in retriever.search(q, k=5)] for q in QUESTIONS]

    before = answers()
    downgrade_to_format_1(index)
    embedded = fake_embedder.texts_embedded
    report = build_index(corpus_copy, index, embedder=fake_embedder)
    assert report.embedded == 0 and report.reused > 0
    # Only the calibration questions are embedded: format 1 had none.
    assert fake_embedder.texts_embedded - embedded == report.calibration_embedded > 0
    assert _manifest(index)["format_version"] == store.FORMAT_VERSION
    assert answers() == before


def _set(index: Path, **changes: object) -> None:
    manifest = _manifest(index)
    manifest.update(changes)
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")


def test_every_index_file_has_a_checksum(index: Path) -> None:
    manifest = _manifest(index)
    assert isinstance(manifest["sizes"], dict) and isinstance(manifest["checksums"], dict)
    blocks = manifest["block_checksums"]
    assert isinstance(blocks, dict) and blocks["block_bytes"] == store.BLOCK_BYTES
    assert set(manifest["sizes"]) == set(manifest["checksums"]) | set(blocks["files"])
    present = set(manifest["files"])  # the second opinion's vectors only with the default model
    rows = {f"{manifest['generation']}/{store.FILES[kind]}" for kind in store.ROW_FILES if kind in present}
    assert set(blocks["files"]) == rows and {"vectors", "sentences"} <= present


@pytest.mark.parametrize("kind", ["documents", "passages", "faiss", "vectors", "sentences"])
def test_checksums_catch_a_changed_byte(index: Path, kind: str) -> None:
    path = _file(index, kind)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(IndexIncompatibleError, match=r"damaged .*checksum.*re-run `rag index`"):
        store.load(index, with_vectors=kind in store.ROW_FILES)  # serving reads vector rows on demand: see below


def _overwrite(path: Path, size: int = 64, seed: int = 0) -> None:
    """What the bug report did: ``size`` random bytes in the middle of a file."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = random.Random(seed).randbytes(size)
    path.write_bytes(bytes(data))


def _answers(index: Path) -> list[list[tuple[str, float]]]:
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    return [[(h.id, round(h.score, 4)) for h in retriever.search(q, k=5)] for q in QUESTIONS]


def test_overwritten_sentence_vectors_never_reach_a_user(
    index: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    """The bug report: 64 bytes overwritten in the middle of the sentence vectors made `rag ask` rank a wrong passage
    first with a score of 1779.3. Their block's checksum fails as soon as a question reads it."""
    _overwrite(_file(index, "sentences"))
    retriever = Retriever.load(index, embedder=FakeEmbedder())  # the damaged block is not read yet
    for question in QUESTIONS:  # (the fake index's sentence vectors fit in one block: every question reads it)
        with pytest.raises(IndexIncompatibleError, match=r"sentences.npy is damaged .*re-run `rag index`"):
            retriever.search(question, k=5)
    assert main(["ask", QUESTIONS[0], "--index", str(index)]) == 1
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "damaged" in err and "rag index" in err


def test_a_rebuild_embeds_damaged_vectors_again(index: Path, corpus_copy: Path, fake_embedder: FakeEmbedder) -> None:
    before = _answers(index)
    sentences = len(store.load(index).sentence_vectors)
    _overwrite(_file(index, "sentences"))
    report = build_index(corpus_copy, index, embedder=fake_embedder)
    # Was "embedded 0 texts, reused 174": the damage was kept. Now the sentence vectors of the damaged block (the
    # whole file, in the fake index) are embedded again, and the passage vectors (read from FAISS) reused.
    assert 0 < report.embedded <= sentences < report.embedded + report.reused
    assert _answers(index) == before


def test_a_rebuild_checks_the_vectors_of_a_format_2_index(index: Path, corpus_copy: Path) -> None:
    """Format 2 has no checksums for its vectors: a damaged one is known by not being a finite unit vector."""
    before = _answers(index)
    downgrade(index, 2)
    _overwrite(_file(index, "sentences"))
    embedder = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=embedder)
    assert 0 < report.embedded <= 2  # 64 bytes of 128-byte rows: the one or two rows they fall in
    assert _answers(index) == before


def _rewrite_vectors(index: Path, kind: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Replace a vector file, checksums updated: vectors that are wrong although no byte is damaged."""
    path = _file(index, kind)
    np.save(path, change(np.load(path)), allow_pickle=False)
    manifest = _manifest(index)
    name = path.relative_to(index).as_posix()
    manifest["sizes"][name] = path.stat().st_size  # type: ignore[index]
    manifest["block_checksums"]["files"][name] = block_checksums(path, store.BLOCK_BYTES)  # type: ignore[index]
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("value", ["large", "nan"])
def test_impossible_similarities_are_an_error(
    index: Path, capsys: pytest.CaptureFixture[str], fake_models: None, value: str
) -> None:
    """Unit vectors give cosines in [-1, 1]: any other score means a damaged index, and never reaches a user (nor
    does a numpy warning)."""
    if value == "large":
        _rewrite_vectors(index, "sentences", lambda a: a * np.float16(500))
    else:
        _rewrite_vectors(index, "sentences", lambda a: np.where(np.arange(len(a))[:, None] % 3 == 0, np.float16("nan"), a))
    retriever = Retriever.load(index, embedder=FakeEmbedder())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("hybrid", "dense"):
            with pytest.raises(IndexIncompatibleError, match=r"damaged \(a similarity of .* is impossible"):
                retriever.search(QUESTIONS[0], k=5, mode=mode)
        # Passage vectors (read from FAISS) too.
        retriever.data.faiss_index = ann.build(np.asarray(retriever.data.vectors) * 500)
        retriever.data.vectors = FaissRows(retriever.data.faiss_index)
        with pytest.raises(IndexIncompatibleError, match="impossible"):
            retriever.search(QUESTIONS[0], k=5, mode="dense", highlight=False)
    assert main(["ask", QUESTIONS[0], "--index", str(index)]) == 1
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "impossible" in err and "Warning" not in err


def test_vector_blocks_are_checked_when_first_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float16)  # 128 KB: blocks of 4 KiB
    path = tmp_path / "m.npy"
    np.save(path, matrix, allow_pickle=False)
    checksums = block_checksums(path, 4096)
    assert len(checksums) == -(-path.stat().st_size // 4096)
    data = bytearray(path.read_bytes())
    data[10 * 4096 + 100] ^= 0x40  # in block 10: rows ~319 to ~350
    path.write_bytes(bytes(data))
    checked: list[bytes] = []
    real = rows_module.block_checksum
    monkeypatch.setattr(rows_module, "block_checksum", lambda b: checked.append(b) or real(b))
    rows = NpyRows(path, checksums, 4096)
    assert not checked  # nothing read yet
    assert np.array_equal(rows[0:300], matrix[0:300].astype(np.float32))
    assert np.array_equal(rows[np.array([400, 999])], matrix[[400, 999]].astype(np.float32))
    count = len(checked)
    rows[0:300]  # checked once: not again
    assert len(checked) == count
    for damaged in (lambda: rows[330], lambda: rows[300:400], lambda: np.asarray(rows)):
        with pytest.raises(IndexIncompatibleError, match=r"m.npy is damaged \(bytes 40960-45056"):
            damaged()
    with pytest.raises(IndexIncompatibleError, match="blocks"):
        NpyRows(path, checksums[:-1], 4096)


@pytest.mark.parametrize("kind", ["vectors", "sentences"])
@pytest.mark.parametrize("how", ["header", "dtype", "shape"])
def test_damaged_vector_files_are_reported_when_serving(index: Path, fake_embedder: FakeEmbedder, kind: str, how: str) -> None:
    path = _file(index, kind)
    array = np.load(path)
    if how == "header":
        path.write_bytes(b"\x00" * 10 + path.read_bytes()[10:])
    elif how == "dtype":
        np.save(path, array.astype(np.float64)[:, : array.shape[1] // 2], allow_pickle=False)  # same byte count
    else:
        np.save(path, array.reshape(array.shape[0] * 2, -1), allow_pickle=False)
    with pytest.raises(IndexIncompatibleError, match="re-run `rag index`"):
        Retriever.load(index, embedder=fake_embedder)


@pytest.mark.parametrize("positional_reads", [True, False], ids=["pread", "seek-and-read"])
def test_npy_rows_index_like_an_array(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, positional_reads: bool) -> None:
    if not positional_reads:  # as on Windows (and some macOS builds): no os.pread / os.preadv
        monkeypatch.delattr(os, "pread")
        monkeypatch.delattr(os, "preadv")
    matrix = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float16)
    np.save(tmp_path / "m.npy", matrix, allow_pickle=False)
    rows = NpyRows(tmp_path / "m.npy")
    expect = matrix.astype(np.float32)
    assert rows.shape == (50, 8) and len(rows) == 50
    assert np.array_equal(rows[3], expect[3]) and np.array_equal(rows[-1], expect[-1])
    assert np.array_equal(rows[5:9], expect[5:9]) and np.array_equal(rows[40:], expect[40:]) and rows[9:5].shape == (0, 8)
    assert np.array_equal(rows[::7], expect[::7])
    picked = np.array([7, 2, 2, 49])
    assert np.array_equal(rows[picked], expect[picked]) and rows[picked].dtype == np.float32
    assert np.array_equal(np.stack(list(rows)), expect) and np.array_equal(np.asarray(rows), expect)
    lo, hi = np.array([0, 3, 4, 10, 10, 30]), np.array([2, 4, 6, 10, 12, 31])  # touching, empty and lone ranges
    assert np.array_equal(rows.ranges(lo, hi), np.concatenate([expect[a:b] for a, b in zip(lo, hi, strict=True)]))
    assert np.array_equal(read_ranges(expect, lo, hi), rows.ranges(lo, hi))
    for bad in (50, -51):
        with pytest.raises(IndexError):
            rows[bad]
    with pytest.raises(IndexError):
        rows[np.array([1, 50])]
    with pytest.raises(IndexError):
        rows.ranges(np.array([45]), np.array([51]))
    rows.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_faiss_rows_are_the_indexed_vectors(kind: str) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((2000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = FaissRows(ann.build(vectors, kind))
    picked = np.array([1999, 0, 17, 17])
    assert np.array_equal(rows[picked], vectors[picked]) and np.array_equal(rows[5], vectors[5])
    assert np.array_equal(np.asarray(rows), vectors) and rows[np.array([], dtype=np.int64)].shape == (0, 16)


def test_span_table_matches_the_lists_it_stores() -> None:
    spans = [[(0, 10), (11, 40)], [], [(0, 5)], [(3, 300000)]]
    table = SpanTable(spans)
    assert len(table) == 4 and list(table) == spans and table[-1] == spans[-1] and table[1:3] == spans[1:3]
    assert [len(s) for s in table] == [2, 0, 1, 1] and table.starts.tolist() == [0, 2, 2, 3, 4]
    with pytest.raises(IndexError):
        table[4]
    assert list(SpanTable([])) == []


def test_lexical_index_memory_mapped_scores_the_same(index: Path) -> None:
    folder = _file(index, "bm25")
    size = len(store.load(index).passages)
    loaded, mapped = LexicalIndex.load(folder, size), LexicalIndex.load(folder, size, mmap=True)
    for question in QUESTIONS:
        assert np.array_equal(loaded.scores(question), mapped.scores(question))


def test_serving_holds_no_vector_file_mapped(index: Path, fake_embedder: FakeEmbedder) -> None:
    """Vector rows are read on demand: nothing of the vector files stays in the process's memory."""
    retriever = Retriever.load(index, embedder=fake_embedder)
    for question in QUESTIONS:
        retriever.search(question, k=5)
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc")
    mapped = maps.read_text()
    assert _file(index, "sentences").name not in mapped and _file(index, "vectors").name not in mapped


@pytest.mark.parametrize(("rows", "dtype"), [(70_000, np.float16), (0, np.float32), (5, np.float32)])
def test_npy_files_are_written_in_blocks_exactly_as_numpy_writes_them(tmp_path: Path, rows: int, dtype: type) -> None:
    matrix = np.random.default_rng(0).standard_normal((rows, 8)).astype(np.float32)
    files.save_npy(tmp_path / "blocks.npy", matrix, dtype)  # more rows than one block in the first case
    np.save(tmp_path / "numpy.npy", matrix.astype(dtype), allow_pickle=False)
    assert (tmp_path / "blocks.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()
