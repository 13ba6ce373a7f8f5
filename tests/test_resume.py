"""Every build resumes: the default build (one process, no ``--workers``) keeps each chunk it embeds as a shard until
it commits; a rerun of an interrupted build embeds only what no shard holds, and says so. Killed with SIGKILL at
random moments (bench/resume_kill.py), the previous generation answers throughout and no finished shard is embedded
again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import resume_kill
from bench.data import DEFAULT_SCALE_DIR, write_corpus
from rag import store
from rag.embed import Embedder, Kind, Vectors
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.index import vectors as index_vectors
from rag.index.shards import SHARDS
from rag.retrieve.retriever import Retriever

ROOT = Path(__file__).resolve().parent.parent


class Interrupted(Exception):
    pass


class Crashing(FakeEmbedder):
    """Interrupts the build (as Ctrl-C or a crash would) once it has embedded ``after`` batches."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        if self.calls >= self.after:
            raise Interrupted
        return super().embed_batch(texts, kind)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Checkpoints of 2 batches (64 texts), so that the shipped corpus makes many."""
    monkeypatch.setattr(index_vectors, "EMBED_CHUNK_BATCHES", 2)
    return 2 * FakeEmbedder.batch_size


def test_a_rerun_embeds_only_what_the_interrupted_build_had_not(corpus_copy: Path, tmp_path: Path, small_chunks: int) -> None:
    index = tmp_path / "index"
    with pytest.raises(Interrupted):
        build_index(corpus_copy, index, embedder=Crashing(after=5))
    assert not (index / store.MANIFEST).exists()  # nothing committed
    shards = list((index / SHARDS).glob("shard-*.json"))
    assert len(shards) == 2  # 5 batches of 32: 2 chunks of 2 finished (the 41 passages, 64 sentences), a 3rd in flight
    saved = sum(len(json.loads(p.read_text("utf-8"))["keys"]) for p in shards)
    fresh = FakeEmbedder()
    reference = build_index(corpus_copy, tmp_path / "reference", embedder=fresh)
    again = FakeEmbedder()
    report = build_index(corpus_copy, index, embedder=again)
    assert report.resumed is not None
    assert (report.resumed.passages, report.resumed.passages_missing) == (reference.passages, reference.passages)
    assert report.resumed.sentences == small_chunks and report.resumed.passages + report.resumed.sentences == saved
    assert again.texts_embedded == fresh.texts_embedded - saved  # each finished chunk embedded once
    assert report.embedded == reference.embedded - saved
    assert report.summary().startswith(f"resumed: {reference.passages} of {reference.passages} passages already embedded")
    assert not (index / SHARDS).exists()  # committed: the shards' vectors are in the index
    a, b = store.load(index), store.load(tmp_path / "reference")
    assert np.array_equal(np.asarray(a.vectors), np.asarray(b.vectors))
    assert np.array_equal(np.asarray(a.sentence_vectors), np.asarray(b.sentence_vectors))
    assert build_index(corpus_copy, index, embedder=FakeEmbedder()).resumed is None  # nothing left to resume


def test_an_interrupted_update_keeps_the_previous_index_and_resumes(corpus_copy: Path, tmp_path: Path, small_chunks: int) -> None:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=FakeEmbedder())
    before = [h.id for h in Retriever.load(index).search("groupe-pays Russie", k=5)]
    (corpus_copy / "new.txt").write_text(
        "\n\n".join(f"Paragraphe {i} sur la coopération avec Kherson et Donetsk, ville {i}." * 4 for i in range(60)), "utf-8"
    )
    with pytest.raises(Interrupted):
        build_index(corpus_copy, index, embedder=Crashing(after=3))
    assert [h.id for h in Retriever.load(index).search("groupe-pays Russie", k=5)] == before
    report = build_index(corpus_copy, index, embedder=FakeEmbedder())
    assert report.resumed is not None and report.resumed.passages == report.resumed.passages_missing == 60


@pytest.mark.slow
def test_kill_9_at_random_moments_of_a_default_build(tmp_path: Path) -> None:
    """12 SIGKILLs (10 during the build, 2 while it writes its generation), then a rerun to the end."""
    update = tmp_path / "update"
    update.mkdir()
    write_corpus(DEFAULT_SCALE_DIR, 3000, update)
    result = resume_kill.run(
        ROOT / "corpus", update, tmp_path / "work", kills=10, save_kills=2, ms_per_text=0.4, chunk_texts=256, seed=1,
        annotate="stub",  # the annotations are no part of what it checks; spaCy would add ~20 s a run
    )
    # A kill can land after the build's commit point (while it removes the old generation): the update is then done.
    assert result.killed + result.killed_while_saving == 12 or result.killed_after_their_commit == 1
    assert result.killed >= 10
    # each of the 10 landed while the build was embedding: some texts embedded, not all
    assert len(result.kill_at_texts_embedded) == 10
    assert all(0 < k < result.texts_to_embed for k in result.kill_at_texts_embedded)
    assert result.reads > 20 and result.reads_neither_previous_nor_committed == 0  # never an error, never a mixture
    assert result.embedded_twice_from_a_finished_shard == 0
    # what was lost at each kill is at most the chunk in flight
    assert result.texts_to_embed <= result.texts_embedded <= result.texts_to_embed + 12 * 256
    assert result.final_equals_uninterrupted
    assert result.resumed_line.startswith("resumed: ") or result.killed_after_their_commit


class Interrupting(Embedder):
    """The real model, interrupted once it has embedded ``after`` batches."""

    def __init__(self, model: Embedder, after: int) -> None:
        self.model, self.after, self.calls = model, after, 0
        self.id, self.dim, self.spec, self.batch_size = model.id, model.dim, model.spec, model.batch_size

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        self.calls += 1
        if self.calls > self.after:
            raise Interrupted
        return self.model.embed_batch(texts, kind)


@pytest.mark.slow
def test_the_real_model_resumes_to_the_same_index(
    corpus_copy: Path, tmp_path: Path, real_embedder: Embedder, real_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_vectors, "EMBED_CHUNK_BATCHES", 1)  # a chunk a batch: the shipped corpus makes 7
    index = tmp_path / "index"
    with pytest.raises(Interrupted):  # after the passages' 2 batches and 2 of the sentences'
        build_index(corpus_copy, index, embedder=Interrupting(real_embedder, after=4))
    report = build_index(corpus_copy, index, embedder=real_embedder)
    assert report.resumed is not None
    assert report.resumed.passages == report.resumed.passages_missing == report.passages
    assert report.resumed.sentences == 2 * real_embedder.batch_size
    a, b = store.load(index), store.load(real_index)
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    # A resumed text was embedded in other batches than in one run: the same vector to float rounding.
    assert np.allclose(np.asarray(a.vectors), np.asarray(b.vectors), atol=1e-5)
    questions = ["Quand le groupe-pays Russie a-t-il été créé ?", "Which regions held the sham referendums?"]
    resumed, uninterrupted = Retriever.load(index), Retriever.load(real_index)
    for q in questions:
        assert [h.id for h in resumed.search(q, k=10)] == [h.id for h in uninterrupted.search(q, k=10)]
