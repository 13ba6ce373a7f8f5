"""The index directory's format 2: float16 sentence vectors, on-demand vector rows for serving, old-format errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rag import ann, store
from rag.errors import IndexIncompatibleError
from rag.index import build_index
from rag.lexical import LexicalIndex
from rag.retriever import Retriever
from rag.rows import FaissRows, NpyRows, SpanTable, read_ranges
from tests.fakes import FakeEmbedder
from tests.helpers import downgrade_to_format_1

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
    calls = fake_embedder.calls
    report = build_index(corpus_copy, index, embedder=fake_embedder)
    assert report.embedded == 0 and report.reused > 0
    assert fake_embedder.calls == calls
    assert _manifest(index)["format_version"] == store.FORMAT_VERSION
    assert answers() == before


def _set(index: Path, **changes: object) -> None:
    manifest = _manifest(index)
    manifest.update(changes)
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("kind", ["documents", "passages", "faiss"])
def test_checksums_catch_a_changed_byte(index: Path, kind: str) -> None:
    path = _file(index, kind)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(IndexIncompatibleError, match=r"checksum.*re-run `rag index`"):
        store.load(index, with_vectors=False)


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
    store._save_npy(tmp_path / "blocks.npy", matrix, dtype)  # more rows than one block in the first case
    np.save(tmp_path / "numpy.npy", matrix.astype(dtype), allow_pickle=False)
    assert (tmp_path / "blocks.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()
