"""The scripts of eval/: the evidence cache of tune_fusion, and answer_kinds on a small BEIR set with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval import answer_kinds, tune_fusion
from rag.evaluation.beir import evaluate_beir
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


CORPUS = [
    {"_id": "budget", "title": "Budget", "text": "Le conseil a voté un budget de 182 millions d'euros pour l'année 2024."},
    {"_id": "bib", "title": "Bibliothèque", "text": "La nouvelle bibliothèque ouvrira ses portes place du Marché."},
    {"_id": "bus", "title": "Bus", "text": "Les lignes de bus passeront toutes les dix minutes aux heures de pointe."},
]
QUERIES = [
    {"_id": "q1", "text": "Quel est le budget voté par le conseil ?"},  # asks an amount; its gold passage gives one
    {"_id": "q2", "text": "Combien coûtera la nouvelle bibliothèque ?"},  # asks an amount; none of the texts gives one
    {"_id": "q3", "text": "Où ouvrira la bibliothèque ?"},  # asks no checkable kind
]
QRELS = "query-id\tcorpus-id\tscore\nq1\tbudget\t1\nq2\tbib\t1\nq3\tbib\t1\n"


@pytest.mark.slow
def test_answer_kinds_counts_on_a_small_beir_set(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUERIES), encoding="utf-8")
    (folder / "qrels.tsv").write_text(QRELS, encoding="utf-8")
    evaluate_beir(folder, index_dir=tmp_path / "index")  # builds the index with the default model
    result = answer_kinds.check(str(folder), str(tmp_path / "index"))
    assert result["questions"] == 3
    # q1 and q2 ask for an amount; q1's gold passage holds one, q2's does not. With three passages, all are among the
    # five read, so the check fires on neither (the budget passage gives an amount to both).
    assert result["kinds"]["amount"] == {"asked": 2, "gold_holds": 1}
    assert result["all"]["asked"] == 2 and result["fired"] == [] and result["harmful_rate"] == 0.0
