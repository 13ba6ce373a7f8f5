"""The scripts of eval/: the evidence cache of tune_fusion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eval import tune_fusion
from rag.retrieve import rank
from rag.retrieve.query import Query as RagQuery


def test_tune_fusion_cache_round_trips_without_pickle(tmp_path: Path) -> None:
    f32 = np.float32
    question = RagQuery("Qui ?", "Qui ?", "fr", "hybrid", np.array([0.6, 0.8], f32))
    candidates = rank.Candidates(
        question, np.array([1, 3], dtype=np.int64), np.array([0.5, 0.4], f32), np.array([0.6, 0.3], f32),
        np.array([1.5, 0.0], f32), 2.0,
    )  # fmt: skip
    query = tune_fusion.Query("q1", "fr", candidates, {"d1": 1}, ["d1", "d2"])
    path = tmp_path / "cache.json"
    tune_fusion.save_cache(path, {"ours-fr": [query]})
    assert json.loads(path.read_text(encoding="utf-8"))["ours-fr"][0]["candidates"]["rows"] == [1, 3]
    back = tune_fusion.load_cache(path)["ours-fr"][0]
    assert back.candidates.rows.dtype == np.int64 and back.candidates.passage.dtype == np.float32
    for name in ("rows", "passage", "sentence", "lexical"):
        np.testing.assert_array_equal(getattr(back.candidates, name), getattr(candidates, name))
    assert back.candidates.query.vector is not None and back.candidates.query.vector.dtype == np.float32
    np.testing.assert_array_equal(back.candidates.query.vector, question.vector)
    back_query = back.candidates.query
    assert (back_query.text, back_query.lang, back_query.mode, back.candidates.lexical_max) == ("Qui ?", "fr", "hybrid", 2.0)
    assert (back.qid, back.lang, back.qrel, back.keys) == ("q1", "fr", {"d1": 1}, ["d1", "d2"])
    # Each variant ranks the same candidates: rag's own formula gives the fused scores in candidate order.
    fused = tune_fusion.weights(rank.MODE_WEIGHTS["hybrid"])(back.candidates)
    expected = 0.3 * candidates.passage + 0.7 * candidates.sentence + 0.03 * candidates.lexical / (candidates.lexical + 15)
    np.testing.assert_allclose(fused, expected, rtol=1e-6)
