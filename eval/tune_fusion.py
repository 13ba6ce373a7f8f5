"""Try fusion variants of rag.rank offline on the shipped question set and the public BEIR sets.

    python eval/tune_fusion.py --index index --beir /tmp/rag-bench/piaf_v1.1=../shared/benchmarks/piaf_v1.1 \
        --beir /tmp/rag-bench/xquad_en=../shared/benchmarks/xquad_en

For every question the hybrid candidates (dense top-100 ∪ BM25 top-100) and their evidence (passage cosine, best
sentence cosine, BM25) are computed once, as ``Retriever._rank`` does; each variant then only re-scores them. The
``dense`` row (passage cosine alone) is the plain dense mode, ``lexical`` the BM25 mode. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag import ann, metrics, rank
from rag.beir import beir_documents
from rag.lang import guess_language
from rag.questions import BeirSet, load_beir, load_questions, matched_answers
from rag.retriever import Retriever, clean_query

F = npt.NDArray[np.float32]


@dataclass
class Query:
    """One question's candidates and evidence, and which candidate rows (or documents) are relevant."""

    qid: str
    lang: str
    rows: npt.NDArray[np.int64]
    psim: F
    sbest: F
    lex: F
    lexmax: float
    lexbound: float  # the best BM25 score any passage could get for this query: sum over its terms of the column max
    dense_rank: F  # rank of each candidate in the dense (passage cosine) order, 1-based; len+1 when not in dense top-n
    lex_rank: F
    qrel: dict[str, int]  # doc or passage id -> grade
    keys: list[str]  # doc (BEIR) or passage id of each candidate


def _term_max(retriever: Retriever) -> dict[int, float]:
    """Largest BM25 contribution of each vocabulary term over the index (bm25s stores per-term score columns)."""
    assert retriever.data.lexical is not None
    bm25 = retriever.data.lexical._bm25
    data, indptr = np.asarray(bm25.scores["data"]), np.asarray(bm25.scores["indptr"])
    return {t: float(data[indptr[t] : indptr[t + 1]].max(initial=0.0)) for t in range(len(indptr) - 1)}


def collect(retriever: Retriever, items: list[tuple[str, str, str, dict[str, int]]], by_doc: bool) -> list[Query]:
    """``items``: (id, question, lang or "", qrels); qrels by document id (``by_doc``) or passage id."""
    from rag.lexical import tokenize

    assert retriever.data.lexical is not None
    vocab = retriever.data.lexical._bm25.vocab_dict
    term_max = _term_max(retriever)
    passages = retriever.data.passages
    texts = [clean_query(question) for _, question, _, _ in items]
    vectors = retriever.embedder.embed(texts, "query")  # batched: about twice as fast as one by one
    out = []
    for (qid, _question, lang, qrel), text, vector in zip(items, texts, vectors, strict=True):
        lexical = retriever.data.lexical.scores(text)
        n = rank.CANDIDATES
        _, dense_rows = ann.search(retriever.data.faiss_index, vector, n, None)
        rows = rank.candidates(dense_rows, lexical, n)
        psim = np.asarray(retriever.data.vectors[rows]) @ vector
        sbest = np.array(
            [
                float(s.max()) if len(s := retriever._sentence_sims(int(r), vector)) else float(p)
                for r, p in zip(rows, psim, strict=True)
            ],
            dtype=np.float32,
        )
        dpos = {int(r): i + 1 for i, r in enumerate(dense_rows.tolist())}
        lex_order = np.argsort(-lexical, kind="stable")[:n]
        lpos = {int(r): i + 1 for i, r in enumerate(lex_order.tolist()) if lexical[r] > 0}
        terms = {vocab[t] for t in tokenize(text) if t in vocab}
        out.append(
            Query(
                qid=qid,
                lang=lang or guess_language(text),
                rows=rows,
                psim=psim.astype(np.float32),
                sbest=sbest,
                lex=lexical[rows],
                lexmax=float(lexical.max(initial=0.0)),
                lexbound=sum(term_max[t] for t in terms),
                dense_rank=np.array([dpos.get(int(r), n + 1) for r in rows], dtype=np.float32),
                lex_rank=np.array([lpos.get(int(r), n + 1) for r in rows], dtype=np.float32),
                qrel=qrel,
                keys=[passages[int(r)].source if by_doc else passages[int(r)].id for r in rows],
            )
        )
    return out


Fusion = Callable[[Query], F]


def score(queries: list[Query], fuse: Fusion, k: int = 10) -> dict[str, float]:
    run: dict[str, dict[str, float]] = {}
    for q in queries:
        fused = fuse(q)
        order = np.argsort(-fused, kind="stable")
        seen: list[str] = []
        for i in order:
            if q.keys[i] not in seen:
                seen.append(q.keys[i])
            if len(seen) == k:
                break
        run[q.qid] = {key: float(k - j) for j, key in enumerate(seen)}
    qrels = {q.qid: q.qrel for q in queries}
    return metrics.evaluate(qrels, run, ["mrr@10", "ndcg@10", "success@1", "success@5", "success@10"])


def saturating(pw: float, lw: float | dict[str, float], half: float, norm: str = "none") -> Fusion:
    """dense = pw·passage + (1−pw)·best sentence; + lw · s/(s+half), s = BM25 (optionally normalised)."""

    def fuse(q: Query) -> F:
        dense = pw * q.psim + (1 - pw) * q.sbest
        weight = lw if isinstance(lw, float) else lw.get(q.lang, lw["und"])
        s = q.lex
        if norm in ("bound", "max"):
            top = q.lexbound if norm == "bound" else q.lexmax
            bonus: F = (s / top if top > 0 else s * 0).astype(np.float32)
        else:
            bonus = (s / (s + half)).astype(np.float32)
        out: F = (dense + weight * bonus).astype(np.float32)
        return out

    return fuse


