"""Shared data loading, the PIAF by-title split, rag's scoring (brute force over all passages) and metrics."""
import json
import math
import os
import random
from pathlib import Path

import numpy as np

OUT = os.environ.get("ADAPTER_OUT", "/tmp/adapter")  # caches, trained matrices and logs
PW, LW = 0.3, 0.03  # rag.rank.PASSAGE_WEIGHT, LEXICAL_WEIGHT (the bm25/(bm25+15) bonus is precomputed in L)


class DS:
    def __init__(self, name):
        z = np.load(f"{OUT}/cache_{name}.npz")
        self.name = name
        self.V, self.S, self.st, self.Q, self.L = z["V"], z["S"], z["st"], z["Q"], z["L"]
        self.meta = json.loads(Path(f"{OUT}/cache_{name}.json").read_text())
        self.n = len(self.V)
        if name == "ours":
            self.rel = [set(x) for x in self.meta["rel_rows"]]
            self.lang = self.meta["lang"]
            self.keys = None  # passage-level
        else:
            src = self.meta["doc_of_passage"]
            self.keys = src
            rows_of_doc = {}
            for i, d in enumerate(src):
                rows_of_doc.setdefault(d, []).append(i)
            self.rows_of_doc = rows_of_doc
            self.qrel_docs = [set(self.meta["qrels"][q]) for q in self.meta["qids"]]
            self.rel = [{i for d in ds for i in rows_of_doc[d]} for ds in self.qrel_docs]
            self.lang = ["fr" if name == "piaf" else "en"] * len(self.Q)
            self.title = [self.meta["title_of_doc"][d] for d in src]
        self.sent_owner = np.repeat(np.arange(self.n), np.diff(self.st))


def piaf_split(ds, seed=0, test_frac=0.2, val_frac=0.125):
    """Split PIAF by title: 20 % of titles test, and of the rest 12.5 % validation (≈10 % overall), 87.5 % fit.
    Returns (fit_q, val_q, test_q, fit_rows, val_rows, test_rows). A query whose gold docs span splits is dropped."""
    titles = sorted(set(ds.title))
    rnd = random.Random(seed)
    rnd.shuffle(titles)
    nt = round(test_frac * len(titles))
    test_t = set(titles[:nt])
    rest = titles[nt:]
    nv = round(val_frac * len(rest))
    val_t = set(rest[:nv])
    part = {t: ("test" if t in test_t else "val" if t in val_t else "fit") for t in titles}
    rows = {"fit": [], "val": [], "test": []}
    for i, t in enumerate(ds.title):
        rows[part[t]].append(i)
    qs = {"fit": [], "val": [], "test": []}
    for qi, rel in enumerate(ds.rel):
        parts = {part[ds.title[i]] for i in rel}
        if len(parts) == 1:
            qs[parts.pop()].append(qi)
    return (np.array(qs["fit"]), np.array(qs["val"]), np.array(qs["test"]),
            np.array(rows["fit"]), np.array(rows["val"]), np.array(rows["test"]))


def adapt(Q, W, alpha=1.0):
    """q' = normalize(q + alpha (W - I) q); rows of Q are queries."""
    if W is None or alpha == 0:
        return Q
    X = Q + alpha * (Q @ (W - np.eye(W.shape[0], dtype=W.dtype)).T)
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def scores(ds, Qa, qidx, mode, rows=None):
    """[len(qidx), n] scores; mode 'dense' (passage cosine) or 'hybrid' (rag's fused score). Passages not in
    ``rows`` (when given) get -inf."""
    q = Qa[qidx]
    ps = q @ ds.V.T
    if mode == "dense":
        out = ps
    else:
        ss = q @ ds.S.T
        sb = np.maximum.reduceat(ss, ds.st[:-1], axis=1)  # every passage has >= 1 sentence here
        out = PW * ps + (1 - PW) * sb + LW * ds.L[qidx]
    if rows is not None:
        mask = np.full(ds.n, -np.inf, dtype=np.float32)
        mask[rows] = 0
        out = out + mask
    return out


def metrics(ds, sc, qidx, k=10):
    """Per query (rr@k, ndcg@k). BEIR sets: at doc level (a doc's rank = rank of its first passage),
    binary grades (all qrels grades are 1). Ours: passage level, relevant = matched_answers non-empty."""
    rr, nd = [], []
    order_all = np.argsort(-sc, axis=1, kind="stable")[:, : 5 * k]
    for j, qi in enumerate(qidx):
        ranked = []
        seen = set()
        for row in order_all[j]:
            if not np.isfinite(sc[j, row]):
                break
            key = row if ds.keys is None else ds.keys[row]
            if key in seen:
                continue
            seen.add(key)
            ranked.append(key)
            if len(ranked) == k:
                break
        relset = ds.rel[qi] if ds.keys is None else ds.qrel_docs[qi]
        gains = [1 if x in relset else 0 for x in ranked]
        first = next((i for i, g in enumerate(gains) if g), None)
        rr.append(0.0 if first is None else 1.0 / (first + 1))
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relset), k)))
        nd.append(dcg / idcg)
    return np.array(rr), np.array(nd)


def evaluate(ds, W, alpha, qidx, mode, rows=None):
    Qa = adapt(ds.Q, W, alpha)
    rr, nd = metrics(ds, scores(ds, Qa, qidx, mode, rows), qidx)
    return rr, nd
