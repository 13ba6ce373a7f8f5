"""Cache everything the adapter experiment needs, once, to $ADAPTER_OUT/cache_<name>.npz (default /tmp/adapter) (+ .json).

Per data set: passage vectors V [n,384], sentence vectors S [m,384], sentence starts st [n+1],
query embeddings Q [nq,384] (rag's embedder, query mode, clean_query), saturated BM25 bonus
L [nq,n] = bm25/(bm25+15), and the relevance lists (passage rows relevant to each query).
PIAF also gets the title of each passage's doc (for the by-title split).

    python prep.py            # all three sets (~3 min)
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from rag.questions import load_beir, load_questions, matched_answers
from rag.retriever import Retriever, clean_query
from rag.rows import read_ranges

ROOT = Path(__file__).resolve().parents[2]  # the repository
BENCH_INDEX = os.environ.get("BENCH_INDEX", "/tmp/rag-bench")  # where `rag eval --beir` built the indexes
OUT = os.environ.get("ADAPTER_OUT", "/tmp/adapter")  # caches, trained matrices and logs
BEIR = {
    "piaf": (f"{BENCH_INDEX}/piaf_v1.1", str(ROOT.parent / "shared/benchmarks/piaf_v1.1")),
    "xquad": (f"{BENCH_INDEX}/xquad_en", str(ROOT.parent / "shared/benchmarks/xquad_en")),
}


def base_arrays(r):
    P = r.data.passages
    n = len(P)
    V = np.asarray(r.data.vectors[np.arange(n)]).astype(np.float32)
    st = np.asarray(r._sentence_start).astype(np.int64)
    S = read_ranges(r.data.sentence_vectors, st[:-1], st[1:]).astype(np.float32)
    assert len(S) == st[-1]
    return P, V, S, st


def embed_all(r, texts, bs=64):
    out = []
    for i in range(0, len(texts), bs):
        out.append(np.asarray(r.embedder.embed(texts[i : i + bs], "query"), dtype=np.float32))
    return np.concatenate(out)


def prep_beir(name):
    idx, folder = BEIR[name]
    r = Retriever.load(idx)
    P, V, S, st = base_arrays(r)
    bs = load_beir(folder)
    qids = [q for q in bs.queries if any(g > 0 for g in bs.qrels.get(q, {}).values())]
    texts = [clean_query(bs.queries[q]) for q in qids]
    t = time.time()
    Q = embed_all(r, texts)
    print(name, "embedded", len(qids), "queries in", round(time.time() - t, 1), "s", flush=True)
    L = np.stack([(lambda s: s / (s + 15.0))(np.asarray(r.data.lexical.scores(x), dtype=np.float32)) for x in texts])
    src = [p.source for p in P]
    meta = {
        "qids": qids,
        "doc_of_passage": src,
        "qrels": {q: {d: g for d, g in bs.qrels[q].items() if g > 0} for q in qids},
        "title_of_doc": {d: bs.corpus[d][0] for d in set(src)},
        "query_text": texts,
    }
    np.savez(f"{OUT}/cache_{name}.npz", V=V, S=S, st=st, Q=Q, L=L.astype(np.float32))
    Path(f"{OUT}/cache_{name}.json").write_text(json.dumps(meta))


def prep_ours():
    r = Retriever.load(os.environ.get("OURS_INDEX", str(ROOT / "index")))
    P, V, S, st = base_arrays(r)
    qs = [q for q in load_questions(ROOT / "eval" / "questions.jsonl") if not q.no_answer]
    texts = [clean_query(q.question) for q in qs]
    Q = embed_all(r, texts)
    L = np.stack([(lambda s: s / (s + 15.0))(np.asarray(r.data.lexical.scores(x), dtype=np.float32)) for x in texts])
    rel = [[i for i in range(len(P)) if matched_answers(q, P[i].source, P[i].text)] for q in qs]
    meta = {"qids": [q.id for q in qs], "lang": [q.lang for q in qs], "rel_rows": rel, "query_text": texts}
    np.savez(f"{OUT}/cache_ours.npz", V=V, S=S, st=st, Q=Q, L=L.astype(np.float32))
    Path(f"{OUT}/cache_ours.json").write_text(json.dumps(meta))
    print("ours", len(qs), "questions;", sum(1 for x in rel if not x), "with no relevant passage")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    which = sys.argv[1:] or ["ours", "xquad", "piaf"]
    for w in which:
        prep_ours() if w == "ours" else prep_beir(w)
