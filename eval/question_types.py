"""How many questions ``rag.retrieve.question_type`` types, of which kind, and a sample to check by hand.

    python eval/question_types.py --sample 60 --md eval/reports/typed/question_types.md

PIAF v1.0 (French) and XQuAD English questions, and the development sets (``eval/questions.jsonl``,
``heldout.jsonl``, ``heldout2.jsonl``; never ``heldout3.jsonl``): the share typed, per kind. ``--sample N`` lists N
typed questions of PIAF and of XQuAD drawn at random (``--seed``) with their type and focus, for the precision checked
by hand in eval/reports/typed/README.md. The rules were written on the development sets and checked against XQuAD
and PIAF questions: every figure here is in-sample.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.evaluation.questions import load_questions  # noqa: E402
from rag.retrieve.question_type import KINDS, question_type  # noqa: E402

BENCH = ROOT.parent / "shared" / "benchmarks"
DEV_SETS = ("questions.jsonl", "heldout.jsonl", "heldout2.jsonl")


def piaf_questions(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [q["question"] for article in data["data"] for p in article["paragraphs"] for q in p["qas"]]


def xquad_questions(folder: Path) -> list[str]:
    return [json.loads(line)["text"] for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()]


def shares(questions: list[str]) -> dict[str, int]:
    """How many of ``questions`` each kind types (``none`` for the untyped)."""
    counts = Counter((t.kind if (t := question_type(q)) is not None else "none") for q in questions)
    return {kind: counts.get(kind, 0) for kind in (*KINDS, "none")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--piaf", type=Path, default=BENCH / "piaf_v1.0_squad" / "piaf-v1.0.json")
    parser.add_argument("--xquad", type=Path, default=BENCH / "xquad_en")
    parser.add_argument("--sample", type=int, default=0, help="typed questions of PIAF and XQuAD listed for checking")
    parser.add_argument("--seed", type=int, default=21, help="of the sample")
    parser.add_argument("--md", type=Path, help="write the tables (and the sample) here")
    args = parser.parse_args()
    sets = {"PIAF (fr)": piaf_questions(args.piaf), "XQuAD (en)": xquad_questions(args.xquad)}
    dev = [q for name in DEV_SETS for q in load_questions(ROOT / "eval" / name)]
    sets["dev sets (fr)"] = [q.question for q in dev if q.lang == "fr"]
    sets["dev sets (en)"] = [q.question for q in dev if q.lang == "en"]
    lines = ["| set | questions | typed | " + " | ".join(KINDS) + " |", "|---|---|---|" + "---|" * len(KINDS)]
    for name, questions in sets.items():
        c = shares(questions)
        typed = len(questions) - c["none"]
        cells = " | ".join(f"{100 * c[k] / len(questions):.1f} %" for k in KINDS)
        lines.append(f"| {name} | {len(questions)} | {100 * typed / len(questions):.1f} % | {cells} |")
    if args.sample:
        for name in ("PIAF (fr)", "XQuAD (en)"):
            typed_qs = [(q, t) for q in sets[name] if (t := question_type(q)) is not None]
            lines += ["", f"Sample of {name} (seed {args.seed}):", "", "| # | kind | focus | question |", "|---|---|---|---|"]
            for i, (q, t) in enumerate(random.Random(args.seed).sample(typed_qs, min(args.sample, len(typed_qs))), 1):
                lines.append(f"| {i} | {t.kind} | {t.focus or ''} | {q} |")
    text = "\n".join(lines)
    print(text)
    if args.md:
        args.md.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
