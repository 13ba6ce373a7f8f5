"""Run a question set through a retriever and score it: per-question outcomes and metrics, overall and per language.

Relevance is decided by quote (``rag.evaluation.questions.matched_answers``), so results survive any change of
chunking.
Every number is computed by ``rag.evaluation.metrics`` from qrels/run dicts built here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.errors import BadInputError
from rag.evaluation import metrics
from rag.evaluation.questions import Answer, Question, matched_answers, normalize_for_match
from rag.types import Results

CUTOFFS = (1, 3, 5, 10)
RANK_CUTOFF = 10  # for mrr@10 and ndcg@10 (lowered to k when fewer hits are retrieved)
EXCERPT_CHARS = 200


class Searcher(Protocol):
    """Anything with ``search(query, k, mode=...)`` returning ``Results`` (``rag.Retriever``, or a fake in tests)."""

    def search(self, query: str, k: int = ..., *, mode: str | None = None) -> Results: ...


@dataclass(frozen=True)
class HitSummary:
    """What an evaluation keeps of a hit: enough to see what came first instead of the answer."""

    rank: int
    id: str
    source: str
    score: float
    text: str  # the first EXCERPT_CHARS characters
    relevant: bool


@dataclass(frozen=True)
class QuestionResult:
    """The outcome for one question. Ranks are 1-based, None when not in the top k."""

    id: str
    lang: str
    question: str
    answers: tuple[Answer, ...]
    no_answer: bool
    abstained: bool
    rank: int | None  # first passage containing a quote
    doc_rank: int | None  # first passage from an answer's document
    hits: tuple[HitSummary, ...]
    missing: str | None = None  # the kind of answer asked for that no passage gave (why it abstained; rag.retrieve.answer)
    reason: str | None = None  # why it abstained (a reason code of rag.types: no_passage, below_null, missing_kind)
    explanation: str | None = None  # why it abstained, in words (``Results.explanation``)
    kind: str = ""  # answerable, near or off, when the question set says (rag.evaluation.questions.Question.kind)


@dataclass(frozen=True)
class EvalResult:
    """Per-question results and the metrics: ``metrics["overall"]`` and ``metrics["by_lang"][lang]``."""

    k: int
    questions: tuple[QuestionResult, ...]
    metrics: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``k``, ``manifest``, ``metrics``, ``questions`` (the input of ``rag.evaluation.report``)."""
        return {
            "k": self.k,
            "manifest": self.manifest,
            "metrics": self.metrics,
            "questions": [
                {
                    "id": r.id,
                    "lang": r.lang,
                    "question": r.question,
                    "answers": [{"source": a.source, "quote": a.quote} for a in r.answers],
                    "no_answer": r.no_answer,
                    "abstained": r.abstained,
                    "kind": r.kind,
                    "reason": r.reason,
                    "missing": r.missing,
                    "explanation": r.explanation,
                    "rank": r.rank,
                    "doc_rank": r.doc_rank,
                    "hits": [
                        {
                            "rank": h.rank,
                            "id": h.id,
                            "source": h.source,
                            "score": round(h.score, 6),
                            "text": h.text,
                            "relevant": h.relevant,
                        }
                        for h in r.hits
                    ],
                }
                for r in self.questions
            ],
        }


@dataclass(frozen=True)
class _Judged:
    """One question's result with its qrels/run entries at passage and document level."""

    result: QuestionResult
    run: dict[str, float]
    qrel: dict[str, int]
    doc_qrel: dict[str, int]


def _judge(question: Question, results: Results, k: int) -> _Judged:
    # Scores from the hit order, not hit.score: the order the user sees is what is measured, and retriever scores
    # may tie (ties would be re-ordered by passage id in rag.evaluation.metrics).
    hits = list(results)[:k]
    run: dict[str, float] = {}
    qrel: dict[str, int] = {}
    doc_qrel: dict[str, int] = {}
    answer_sources = {a.source for a in question.answers if a.source is not None}
    for i, hit in enumerate(hits):
        run.setdefault(hit.id, float(len(hits) - i))
        found = matched_answers(question, hit.source, hit.text)
        if found:
            qrel[hit.id] = 1
        # Document level: a hit from an answer's document, or containing the quote of an answer naming no document.
        if hit.source in answer_sources or any(a.source is None for a in found):
            doc_qrel[hit.id] = 1
    # The gold passages are only known where retrieved. Placeholders (never in the run) stand for the rest: the
    # ideal ranking has as many relevant passages as distinct answers, or as many as were found if more (a quote
    # can occur twice), so nDCG stays within [0, 1]; a missed answer gives the query a relevant doc, so it counts.
    distinct = len({(a.source, normalize_for_match(a.quote)) for a in question.answers})
    for n in range(distinct - len(qrel)):
        qrel[f"<unretrieved answer {n + 1}>"] = 1
    if question.answers and not doc_qrel:
        doc_qrel["<unretrieved document>"] = 1
    abstained = not hits or results.abstain
    summaries = tuple(
        HitSummary(i, h.id, h.source, float(h.score), h.text[:EXCERPT_CHARS], h.id in qrel) for i, h in enumerate(hits, start=1)
    )
    result = QuestionResult(
        id=question.id,
        lang=question.lang,
        question=question.question,
        answers=question.answers,
        no_answer=question.no_answer,
        abstained=abstained,
        rank=metrics.first_relevant_rank(qrel, run),
        doc_rank=metrics.first_relevant_rank(doc_qrel, run),
        hits=summaries,
        missing=results.missing,
        reason=results.reason,
        explanation=results.explanation(),
        kind=question.kind,
    )
    return _Judged(result, run, qrel, doc_qrel)


