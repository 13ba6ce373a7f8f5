"""Whether the corpus answers a question: its evidence against the corpus's null distribution, then the decision.

The passages are always returned; a question is *flagged* (``Results.abstain``) when its evidence says that none of
them answers. ``weigh`` measures the evidence of a ranking (consulting the second opinion when e5 leaves the question
in doubt); ``decide`` turns it, and what the reading stage found missing, into a ``Decision``. Both are used by every
search; the calibration at index time measures the null questions with ``signals`` and ``second_best`` the same way.

The evidence is read against the corpus's own null distribution (``rag.retrieve.calibration``): ``strength`` is how
far the question's evidence stands above what generic questions that this corpus cannot answer get on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.embed import Embedder
from rag.retrieve.calibration import Calibration
from rag.retrieve.candidates import candidates
from rag.retrieve.query import Query
from rag.retrieve.rank import Candidates, Ranking, fuse
from rag.retrieve.view import IndexView, RowIds, Scores
from rag.store.rows import Rows, Vectors
from rag.types import ANSWERS, BELOW_NULL, DOES_NOT_ANSWER, FAIR, MAYBE, MISSING_KIND, NO_PASSAGE, STRONG, WEAK, Decision

# How the evidence is summed up (every signal standardised against the corpus's null for the question's language):
# e5's strength is the mean of the best fused score and the best passage similarity, plus LEXICAL_SHARE of the best
# BM25 score (words shared with the corpus); when the second opinion is consulted, the strength is its weighted mean
# with the second opinion's best passage similarity. Chosen with eval/calibrate_abstention.py on eval/questions.jsonl
# and eval/heldout.jsonl against the null questions (leave-one-out): the most null questions flagged with at most 5 %
# of the answerable questions flagged, in both languages.
LEXICAL_SHARE = 0.25
SECOND_SHARE = 0.5
# Below this strength the question is flagged (1 = the 90th percentile of the null questions, by construction).
MIN_STRENGTH = 1.5
# e5's strength outside this band settles the question alone, and the second opinion (0.8 s to load) is not consulted:
# on the development sets and the null questions it changed decisions only at e5 strengths from 0.78 to 2.22.
SECOND_OPINION_BAND = (0.25, 3.0)
# What a person reads (rag ask, the web app, --json): ``confidence`` for the question, ``match`` for each passage.
# "maybe" is the margin above MIN_STRENGTH where a small change of evidence would flip the decision. On the
# development sets, 91 % of the questions not flagged had an answer, 83 % of those flagged had none; the strength
# does not separate better within those (it measures closeness to the corpus, not the presence of the answer).
MAYBE_MARGIN = 0.75


@dataclass(frozen=True)
class SecondOpinion:
    """The second model (rag.embed.use) and its passage vectors, row for row with the index's passages."""

    model: Embedder
    vectors: Vectors | Rows

    def similarities(self, query: Query, rows: RowIds, view: IndexView) -> Scores:
        """Its similarity between the question and each passage of ``rows`` (ascending); the question is embedded by
        it (loading it) unless the query carries that embedding already."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        vector = query.second_vector if query.second_vector is not None else self.model.embed_query(query.text)
        sims: Scores = view.checked(np.asarray(self.vectors[rows]) @ vector)
        return sims


@dataclass(frozen=True)
class Evidence:
    """What was measured of one question's ranking: its ``signals`` (``rag.retrieve.calibration.SIGNALS``), their
    ``strength`` against the null (None without a calibration, or outside hybrid mode), and the second opinion's
    similarity to each candidate when it was consulted (aligned with ``Candidates.rows``)."""

    signals: dict[str, float]
    strength: float | None = None
    second: Scores | None = None


def signals(candidates: Candidates, ranking: Ranking) -> dict[str, float]:
    """The e5 signals of ``rag.retrieve.calibration.SIGNALS`` for one question's ranked candidates."""
    return {
        "fused": float(ranking.scores[0]) if len(ranking.rows) else 0.0,
        "passage": float(candidates.passage.max(initial=0.0)),
        "sentence": float(candidates.sentence.max(initial=0.0)),
        "lexical": candidates.lexical_max,
    }


