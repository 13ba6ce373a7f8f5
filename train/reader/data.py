"""Data recipe: training groups for the reader, from PIAF (MIT) train articles only.

Sources (nothing is downloaded; SQuAD 2.0 was looked for and could not be had here, see README):
- PIAF v1.1 queries (BEIR set, ``../shared/benchmarks/piaf_v1.1``) whose gold passages belong to TRAIN (or VAL)
  articles of ``piaf_split.json``; for the v1.0 questions among them (same ids) the answer spans of PIAF v1.0.
- Hard negatives: BM25 (rag.lexical: French stemming and stop words) top 20 over the whole v1.1 corpus, plus
  rag's own hybrid top 20 (``candidates.py``) when that cache exists (``--no-hybrid`` leaves it out).

Per question, a group: the gold passage(s) (answers = 1) and negatives (answers = 0), each tagged with its kind:
- ``hard``: retrieved candidates that are not gold (BM25 / hybrid hard negatives, near-misses), best first;
- ``article``: other passages of the same article (near-topic);
- ``cut``: the gold passage without the sentence that holds the answer (synthetic; v1.0 questions only);
- ``random``: a passage of another article.
Gold passages of v1.0 questions carry their answer spans (``answers``: character ranges), and the group its answer
texts (``answer_texts``); a negative that contains one of them is left out (it may answer: PIAF repeats facts).
Hard negatives of the gold passage's own article are tagged ``near`` (near-topic: training weights them up).
No passage of a validation/test article ever appears in a training group (and the reverse for validation).

    python -m train.reader.data   # writes /work/data/reader/groups_{train,val}.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from typing import Any

import numpy as np

from rag.lexical import LexicalIndex
from rag.sentences import split_sentences
from train.reader.candidates import DATA
from train.reader.candidates import load as load_candidates
from train.reader.piaf import load_split, piaf_beir, piaf_paragraphs, query_part

SEED = 7


def cut_answer(context: str, spans: tuple[tuple[int, str], ...]) -> str | None:
    """The passage without every sentence that overlaps an answer span (None when nothing would be left)."""
    sentences = split_sentences(context, min_chars=1) or [(0, len(context))]
    hit = [any(s < start + len(text) and start < e for start, text in spans) for s, e in sentences]
    kept = [context[s:e].strip() for (s, e), h in zip(sentences, hit, strict=True) if not h]
    if not any(hit) or not kept:
        return None
    return " ".join(kept)


def build(part: str, rnd: random.Random, hybrid: bool = True) -> list[dict[str, Any]]:
    beir = piaf_beir()
    split = load_split()
    candidates = load_candidates("piaf_v1.1") if hybrid else {}
    docs = list(beir.corpus)
    lexical = LexicalIndex.build([beir.corpus[d][1] for d in docs])
    spans = {}
    for para in piaf_paragraphs():
        for question, answers in zip(para.questions, para.answers, strict=True):
            spans[(para.context, question)] = answers
    by_title: dict[str, list[str]] = {}
    for doc, (title, _) in beir.corpus.items():
        by_title.setdefault(title, []).append(doc)
    in_part = [d for d, (t, _) in beir.corpus.items() if split[t] == part]

    def pair(doc: str, label: int, kind: str, text: str | None = None) -> dict[str, Any]:
        title, body = beir.corpus[doc]
        return {"title": title, "text": text if text is not None else body, "label": label, "kind": kind}

    def answers_in(doc: str) -> bool:
        text = beir.corpus[doc][1]
        return any(a in text for a in answer_texts)

    def gold(doc: str) -> dict[str, Any]:
        p = pair(doc, 1, "gold")
        answer_spans = spans.get((p["text"], question))
        if answer_spans:  # where the answer is: training reads a window of a long passage that holds it
            p["answers"] = [[start, start + len(text)] for start, text in answer_spans]
        return p

    groups = []
    for qid, golds in beir.qrels.items():
        if query_part(qid) != part:
            continue
        question = beir.queries[qid]
        answer_texts = sorted({text for d in golds for _, text in spans.get((beir.corpus[d][1], question), ())
                               if len(text.strip()) > 1})
        pairs = [gold(d) for d in sorted(golds)]
        seen = set(golds)
        bm25 = [docs[i] for i in np.argsort(-lexical.scores(question), kind="stable")[:20]]
        retrieved = [h["source"] for h in candidates.get(qid, {}).get("hits", [])]
        titles = {beir.corpus[d][0] for d in golds}
        for doc in [d for pair_ in itertools.zip_longest(retrieved, bm25) for d in pair_ if d is not None]:
            if doc not in seen and split[beir.corpus[doc][0]] == part and not answers_in(doc):
                pairs.append({**pair(doc, 0, "hard"), "near": beir.corpus[doc][0] in titles})
                seen.add(doc)
        for title in sorted(titles):
            for doc in by_title[title]:
                if doc not in seen and not answers_in(doc):
                    pairs.append(pair(doc, 0, "article"))
                    seen.add(doc)
        for doc in sorted(golds):
            answer_spans = spans.get((beir.corpus[doc][1], question))
            cut = cut_answer(beir.corpus[doc][1], answer_spans) if answer_spans else None
            if cut:
                pairs.append(pair(doc, 0, "cut", cut))
        for doc in rnd.sample(in_part, 3):
            if doc not in seen and beir.corpus[doc][0] not in titles:
                pairs.append(pair(doc, 0, "random"))
                seen.add(doc)
        groups.append({"qid": qid, "question": question, "answer_texts": answer_texts, "pairs": pairs})
    return groups


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-hybrid", action="store_true", help="BM25 hard negatives only (no candidates.py cache)")
    args = ap.parse_args()
    rnd = random.Random(SEED)
    for part in ("train", "val"):
        groups = build(part, rnd, hybrid=not args.no_hybrid)
        path = DATA / f"groups_{part}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for g in groups:
                f.write(json.dumps(g, ensure_ascii=False) + "\n")
        kinds: dict[str, int] = {}
        for g in groups:
            for p in g["pairs"]:
                kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
        print(f"{part}: {len(groups)} questions, pairs by kind {kinds} -> {path}")


if __name__ == "__main__":
    main()
