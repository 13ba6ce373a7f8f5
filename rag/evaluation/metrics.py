"""Ranking and abstention metrics on plain dicts, in the shapes used by ir_measures, ranx and pytrec_eval.

``qrels``: query id → doc id → graded relevance (relevant when > 0).
``run``: query id → doc id → score. A query's ranking is its docs by score, highest first; equal scores are
ordered by doc id so that every metric is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping

from rag.errors import BadInputError

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
Scores = Mapping[str, float]  # one query's run
Judgements = Mapping[str, int]  # one query's qrels


def ranking(scores: Scores) -> list[str]:
    """Doc ids best first: by score descending, then by doc id ascending."""
    return sorted(scores, key=lambda doc: (-scores[doc], doc))


def _relevant(qrel: Judgements) -> set[str]:
    return {doc for doc, rel in qrel.items() if rel > 0}


def _check_k(k: int) -> None:
    if k < 1:
        raise BadInputError(f"the cutoff k must be at least 1, not {k}")


def first_relevant_rank(qrel: Judgements, scores: Scores) -> int | None:
    """1-based rank of the first relevant doc, or None when no relevant doc is ranked."""
    relevant = _relevant(qrel)
    return next((i for i, doc in enumerate(ranking(scores), start=1) if doc in relevant), None)


def recall_at_k(qrel: Judgements, scores: Scores, k: int) -> float:
    """Share of the relevant docs ranked in the top ``k`` (0 when the query has no relevant doc)."""
    _check_k(k)
    relevant = _relevant(qrel)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking(scores)[:k])) / len(relevant)


def precision_at_k(qrel: Judgements, scores: Scores, k: int) -> float:
    """Relevant docs in the top ``k`` divided by ``k`` (as trec_eval: missing ranks count as non-relevant)."""
    _check_k(k)
    return len(_relevant(qrel).intersection(ranking(scores)[:k])) / k


def success_at_k(qrel: Judgements, scores: Scores, k: int) -> float:
    """1 when at least one relevant doc is in the top ``k``, else 0 (ir_measures' Success, ranx's hit_rate)."""
    _check_k(k)
    rank = first_relevant_rank(qrel, scores)
    return 1.0 if rank is not None and rank <= k else 0.0


def mrr_at_k(qrel: Judgements, scores: Scores, k: int) -> float:
    """Reciprocal rank of the first relevant doc when it is within the top ``k``, else 0."""
    _check_k(k)
    rank = first_relevant_rank(qrel, scores)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def _dcg(gains: Iterable[int]) -> float:
    # Linear gain and log2(rank + 1) discount, as trec_eval's ndcg_cut.
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1) if gain > 0)


def ndcg_at_k(qrel: Judgements, scores: Scores, k: int) -> float:
    """Graded nDCG@k; the ideal ranking is the qrels' positive grades sorted descending (0 when there are none)."""
    _check_k(k)
    ideal = _dcg(sorted((rel for rel in qrel.values() if rel > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return _dcg(qrel.get(doc, 0) for doc in ranking(scores)[:k]) / ideal


_MEASURES: dict[str, Callable[[Judgements, Scores, int], float]] = {
    "recall": recall_at_k,
    "precision": precision_at_k,
    "success": success_at_k,
    "mrr": mrr_at_k,
    "ndcg": ndcg_at_k,
}
_NAME = re.compile(r"(?P<measure>[a-z]+)@(?P<k>\d+)")


def _parse(name: str) -> tuple[Callable[[Judgements, Scores, int], float], int]:
    match = _NAME.fullmatch(name.strip().lower())
    if match is None or match["measure"] not in _MEASURES:
        known = ", ".join(f"{m}@k" for m in _MEASURES)
        raise BadInputError(f"unknown metric {name!r}: use one of {known} (e.g. 'ndcg@10')")
    k = int(match["k"])
    _check_k(k)
    return _MEASURES[match["measure"]], k


def per_query(qrels: Qrels, run: Run, metrics: list[str]) -> dict[str, dict[str, float]]:
    """Each metric for each query of ``qrels`` that has a relevant doc; a query missing from ``run`` scores 0."""
    parsed = [(name, *_parse(name)) for name in metrics]
    return {
        qid: {name: measure(qrel, run.get(qid, {}), k) for name, measure, k in parsed}
        for qid, qrel in qrels.items()
        if _relevant(qrel)
    }


def evaluate(qrels: Qrels, run: Run, metrics: list[str]) -> dict[str, float]:
    """Mean of each metric (names like "ndcg@10", "recall@5", "mrr@10") over the queries with a relevant doc.

    With no such query the mean is undefined; every metric is then reported as 0.0.
    """
    table = per_query(qrels, run, metrics)
    if not table:
        return dict.fromkeys(metrics, 0.0)
    return {name: sum(row[name] for row in table.values()) / len(table) for name in metrics}


def _ratio(num: int, den: int, if_empty: float) -> float:
    return num / den if den else if_empty


def abstention_scores(no_answer: set[str], abstained: set[str], all_qids: Iterable[str]) -> dict[str, float]:
    """How well the system abstains: ``precision``, ``recall`` and ``false_abstention_rate``.

    precision: share of abstentions made on no-answer questions; recall: share of no-answer questions abstained
    on; false_abstention_rate: share of answerable questions abstained on. An empty denominator gives the value a
    perfect system would get, since there was nothing to get wrong: precision 1 when the system never abstained,
    recall 1 when there is no no-answer question, false_abstention_rate 0 when no question is answerable.
    """
    qids = set(all_qids)
    for name, ids in (("no_answer", no_answer), ("abstained", abstained)):
        if not ids <= qids:
            extra = ", ".join(sorted(ids - qids)[:5])
            raise BadInputError(f"{name} holds ids that are not in all_qids ({extra}); pass every question id in all_qids")
    answerable = qids - no_answer
    return {
        "precision": _ratio(len(abstained & no_answer), len(abstained), 1.0),
        "recall": _ratio(len(abstained & no_answer), len(no_answer), 1.0),
        "false_abstention_rate": _ratio(len(abstained & answerable), len(answerable), 0.0),
    }
