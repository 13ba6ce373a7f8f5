"""Evaluate the reader on rag's own hybrid candidates: reranking and answerability, with and without it.

    python -m train.reader.evaluate --reader rag/models/reader --n 10 --json train/reader/results.json

Candidates come from ``candidates.py`` (``Retriever.search(q, k=20)``, hybrid). For each question the reader reads
the top ``--n`` hits (with their titles); scores: ``hybrid`` (rag as is), ``reader`` (relevance logit alone) and
``blend w`` = (1 - w)·z(hybrid) + w·z(relevance), z standardised over the question's N candidates. The blend weight
is chosen on PIAF validation articles and eval/questions.jsonl only (never on PIAF test, XQuAD or
eval/heldout.jsonl). Sets:
- PIAF v1.1 queries whose gold passage is in a TEST (or VAL) article of piaf_split.json, searched over the whole
  1,518-passage corpus: document nDCG@10, as ``rag eval --beir``;
- XQuAD en (all 1,185 queries): nDCG@10;
- eval/questions.jsonl and eval/heldout.jsonl: passage MRR@10 per language (a hit is relevant when it holds a gold
  quote), and answerability: the max answer probability over the N candidates, answerable vs no-answer questions
  (AUC; share of no-answer flagged at the threshold that wrongly flags ≤ 5 % of answerable ones; quantiles of the
  probability for each kind), per language;
- latency: warm milliseconds per question for its N candidates, model load time, size on disk.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag import metrics
from rag.questions import Question, is_relevant, load_questions, normalize_for_match
from rag.reader import Reader
from train.reader.candidates import load as load_candidates
from train.reader.piaf import piaf_beir, query_part
from train.reader.train import platt

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT.parent / "shared" / "benchmarks"
WEIGHTS = [round(0.1 * i, 1) for i in range(11)]


def z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def read_all(reader: Reader, cands: dict[str, Any], n: int) -> tuple[dict[str, dict[str, np.ndarray]], list[float]]:
    """Reader scores of each question's top-n hits (relevance, raw answer logit), and the time each question took."""
    out, times = {}, []
    saved, reader.calibration = reader.calibration, (1.0, 0.0)  # answers = sigmoid(raw logit): the logit is recovered
    try:
        for qid, c in cands.items():
            hits = c["hits"][:n]
            started = time.perf_counter()
            s = reader.score(c["question"], [h["text"] for h in hits], [h["title"] for h in hits])
            times.append(time.perf_counter() - started)
            p = np.clip(s.answers.astype(np.float64), 1e-7, 1 - 1e-7)
            out[qid] = {"relevance": s.relevance, "raw": np.log(p / (1 - p))}
    finally:
        reader.calibration = saved
    return out, times


def calibrate(scores: dict[str, dict[str, Any]], scale: float, bias: float) -> None:
    for per_question in scores.values():
        for s in per_question.values():
            s["answers"] = 1 / (1 + np.exp(-(scale * s["raw"] + bias)))


def pair_labels(cands: dict[str, Any], scores: dict[str, Any], n: int, gold: Any) -> tuple[np.ndarray, np.ndarray]:
    """Raw answer logits of the N pairs read per question and whether each passage answers (``gold(qid, hit)``)."""
    raw, labels = [], []
    for qid, c in cands.items():
        for i, h in enumerate(c["hits"][:n]):
            raw.append(scores[qid]["raw"][i])
            labels.append(1.0 if gold(qid, h) else 0.0)
    return np.array(raw), np.array(labels)


