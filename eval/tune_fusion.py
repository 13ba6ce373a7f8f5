"""Try fusion variants offline on the shipped question set and the public BEIR sets.

    python eval/tune_fusion.py --index index --beir /tmp/rag-bench/piaf_v1.1=../shared/benchmarks/piaf_v1.1 \
        --beir /tmp/rag-bench/xquad_en=../shared/benchmarks/xquad_en

Every question's hybrid candidates and their evidence are gathered once with ``Retriever.candidates`` (what
``search`` ranks); each variant then only re-ranks them: ``rank.fuse`` with other ``Weights`` (the formula rag uses),
or another formula on the same evidence (RRF, min-max convex combination, a BM25-rank bonus). Prints one Markdown
table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.evaluation import metrics
from rag.evaluation.beir import beir_documents
from rag.evaluation.questions import BeirSet, load_beir, load_questions, matched_answers
from rag.retrieve import rank
from rag.retrieve.query import Query as RagQuery
from rag.retrieve.retriever import Retriever

F = npt.NDArray[np.float32]
Item = tuple[str, str, str, dict[str, int]]  # (id, question, lang or "", qrels)


@dataclass
class Query:
    """One question's candidates (``rank.Candidates``), and which of them (passages or documents) are relevant."""

    qid: str
    lang: str
    candidates: rank.Candidates
    qrel: dict[str, int]  # doc or passage id -> grade
    keys: list[str]  # doc (BEIR) or passage id of each candidate


def collect(retriever: Retriever, items: list[Item], by_doc: bool) -> list[Query]:
    """``items``: (id, question, lang or "", qrels); qrels by document id (``by_doc``) or passage id."""
    passages = retriever.data.passages
    vectors = retriever.embedder.embed([question for _, question, _, _ in items], "query")  # batched: twice as fast
    out = []
    for (qid, question, lang, qrel), vector in zip(items, vectors, strict=True):
        c = retriever.candidates(retriever.query(question, vector=vector))
        keys = [passages[int(r)].source if by_doc else passages[int(r)].id for r in c.rows]
        out.append(Query(qid, lang or c.query.lang, c, qrel, keys))
    return out


Fusion = Callable[[rank.Candidates], F]


def score(queries: list[Query], fuse: Fusion, k: int = 10) -> dict[str, float]:
    run: dict[str, dict[str, float]] = {}
    for q in queries:
        order = np.argsort(-fuse(q.candidates), kind="stable")
        seen: list[str] = []
        for i in order:
            if q.keys[i] not in seen:
                seen.append(q.keys[i])
            if len(seen) == k:
                break
        run[q.qid] = {key: float(k - j) for j, key in enumerate(seen)}
    qrels = {q.qid: q.qrel for q in queries}
    return metrics.evaluate(qrels, run, ["mrr@10", "ndcg@10", "success@1", "success@5", "success@10"])


def weights(w: rank.Weights) -> Fusion:
    """rag's own formula (``rank.fuse``) with the weights ``w``, as scores in candidate order."""

    def fuse(c: rank.Candidates) -> F:
        ranking = rank.fuse(c, w)
        out = np.empty(len(c), np.float32)
        out[np.searchsorted(c.rows, ranking.rows)] = ranking.scores
        return out

    return fuse


def _dense(c: rank.Candidates, share: float) -> F:
    return (share * c.passage + (1 - share) * c.sentence).astype(np.float32)


