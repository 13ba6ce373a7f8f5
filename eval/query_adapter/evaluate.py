"""Evaluate adapters: identity vs W_<tag>.npy at strengths alpha (q' = normalize(q + alpha (W - I) q)).

    python evaluate.py TAG [TAG ...] [--alphas 0,0.25,0.5,1] [--md out.md]

Sets: PIAF test titles (queries ranked over the whole PIAF index, doc level), PIAF val titles (the set used for
early stopping; ranked over fit+val passages, as in training), XQuAD English (all 1185 queries, doc level, out of
domain), and eval/questions.jsonl answerable questions per language (passage level). MRR@10 and nDCG@10 in %.
Also: paired wins/losses (queries whose reciprocal rank rose/fell) vs identity on the hybrid score, and the
mean top-1 hybrid score on our set (rag's abstention thresholds are absolute: fr 0.81, en 0.77).
"""
import argparse
from pathlib import Path

import common as C
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("tags", nargs="+")
ap.add_argument("--alphas", default="0.25,0.5,1")
ap.add_argument("--md", default=None)
a = ap.parse_args()
alphas = [float(x) for x in a.alphas.split(",")]

piaf, xq, ours = C.DS("piaf"), C.DS("xquad"), C.DS("ours")
fit_q, val_q, test_q, fit_rows, val_rows, test_rows = C.piaf_split(piaf)
nontest = np.sort(np.concatenate([fit_rows, val_rows]))
lang = np.array(ours.lang)
sets = [
    ("PIAF test", piaf, test_q, None, None),
    ("PIAF val", piaf, val_q, nontest, None),
    ("XQuAD en", xq, np.arange(len(xq.Q)), None, None),
    ("ours fr", ours, np.where(lang == "fr")[0], None, None),
    ("ours en", ours, np.where(lang == "en")[0], None, None),
]


def run(W, alpha):
    out, rrs = {}, {}
    for name, ds, q, rows, _ in sets:
        for mode in ("dense", "hybrid"):
            rr, nd = C.evaluate(ds, W, alpha, q, mode, rows)
            out[(name, mode)] = (100 * rr.mean(), 100 * nd.mean())
            rrs[(name, mode)] = rr
    Qa = C.adapt(ours.Q, W, alpha)
    top = C.scores(ours, Qa, np.arange(len(ours.Q)), "hybrid").max(1)
    out["top1"] = {code: float(top[lang == code].mean()) for code in ("fr", "en")}
    return out, rrs


base, base_rr = run(None, 0.0)
rows = [("identity", "-", base, None)]
for tag in a.tags:
    W = np.load(f"{C.OUT}/W_{tag}.npy")
    for al in alphas:
        res, rr = run(W, al)
        wl = {k: (int((rr[k] > base_rr[k] + 1e-9).sum()), int((rr[k] < base_rr[k] - 1e-9).sum())) for k in rr}
        rows.append((tag, al, res, wl))

names = [s[0] for s in sets]
hdr = "| W | α | " + " | ".join(f"{n} {m} MRR / nDCG" for n in names for m in ("dense", "hybrid")) + " | top-1 hybrid fr/en |"
lines = [hdr, "|" + "---|" * (hdr.count("|") - 1)]
for tag, al, res, wl in rows:
    cells = []
    for n in names:
        for m in ("dense", "hybrid"):
            mrr, nd = res[(n, m)]
            d = "" if wl is None else f" ({mrr - base[(n, m)][0]:+.1f}; ↑{wl[(n, m)][0]} ↓{wl[(n, m)][1]})"
            cells.append(f"{mrr:.1f} / {nd:.1f}{d}")
    lines.append(f"| {tag} | {al} | " + " | ".join(cells) + f" | {res['top1']['fr']:.3f} / {res['top1']['en']:.3f} |")
text = "\n".join(lines)
print(text)
if a.md:
    Path(a.md).write_text(text + "\n")
