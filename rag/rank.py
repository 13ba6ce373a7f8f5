"""Scoring and fusion of dense and lexical evidence, and the decision to abstain.

The weights were chosen with ``eval/tune_fusion.py`` on ``eval/questions.jsonl`` (French and English questions on the
shipped corpus), PIAF and XQuAD together; ``eval/reports/`` holds the before/after reports and every variant tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MODES = ("dense", "lexical", "hybrid")
# Candidates taken from each retriever before re-scoring: cheap, and deep enough that re-scoring can promote
# a passage whose whole-passage vector ranks low but one of whose sentences answers exactly.
CANDIDATES = 100
# A passage's dense score mixes its own similarity and its best sentence's: long passages dilute the one
# sentence that answers, and the best sentence alone ignores the context that disambiguates it.
PASSAGE_WEIGHT = 0.3
# BM25 evidence enters through a saturating transform bm25 / (bm25 + LEXICAL_HALF), so the fused score keeps an
# absolute meaning (comparable across questions) and rare exact terms (names, dates, acronyms) can tip close calls.
# Chosen with eval/tune_fusion.py (every variant tried: eval/reports/README.md): against 0.02 / 10, this keeps the
# slope for weak matches and lets strong ones count a little more: PIAF nDCG@10 +0.3 (147 questions up, 18 down),
# XQuAD and our English questions unchanged, one French question up. Heavier lexical weights (or RRF, min-max
# convex fusion, a heavier weight for French questions) gain up to 3 points on PIAF, whose questions were written
# from the paragraph, but lose 3 to 14 points of MRR on our paraphrased questions (the French ones too).
LEXICAL_WEIGHT = 0.03
LEXICAL_HALF = 15.0
# Abstention (hybrid mode, default model): nothing is taken to answer when the best fused score is below the
# threshold for the question's language (English questions on French text score lower), or when a French
# (or unrecognisable) question shares no weighty term with any passage. Calibrated with eval/calibrate_abstention.py on the
# answerable and no-answer questions of eval/questions.jsonl: the highest no-answer recall that keeps false
# abstention on answerable questions at or under 5 % (re-run after the fusion change above: the same thresholds).
ABSTAIN_BELOW = {"fr": 0.81, "en": 0.77, "und": 0.77}
ABSTAIN_LEXICAL_FR = 1.0

Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Ranking:
    """Passage rows best first, their ranking scores, and the evidence behind them."""

    rows: Rows
    scores: Scores
    dense: Scores
    lexical: Scores
    lexical_max: float = 0.0  # best BM25 score over the whole index (the lexical evidence for any answer)


def _top(scores: Scores, k: int) -> Rows:
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order: Rows = part[np.argsort(-scores[part], kind="stable")].astype(np.int64)
    return order


def lexical_only(lexical: Scores, k: int) -> Ranking:
    """BM25 ranking; passages with no matching term are not returned."""
    rows = _top(lexical, k)
    rows = rows[lexical[rows] > 0]
    return Ranking(rows, lexical[rows].astype(np.float32), np.zeros(len(rows), np.float32), lexical[rows])


def candidates(dense_rows: Rows, lexical: Scores, n: int) -> Rows:
    """Union of the dense top-n and the lexical top-n (passages with at least one matching term)."""
    # Only passages sharing a term with the question can be lexical candidates: select among those (a few thousand
    # at most) rather than partitioning every score of a large index.
    matching = np.flatnonzero(lexical > 0)
    lexical_rows = matching[_top(lexical[matching], n)] if len(matching) else matching.astype(np.int64)
    rows: Rows = np.unique(np.concatenate([dense_rows, lexical_rows]).astype(np.int64))
    return rows


def hybrid(rows: Rows, passage_sims: Scores, sentence_best: Scores, lexical: Scores, k: int, lexical_max: float) -> Ranking:
    """Fuse dense (passage + best sentence) and lexical evidence; return the top k."""
    dense = (PASSAGE_WEIGHT * passage_sims + (1 - PASSAGE_WEIGHT) * sentence_best).astype(np.float32)
    fused = (dense + LEXICAL_WEIGHT * lexical / (lexical + LEXICAL_HALF)).astype(np.float32)
    top = _top(fused, k)
    return Ranking(rows[top], fused[top], dense[top], lexical[top].astype(np.float32), lexical_max)


@dataclass(frozen=True)
class Evidence:
    """The signals the abstention decision uses."""

    top: float  # best fused score
    lexical_max: float  # best BM25 score over the index
    lang: str  # guessed language of the question
    corpus_lang: str = "fr"  # main language of the indexed passages (the lexical rule needs the question to share it)
    missing: str | None = None  # the kind of answer asked for that none of the best passages holds (rag.answer_kind)


def abstains(evidence: Evidence, below: dict[str, float] = ABSTAIN_BELOW, lexical_fr: float = ABSTAIN_LEXICAL_FR) -> bool:
    """The abstention rule (thresholds overridable so that the calibration script can search them)."""
    if evidence.missing is not None:
        return True
    if evidence.top < below.get(evidence.lang, below["und"]):
        return True
    # A question with no English function word must share terms with a French text (a bare keyword, or gibberish).
    # Not with an English one: a French question about English text shares no word with it and must still be answered.
    return evidence.lang in ("fr", "und") and evidence.corpus_lang == "fr" and evidence.lexical_max < lexical_fr


def should_abstain(ranking: Ranking, mode: str, lang: str, corpus_lang: str = "fr", missing: str | None = None) -> bool:
    """True when the best passage is too weak to be presented as an answer.

    ``corpus_lang`` is the main language of the indexed passages (``"fr"``, ``"en"``; default ``"fr"``); ``missing``
    is the kind of answer asked for that none of the best passages holds, which decides in every mode (the score
    thresholds are calibrated for hybrid mode only).
    """
    if len(ranking.rows) == 0 or missing is not None:
        return True
    if mode != "hybrid":
        return False
    return abstains(Evidence(float(ranking.scores[0]), ranking.lexical_max, lang, corpus_lang))
