"""Measure highlight quality (rag.evaluation.highlight_eval) and compare highlighting rules on the same first hits.

    python eval/highlight_variants.py --index index --json eval/reports/highlight.json

"current" is ``rag.retrieve.highlight.choose_sentences``, the rule ``Retriever.highlight`` applies; the others are
alternatives run over the index's stored sentence spans and vectors (nothing is re-embedded). Prints one line per
rule (quote highlighted, mean highlighted characters, mean share of the passage highlighted, passages of several
sentences highlighted whole) and the misses of the current rule.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.evaluation.highlight_eval import highlight_quality
from rag.evaluation.questions import load_questions, matched_answers, normalize_for_match
from rag.retrieve import highlight
from rag.retrieve.retriever import Retriever

Spans = Sequence[tuple[int, int]]
Rule = Callable[[str, Spans, Sequence[float]], list[int]]


def previous(text: str, spans: Spans, sims: Sequence[float]) -> list[int]:
    """The rule before rag.retrieve.highlight: best sentence of at least MIN_HIGHLIGHT_CHARS, and a second one within margin."""
    cands = [i for i, (s, e) in enumerate(spans) if e - s >= highlight.MIN_HIGHLIGHT_CHARS] or list(range(len(spans)))
    ranked = sorted(cands, key=lambda i: -sims[i])
    return sorted(i for i in ranked[: highlight.MAX_HIGHLIGHTS] if sims[i] >= sims[ranked[0]] - highlight.HIGHLIGHT_MARGIN)


def without_context(text: str, spans: Spans, sims: Sequence[float]) -> list[int]:
    """rag.retrieve.highlight with headings and list introductions skipped, but no pronoun neighbours nor run-on lines."""
    return highlight.choose_sentences(text, spans, sims, context=False)


def uncapped(text: str, spans: Spans, sims: Sequence[float]) -> list[int]:
    """rag.retrieve.highlight without the length cap (the whole-passage guard stays): what the cap costs."""
    return highlight.choose_sentences(text, spans, sims, max_chars=10**9)


def best_and_neighbours(text: str, spans: Spans, sims: Sequence[float]) -> list[int]:
    """A naive baseline: the best sentence and both its neighbours, whatever they say."""
    best = max(range(len(spans)), key=lambda i: sims[i])
    return [i for i in (best - 1, best, best + 1) if 0 <= i < len(spans)]


RULES: dict[str, Rule] = {
    "current (rag.retrieve.highlight.choose_sentences)": highlight.choose_sentences,
    "previous rule (best sentence + second within margin)": previous,
    "headings/introductions skipped, no pronoun neighbours or run-on lines": without_context,
    "current without the length cap": uncapped,
    "best sentence and both neighbours": best_and_neighbours,
}


def _pieces(text: str, spans: Spans, chosen: list[int]) -> list[str]:
    """Contiguous chosen sentences read as one piece (a quote may straddle a split)."""
    runs: list[list[int]] = []
    for i in chosen:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [text[spans[r[0]][0] : spans[r[-1]][1]] for r in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index")
    parser.add_argument("--questions", default="eval/questions.jsonl")
    parser.add_argument("--json", metavar="FILE", help="also write the measured highlight quality (with the misses) as JSON")
    args = parser.parse_args()
    retriever = Retriever.load(args.index)
    questions = load_questions(args.questions)
    measured = highlight_quality(retriever, questions)
    print(f"rag.evaluation.highlight_eval: {measured['overall']}  by language: {measured['by_lang']}")
    firsts = []
    row_of = {p.id: i for i, p in enumerate(retriever.data.passages)}
    for q in questions:
        if q.no_answer:
            continue
        hit = retriever.search(q.question, k=1)[0]
        found = matched_answers(q, hit.source, hit.text)
        if found:
            row = row_of[hit.id]
            sims = retriever.sentence_similarities(row, retriever.embedder.embed_query(q.question))
            firsts.append((q, hit.text, retriever.data.sentence_spans[row], sims, found))
    rules: dict[str, dict[str, object]] = {}
    for name, rule in RULES.items():
        ok = {"all": 0, "fr": 0, "en": 0}
        count = {"all": 0, "fr": 0, "en": 0}
        chars = 0
        share = 0.0
        whole = 0  # passages of several sentences highlighted entirely: "contains the quote" says nothing then
        for q, text, spans, sims, found in firsts:
            chosen = rule(text, spans, sims)
            texts = [normalize_for_match(t) for t in _pieces(text, spans, chosen)]
            marked = sum(spans[i][1] - spans[i][0] for i in chosen)
            chars += marked
            whole += len(spans) > 1 and len(chosen) == len(spans)
            share += marked / max(1, sum(e - s for s, e in spans))
            good = any(normalize_for_match(a.quote) in t for a in found for t in texts)
            for key in ("all", q.lang):
                ok[key] += good
                count[key] += 1
        n = len(firsts)
        langs = "  ".join(f"{lang} {ok[lang]}/{count[lang]}" for lang in ("fr", "en"))
        mean = f"mean highlighted chars {chars / n:.0f}, {share / n:.0%} of the passage, {whole} whole passages"
        print(f"{name}: {ok['all']}/{n} = {ok['all'] / n:.3f} ({langs}; {mean})")
        rules[name] = {
            "n_contains": ok["all"],
            "n_gold_first": n,
            "by_lang": {lang: {"n_contains": ok[lang], "n_gold_first": count[lang]} for lang in ("fr", "en")},
            "mean_highlighted_chars": round(chars / n, 1),
            "mean_passage_share": round(share / n, 4),
            "n_whole_passage": whole,
        }
    if args.json:
        payload = json.dumps({**measured, "rules": rules}, ensure_ascii=False, indent=2)
        Path(args.json).write_text(payload + "\n", encoding="utf-8")
    for miss in measured["misses"]:
        print(f"  miss {miss['id']}: {miss['question']}\n    quote: {miss['quotes'][0]}\n    highlighted: {miss['highlighted']}")


if __name__ == "__main__":
    main()
