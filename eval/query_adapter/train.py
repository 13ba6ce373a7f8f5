"""Train a 384x384 query-side adapter W (q' = normalize(W q), W initialised at I) on the PIAF fit split.

Loss: InfoNCE (temperature tau) of the gold passage against the batch's candidate pool = every query's gold
(in-batch negatives) + every query's K hard negatives (top-K non-relevant fit passages under the current W and
the training score, re-mined each epoch), + lam * ||W - I||_F^2. Other positives of a query are masked out.
Training score ('target'):
  passage : V_i . q'                       (rag --mode dense)
  sentence: max_j S_ij . q'
  hybrid  : 0.3 V_i.q' + 0.7 max_j S_ij.q' + 0.03 bm25/(bm25+15)   (rag's default hybrid score)
  both    : mean of the passage and hybrid losses
Early stopping on the validation titles (mean of dense and hybrid MRR@10, val queries ranked over fit+val passages).

    python train.py --target hybrid --lam 0.1 --tag h_l0.1
"""
import argparse
import json
import time
from pathlib import Path

import common as C
import numpy as np
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--target", default="hybrid", choices=["passage", "sentence", "hybrid", "both"])
ap.add_argument("--lam", type=float, default=0.1)
ap.add_argument("--tau", type=float, default=0.05)
ap.add_argument("--K", type=int, default=30)
ap.add_argument("--bs", type=int, default=64)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--epochs", type=int, default=40)
ap.add_argument("--patience", type=int, default=8)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--static_negs", action="store_true", help="mine hard negatives once with W = I")
ap.add_argument("--eval_every", type=int, default=20, help="steps between validation checks")
ap.add_argument("--learn_tau", action="store_true", help="learn the temperature (so W need not sharpen scores)")
ap.add_argument("--tag", required=True)
a = ap.parse_args()

torch.set_num_threads(2)
torch.manual_seed(a.seed)
rng = np.random.default_rng(a.seed)
ds = C.DS("piaf")
fit_q, val_q, test_q, fit_rows, val_rows, test_rows = C.piaf_split(ds)
nontest_rows = np.sort(np.concatenate([fit_rows, val_rows]))
d = ds.V.shape[1]

V = torch.from_numpy(ds.V)
M = int(np.diff(ds.st).max())
Spad = torch.zeros(ds.n, M, d)
Smask = torch.zeros(ds.n, M, dtype=torch.bool)
for i in range(ds.n):
    lo, hi = ds.st[i], ds.st[i + 1]
    Spad[i, : hi - lo] = torch.from_numpy(ds.S[lo:hi])
    Smask[i, : hi - lo] = True
Q = torch.from_numpy(ds.Q)
L = torch.from_numpy(ds.L)
W = torch.nn.Parameter(torch.eye(d))
log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1 / a.tau))), requires_grad=a.learn_tau)
opt = torch.optim.Adam([W], lr=a.lr)
opt_tau = torch.optim.Adam([log_scale], lr=1e-2) if a.learn_tau else None
EYE = torch.eye(d)
fit_set = set(fit_rows.tolist())


def score_fn(qa, rows, qidx, kind):
    """qa [B,d] adapted queries, rows [R] passage rows -> [B,R]."""
    p = qa @ V[rows].T
    if kind == "passage":
        return p
    s = torch.einsum("bd,rmd->brm", qa, Spad[rows]).masked_fill(~Smask[rows][None], -1e4).amax(-1)
    if kind == "sentence":
        return s
    return C.PW * p + (1 - C.PW) * s + C.LW * L[qidx][:, rows]


def mine(Wn):
    """Top-K non-relevant fit passages for every fit query under the current W (numpy scoring)."""
    Qa = C.adapt(ds.Q, Wn, 1.0)
    kind = "dense" if a.target == "passage" else "hybrid"
    out = {}
    for lo in range(0, len(fit_q), 512):
        qi = fit_q[lo : lo + 512]
        sc = C.scores(ds, Qa, qi, kind, fit_rows) if a.target != "sentence" else None
        if a.target == "sentence":
            ss = Qa[qi] @ ds.S.T
            sc = np.maximum.reduceat(ss, ds.st[:-1], axis=1)
            m = np.full(ds.n, -np.inf, np.float32)
            m[fit_rows] = 0
            sc = sc + m
        top = np.argsort(-sc, axis=1)[:, : a.K + 5]
        for j, q in enumerate(qi):
            out[q] = [r for r in top[j] if r not in ds.rel[q]][: a.K]
    return out