def reliability(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Brier score and expected calibration error (10 equal-width bins)."""
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    return {"brier": float(np.mean((p - y) ** 2)), "ece": float(ece), "mean_p": float(p.mean()), "rate": float(y.mean())}


def reorder(hits: list[dict[str, Any]], scores: dict[str, np.ndarray] | None, n: int, w: float | None) -> list[dict[str, Any]]:
    """The hits with the top n re-sorted by the chosen score (None: hybrid order kept)."""
    if scores is None or w is None or not hits:
        return hits
    top = hits[:n]
    hybrid = np.array([h["score"] for h in top], dtype=np.float64)
    rel = scores["relevance"].astype(np.float64)
    value = (1 - w) * z(hybrid) + w * z(rel)
    order = np.argsort(-value, kind="stable")
    return [top[i] for i in order] + hits[n:]


def document_run(hits: list[dict[str, Any]], k: int) -> dict[str, float]:
    """As rag.beir.document_run: documents in the order of their best passage, scores k, k-1, ..."""
    order = list(dict.fromkeys(h["source"] for h in hits))[:k]
    return {doc: float(k - i) for i, doc in enumerate(order)}


def beir_ndcg(cands: dict[str, Any], qrels: dict[str, dict[str, int]], scores: dict[str, Any] | None, n: int,
              w: float | None) -> float:
    run = {q: document_run(reorder(c["hits"], scores[q] if scores else None, n, w), 10) for q, c in cands.items()}
    return metrics.evaluate({q: qrels[q] for q in cands}, run, ["ndcg@10"])["ndcg@10"]


def mrr(questions: list[Question], cands: dict[str, Any], scores: dict[str, Any] | None, n: int, w: float | None,
        lang: str) -> float:
    rr = []
    for q in questions:
        if q.no_answer or q.lang != lang:
            continue
        hits = reorder(cands[q.id]["hits"], scores[q.id] if scores else None, n, w)
        rank = next((i for i, h in enumerate(hits[:10], 1) if is_relevant(q, h["source"], h["text"])), None)
        rr.append(1 / rank if rank else 0.0)
    return float(np.mean(rr)) if rr else float("nan")


def auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def flagged_at_5pct(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """Threshold under which at most 5 % of answerable questions fall; share of no-answer questions under it."""
    threshold = float(np.quantile(pos, 0.05, method="lower")) if pos else float("nan")
    return threshold, float(np.mean([x < threshold for x in neg])) if neg else float("nan")


_WORD = re.compile(r"\w{4,}")


def overlap(question: str, passage: str) -> float:
    """Share of the question's words (4+ letters) found in the passage: low = paraphrase, high = copied words."""
    words = set(_WORD.findall(normalize_for_match(question)))
    text = normalize_for_match(passage)
    return sum(w in text for w in words) / len(words) if words else 0.0


def quantiles(values: list[float]) -> list[float]:
    return [round(float(np.quantile(values, q)), 4) for q in (0, 0.1, 0.25, 0.5, 0.75, 0.9, 1)] if values else []


def answerability(questions: list[Question], cands: dict[str, Any], scores: dict[str, Any], lang: str) -> dict[str, Any]:
    pos = [float(scores[q.id]["answers"].max()) for q in questions if q.lang == lang and not q.no_answer]
    neg = [float(scores[q.id]["answers"].max()) for q in questions if q.lang == lang and q.no_answer]
    threshold, flagged = flagged_at_5pct(pos, neg)
    rag_flag_neg = np.mean([cands[q.id]["abstain"] for q in questions if q.lang == lang and q.no_answer])
    rag_flag_pos = np.mean([cands[q.id]["abstain"] for q in questions if q.lang == lang and not q.no_answer])
    top_pos = [cands[q.id]["hits"][0]["score"] for q in questions if q.lang == lang and not q.no_answer]
    top_neg = [cands[q.id]["hits"][0]["score"] for q in questions if q.lang == lang and q.no_answer]
    return {
        "n_answerable": len(pos), "n_no_answer": len(neg),
        "auc": auc(pos, neg), "threshold": threshold, "no_answer_flagged": flagged,
        "answerable_flagged_at_0.5": float(np.mean([p < 0.5 for p in pos])) if pos else float("nan"),
        "no_answer_flagged_at_0.5": float(np.mean([p < 0.5 for p in neg])) if neg else float("nan"),
        "hybrid_top_score_auc": auc(top_pos, top_neg),
        "distribution (min, p10, p25, median, p75, p90, max)": {"answerable": quantiles(pos), "no_answer": quantiles(neg)},
        "rag_rules_no_answer_flagged": float(rag_flag_neg), "rag_rules_answerable_flagged": float(rag_flag_pos),
    }


def fixed_threshold(dev: dict[str, Any], scores: dict[str, Any], answerable_sets: dict[str, Any]) -> dict[str, Any]:
    """One threshold on the max answer probability, chosen on eval/questions.jsonl alone (both languages: at most 5 %
    of its answerable questions under it), then applied unchanged: share of questions flagged per set and language
    (PIAF and XQuAD questions are all answerable, though their gold may be missing from the N read)."""
    qs = dev["questions"][0]
    pos = [float(scores["questions"][q.id]["answers"].max()) for q in qs if not q.no_answer]
    threshold = float(np.quantile(pos, 0.05, method="lower"))
    out: dict[str, Any] = {"threshold": threshold}
    for name, (questions, _) in dev.items():
        for lang in ("fr", "en"):
            for kind, no_answer in (("answerable", False), ("no_answer", True)):
                p = [float(scores[name][q.id]["answers"].max()) for q in questions if q.lang == lang and q.no_answer == no_answer]
                out[f"{name}_{lang}_{kind}_flagged"] = float(np.mean([x < threshold for x in p])) if p else float("nan")
    for name, cands in answerable_sets.items():
        key = "val" if name == "piaf_val" else "test" if name == "piaf_test" else "xquad"
        out[f"{name}_flagged"] = float(np.mean([scores[key][q]["answers"].max() < threshold for q in cands]))
    return out


def gold_probability(questions: list[Question], cands: dict[str, Any], scores: dict[str, Any], n: int) -> dict[str, Any]:
    """Answer probability of the best gold passage among the N read, by language and by word overlap (paraphrase)."""
    rows = []
    for q in questions:
        if q.no_answer:
            continue
        hits = cands[q.id]["hits"][:n]
        gold = [i for i, h in enumerate(hits) if is_relevant(q, h["source"], h["text"])]
        if gold:
            i = max(gold, key=lambda j: scores[q.id]["answers"][j])
            rows.append((q.lang, overlap(q.question, hits[i]["text"]), float(scores[q.id]["answers"][i])))
    out: dict[str, Any] = {}
    for lang in ("fr", "en"):
        probs = [p for lg, _, p in rows if lg == lang]
        out[lang] = {"n": len(probs), "mean_gold_prob": float(np.mean(probs)) if probs else None,
                     "gold_below_0.5": float(np.mean([p < 0.5 for p in probs])) if probs else None}
    fr = sorted((o, p) for lg, o, p in rows if lg == "fr")
    half = len(fr) // 2
    out["fr_low_overlap"] = {"n": half, "mean_overlap": float(np.mean([o for o, _ in fr[:half]])),
                             "mean_gold_prob": float(np.mean([p for _, p in fr[:half]]))}
    out["fr_high_overlap"] = {"n": len(fr) - half, "mean_overlap": float(np.mean([o for o, _ in fr[half:]])),
                              "mean_gold_prob": float(np.mean([p for _, p in fr[half:]]))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reader", type=Path, default=None, help="reader directory (default: the bundled one)")
    ap.add_argument("--n", type=int, default=10, help="candidates the reader reads per question")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--weight", type=float, help="blend weight (default: chosen on PIAF val + questions.jsonl)")
    ap.add_argument("--recalibrate", action="store_true", help="fit the answer calibration on PIAF val + questions.jsonl")
    ap.add_argument("--write-calibration", action="store_true", help="with --recalibrate: store it in reader.json")
    args = ap.parse_args()

    started = time.perf_counter()
    reader = Reader.load(args.reader)
    load_seconds = time.perf_counter() - started
    folder = reader.path
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())

    beir = piaf_beir()
    piaf = load_candidates("piaf_v1.1")
    piaf_qrels = {q: {d: 1 for d in docs} for q, docs in beir.qrels.items()}
    parts = {p: {q: c for q, c in piaf.items() if query_part(q) == p} for p in ("val", "test")}
    xquad = load_candidates("xquad_en")
    xquad_qrels: dict[str, dict[str, int]] = {}
    for line in (BENCH / "xquad_en" / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        q, d, s = line.split("\t")
        xquad_qrels.setdefault(q, {})[d] = int(s)
    dev = {name: (load_questions(ROOT / "eval" / f"{name}.jsonl"), load_candidates(name)) for name in ("questions", "heldout")}

    scores: dict[str, dict[str, Any]] = {}
    timings: list[float] = []
    for name, cands in (("val", parts["val"]), ("test", parts["test"]), ("xquad", xquad),
                        ("questions", dev["questions"][1]), ("heldout", dev["heldout"][1])):
        scores[name], t = read_all(reader, cands, args.n)
        timings.extend(t[1:])

    # Calibration of the answer probability on PIAF validation and eval/questions.jsonl pairs, as read (top N).
    piaf_gold = lambda q, h: h["source"] in beir.qrels[q]  # noqa: E731
    questions_by_id = {q.id: q for q in dev["questions"][0] + dev["heldout"][0]}
    quote_gold = lambda q, h: is_relevant(questions_by_id[q], h["source"], h["text"])  # noqa: E731
    raw_v, y_v = pair_labels(parts["val"], scores["val"], args.n, piaf_gold)
    raw_q, y_q = pair_labels(dev["questions"][1], scores["questions"], args.n, quote_gold)
    scale, bias = (platt(np.concatenate([raw_v, raw_q]), np.concatenate([y_v, y_q])) if args.recalibrate
                   else reader.calibration)
    calibrate(scores, scale, bias)
    if args.recalibrate and args.write_calibration:
        config_file = reader.path / "reader.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["calibration"] = {"scale": scale, "bias": bias, "fitted_on": "PIAF val + eval/questions.jsonl, top-N pairs",
                                 "n": args.n}
        config_file.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    sig = lambda x: 1 / (1 + np.exp(-(scale * x + bias)))  # noqa: E731
    raw_t, y_t = pair_labels(parts["test"], scores["test"], args.n, piaf_gold)
    raw_h, y_h = pair_labels(dev["heldout"][1], scores["heldout"], args.n, quote_gold)
    calibration = {"scale": scale, "bias": bias, "piaf_test_pairs": reliability(sig(raw_t), y_t),
                   "heldout_pairs": reliability(sig(raw_h), y_h)}

    def tuning_score(w: float) -> float:
        qs, cs = dev["questions"]
        return (beir_ndcg(parts["val"], piaf_qrels, scores["val"], args.n, w)
                + mrr(qs, cs, scores["questions"], args.n, w, "fr") + mrr(qs, cs, scores["questions"], args.n, w, "en")) / 3

    grid = {w: tuning_score(w) for w in WEIGHTS}
    w_best = args.weight if args.weight is not None else max(grid, key=lambda w: (grid[w], -abs(w - 0.5)))
    variants: dict[str, float | None] = {"hybrid": None, "reader": 1.0, f"blend {w_best}": w_best}
    table: dict[str, dict[str, float]] = {}
    for label, w in variants.items():
        row = {
            "piaf_val_ndcg@10": beir_ndcg(parts["val"], piaf_qrels, scores["val"], args.n, w),
            "piaf_test_ndcg@10": beir_ndcg(parts["test"], piaf_qrels, scores["test"], args.n, w),
            "xquad_en_ndcg@10": beir_ndcg(xquad, xquad_qrels, scores["xquad"], args.n, w),
        }
        for name, (qs, cs) in dev.items():
            for lang in ("fr", "en"):
                row[f"{name}_mrr@10_{lang}"] = mrr(qs, cs, scores[name], args.n, w, lang)
        table[label] = row
    result = {
        "reader": reader.id, "n": args.n, "blend_weight": w_best,
        "tuning_grid (mean of PIAF val nDCG@10, questions MRR fr, en)": grid,
        "ranking": table,
        "calibration": calibration,
        "answerability": {name: {lang: answerability(qs, cs, scores[name], lang) for lang in ("fr", "en")}
                          for name, (qs, cs) in dev.items()},
        "threshold_chosen_on_questions": fixed_threshold(dev, scores, {"piaf_val": parts["val"], "piaf_test": parts["test"],
                                                                       "xquad_en": xquad}),
        "gold_probability": {name: gold_probability(qs, cs, scores[name], args.n) for name, (qs, cs) in dev.items()},
        "latency": {"warm_ms_median": 1000 * statistics.median(timings),
                    "warm_ms_p90": 1000 * float(np.quantile(timings, 0.9)), "questions_timed": len(timings),
                    "load_seconds": load_seconds, "size_mb": size / 1e6},
        "queries": {"piaf_val": len(parts["val"]), "piaf_test": len(parts["test"]), "xquad_en": len(xquad)},
    }
    text = json.dumps(result, indent=1, ensure_ascii=False, default=float)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