def evidence_of(query: Query, view: IndexView, second: SecondOpinion | None) -> dict[str, float]:
    """Every signal of ``rag.retrieve.calibration.SIGNALS`` for ``query``, the second opinion's best similarity
    always included when there is one: what the calibration records of each null question."""
    found = candidates(query, view)
    measured = signals(found, fuse(found))
    if second is not None:
        measured["second"] = float(second.similarities(query, found.rows, view).max(initial=0.0))
    return measured


def evidence_strength(
    calibration: Calibration,
    lang: str,
    evidence: dict[str, float],
    lexical_share: float = LEXICAL_SHARE,
    second_share: float = SECOND_SHARE,
) -> float:
    """How far ``evidence`` stands above the corpus's null distribution for questions in ``lang`` (0 = the null median,
    1 = its 90th percentile); the second opinion counts when ``evidence`` has it (``second``). The shares can be
    changed for the calibration script to compare them."""
    z = {signal: calibration.z(lang, signal, value) for signal, value in evidence.items()}
    strength = (z["fused"] + z["passage"]) / 2 + lexical_share * z["lexical"]
    if "second" in z:
        strength = (1 - second_share) * strength + second_share * z["second"]
    return strength


def needs_second_opinion(strength: float) -> bool:
    """Whether e5's ``strength`` leaves the question in doubt, so that the second opinion must be asked."""
    low, high = SECOND_OPINION_BAND
    return low <= strength < high


def weigh(query: Query, candidates: Candidates, ranking: Ranking, view: IndexView, second: SecondOpinion | None) -> Evidence:
    """The evidence of ``ranking``: e5's signals, their strength against the corpus's null, and the second opinion's
    when e5's strength leaves the question in doubt. Measured in hybrid mode only (the calibration's)."""
    measured = signals(candidates, ranking)
    if view.calibration is None or query.mode != "hybrid" or not len(ranking.rows):
        return Evidence(measured)
    strength = evidence_strength(view.calibration, query.lang, measured)
    if second is None or not needs_second_opinion(strength):
        return Evidence(measured, strength)
    sims = second.similarities(query, candidates.rows, view)
    measured["second"] = float(sims.max(initial=0.0))
    return Evidence(measured, evidence_strength(view.calibration, query.lang, measured), sims)


def decide(
    ranking: Ranking, evidence: Evidence, missing: str | None = None, searched: int = 0,
    words: tuple[tuple[str, str], ...] = (),
) -> Decision:  # fmt: skip
    """The decision for a ranking: ``missing`` (the kind of answer a typed question asks for that the ``searched`` best
    passages do not give, said in ``words``: rag.retrieve.answer) flags the question in every mode; a ``strength``
    below the null's flags it in hybrid mode."""
    strength, consulted = evidence.strength, evidence.second is not None
    if len(ranking.rows) == 0:
        return Decision(True, NO_PASSAGE, confidence=DOES_NOT_ANSWER)
    if missing is not None:
        return Decision(True, MISSING_KIND, missing, strength, consulted, DOES_NOT_ANSWER, searched, words)
    if strength is not None and strength < MIN_STRENGTH:
        return Decision(True, BELOW_NULL, None, strength, consulted, DOES_NOT_ANSWER)
    level = None if strength is None else MAYBE if strength < MIN_STRENGTH + MAYBE_MARGIN else ANSWERS
    return Decision(False, None, None, strength, consulted, level)


def match(strength: float | None) -> str | None:
    """How one passage matches the question, from its own evidence against the corpus's null: ``strong`` (as the
    questions rag takes as answered), ``fair`` (within the margin), ``weak``; None when not measured."""
    if strength is None:
        return None
    if strength >= MIN_STRENGTH + MAYBE_MARGIN:
        return STRONG
    return FAIR if strength >= MIN_STRENGTH else WEAK
