"""Measure highlight quality (rag.highlight_eval) and simulate candidate highlighting rules on the same first hits.

    python eval/highlight_variants.py --index index --json eval/reports/highlight.json

The rules are simulations over the index's stored sentence spans and vectors (nothing is re-embedded); they show
what a change to ``Retriever.highlight`` would gain before anyone makes it. Prints one line per rule and the misses
of the current rule.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag import retriever as retriever_module
from rag.highlight_eval import highlight_quality
from rag.questions import load_questions, matched_answers, normalize_for_match
from rag.retriever import Retriever

TERMINAL = re.compile(r"[.!?…][»\"”)\]]?$")
# A sentence opening with a pronoun leans on the sentence before it ("Elle a rassemblé 200 représentants").
ANAPHORA = re.compile(
    r"^(?:[-•]\s*)?(?:elle|il|elles|ils|celle-ci|celui-ci|ceux-ci|it|they|this|these)\b|^[^,]{0,60},\s*(?:elle|il)\b", re.I
)

Spans = list[tuple[int, int]]
Rule = Callable[[str, Spans, np.ndarray], list[int]]


def current(text: str, spans: Spans, sims: np.ndarray) -> list[int]:
    """Retriever.highlight as it is: best sentence of at least MIN_HIGHLIGHT_CHARS, and a second one within margin."""
    n = retriever_module.MIN_HIGHLIGHT_CHARS
    cands = [i for i, (s, e) in enumerate(spans) if e - s >= n] or list(range(len(spans)))
    ranked = sorted(cands, key=lambda i: -float(sims[i]))
    best = float(sims[ranked[0]])
    return sorted(
        i for i in ranked[: retriever_module.MAX_HIGHLIGHTS] if float(sims[i]) >= best - retriever_module.HIGHLIGHT_MARGIN
    )


def _is_heading_or_intro(text: str, spans: Spans, i: int) -> bool:
    """A leading line without final punctuation (a heading attached to its paragraph), or a list introduction."""
    s, e = spans[i]
    piece = text[s:e].rstrip()
    if piece.endswith(":"):
        return True
    leading = all(not TERMINAL.search(text[a:b].rstrip()) for a, b in spans[: i + 1])
    return leading and not TERMINAL.search(piece)


def body_too(text: str, spans: Spans, sims: np.ndarray) -> list[int]:
    """Like ``current``; when what it picks is only headings or list introductions (ending with ':'), the best
    other sentence is highlighted too (a heading restates the question's topic but seldom holds the answer)."""
    chosen = current(text, spans, sims)
    if all(_is_heading_or_intro(text, spans, i) for i in chosen):
        body = [i for i in range(len(spans)) if not _is_heading_or_intro(text, spans, i)]
        if body:
            chosen = sorted({*chosen, max(body, key=lambda i: float(sims[i]))})
    return chosen


def with_neighbours(base: Rule) -> Rule:
    """``base``, plus the sentence after a chosen one when it opens with a pronoun, and the one before a chosen
    sentence that itself opens with a pronoun; a chosen line fragment (no final punctuation) runs on to the next."""

    def rule(text: str, spans: Spans, sims: np.ndarray) -> list[int]:
        chosen = set(base(text, spans, sims))
        for i in list(chosen):
            s, e = spans[i]
            if i + 1 < len(spans) and ANAPHORA.search(text[spans[i + 1][0] : spans[i + 1][1]]):
                chosen.add(i + 1)
            if i > 0 and ANAPHORA.search(text[s:e]):
                chosen.add(i - 1)
            j = i
            while (
                j + 1 < len(spans)
                and not TERMINAL.search(text[spans[j][0] : spans[j][1]].rstrip())
                and not text[spans[j][0] : spans[j][1]].rstrip().endswith(":")
                and j - i < 3
            ):
                j += 1
                chosen.add(j)
        return sorted(chosen)

    return rule


RULES: dict[str, Rule] = {
    "current (Retriever.highlight)": current,
    "(a) + best body sentence when only a heading or list introduction is picked": body_too,
    "(b) + pronoun neighbours + run-on line fragments": with_neighbours(current),
    "(a) and (b)": with_neighbours(body_too),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index")
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--json", metavar="FILE", help="also write the measured highlight quality (with the misses) as JSON")
    args = parser.parse_args()
    retriever = Retriever.load(args.index)
    questions = load_questions(args.questions)
    measured = highlight_quality(retriever, questions)
    print(f"rag.highlight_eval: {measured['overall']}  by language: {measured['by_lang']}")
    if args.json:
        Path(args.json).write_text(json.dumps(measured, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    firsts = []
    row_of = {p.id: i for i, p in enumerate(retriever.data.passages)}
    for q in questions:
        if q.no_answer:
            continue
        hit = retriever.search(q.question, k=1)[0]
        found = matched_answers(q, hit.source, hit.text)
        if found:
            row = row_of[hit.id]
            sims = retriever._sentence_sims(row, retriever.embedder.embed_query(q.question))
            firsts.append((q, hit.text, retriever.data.sentence_spans[row], np.asarray(sims), found))
    for name, rule in RULES.items():
        ok = 0
        chars = 0
        for _q, text, spans, sims, found in firsts:
            chosen = rule(text, spans, sims)
            # Contiguous chosen sentences read as one piece (a quote may straddle a split).
            pieces, run = [], [chosen[0]]
            for i in chosen[1:]:
                if i == run[-1] + 1:
                    run.append(i)
                else:
                    pieces.append(run)
                    run = [i]
            pieces.append(run)
            texts = [normalize_for_match(text[spans[r[0]][0] : spans[r[-1]][1]]) for r in pieces]
            chars += sum(spans[i][1] - spans[i][0] for i in chosen)
            ok += any(normalize_for_match(a.quote) in t for a in found for t in texts)
        print(f"{name}: {ok}/{len(firsts)} = {ok / len(firsts):.3f} (mean highlighted chars {chars / len(firsts):.0f})")
    for miss in measured["misses"]:
        print(f"  miss {miss['id']}: {miss['question']}\n    quote: {miss['quotes'][0]}\n    highlighted: {miss['highlighted']}")


if __name__ == "__main__":
    main()
