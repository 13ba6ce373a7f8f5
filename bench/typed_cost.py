"""What typed reading costs (issue 21): warm query latency with and without the reading stage, the stage's own time,
annotating at build time against the whole build, and ``rag ask`` cold start against the bare floor.

    python -m bench.typed_cost --index /tmp/rag-typed/index --json bench/results/typed_cost.json

``--index``: an index of the shipped corpus (built with the default model when missing). Warm latency: every
question of the development sets (``eval/questions.jsonl``, ``heldout.jsonl``, ``heldout2.jsonl``) searched with
reading and without (``rag.retrieve.answer.question_type`` returning None: no question typed), interleaved question
by question, after a warm-up round; p50 and p95 of each and of their difference. Build: the shipped corpus built
from scratch in a fresh folder, with the annotation timed inside it (the share of the build it takes), and a rebuild
with nothing changed (annotations reused, spaCy not loaded). Cold start: ``bench.coldstart.rag_ask`` (``rag ask``
against the bare floor, same run). The load average is printed beside the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.retrieve.question_type import QuestionType

ROOT = Path(__file__).resolve().parent.parent
SETS = ("questions.jsonl", "heldout.jsonl", "heldout2.jsonl")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def _untyped(question: str) -> QuestionType | None:
    return None


def warm_latency(index: Path, rounds: int = 3) -> dict[str, Any]:
    from rag.evaluation.questions import load_questions
    from rag.retrieve import answer
    from rag.retrieve.retriever import Retriever

    retriever = Retriever.load(index)
    retriever.warm()
    questions = [q.question for name in SETS for q in load_questions(ROOT / "eval" / name)]
    typer = answer.question_type
    on: list[float] = []
    off: list[float] = []
    typed = sum(typer(q) is not None for q in questions)
    for round_ in range(rounds + 1):
        for q in questions:
            timings = []
            for reading in (True, False):
                answer.question_type = typer if reading else _untyped
                t0 = time.perf_counter()
                retriever.search(q, k=5)
                timings.append(time.perf_counter() - t0)
            answer.question_type = typer
            if round_:  # the first round warms the caches
                on.append(timings[0])
                off.append(timings[1])
    delta = [a - b for a, b in zip(on, off, strict=True)]
    ms = 1000.0
    return {
        "questions": len(questions), "typed": typed, "rounds": rounds,
        "with_reading_p50_ms": round(ms * statistics.median(on), 2), "with_reading_p95_ms": round(ms * _pct(on, 0.95), 2),
        "without_p50_ms": round(ms * statistics.median(off), 2), "without_p95_ms": round(ms * _pct(off, 0.95), 2),
        "p50_delta_ms": round(ms * (statistics.median(on) - statistics.median(off)), 2),
        "paired_delta_p50_ms": round(ms * statistics.median(delta), 2),
    }  # fmt: skip


def build_cost(corpus: Path) -> dict[str, Any]:
    """A build from scratch with the annotation timed inside it, then a rebuild with nothing changed."""
    from rag.index import annotate as annotating
    from rag.index import build_index

    spent: list[float] = []
    original = annotating.annotations_for

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    annotating.annotations_for = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first = build_index(corpus, Path(tmp) / "index")
            again = build_index(corpus, Path(tmp) / "index")
    finally:
        annotating.annotations_for = original
    return {
        "passages": first.passages, "build_s": round(first.seconds, 2), "annotate_s": round(spent[0], 2),
        "annotate_share_of_build": round(spent[0] / first.seconds, 3),
        "build_over_build_without_annotating": round(first.seconds / (first.seconds - spent[0]), 3),
        "rebuild_s": round(again.seconds, 2), "rebuild_annotated": again.annotated, "rebuild_annotate_s": round(spent[1], 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from bench import coldstart
    from rag.index import build_index

    if not (args.index / "manifest.json").exists():
        build_index(args.corpus, args.index)
    result: dict[str, Any] = {"load_before": list(os.getloadavg())}
    result["warm"] = warm_latency(args.index, args.rounds)
    result["build_shipped"] = build_cost(args.corpus)
    question = "Combien de soldats la France va-t-elle envoyer en Ukraine ?"
    result["cold_start"] = coldstart.rag_ask(sys.executable, args.index, question, runs=args.cold_runs)
    result["load_after"] = list(os.getloadavg())
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
