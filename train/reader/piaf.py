"""PIAF (MIT): v1.0 questions with answer spans, the v1.1 BEIR set, and the split by article title.

The split covers the 480 article titles of PIAF v1.1 (the 191 titles of v1.0 are among them): 80 % train, 10 %
validation, 10 % test, shuffled with a fixed seed, written to ``piaf_split.json`` beside this file. No passage of
a validation or test article is ever trained on; test is only read by ``evaluate.py``.

    python -m train.reader.piaf   # writes piaf_split.json (only when missing) and prints its sizes
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parents[2] / "shared" / "benchmarks"
SPLIT_FILE = HERE / "piaf_split.json"
SEED = 13


@dataclass(frozen=True)
class Paragraph:
    title: str
    context: str
    questions: tuple[str, ...]
    answers: tuple[tuple[tuple[int, str], ...], ...]  # per question: (answer_start, text) pairs


def piaf_paragraphs() -> Iterator[Paragraph]:
    data = json.loads((BENCH / "piaf_v1.0_squad" / "piaf-v1.0.json").read_text(encoding="utf-8"))
    for article in data["data"]:
        for para in article["paragraphs"]:
            yield Paragraph(
                article["title"],
                para["context"],
                tuple(qa["question"] for qa in para["qas"]),
                tuple(tuple((a["answer_start"], a["text"]) for a in qa["answers"]) for qa in para["qas"]),
            )


@dataclass(frozen=True)
class BeirData:
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, set[str]]


@cache
def piaf_beir() -> BeirData:
    folder = BENCH / "piaf_v1.1"
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        corpus[d["_id"]] = (d.get("title", ""), d["text"])
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        queries[d["_id"]] = d["text"]
    qrels: dict[str, set[str]] = {}
    for line in (folder / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        q, doc, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(q, set()).add(doc)
    return BeirData(corpus, queries, qrels)


def make_split() -> dict[str, str]:
    titles = sorted({title for title, _ in piaf_beir().corpus.values()})
    random.Random(SEED).shuffle(titles)
    n = len(titles)
    n_test, n_val = round(0.1 * n), round(0.1 * n)
    return {t: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, t in enumerate(titles)}


@cache
def load_split() -> dict[str, str]:
    """Article title -> "train" / "val" / "test"."""
    if not SPLIT_FILE.exists():
        SPLIT_FILE.write_text(json.dumps(make_split(), ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    split: dict[str, str] = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))
    return split


def query_part(qid: str) -> str | None:
    """The part of a v1.1 query: that of its gold passages' articles (None if they span parts)."""
    beir = piaf_beir()
    split = load_split()
    parts = {split[beir.corpus[d][0]] for d in beir.qrels.get(qid, ())}
    return parts.pop() if len(parts) == 1 else None


def main() -> None:
    split = load_split()
    beir = piaf_beir()
    for part in ("train", "val", "test"):
        titles = [t for t, p in split.items() if p == part]
        passages = sum(split[t] == part for t, _ in beir.corpus.values())
        queries = sum(query_part(q) == part for q in beir.qrels)
        v10 = sum(len(p.questions) for p in piaf_paragraphs() if split[p.title] == part)
        print(f"{part:5s}: {len(titles):3d} titles, {passages:4d} v1.1 passages, {queries:4d} v1.1 queries, "
              f"{v10:4d} v1.0 questions")


if __name__ == "__main__":
    main()