def val_score(Wn):
    res = {}
    for mode in ("dense", "hybrid"):
        rr, nd = C.evaluate(ds, Wn, 1.0, val_q, mode, nontest_rows)
        res[mode] = (float(rr.mean()), float(nd.mean()))
    return res


def loss_batch(qidx, negs):
    qa = torch.nn.functional.normalize(Q[qidx] @ W.T, dim=-1)
    pool = sorted({r for q in qidx for r in ds.rel[q] if r in fit_set} | {r for q in qidx for r in negs[q]})
    pos_of = {r: i for i, r in enumerate(pool)}
    rows = torch.tensor(pool)
    posmask = torch.zeros(len(qidx), len(pool), dtype=torch.bool)
    for b, q in enumerate(qidx):
        for r in ds.rel[q]:
            if r in pos_of:
                posmask[b, pos_of[r]] = True
    kinds = {"passage": ["passage"], "sentence": ["sentence"], "hybrid": ["hybrid"], "both": ["passage", "hybrid"]}
    total = 0
    for kind in kinds[a.target]:
        logits = score_fn(qa, rows, torch.from_numpy(qidx), kind) * log_scale.exp()
        lse_all = torch.logsumexp(logits, -1)
        lse_pos = torch.logsumexp(logits.masked_fill(~posmask, -1e9), -1)
        total = total + (lse_all - lse_pos).mean()
    return total / len(kinds[a.target])


t0 = time.time()
fit_probe = rng.choice(fit_q, 600, replace=False)  # training-fit queries, to see memorisation


def train_mrr(Wn):
    return {m: float(C.evaluate(ds, Wn, 1.0, fit_probe, m, nontest_rows)[0].mean()) for m in ("dense", "hybrid")}


base = val_score(None)
def crit(v):
    return 0.5 * (v["dense"][0] + v["hybrid"][0])
best, best_W, best_step, bad = crit(base), np.eye(d, dtype=np.float32), 0, 0
log = {"args": vars(a), "val_identity": base, "fit_probe_identity": train_mrr(None), "checks": []}
print("identity val", base, "fit-probe", log["fit_probe_identity"], flush=True)
negs = mine(None)
step, tot, nb, stop = 0, 0.0, 0, False
for ep in range(1, a.epochs + 1):
    if not a.static_negs and ep > 1:
        negs = mine(W.detach().numpy().copy())
    perm = rng.permutation(fit_q)
    for lo in range(0, len(perm), a.bs):
        qidx = perm[lo : lo + a.bs]
        loss = loss_batch(qidx, negs)
        reg = a.lam * ((W - EYE) ** 2).sum()
        opt.zero_grad()
        if opt_tau:
            opt_tau.zero_grad()
        (loss + reg).backward()
        opt.step()
        if opt_tau:
            opt_tau.step()
        tot += float(loss.detach())
        nb += 1
        step += 1
        if step % a.eval_every:
            continue
        Wn = W.detach().numpy().copy()
        v = val_score(Wn)
        dist = float(np.linalg.norm(Wn - np.eye(d)))
        tm = train_mrr(Wn)
        tau = float(1 / log_scale.detach().exp())
        log["checks"].append({"step": step, "ep": ep, "loss": tot / nb, "val": v, "fit_probe": tm, "tau": tau,
                              "||W-I||": dist, "t": time.time() - t0})
        print(f"ep {ep} step {step} loss {tot/nb:.4f} ||W-I|| {dist:.3f} val dense {v['dense'][0]:.4f} "
              f"hybrid {v['hybrid'][0]:.4f} | fit-probe dense {tm['dense']:.4f} hybrid {tm['hybrid']:.4f} "
              f"tau {float(1/log_scale.detach().exp()):.4f} ({time.time()-t0:.0f}s)", flush=True)
        tot, nb = 0.0, 0
        if crit(v) > best + 1e-4:
            best, best_W, best_step, bad = crit(v), Wn, step, 0
        else:
            bad += 1
            if bad >= a.patience:
                stop = True
                break
    if stop:
        break
log["best_step"], log["best_val_crit"], log["time_s"] = best_step, best, time.time() - t0
np.save(f"{C.OUT}/W_{a.tag}.npy", best_W)
Path(f"{C.OUT}/log_{a.tag}.json").write_text(json.dumps(log, indent=1))
print("best step", best_step, "val crit", round(best, 4), "identity", round(crit(base), 4), f"time {time.time()-t0:.0f}s")