def _ranks(scores: F) -> F:
    """1-based rank of each score (best = 1)."""
    out = np.empty(len(scores), np.float32)
    out[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return out


def rrf(share: float, c: float = 60.0, lexical_weight: float = 1.0) -> Fusion:
    """Reciprocal rank fusion of the re-scored dense order and the BM25 order."""

    def fuse(cands: rank.Candidates) -> F:
        lex_term = np.where(cands.lexical > 0, 1.0 / (c + _ranks(cands.lexical)), 0.0)
        return (1.0 / (c + _ranks(_dense(cands, share))) + lexical_weight * lex_term).astype(np.float32)

    return fuse


def convex(share: float, alpha: float) -> Fusion:
    """Convex combination of min-max-normalised dense and BM25 scores over the candidates (Bruch et al. 2023)."""

    def fuse(c: rank.Candidates) -> F:
        dense = _dense(c, share)
        d = (dense - dense.min()) / max(float(dense.max() - dense.min()), 1e-9)
        lex = c.lexical / c.lexical_max if c.lexical_max > 0 else c.lexical * 0
        out: F = (alpha * d + (1 - alpha) * lex).astype(np.float32)
        return out

    return fuse


def rank_bonus(share: float, lw: float, c: float) -> Fusion:
    """Dense score plus a bonus from the BM25 rank: lw · c / (c + rank − 1) (1 for the top BM25 passage)."""

    def fuse(cands: rank.Candidates) -> F:
        bonus = np.where(cands.lexical > 0, lw * c / (c + _ranks(cands.lexical) - 1), 0.0)
        return (_dense(cands, share) + bonus).astype(np.float32)

    return fuse


def variants() -> list[tuple[str, Fusion]]:
    hybrid = rank.MODE_WEIGHTS["hybrid"]
    out: list[tuple[str, Fusion]] = [
        ("dense (passage cosine; = --mode dense)", weights(rank.MODE_WEIGHTS["dense"])),
        ("lexical (BM25; = --mode lexical)", lambda c: c.lexical + 1e-6 * c.passage),
        ("dense re-scored, no BM25 (share 0.3)", weights(rank.Weights(lexical=0.0))),
        ("previous default: share 0.3, lw 0.02, half 10", weights(rank.Weights(lexical=0.02, half=10.0))),
        (f"rag now: {hybrid}", weights(hybrid)),
    ]
    for share in (0.0, 0.5, 0.7, 1.0):
        out.append((f"share {share}, lw 0.02, half 10", weights(rank.Weights(passage_share=share, lexical=0.02, half=10.0))))
    for lw in (0.01, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15):
        for half in (5.0, 10.0, 20.0):
            out.append((f"share 0.3, lw {lw}, half {half}", weights(rank.Weights(lexical=lw, half=half))))
    for share in (0.5, 0.7):
        for lw in (0.04, 0.06, 0.08):
            out.append((f"share {share}, lw {lw}, half 10", weights(rank.Weights(passage_share=share, lexical=lw, half=10.0))))
    for lw, half in ((0.025, 10.0), (0.025, 15.0), (0.035, 20.0), (0.04, 30.0), (0.06, 40.0)):
        out.append((f"share 0.3, lw {lw}, half {half}", weights(rank.Weights(lexical=lw, half=half))))
    for alpha in (0.6, 0.7, 0.8, 0.9):
        out.append((f"convex min-max, alpha {alpha} (share 0.3)", convex(0.3, alpha)))
    for lw, c in ((0.01, 1.0), (0.02, 1.0), (0.02, 3.0), (0.03, 3.0)):
        out.append((f"dense + lw {lw} · BM25-rank bonus c={c:g} (share 0.3)", rank_bonus(0.3, lw, c)))
    for c in (10.0, 60.0):
        for w in (0.5, 1.0):
            out.append((f"RRF c={c:g}, lexical weight {w} (share 0.3)", rrf(0.3, c, w)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index", help="index of the shipped corpus")
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--beir", action="append", default=[], metavar="INDEX=FOLDER", help="an indexed BEIR set")
    parser.add_argument("--limit", type=int, default=None, help="at most N queries per BEIR set")
    parser.add_argument("--cache", help="JSON of the collected evidence: written once, then read instead of re-collecting")
    args = parser.parse_args()
    if args.cache and Path(args.cache).is_file():
        sets = load_cache(Path(args.cache))
    else:
        sets = collect_sets(args)
        if args.cache:
            save_cache(Path(args.cache), sets)
    table(sets)


def save_cache(path: Path, sets: dict[str, list[Query]]) -> None:
    """The collected evidence as JSON (arrays as lists): an open format, unlike pickle, and safe to read back."""
    data = {name: [dataclasses.asdict(q) for q in queries] for name, queries in sets.items()}
    path.write_text(json.dumps(data, default=lambda a: a.tolist()), encoding="utf-8")


def load_cache(path: Path) -> dict[str, list[Query]]:
    """What ``save_cache`` wrote, with the arrays restored to their dtypes."""
    arrays = {"rows": np.int64, "passage": np.float32, "sentence": np.float32, "lexical": np.float32, "vector": np.float32}

    def restored(fields: dict[str, Any]) -> dict[str, Any]:
        return {k: np.asarray(v, dtype=arrays[k]) if k in arrays and v is not None else v for k, v in fields.items()}

    def candidates(c: dict[str, Any]) -> rank.Candidates:
        return rank.Candidates(**{**restored(c), "query": RagQuery(**restored(c["query"]))})

    return {
        name: [Query(**{**q, "candidates": candidates(q["candidates"])}) for q in queries]
        for name, queries in json.loads(path.read_text(encoding="utf-8")).items()
    }


def question_items(retriever: Retriever, path: str) -> list[Item]:
    """The answerable questions of a question set, each with the passages holding one of its quotes as qrels."""
    questions = [question for question in load_questions(path) if not question.no_answer]
    return [
        (q.id, q.question, q.lang, {p.id: 1 for p in retriever.data.passages if matched_answers(q, p.source, p.text)})
        for q in questions
    ]


def beir_items(beir: BeirSet, limit: int | None) -> list[Item]:
    """The first ``limit`` judged queries of a BEIR set, with their qrels (by document id)."""
    qids = [q for q in beir.queries if beir.qrels.get(q)][:limit]
    return [(q, beir.queries[q], "", beir.qrels[q]) for q in qids]


def collect_sets(args: argparse.Namespace) -> dict[str, list[Query]]:
    """The evidence of every question of our set (split by language) and of each BEIR set."""
    sets: dict[str, list[Query]] = {}
    retriever = Retriever.load(args.index)
    items = question_items(retriever, args.questions)
    collected = collect(retriever, items, by_doc=False)
    sets["ours fr"] = [q for q in collected if q.lang == "fr"]
    sets["ours en"] = [q for q in collected if q.lang == "en"]
    for spec in args.beir:
        index, folder = spec.split("=", 1)
        beir = load_beir(folder)
        r = Retriever.load(index)
        assert {d.info.source for d in beir_documents(beir)} == {d.source for d in r.documents}
        sets[Path(folder).name] = collect(r, beir_items(beir, args.limit), by_doc=True)
    return sets


def table(sets: dict[str, list[Query]]) -> None:
    """One Markdown row per variant."""
    names = list(sets)
    header = (
        "| variant | "
        + " | ".join(f"{n} MRR@10 | {n} nDCG@10" if "ours" not in n else f"{n} MRR@10 | {n} R@1 | {n} R@5" for n in names)
        + " |"
    )
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for label, fuse in variants():
        cells = []
        for n in names:
            m = score(sets[n], fuse)
            if "ours" in n:
                cells += [f"{m['mrr@10']:.3f}", f"{m['success@1']:.3f}", f"{m['success@5']:.3f}"]
            else:
                cells += [f"{100 * m['mrr@10']:.2f}", f"{100 * m['ndcg@10']:.2f}"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
