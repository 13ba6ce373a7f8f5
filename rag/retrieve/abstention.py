"""Whether the corpus answers a question: the decision, its reason, and the one place that words it.

The passages are always returned; a question is *flagged* (``Results.abstain``) when its evidence says that none of
them answers. ``decide`` takes a ranking and what was measured about it; ``explain`` says why, in French or English,
for the CLI, the web app, ``--json`` and the LangChain metadata alike.

The evidence is read against the corpus's own null distribution (``rag.retrieve.calibration``): ``strength`` is how
far the question's evidence stands above what generic questions that this corpus cannot answer get on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.types import Decision

if TYPE_CHECKING:
    from rag.retrieve.calibration import Calibration
    from rag.retrieve.rank import Ranking

# The reasons a question is flagged, as ``Decision.reason`` (and ``reason`` in ``--json``) gives them.
NO_PASSAGE = "no_passage"  # nothing was found at all
BELOW_NULL = "below_null"  # the evidence is no stronger than what unrelated questions get on this corpus
MISSING_KIND = "missing_kind"  # the question asks for a figure that none of the best passages gives

# How the evidence is summed up: the mean of the standardised best fused score and best passage similarity, plus a
# quarter of the standardised best BM25 score (words shared with the corpus). Chosen on eval/questions.jsonl and
# eval/heldout.jsonl against the null questions (leave-one-out), the one with most null questions below the strength
# of 95 % of the answerable questions, in both languages.
LEXICAL_SHARE = 0.25
# Below this strength the question is flagged: about where the top tenth of the null questions begins (1 = their 90th
# percentile, by construction of the standardisation).
MIN_STRENGTH = 1.0


def evidence_strength(calibration: Calibration, lang: str, evidence: dict[str, float]) -> float:
    """How far ``evidence`` stands above the corpus's null distribution for questions in ``lang`` (0 = the null median,
    1 = its 90th percentile)."""
    z = {signal: calibration.z(lang, signal, value) for signal, value in evidence.items()}
    return (z["fused"] + z["passage"]) / 2 + LEXICAL_SHARE * z["lexical"]


def decide(ranking: Ranking, missing: str | None = None, strength: float | None = None) -> Decision:
    """The decision for a ranking: ``missing`` (the kind of figure asked for that the best passages lack) decides in
    every mode; ``strength`` (None without a calibration, or outside hybrid mode) flags what is below the null."""
    if len(ranking.rows) == 0:
        return Decision(True, NO_PASSAGE)
    if missing is not None:
        return Decision(True, MISSING_KIND, missing, strength)
    if strength is not None and strength < MIN_STRENGTH:
        return Decision(True, BELOW_NULL, None, strength)
    return Decision(False, None, None, strength)


_TEXTS = {
    "en": {
        "flagged": "Nothing in the corpus seems to answer this question",
        MISSING_KIND: "none of the {depth} best passages gives {what}",
        BELOW_NULL: "the closest passages are no closer to it than to questions this corpus does not answer",
    },
    "fr": {
        "flagged": "Rien dans le corpus ne semble répondre à cette question",
        MISSING_KIND: "aucun des {depth} meilleurs passages ne donne {what}",
        BELOW_NULL: "les passages les plus proches n'en sont pas plus proches que de questions auxquelles ce corpus ne "
        "répond pas",
    },
}


def explain(decision: Decision, lang: str = "en") -> str | None:
    """Why the question was flagged, as one sentence in ``lang`` (``fr``, else English); None when it was not."""
    if not decision.abstain:
        return None
    lang = "fr" if lang == "fr" else "en"
    texts = _TEXTS[lang]
    colon = " : " if lang == "fr" else ": "  # French puts a space before a colon
    if decision.reason == MISSING_KIND and decision.missing:
        from rag.retrieve.answer_kind import DEPTH, WHAT  # here: it compiles its patterns on import

        return f"{texts['flagged']}{colon}{texts[MISSING_KIND].format(depth=DEPTH, what=WHAT[lang][decision.missing])}."
    if decision.reason == BELOW_NULL:
        return f"{texts['flagged']}{colon}{texts[BELOW_NULL]}."
    return f"{texts['flagged']}."