def rrf(pw: float, c: float = 60.0, lexical_weight: float = 1.0) -> Fusion:
    """Reciprocal rank fusion of the re-scored dense order and the BM25 order."""

    def fuse(q: Query) -> F:
        dense = pw * q.psim + (1 - pw) * q.sbest
        dense_rank = np.empty(len(dense), np.float32)
        dense_rank[np.argsort(-dense, kind="stable")] = np.arange(1, len(dense) + 1)
        lex_term = np.where(q.lex > 0, 1.0 / (c + q.lex_rank), 0.0)
        return (1.0 / (c + dense_rank) + lexical_weight * lex_term).astype(np.float32)

    return fuse


def convex(pw: float, alpha: float) -> Fusion:
    """Convex combination of min-max-normalised dense and BM25 scores over the candidates (Bruch et al. 2023)."""

    def fuse(q: Query) -> F:
        dense = pw * q.psim + (1 - pw) * q.sbest
        d = (dense - dense.min()) / max(float(dense.max() - dense.min()), 1e-9)
        lex = q.lex / q.lexmax if q.lexmax > 0 else q.lex * 0
        out: F = (alpha * d + (1 - alpha) * lex).astype(np.float32)
        return out

    return fuse


def rank_bonus(pw: float, lw: float, c: float) -> Fusion:
    """Dense score plus a bonus from the BM25 rank: lw · c / (c + rank − 1) (1 for the top BM25 passage)."""

    def fuse(q: Query) -> F:
        dense = pw * q.psim + (1 - pw) * q.sbest
        return (dense + np.where(q.lex > 0, lw * c / (c + q.lex_rank - 1), 0.0)).astype(np.float32)

    return fuse


def variants() -> list[tuple[str, Fusion]]:
    out: list[tuple[str, Fusion]] = [
        ("dense (passage cosine; = --mode dense)", lambda q: q.psim),
        ("lexical (BM25; = --mode lexical)", lambda q: q.lex + 1e-6 * q.psim),
        ("dense re-scored, no BM25 (pw 0.3)", saturating(0.3, 0.0, 10.0)),
        ("previous default: pw 0.3, lw 0.02, half 10", saturating(0.3, 0.02, 10.0)),
        (
            f"rag.rank now: pw {rank.PASSAGE_WEIGHT}, lw {rank.LEXICAL_WEIGHT}, half {rank.LEXICAL_HALF}",
            saturating(rank.PASSAGE_WEIGHT, rank.LEXICAL_WEIGHT, rank.LEXICAL_HALF),
        ),
    ]
    for pw in (0.0, 0.5, 0.7, 1.0):
        out.append((f"pw {pw}, lw 0.02, half 10", saturating(pw, 0.02, 10.0)))
    for lw in (0.01, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15):
        for half in (5.0, 10.0, 20.0):
            out.append((f"pw 0.3, lw {lw}, half {half}", saturating(0.3, lw, half)))
    for pw in (0.5, 0.7):
        for lw in (0.04, 0.06, 0.08):
            out.append((f"pw {pw}, lw {lw}, half 10", saturating(pw, lw, 10.0)))
    for fr, en in ((0.04, 0.02), (0.06, 0.02), (0.06, 0.03), (0.08, 0.03), (0.08, 0.04), (0.10, 0.04)):
        out.append((f"pw 0.3, lw fr {fr} / en {en}, half 10", saturating(0.3, {"fr": fr, "en": en, "und": fr}, 10.0)))
    for lw in (0.02, 0.04, 0.06, 0.08, 0.10):
        out.append((f"pw 0.3, lw {lw} · BM25/query bound", saturating(0.3, lw, 0.0, "bound")))
        out.append((f"pw 0.3, lw {lw} · BM25/index max", saturating(0.3, lw, 0.0, "max")))
    for lw, half in ((0.025, 10.0), (0.025, 15.0), (0.03, 15.0), (0.035, 20.0), (0.04, 30.0), (0.06, 40.0)):
        out.append((f"pw 0.3, lw {lw}, half {half}", saturating(0.3, lw, half)))
    for alpha in (0.6, 0.7, 0.8, 0.9):
        out.append((f"convex min-max, alpha {alpha} (pw 0.3)", convex(0.3, alpha)))
    for lw, c in ((0.01, 1.0), (0.02, 1.0), (0.02, 3.0), (0.03, 3.0)):
        out.append((f"dense + lw {lw} · BM25-rank bonus c={c:g} (pw 0.3)", rank_bonus(0.3, lw, c)))
    for c in (10.0, 60.0):
        for w in (0.5, 1.0):
            out.append((f"RRF c={c:g}, lexical weight {w} (pw 0.3)", rrf(0.3, c, w)))
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
    dtypes = {"rows": np.int64, "psim": np.float32, "sbest": np.float32, "lex": np.float32, "dense_rank": np.float32}
    dtypes["lex_rank"] = np.float32
    return {
        name: [Query(**{k: np.asarray(v, dtype=dtypes[k]) if k in dtypes else v for k, v in q.items()}) for q in queries]
        for name, queries in json.loads(path.read_text(encoding="utf-8")).items()
    }


Item = tuple[str, str, str, dict[str, int]]  # (id, question, lang or "", qrels)


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
    # Our questions carry their language; for fusion the retriever only has the guess, so use that.
    for q, item in zip(collected, items, strict=True):
        q.lang = guess_language(item[1])
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
