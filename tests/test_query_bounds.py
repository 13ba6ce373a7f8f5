"""What a question costs does not grow with the index: BM25 on the matching postings only, annotation and row lookups
by bisection within one document, never an array or a map of every passage (issue 23, item 4; the per-stage figures
at 100k/1M/10M are ``bench/query_stages.py``'s, in docs/scaling.md). Results stay those of the unbounded code."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.embed import Embedder
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.ingest.annotations import AnnotationTable, rows_of
from rag.retrieve import rank
from rag.retrieve.candidates import dense_evidence
from rag.retrieve.retriever import Retriever
from rag.store import ann
from rag.store.lexical import LexicalIndex

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "eval" / "questions.jsonl").read_text("utf-8").splitlines()]


def _peak_bytes(call: Callable[[], Any]) -> int:
    """Peak bytes allocated while ``call`` runs (numpy's buffers included: they are traced)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bm25_matches_allocate_for_the_postings_not_the_index() -> None:
    n = 60_000
    texts = [f"salarié congé préavis {'Kherson' if i % 1000 == 0 else 'contrat'}" for i in range(n)]
    index = LexicalIndex.build(texts)
    assert len(index.matches("Kherson")) == n // 1000
    dense = _peak_bytes(lambda: index.scores("Kherson"))
    sparse = _peak_bytes(lambda: index.matches("Kherson"))
    assert dense >= 4 * n  # an array of every passage's score
    assert sparse < 4 * n // 10


def test_an_annotation_lookup_reads_its_passage_rows_only() -> None:
    passages = np.repeat(np.arange(200_000, dtype=np.int32), 2)
    rows = np.zeros((len(passages), 5), dtype=np.int32)
    rows[:, 0], rows[:, 2], rows[:, 4] = passages, 1, -1
    table = AnnotationTable(rows, [])
    assert [a.start for a in table.of(1234, "a passage")] == [0, 0] and table.of(200_000, "x") == []
    assert rows_of(rows, -1).shape == (0, 5) and rows_of(rows, 2**40).shape == (0, 5)
    # numpy casts a column searched with Python ints to int64 first: 1.6 MB here, 160 MB at 20M annotations
    assert _peak_bytes(lambda: table.of(199_999, "a passage")) < 100_000


@pytest.fixture
def fake_index(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build_index(ROOT / "corpus", path, embedder=FakeEmbedder())
    return path


def test_a_passage_row_is_found_within_its_document(fake_index: Path) -> None:
    view = Retriever.load(fake_index, embedder=FakeEmbedder()).view
    passages = view.data.passages
    assert [view.row_of(p.id) for p in passages] == list(range(len(passages)))
    assert view.row_of(f"{passages[0].source}:0-1") is None  # its document, not one of its passages
    assert view._row_of is None  # no map of every id was built
    assert view.row_of("not-a-source-or-id") is None and view._row_of is not None  # another form: the map, once


def _unbounded_candidates(retriever: Retriever, question: str) -> rank.Candidates:
    """The candidates as rag computed them before (every passage's BM25 score in one array)."""
    q = retriever.query(question)
    view = retriever.view
    assert view.data.lexical is not None and q.vector is not None
    lexical = view.data.lexical.scores(q.text)
    matching = np.flatnonzero(lexical > 0)
    lexical_rows = matching[rank.top(lexical[matching], rank.CANDIDATES)]
    _, dense_rows = ann.search(view.data.faiss_index, q.vector, rank.CANDIDATES)
    rows = np.unique(np.concatenate([dense_rows, lexical_rows]).astype(np.int64))
    passage, sentence = dense_evidence(view, rows, q.vector)
    return rank.Candidates(q, rows, passage, sentence, lexical[rows], float(lexical.max(initial=0.0)))


def _same_candidates(retriever: Retriever) -> None:
    for question in QUESTIONS:
        new, old = retriever.candidates(question), _unbounded_candidates(retriever, question)
        assert new.rows.tolist() == old.rows.tolist(), question
        assert new.lexical.tobytes() == old.lexical.tobytes() and new.lexical_max == old.lexical_max, question
        ranked_new, ranked_old = rank.fuse(new), rank.fuse(old)
        assert ranked_new.rows.tolist() == ranked_old.rows.tolist() and ranked_new.scores.tobytes() == ranked_old.scores.tobytes()


def test_bounded_lexical_candidates_are_the_unbounded_ones(fake_index: Path) -> None:
    _same_candidates(Retriever.load(fake_index, embedder=FakeEmbedder()))


@pytest.mark.slow
def test_bounded_query_path_gives_the_same_results_with_the_real_model(real_index: Path, real_embedder: Embedder) -> None:
    """Every question of eval/questions.jsonl on the shipped corpus, the default model: the same candidates, BM25
    scores and fused ranking as the unbounded code, and the hits and typed answers found through the bounded lookups."""
    retriever = Retriever.load(real_index, embedder=real_embedder)
    _same_candidates(retriever)
    answered = 0
    for question in QUESTIONS[:40]:
        results = retriever.search(question, k=5)
        assert results.hits and all(retriever.view.row_of(h.id) is not None for h in results.hits)
        answered += results.answer is not None
    assert answered > 0 and retriever.view._row_of is None
