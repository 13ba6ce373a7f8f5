"""How safe is the answer-kind check of rag.retrieve.answer_kind on questions it was not written from?

    python eval/answer_kinds.py --beir ../shared/benchmarks/piaf_v1.1 --index /tmp/rag-bench/piaf_v1.1 \
        --beir ../shared/benchmarks/xquad_en --index /tmp/rag-bench/xquad_en --json eval/reports/answer_kinds.json

Every question of a BEIR set is answerable, so every abstention the check causes there is a false one. For each set
and each kind (percentage, amount, date, number) this prints how many questions ask for it, how often the gold
passage holds one (the check can only go wrong when it does not, or when retrieval misses the gold passage), how
often the check fires on the real top passages, and how often it fires although a gold passage is among the ten
hits shown (the harm a user would see). Each index is built by ``rag eval --beir DIR --index INDEX`` when missing.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from rag.evaluation.beir import beir_documents, index_matches
from rag.evaluation.questions import load_beir
from rag.retrieve.answer_kind import KINDS, asked_for
from rag.retrieve.retriever import Retriever

K = 10


def check(folder: str, index: str) -> dict[str, Any]:
    """The counts above for one BEIR set, per kind and in all."""
    beir = load_beir(folder)
    retriever = Retriever.load(index)
    if not index_matches(index, beir_documents(beir), retriever.embedder.id):
        raise SystemExit(f"{index} is not an index of {folder}: build it with `rag eval --beir {folder} --index {index}`")
    counts: dict[str, Counter[str]] = {kind.name: Counter() for kind in KINDS}
    fired: list[dict[str, Any]] = []
    n_questions = 0
    for qid, question in beir.queries.items():
        gold = {doc for doc, grade in beir.qrels.get(qid, {}).items() if grade > 0}
        if not gold:
            continue
        n_questions += 1
        kind = asked_for(question)
        if kind is None:
            continue
        c = counts[kind.name]
        c["asked"] += 1
        c["gold_holds"] += any(kind.found_in(beir.corpus[doc][1]) for doc in gold if doc in beir.corpus)
        hits = retriever.search(question, k=K, highlight=False)
        if hits.missing:
            c["fired"] += 1
            shown = any(hit.source in gold for hit in hits)
            c["fired_gold_shown"] += shown
            fired.append({"id": qid, "question": question, "kind": kind.name, "gold_shown": shown})
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    return {
        "questions": n_questions,
        "kinds": {name: dict(c) for name, c in counts.items()},
        "all": dict(total),
        "harmful_rate": total["fired_gold_shown"] / max(1, n_questions),
        "fired": fired,
    }


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--beir", action="append", required=True, help="BEIR folder (repeatable)")
    parser.add_argument("--index", action="append", required=True, help="its index (one per --beir, same order)")
    parser.add_argument("--json", help="write the counts and the questions the check fired on here")
    args = parser.parse_args()
    if len(args.beir) != len(args.index):
        parser.error("give one --index per --beir")
    results = {Path(folder).name: check(folder, index) for folder, index in zip(args.beir, args.index, strict=True)}
    header = "| set | kind | asked | gold passage holds one | check fired | fired with a gold passage shown |"
    print(header)
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        for kind, c in [*result["kinds"].items(), ("all", result["all"])]:
            asked = c.get("asked", 0)
            print(
                f"| {name} | {kind} | {asked} | {_pct(c.get('gold_holds', 0), asked)} | "
                f"{c.get('fired', 0)} ({_pct(c.get('fired', 0), asked)}) | {c.get('fired_gold_shown', 0)} |"
            )
        print(
            f"| {name} | share of all {result['questions']} questions wrongly abstained by the check | | | | "
            f"{100 * result['harmful_rate']:.2f} % |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
