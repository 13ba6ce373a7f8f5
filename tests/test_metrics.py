"""rag.evaluation.metrics on small hand-computed examples (the arithmetic is in the comments)."""

from __future__ import annotations

import math
import random

import pytest

from rag.errors import BadInputError
from rag.evaluation import metrics

# One query, ranking d1 > d2 > d3 > d4 > d5; relevant docs d2 and d3 (binary), d9 never retrieved.
RUN = {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6, "d5": 0.5}
QREL = {"d2": 1, "d3": 1}


def test_ranking_sorts_by_score_then_docid() -> None:
    assert metrics.ranking({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


def test_first_relevant_rank() -> None:
    assert metrics.first_relevant_rank(QREL, RUN) == 2
    assert metrics.first_relevant_rank({"d9": 1}, RUN) is None
    # A zero grade is a judgement of "not relevant".
    assert metrics.first_relevant_rank({"d1": 0, "d4": 1}, RUN) == 4


def test_recall_precision_success() -> None:
    assert metrics.recall_at_k(QREL, RUN, 1) == 0.0
    assert metrics.recall_at_k(QREL, RUN, 2) == 0.5  # d2 of {d2, d3}
    assert metrics.recall_at_k(QREL, RUN, 10) == 1.0
    assert metrics.recall_at_k({"d2": 1, "d9": 1}, RUN, 10) == 0.5  # d9 was not retrieved
    assert metrics.precision_at_k(QREL, RUN, 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k(QREL, RUN, 10) == pytest.approx(2 / 10)  # missing ranks count as non-relevant
    assert metrics.success_at_k(QREL, RUN, 1) == 0.0
    assert metrics.success_at_k({"d2": 1, "d9": 1}, RUN, 2) == 1.0


def test_mrr() -> None:
    assert metrics.mrr_at_k(QREL, RUN, 10) == 0.5  # first relevant at rank 2
    assert metrics.mrr_at_k(QREL, RUN, 1) == 0.0  # ... which is beyond k = 1
    assert metrics.mrr_at_k({"d5": 1}, RUN, 5) == pytest.approx(0.2)
    assert metrics.mrr_at_k(QREL, {}, 10) == 0.0


def test_ndcg_binary() -> None:
    # Relevant at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal (ranks 1 and 2) = 1/log2(2) + 1/log2(3).
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k(QREL, RUN, 10) == pytest.approx(expected)
    assert expected == pytest.approx(0.6934, abs=1e-4)
    # Cut at 2: DCG = 1/log2(3); the ideal is still two relevant docs in the top 2.
    assert metrics.ndcg_at_k(QREL, RUN, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_ndcg_graded_and_ideal_cut_at_k() -> None:
    # d1 grade 0, d2 grade 1, d3 grade 2; ideal order 2, 1.
    # DCG@3 = 1/log2(3) + 2/log2(4) = 0.6309 + 1 = 1.6309; IDCG = 2/1 + 1/log2(3) = 2.6309.
    qrel = {"d1": 0, "d2": 1, "d3": 2}
    assert metrics.ndcg_at_k(qrel, RUN, 3) == pytest.approx((1 / math.log2(3) + 1) / (2 + 1 / math.log2(3)))
    # k = 1: DCG = 0 (d1 is not relevant), so nDCG = 0; a perfect run gives 1.
    assert metrics.ndcg_at_k(qrel, RUN, 1) == 0.0
    assert metrics.ndcg_at_k(qrel, {"d3": 2.0, "d2": 1.0}, 2) == pytest.approx(1.0)
    # Three relevant docs but k = 1: the ideal DCG only counts the best one, so one hit at rank 1 is perfect.
    assert metrics.ndcg_at_k({"d1": 1, "x": 1, "y": 1}, RUN, 1) == 1.0
    assert metrics.ndcg_at_k({"d1": 0}, RUN, 5) == 0.0  # nothing relevant: defined as 0


def test_evaluate_means_over_judged_queries() -> None:
    qrels = {
        "q1": {"a": 1},  # found at rank 1
        "q2": {"b": 1},  # found at rank 2
        "q3": {"z": 1},  # not found
        "q4": {"a": 0},  # no relevant doc: left out of every mean
        "q5": {"c": 1},  # absent from the run: scores 0
    }
    run = {"q1": {"a": 2.0, "b": 1.0}, "q2": {"a": 2.0, "b": 1.0}, "q3": {"a": 1.0}, "q4": {"a": 1.0}}
    scores = metrics.evaluate(qrels, run, ["mrr@10", "recall@1", "Recall@2", "ndcg@10"])
    assert scores["mrr@10"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert scores["recall@1"] == pytest.approx(1 / 4)
    assert scores["Recall@2"] == pytest.approx(2 / 4)
    # nDCG per query: 1, 1/log2(3) = 0.6309, 0, 0.
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 4)
    table = metrics.per_query(qrels, run, ["mrr@10"])
    assert set(table) == {"q1", "q2", "q3", "q5"}
    assert table["q2"] == {"mrr@10": 0.5}


def test_evaluate_without_judged_queries_is_zero() -> None:
    assert metrics.evaluate({"q": {"a": 0}}, {"q": {"a": 1.0}}, ["mrr@10"]) == {"mrr@10": 0.0}


@pytest.mark.parametrize("name", ["map@10", "ndcg", "ndcg@0", "recall@x", ""])
def test_unknown_metric_names_are_rejected(name: str) -> None:
    with pytest.raises(BadInputError):
        metrics.evaluate({"q": {"a": 1}}, {}, [name])


def test_k_must_be_positive() -> None:
    with pytest.raises(BadInputError, match="at least 1"):
        metrics.recall_at_k(QREL, RUN, 0)


def test_abstention_scores() -> None:
    qids = ["a1", "a2", "a3", "n1", "n2"]  # a*: answerable, n*: no answer
    # Abstained on n1 (right), a1 (wrong); missed n2.
    scores = metrics.abstention_scores({"n1", "n2"}, {"n1", "a1"}, qids)
    assert scores == {
        "precision": 0.5,  # 1 right of 2 abstentions
        "recall": 0.5,  # 1 of 2 no-answer questions
        "false_abstention_rate": pytest.approx(1 / 3),  # 1 of 3 answerable questions
    }


def test_abstention_scores_empty_denominators() -> None:
    # Never abstained: precision 0/0 → 1; recall 0/2 = 0.
    assert metrics.abstention_scores({"n1", "n2"}, set(), ["a1", "n1", "n2"]) == {
        "precision": 1.0,
        "recall": 0.0,
        "false_abstention_rate": 0.0,
    }
    # No no-answer question: recall 0/0 → 1; only answerable ones, abstained on one of two.
    assert metrics.abstention_scores(set(), {"a1"}, ["a1", "a2"]) == {
        "precision": 0.0,
        "recall": 1.0,
        "false_abstention_rate": 0.5,
    }
    # Only no-answer questions: false_abstention_rate 0/0 → 0.
    assert metrics.abstention_scores({"n1"}, {"n1"}, ["n1"])["false_abstention_rate"] == 0.0


def test_abstention_ids_must_be_known() -> None:
    with pytest.raises(BadInputError, match="not in all_qids"):
        metrics.abstention_scores({"zz"}, set(), ["a1"])


def test_matches_pytrec_eval_on_random_runs() -> None:
    import pytrec_eval  # the test extra installs it (pytrec-eval-terrier): this check never skips
    rng = random.Random(7)
    docs = [f"d{i:02d}" for i in range(30)]
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for q in range(40):
        qid = f"q{q}"
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 6))}
        # Distinct scores: trec_eval breaks ties differently (by doc id descending).
        run[qid] = {d: rng.random() for d in rng.sample(docs, 20)}
    ours = metrics.per_query(qrels, run, ["ndcg@10", "recall@5", "precision@5", "success@3", "mrr@20"])
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.5", "P.5", "success.3", "recip_rank"}).evaluate(run)
    assert ours  # some queries have relevant docs
    for qid, row in ours.items():
        assert row["ndcg@10"] == pytest.approx(theirs[qid]["ndcg_cut_10"])
        assert row["recall@5"] == pytest.approx(theirs[qid]["recall_5"])
        assert row["precision@5"] == pytest.approx(theirs[qid]["P_5"])
        assert row["success@3"] == pytest.approx(theirs[qid]["success_3"])
        assert row["mrr@20"] == pytest.approx(theirs[qid]["recip_rank"])  # all 20 docs ranked: no cutoff effect
