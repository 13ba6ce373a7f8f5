"""Does int8 quantisation lose anything measurable? The shipped int8 reader against its float32 export.

    python -m train.reader.check_int8 --fp32 /work/data/reader/export/reader.onnx [--reader rag/models/reader]

Both read the top-N hybrid candidates of the PIAF test queries and of eval/questions.jsonl; printed: nDCG@10 of
PIAF test and MRR@10 per language reranked by the reader alone, the largest difference of answer probability
and of relevance, and how often the two agree on the best passage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from rag.questions import load_questions
from rag.reader import Reader
from train.reader.candidates import load as load_candidates
from train.reader.evaluate import ROOT, beir_ndcg, mrr
from train.reader.piaf import piaf_beir, query_part


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fp32", type=Path, required=True, help="the float32 ONNX file of the same weights")
    ap.add_argument("--reader", type=Path, default=None)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--limit", type=int, help="only the first LIMIT PIAF test queries")
    args = ap.parse_args()
    int8 = Reader.load(args.reader)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(int8.path / "reader.json", Path(tmp) / "reader.json")
        shutil.copy(args.fp32, Path(tmp) / "reader.onnx")
        fp32 = Reader.load(tmp)
        beir = piaf_beir()
        qrels = {q: {d: 1 for d in docs} for q, docs in beir.qrels.items()}
        test = {q: c for q, c in load_candidates("piaf_v1.1").items() if query_part(q) == "test"}
        test = dict(list(test.items())[: args.limit]) if args.limit else test
        questions, qcands = load_questions(ROOT / "eval" / "questions.jsonl"), load_candidates("questions")
        out: dict[str, dict[str, float]] = {}
        diffs: dict[str, list[float]] = {"answers": [], "relevance": []}
        agree = []
        per_model = {}
        for name, reader in (("int8", int8), ("fp32", fp32)):
            scores = {}
            for cands in (test, qcands):
                for qid, c in cands.items():
                    hits = c["hits"][: args.n]
                    s = reader.score(c["question"], [h["text"] for h in hits], [h["title"] for h in hits])
                    scores[qid] = {"relevance": s.relevance, "answers": s.answers}
            per_model[name] = scores
            out[name] = {
                "piaf_test_ndcg@10": beir_ndcg(test, qrels, scores, args.n, 1.0),
                "questions_mrr@10_fr": mrr(questions, qcands, scores, args.n, 1.0, "fr"),
                "questions_mrr@10_en": mrr(questions, qcands, scores, args.n, 1.0, "en"),
            }
        for qid, a in per_model["int8"].items():
            b = per_model["fp32"][qid]
            diffs["answers"].append(float(np.abs(a["answers"] - b["answers"]).max()))
            diffs["relevance"].append(float(np.abs(a["relevance"] - b["relevance"]).max()))
            agree.append(int(np.argmax(a["relevance"]) == np.argmax(b["relevance"])))
        out["difference"] = {"answers_max": max(diffs["answers"]), "answers_mean_of_max": float(np.mean(diffs["answers"])),
                             "relevance_max": max(diffs["relevance"]), "same_best_passage": float(np.mean(agree)),
                             "questions": len(agree)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
