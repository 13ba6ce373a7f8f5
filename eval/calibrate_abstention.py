"""Calibrate the abstention thresholds of rag.retrieve.abstention on a question set with answerable and no-answer questions.

    python eval/calibrate_abstention.py eval/questions.jsonl --index index

Prints, for a grid of thresholds, the no-answer recall and the false-abstention rate on answerable questions,
and the best setting that keeps false abstention at or under --max-false (default 5 %).
"""

from __future__ import annotations

import argparse
import itertools

from rag.evaluation.questions import Question, load_questions
from rag.ingest.lang import guess_language
from rag.retrieve import rank
from rag.retrieve.abstention import ABSTAIN_BELOW, ABSTAIN_LEXICAL_FR, Evidence, judge
from rag.retrieve.retriever import Retriever


def evidence(retriever: Retriever, question: Question) -> Evidence:
    """What the decision sees of a question in hybrid mode: the candidates, fused, and the missing answer kind."""
    candidates = retriever.candidates(question.question)
    ranking = rank.fuse(candidates)
    top = float(ranking.scores[0]) if len(ranking.rows) else 0.0
    missing = retriever.decide(candidates, ranking).missing
    return Evidence(top, ranking.lexical_max, guess_language(candidates.question), retriever.corpus_lang, missing)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions")
    parser.add_argument("--index", default="index")
    parser.add_argument("--max-false", type=float, default=0.05)
    args = parser.parse_args()
    retriever = Retriever.load(args.index)
    questions = load_questions(args.questions)
    collected = [(q, evidence(retriever, q)) for q in questions]
    answerable = [e for q, e in collected if not q.no_answer]
    no_answer = [e for q, e in collected if q.no_answer]

    def rates(below: dict[str, float], lexical_fr: float) -> tuple[float, float]:
        recall = sum(judge(e, below, lexical_fr).abstain for e in no_answer) / max(1, len(no_answer))
        false = sum(judge(e, below, lexical_fr).abstain for e in answerable) / max(1, len(answerable))
        return recall, false

    current = rates(ABSTAIN_BELOW, ABSTAIN_LEXICAL_FR)
    print(
        f"current setting {ABSTAIN_BELOW}, lexical_fr={ABSTAIN_LEXICAL_FR}: "
        f"no-answer recall {current[0]:.2f}, false abstention {current[1]:.3f}"
    )
    best: tuple[float, float, dict[str, float], float] | None = None
    grid_fr = [x / 1000 for x in range(760, 861, 5)]
    grid_en = [x / 1000 for x in range(720, 821, 5)]
    for fr, en, lex in itertools.product(grid_fr, grid_en, [0.0, 0.5, 1.0, 1.5, 2.0]):
        below = {"fr": fr, "en": en, "und": en}
        recall, false = rates(below, lex)
        if false <= args.max_false and (best is None or (recall, -false) > (best[0], -best[1])):
            best = (recall, false, below, lex)
    if best:
        print(
            f"best with false abstention <= {args.max_false:.0%}: {best[2]}, lexical_fr={best[3]}: "
            f"no-answer recall {best[0]:.2f}, false abstention {best[1]:.3f}"
        )


if __name__ == "__main__":
    main()