def _summarize(judged: Sequence[_Judged], k: int) -> dict[str, float | int | None]:
    """Metrics of one group of questions. Ranking metrics are None when the group has no answerable question."""
    cutoffs = [c for c in CUTOFFS if c <= k]
    top = min(RANK_CUTOFF, k)
    answerable = [j for j in judged if not j.result.no_answer]
    out: dict[str, float | int | None] = {
        "n_questions": len(judged),
        "n_answerable": len(answerable),
        "n_no_answer": len(judged) - len(answerable),
    }
    # Recall@k here is success@k (the question's answer is in the top k): a question's answers are alternatives,
    # and a quote found in two passages must not halve the score. With one gold passage the two are equal.
    passage_names = [f"success@{c}" for c in cutoffs] + [f"mrr@{top}", f"ndcg@{top}"]
    run = {j.result.id: j.run for j in answerable}
    passage = metrics.evaluate({j.result.id: j.qrel for j in answerable}, run, passage_names)
    document = metrics.evaluate({j.result.id: j.doc_qrel for j in answerable}, run, [f"success@{c}" for c in cutoffs])
    for c in cutoffs:
        out[f"recall@{c}"] = passage[f"success@{c}"] if answerable else None
    for c in cutoffs:
        out[f"doc_recall@{c}"] = document[f"success@{c}"] if answerable else None
    out[f"mrr@{top}"] = passage[f"mrr@{top}"] if answerable else None
    out[f"ndcg@{top}"] = passage[f"ndcg@{top}"] if answerable else None
    abstention = metrics.abstention_scores(
        no_answer={j.result.id for j in judged if j.result.no_answer},
        abstained={j.result.id for j in judged if j.result.abstained},
        all_qids=[j.result.id for j in judged],
    )
    out["n_abstained"] = sum(j.result.abstained for j in judged)
    out["abstention_precision"] = abstention["precision"]
    out["abstention_recall"] = abstention["recall"]
    out["false_abstention_rate"] = abstention["false_abstention_rate"]
    # The share flagged of each kind of question, when the set gives kinds (off-topic, near-topic, answerable).
    for kind in ("answerable", "near", "off"):
        of_kind = [j for j in judged if j.result.kind == kind]
        if of_kind:
            out[f"n_{kind}"] = len(of_kind)
            out[f"flagged_{kind}"] = sum(j.result.abstained for j in of_kind) / len(of_kind)
    return {name: round(v, 6) if isinstance(v, float) else v for name, v in out.items()}


def run_eval(
    retriever: Searcher,
    questions: Iterable[Question],
    k: int = 10,
    progress: bool = False,
    manifest: dict[str, Any] | None = None,
    mode: str | None = None,
) -> EvalResult:
    """Ask every question (in ``mode``: the retriever's default when None), judge the top ``k`` hits by quote, and
    aggregate overall and per language.

    A question counts as abstained when no hit comes back or its results are flagged (``Results.abstain``). Ranking metrics
    cover answerable questions and ignore the abstain flag (they measure the ranking); abstention is scored apart.
    ``manifest`` (index, embedder, settings, question-set hash, version, commit) is stored as given.
    """
    from tqdm import tqdm  # imported here to keep `import rag.evaluation.run` cheap

    if k < 1:
        raise BadInputError(f"k must be at least 1, not {k}")
    questions = list(questions)
    if not questions:
        raise BadInputError("the question set is empty; give at least one question")
    seen: set[str] = set()
    judged: list[_Judged] = []
    for question in tqdm(questions, desc="eval", unit="q", file=sys.stderr, disable=not progress):
        if question.id in seen:
            raise BadInputError(f"duplicate question id {question.id!r}; give each question its own id")
        seen.add(question.id)
        judged.append(_judge(question, retriever.search(question.question, k, mode=mode), k))
    langs = sorted({j.result.lang for j in judged})
    summary = {
        "overall": _summarize(judged, k),
        "by_lang": {lang: _summarize([j for j in judged if j.result.lang == lang], k) for lang in langs},
    }
    return EvalResult(k=k, questions=tuple(j.result for j in judged), metrics=summary, manifest=dict(manifest or {}))


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd`` (default: this package's folder), or None when that fails in any way."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (to record exactly which question set was evaluated)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise BadInputError(f"{path}: cannot read the file ({e.strerror}); check the path") from None
    return digest.hexdigest()
