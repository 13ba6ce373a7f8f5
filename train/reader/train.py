"""Train the reader and write a reader directory (reader.json + reader.onnx) that ``rag.reader.Reader`` loads.

    python -m train.reader.train --out rag/models/reader --minutes 90

Each step reads ``--questions`` questions, each with a group of ``--group`` passages: one gold passage and
negatives drawn from its hard (retrieved), same-article, answer-cut and random negatives (``data.py``). Two
losses on the two outputs: relevance, softmax cross-entropy of the gold passage against its group (a ranking
loss: what reranking needs); answer, binary cross-entropy on every pair (does this passage answer). Word
embeddings stay frozen (they carry e5's French-English alignment; only French questions are trained on).
The checkpoint with the best validation score (MRR of relevance + AUC of answers, on validation articles) is
kept; the answer logit is then calibrated on validation (Platt scaling) and the model exported to ONNX with int8
weights.

Run 2 (answerability of near-topic questions first): ``--init`` continues from earlier weights; the answer loss is
weighted towards near-topic negatives (``--near-weight``: answer-cut, same-article, hard negatives of the gold's
article, and entity-swapped questions against their gold passage, see ``augment.py``); training questions are
paraphrased or code-switched to English with probability ``--paraphrase`` / ``--code-switch``; model selection
uses the MRR plus the answer AUC of gold against near-topic negatives only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rag.reader import FORMAT_VERSION, PieceTokenizer, build_inputs
from train.reader.augment import entity_swap, load_neighbours, paraphrase
from train.reader.candidates import DATA
from train.reader.e5_base import read_e5
from train.reader.model import CrossEncoder, export_onnx, from_e5

MAX_QUESTION = 48
NEAR = ("cut", "article", "swap")  # near-topic negative kinds (and hard negatives with "near": same article)


def is_near(pair: dict[str, Any]) -> bool:
    return pair["label"] == 0 and (pair["kind"] in NEAR or bool(pair.get("near")))


def answer_weights(pairs: list[dict[str, Any]], near_weight: float) -> list[float]:
    """Weight of each pair in the answer loss: near-topic negatives count ``near_weight``, random ones little."""
    return [near_weight if is_near(p) else 0.3 if p["kind"] == "random" else 1.0 for p in pairs]


def swapped(g: dict[str, Any], gold: dict[str, Any], rnd: random.Random) -> tuple[str, dict[str, Any]] | None:
    """An entity-swapped question and its gold passage as a near-topic negative (None when no swap applies)."""
    others = [p["text"] for p in g["pairs"] if p["kind"] == "article" or p.get("near")]
    question = entity_swap(g["question"], gold["text"], others, rnd)
    if question is None:
        return None
    return question, {**gold, "label": 0, "kind": "swap"}


def trimmed_tokenizer(base: Any, keep: list[int]) -> PieceTokenizer:
    index = {old: new for new, old in enumerate(keep)}
    return PieceTokenizer(
        [base.pieces[i] for i in keep], base.scores[np.array(keep)].tolist(), base.normalize,
        **{k: index[v] for k, v in base.special.items()},
    )


def read_groups(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def window(pair: dict[str, Any], chars: int, rnd: random.Random) -> dict[str, Any] | None:
    """The pair with its text cut to at most ``chars`` characters at word boundaries: around the answer for a gold
    passage (None when the passage is longer and where its answer lies is unknown), anywhere for a negative."""
    text = pair["text"]
    if len(text) <= chars:
        return pair
    if pair["label"] == 1:
        if not pair.get("answers"):
            return None
        s, e = pair["answers"][0]
        lo, hi = max(0, e - chars), max(0, min(s, len(text) - chars))
        start = rnd.randint(min(lo, hi), max(lo, hi))
    else:
        start = rnd.randint(0, len(text) - chars)
    end = start + chars
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 40 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > end - 40 else end
    return {**pair, "text": text[start:end]}


def sample_group(g: dict[str, Any], size: int, rnd: random.Random, chars: int = 100000) -> list[dict[str, Any]] | None:
    """Gold first, then negatives: half hard (favouring the best-ranked), one of each other kind, hard to fill; texts
    cut to ``chars`` (see ``window``). None when no gold passage can be read whole or around its answer."""
    pairs = [w for w in (window(p, chars, rnd) for p in g["pairs"]) if w is not None]
    golds = [p for p in pairs if p["label"] == 1]
    if not golds:
        return None
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for p in pairs:
        if p["label"] == 0:
            by_kind.setdefault(p["kind"], []).append(p)
    chosen = [rnd.choice(golds)]
    hard = list(by_kind.get("hard", []))
    n_hard = max(1, (size - 1) // 2)
    while hard and len(chosen) < 1 + n_hard:
        i = min(int(rnd.expovariate(1 / 4)), len(hard) - 1)
        chosen.append(hard.pop(i))
    for kind in ("cut", "article", "random"):
        if by_kind.get(kind) and len(chosen) < size:
            chosen.append(rnd.choice(by_kind[kind]))
    rest = hard + [p for k in ("article", "random") for p in by_kind.get(k, []) if p not in chosen]
    rnd.shuffle(rest)
    chosen.extend(rest[: size - len(chosen)])
    return chosen


def encode_group(tok: PieceTokenizer, question: str, pairs: list[dict[str, Any]], max_length: int,
                 use_titles: bool) -> tuple[torch.Tensor, torch.Tensor]:
    titles = [p["title"] for p in pairs] if use_titles else None
    ids, mask = build_inputs(tok, question, [p["text"] for p in pairs], titles, max_length=max_length,
                             max_question=MAX_QUESTION)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def pad_cat(parts: list[tuple[torch.Tensor, torch.Tensor]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(ids.shape[1] for ids, _ in parts)
    ids = torch.cat([torch.nn.functional.pad(i, (0, width - i.shape[1]), value=pad) for i, _ in parts])
    mask = torch.cat([torch.nn.functional.pad(m, (0, width - m.shape[1]), value=0) for _, m in parts])
    return ids, mask


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@torch.no_grad()
def validate(model: CrossEncoder, tok: PieceTokenizer, groups: list[dict[str, Any]], max_length: int,
             size: int, chars: int) -> dict[str, Any]:
    """On fixed validation groups (gold + ``size``-1 negatives, seed 0): MRR of relevance, AUC of answer logits."""
    model.eval()
    rnd = random.Random(0)
    rr, answer_logits, labels, near = [], [], [], []
    for g in groups:
        pairs = sample_group(g, size, rnd, chars)
        if pairs is None:
            continue
        ids, mask = encode_group(tok, g["question"], pairs, max_length, True)
        logits = model(ids, mask).float().numpy()
        rank = 1 + int((logits[1:, 0] > logits[0, 0]).sum())
        rr.append(1.0 / rank)
        answer_logits.extend(logits[:, 1].tolist())
        labels.extend(p["label"] for p in pairs)
        near.extend(p["label"] == 1 or is_near(p) for p in pairs)
        swap = swapped(g, pairs[0], rnd)
        if swap is not None:
            ids, mask = encode_group(tok, swap[0], [swap[1]], max_length, True)
            answer_logits.append(float(model(ids, mask)[0, 1]))
            labels.append(0)
            near.append(True)
    model.train()
    a, y, m = np.array(answer_logits), np.array(labels), np.array(near)
    return {"mrr": float(np.mean(rr)), "auc": auc(a, y), "auc_near": auc(a[m], y[m]), "answer_logits": a, "labels": y}


def platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Scale and bias so that sigmoid(scale * logit + bias) is calibrated (logistic regression, Newton steps)."""
    a, b = 1.0, 0.0
    x, y = logits.astype(np.float64), labels.astype(np.float64)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a * x + b)))
        g = np.array([np.sum((p - y) * x), np.sum(p - y)])
        w = p * (1 - p)
        h = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-6 * np.eye(2)
        a, b = np.array([a, b]) - np.linalg.solve(h, g)
    return float(a), float(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="reader directory to write")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=224, help="pair length in training (tokens)")
    ap.add_argument("--infer-length", type=int, default=256, help="pair length written for inference (tokens)")
    ap.add_argument("--chars", type=int, default=800, help="passages are cut to windows of this many characters")
    ap.add_argument("--freeze-layers", type=int, default=1, help="lowest encoder layers kept frozen")
    ap.add_argument("--group", type=int, default=5)
    ap.add_argument("--questions", type=int, default=4, help="questions per step")
    ap.add_argument("--minutes", type=float, default=90, help="training time budget")
    ap.add_argument("--max-steps", type=int, default=100000)
    ap.add_argument("--lr", type=float, default=6e-5)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--val-questions", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, help="start from these weights (a state dict written by an earlier run)")
    ap.add_argument("--near-weight", type=float, default=1.0, help="answer-loss weight of near-topic negatives")
    ap.add_argument("--swap", type=float, default=0.0, help="probability of adding an entity-swapped question")
    ap.add_argument("--paraphrase", type=float, default=0.0, help="probability of paraphrasing a question")
    ap.add_argument("--code-switch", type=float, default=0.0, help="probability of switching a question to English")
    ap.add_argument("--name", default="reader", help="checkpoint name under $READER_DATA")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rnd = random.Random(args.seed)
    base = read_e5()
    keep = json.loads((DATA / "vocab.json").read_text())["original_ids"]
    tok = trimmed_tokenizer(base, keep)
    model = from_e5(base, keep, args.layers)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu"))
    neighbours = load_neighbours() if args.paraphrase or args.code_switch else {}
    model.word.weight.requires_grad_(False)
    for module in (model.pos, model.eln, *model.layers[: args.freeze_layers]):
        for param in module.parameters():
            param.requires_grad_(False)
    model.token_type.requires_grad_(False)
    train_groups = read_groups(DATA / "groups_train.jsonl")
    val_groups = read_groups(DATA / "groups_val.jsonl")
    random.Random(1).shuffle(val_groups)
    val_groups = val_groups[: args.val_questions]

    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": 1e-3}], weight_decay=0.01)
    # Training is bounded by time (the machine is shared: steps take as long as they take): the learning rate
    # decays linearly with the share of the time budget used.
    budget = args.minutes * 60
    warmup = 50
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    log = DATA / "train.log"
    started = time.time()
    best: dict[str, Any] = {"score": -1.0}
    step = 0
    order: list[int] = []
    with log.open("a", encoding="utf-8") as f:
        f.write(f"\n# {time.ctime()} {vars(args)}\n")
        while step < args.max_steps and time.time() - started < budget:
            if not order:
                order = list(range(len(train_groups)))
                rnd.shuffle(order)
            batch = [train_groups[order.pop()] for _ in range(min(args.questions, len(order)))]
            parts, labels, weights, extra = [], [], [], []
            for g in batch:
                pairs = sample_group(g, args.group, rnd, args.chars)
                if pairs is None:
                    continue
                titles = rnd.random() < 0.7
                question, r = g["question"], rnd.random()
                if r < args.code_switch:
                    question = paraphrase(question, pairs[0]["text"], neighbours, rnd, english=1.0, rate=0.8)
                elif r < args.code_switch + args.paraphrase:
                    question = paraphrase(question, pairs[0]["text"], neighbours, rnd, english=0.25, rate=0.35)
                parts.append(encode_group(tok, question or g["question"], pairs, args.max_length, titles))
                labels.append(torch.tensor([p["label"] for p in pairs], dtype=torch.float32))
                weights.extend(answer_weights(pairs, args.near_weight))
                swap = swapped(g, pairs[0], rnd) if rnd.random() < args.swap else None
                if swap is not None:
                    extra.append(encode_group(tok, swap[0], [swap[1]], args.max_length, titles))
            if not parts:
                continue
            ids, mask = pad_cat(parts + extra, tok.pad)
            logits = model(ids, mask)
            loss_rank = torch.zeros(())
            offset = 0
            for lab in labels:
                rel = logits[offset : offset + len(lab), 0]
                loss_rank = loss_rank + torch.nn.functional.cross_entropy(rel[None], torch.zeros(1, dtype=torch.long))
                offset += len(lab)
            loss_rank = loss_rank / len(labels)
            # Swapped questions (after the groups) have no gold passage: answer loss only, label 0, near-topic weight.
            y = torch.cat([*labels, torch.zeros(len(extra))])
            w = torch.tensor(weights + [args.near_weight] * len(extra))
            loss_answer = (bce(logits[:, 1], y) * w).sum() / w.sum()
            loss = loss_rank + loss_answer
            scale = min(1.0, (step + 1) / warmup) * max(0.0, 1 - (time.time() - started) / budget)
            for group, lr in zip(opt.param_groups, (args.lr, 1e-3), strict=True):
                group["lr"] = lr * scale
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            elapsed = time.time() - started
            if step % 25 == 0:
                f.write(f"step {step} loss rank {loss_rank.item():.3f} answer {loss_answer.item():.3f} {elapsed / 60:.1f} min\n")
                f.flush()
            if step % args.eval_every == 0:
                v = validate(model, tok, val_groups, args.max_length, args.group, args.chars)
                score = v["mrr"] + v["auc_near"]
                f.write(f"VAL step {step}: mrr {v['mrr']:.4f} auc {v['auc']:.4f} auc_near {v['auc_near']:.4f}\n")
                f.flush()
                if score > best["score"]:
                    best = {"score": score, "step": step, "mrr": v["mrr"], "auc": v["auc"], "auc_near": v["auc_near"],
                            "state": {k: t.detach().clone() for k, t in model.state_dict().items()}}
                    torch.save(best["state"], DATA / f"reader_{args.name}_best.pt")
        v = validate(model, tok, val_groups, args.max_length, args.group, args.chars)
        f.write(f"VAL step {step} (end): mrr {v['mrr']:.4f} auc {v['auc']:.4f} auc_near {v['auc_near']:.4f}\n")
        if v["mrr"] + v["auc_near"] > best["score"]:
            best = {"score": v["mrr"] + v["auc_near"], "step": step, "mrr": v["mrr"], "auc": v["auc"],
                    "auc_near": v["auc_near"], "state": model.state_dict()}
        model.load_state_dict(best["state"])
        v = validate(model, tok, val_groups, args.max_length, args.group, args.chars)
        scale_, bias_ = platt(v["answer_logits"], v["labels"])
        minutes = (time.time() - started) / 60
        f.write(f"best step {best['step']} mrr {best['mrr']:.4f} auc {best['auc']:.4f}; platt {scale_:.3f} {bias_:.3f}; "
                f"{minutes:.1f} min\n")
    write_reader(model, tok, args, (scale_, bias_), {"steps": step, "best_step": best["step"], "minutes": round(minutes, 1),
                                                      "val_mrr": round(best["mrr"], 4), "val_auc": round(best["auc"], 4),
                                                      "val_auc_near": round(best["auc_near"], 4)})


def write_reader(model: CrossEncoder, tok: PieceTokenizer, args: argparse.Namespace, calibration: tuple[float, float],
                 training: dict[str, Any]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), DATA / f"reader_{args.name}.pt")
    tmp = DATA / "export" / "reader.onnx"
    quantized = export_onnx(model, tmp)
    target = args.out / "reader.onnx"
    target.write_bytes(quantized.read_bytes())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    config = {
        "format": FORMAT_VERSION,
        "id": f"e5s-l{args.layers}-fren-{digest[:10]}",
        "max_length": args.infer_length,
        "max_question": MAX_QUESTION,
        "batch_size": 8,
        "calibration": {"scale": calibration[0], "bias": calibration[1]},
        "training": {**training, "layers": args.layers, "group": args.group, "questions_per_step": args.questions,
                     "train_length": args.max_length, "window_chars": args.chars, "frozen_layers": args.freeze_layers,
                     "lr": args.lr, "seed": args.seed, "init": str(args.init) if args.init else None,
                     "near_weight": args.near_weight, "swap": args.swap, "paraphrase": args.paraphrase,
                     "code_switch": args.code_switch},
        "tokenizer": tok.to_dict(),
    }
    (args.out / "reader.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}: id {config['id']}, {target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
