"""Typed short answers through the real search (``Retriever.search``, as rag ask and the web app run it): the flag
rates and the answers given, per set and language.

    python eval/typed_eval.py --index /tmp/rag-typed/index --sets questions.jsonl heldout.jsonl heldout2.jsonl \
        --md eval/reports/typed/dev_search.md
    python eval/typed_eval.py --index /tmp/rag-typed/index --sets heldout3.jsonl --md eval/reports/typed/heldout3.md

``--index``: an index of the shipped corpus (built with the default model when missing). For each set: no-answer
questions flagged (``near``: on the corpus's subject; ``off``: unrelated; unlabelled no-answer questions of the older
sets as ``no-answer``), answerable questions flagged, and among the typed answerable questions (typed by rag), those
given an answer and those answered right. Right: the answer lies inside a gold answer or equals it after
``normalize_for_match`` (a set's ``short`` answers when it has them, as heldout3 does; else inside a gold quote of
the answer's document). ``calibration`` columns: flagged by the calibration alone (strength below the null), what
rag flagged before typed reading, for comparison in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.evaluation.questions import normalize_for_match  # noqa: E402
from rag.retrieve.abstention import MIN_STRENGTH  # noqa: E402
from rag.retrieve.question_type import question_type  # noqa: E402
from rag.types import NO_PASSAGE, Results  # noqa: E402


def _category(row: dict[str, Any]) -> str:
    kind = row.get("kind") or ""
    if kind in ("near", "off", "answerable"):
        return str(kind)
    return "answerable" if row.get("answers") else "no-answer"


def is_right(results: Results, row: dict[str, Any]) -> bool:
    answer = results.answer
    if answer is None:
        return False
    given = normalize_for_match(answer.normalized)
    if not given:
        return False
    shorts = [normalize_for_match(s) for s in row.get("short") or []]
    if shorts:
        return any(given == s or given in s for s in shorts)
    return any(given in normalize_for_match(g["quote"]) and g.get("source") in (None, answer.source) for g in row["answers"])


def evaluate(retriever: Any, rows: list[dict[str, Any]]) -> tuple[dict[str, Counter[str]], list[dict[str, Any]]]:
    counts: dict[str, Counter[str]] = {}
    details: list[dict[str, Any]] = []
    for row in rows:
        results = retriever.search(row["question"], k=5)
        d = results.decision
        calibration = d.reason == NO_PASSAGE or (d.strength is not None and d.strength < MIN_STRENGTH)
        typed = question_type(results.question) is not None
        cat = _category(row)
        c = counts.setdefault(f"{cat}|{row['lang']}", Counter())
        c["n"] += 1
        c["flagged"] += results.abstain
        c["calibration"] += calibration
        c["typed"] += typed
        if cat == "answerable" and typed:
            c["typed_answerable"] += 1
            c["answered"] += results.answer is not None
            c["right"] += is_right(results, row)
        details.append({
            "id": row["id"], "cat": cat, "type": row.get("type"), "typed": typed, "flagged": results.abstain,
            "reason": d.reason, "answer": None if results.answer is None else results.answer.normalized,
            "right": is_right(results, row) if cat == "answerable" else None, "short": row.get("short"),
        })  # fmt: skip
    return counts, details


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} % ({part}/{whole})" if whole else "–"


def table(name: str, counts: dict[str, Counter[str]]) -> list[str]:
    lines = []
    for lang in ("fr", "en"):

        def get(cat: str, field: str, lang: str = lang) -> int:
            return int(counts.get(f"{cat}|{lang}", Counter())[field])

        a = counts.get(f"answerable|{lang}", Counter())
        lines.append(
            f"| {name} | {lang} | {_pct(get('near', 'flagged'), get('near', 'n'))} | "
            f"{_pct(get('off', 'flagged'), get('off', 'n'))} | {_pct(get('no-answer', 'flagged'), get('no-answer', 'n'))} | "
            f"{_pct(a['flagged'], a['n'])} | {_pct(a['right'], a['answered'])} | {_pct(a['answered'], a['typed_answerable'])} | "
            f"{_pct(get('near', 'calibration'), get('near', 'n'))} | {_pct(a['calibration'], a['n'])} |"
        )
    return lines


HEADER = [
    "| sets | lang | near flagged | off flagged | no-answer flagged | answerable flagged | answers right (of answered) | "
    "typed answerable answered | near flagged, calibration alone | answerable flagged, calibration alone |",
    "|---|---|---|---|---|---|---|---|---|---|",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--sets", nargs="+", required=True, help="question sets in eval/")
    parser.add_argument("--md", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from rag.index import build_index
    from rag.retrieve.retriever import Retriever

    if not (args.index / "manifest.json").exists():
        build_index(ROOT / "corpus", args.index)
    retriever = Retriever.load(args.index)
    rows = [
        json.loads(line) for name in args.sets for line in (ROOT / "eval" / name).read_text("utf-8").splitlines() if line.strip()
    ]
    counts, details = evaluate(retriever, rows)
    text = "\n".join([*HEADER, *table(" + ".join(args.sets), counts)])
    print(text)
    if args.md:
        args.md.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "questions": details}, ensure_ascii=False, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
