"""Choose how rag.retrieve.abstention sums up evidence against the corpus's null distribution.

    python eval/calibrate_abstention.py eval/questions.jsonl eval/heldout.jsonl --index index

For every question of the sets and every null question (rag/data/null_questions.jsonl, each compared with the null
distribution of the others: leave-one-out), the evidence of a hybrid search is collected once, the second opinion's
included. Each setting of the rule (lexical share, second-opinion share, minimum strength) then gives, per language,
the share of answerable questions flagged, of no-answer questions flagged and of null questions flagged (generic
questions the corpus does not answer: the off-topic case); the e5-only band outside which the second opinion never
changes a decision is printed for the chosen setting. Choose on development sets, never on a held-out set.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from rag.evaluation.questions import load_questions
from rag.ingest.lang import guess_language
from rag.retrieve import abstention
from rag.retrieve.abstention import evidence_strength
from rag.retrieve.calibration import Calibration, bucket, null_questions
from rag.retrieve.retriever import Retriever

Evidence = dict[str, float]


def calibration_of(nulls: list[tuple[str, Evidence]], without: int | None = None) -> Calibration:
    """The calibration ``calibrate`` would store for these null evidences (``without`` one of them: leave-one-out)."""
    values: dict[str, dict[str, list[float]]] = {}
    for i, (lang, evidence) in enumerate(nulls):
        if i != without:
            for signal, value in evidence.items():
                values.setdefault(lang, {}).setdefault(signal, []).append(value)
    return Calibration({lang: {s: sorted(v) for s, v in sig.items()} for lang, sig in values.items()})


def _flagged(cal: Calibration, evidence: Evidence, rule: tuple[str, float, float, float]) -> bool:
    lang, lexical_share, second_share, minimum = rule
    return evidence_strength(cal, lang, evidence, lexical_share, second_share) < minimum


def e5_only(evidence: Evidence) -> Evidence:
    return {s: v for s, v in evidence.items() if s != "second"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--index", default="index")
    args = parser.parse_args()
    retriever = Retriever.load(args.index)
    questions = [q for path in args.questions for q in load_questions(path)]
    items = [(q, guess_language(q.question), retriever.evidence(q.question)) for q in questions]
    nulls = [(bucket(n), retriever.evidence(n.question)) for n in null_questions()]
    full = calibration_of(nulls)
    loo = [calibration_of(nulls, i) for i in range(len(nulls))]
    print("| lexical share | second share | min strength | lang | answerable flagged | no-answer flagged | null flagged |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    for ls, ss, minimum in itertools.product((0.0, 0.25, 0.5), (0.0, 0.35, 0.5, 0.65), (1.0, 1.25, 1.5, 1.75)):
        for lang in ("fr", "en"):
            rule = (lang, ls, ss, minimum)
            answerable = [_flagged(full, ev, rule) for q, lg, ev in items if q.lang == lang and not q.no_answer]
            no_answer = [_flagged(full, ev, rule) for q, lg, ev in items if q.lang == lang and q.no_answer]
            null = [_flagged(loo[i], ev, rule) for i, (lg, ev) in enumerate(nulls) if lg == lang]
            print(
                f"| {ls} | {ss} | {minimum} | {lang} | {np.mean(answerable):.3f} | {np.mean(no_answer):.3f} | "
                f"{np.mean(null):.3f} |"
            )
    # Where the second opinion can change the decision of the chosen rule: the e5-only strengths of the questions
    # (and null questions) whose decision it changes.
    changed = []
    for cal, lang, ev in [(full, lg, ev) for _, lg, ev in items] + [(loo[i], lg, ev) for i, (lg, ev) in enumerate(nulls)]:
        alone = evidence_strength(cal, lang, e5_only(ev))
        both = evidence_strength(cal, lang, ev)
        if (alone < abstention.MIN_STRENGTH) != (both < abstention.MIN_STRENGTH):
            changed.append(alone)
    if changed:
        low, high = min(changed), max(changed)
        print(f"\nthe second opinion changes {len(changed)} decisions, at e5-only strengths {low:.2f} to {high:.2f}")
    else:
        print("\nthe second opinion changes no decision")


if __name__ == "__main__":
    main()
