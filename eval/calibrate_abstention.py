"""Choose how rag.retrieve.abstention sums up evidence against the corpus's null distribution.

    python eval/calibrate_abstention.py eval/questions.jsonl eval/heldout.jsonl --index index

For every question of the sets and every null question (rag/data/null_questions.jsonl, each compared with the null
distribution of the others: leave-one-out), the evidence of a hybrid search is collected once; each rule then gives,
per language, the share of answerable questions flagged, the share of no-answer questions flagged and the share of
null questions flagged (generic questions the corpus does not answer: the off-topic case). The rule is chosen on
these development sets, never on a held-out set.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable

import numpy as np

from rag.evaluation.questions import load_questions
from rag.ingest.lang import guess_language
from rag.retrieve.calibration import Calibration, bucket, null_questions
from rag.retrieve.retriever import Retriever

Rule = Callable[[Calibration, str, dict[str, float]], float]


def rule(passage_share: float, lexical_share: float) -> Rule:
    """Strength = passage_share · z(passage) + (1 − passage_share) · z(fused) + lexical_share · z(lexical)."""

    def strength(cal: Calibration, lang: str, ev: dict[str, float]) -> float:
        z = {s: cal.z(lang, s, v) for s, v in ev.items()}
        return passage_share * z["passage"] + (1 - passage_share) * z["fused"] + lexical_share * z["lexical"]

    return strength


def calibration_of(nulls: list[tuple[str, dict[str, float]]], without: int | None = None) -> Calibration:
    """The calibration ``calibrate`` would store for these null evidences (``without`` one of them: leave-one-out)."""
    values: dict[str, dict[str, list[float]]] = {}
    for i, (lang, evidence) in enumerate(nulls):
        if i != without:
            for signal, value in evidence.items():
                values.setdefault(lang, {}).setdefault(signal, []).append(value)
    return Calibration({lang: {s: sorted(v) for s, v in sig.items()} for lang, sig in values.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--index", default="index")
    args = parser.parse_args()
    retriever = Retriever.load(args.index)
    questions = [q for path in args.questions for q in load_questions(path)]
    items = [(q, guess_language(q.question), retriever.evidence(q.question)) for q in questions]
    nulls = [(bucket(n), retriever.evidence(n.question)) for n in null_questions()]
    cal = calibration_of(nulls)
    print("| passage share | lexical share | min strength | lang | answerable flagged | no-answer flagged | null flagged |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for ps, ls, minimum in itertools.product((0.0, 0.5, 1.0), (0.0, 0.25, 0.5), (0.5, 0.75, 1.0, 1.25, 1.5)):
        strength = rule(ps, ls)
        for lang in ("fr", "en"):
            answerable = [strength(cal, lang, ev) < minimum for q, lg, ev in items if q.lang == lang and not q.no_answer]
            no_answer = [strength(cal, lang, ev) < minimum for q, lg, ev in items if q.lang == lang and q.no_answer]
            null = [strength(calibration_of(nulls, i), lang, ev) < minimum for i, (lg, ev) in enumerate(nulls) if lg == lang]
            print(
                f"| {ps} | {ls} | {minimum} | {lang} | {np.mean(answerable):.3f} | {np.mean(no_answer):.3f} | "
                f"{np.mean(null):.3f} |"
            )


if __name__ == "__main__":
    main()
