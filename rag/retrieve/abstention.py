"""Whether the corpus answers a question: the decision, its reason, and the one place that words it.

The passages are always returned; a question is *flagged* (``Results.abstain``) when its evidence says that none of
them answers. ``decide`` takes the evidence of a ranking; ``explain`` says why, in French or English, for the CLI, the
web app, ``--json`` and the LangChain metadata alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.types import Decision

if TYPE_CHECKING:
    from rag.retrieve.rank import Ranking

# Abstention (hybrid mode, default model): nothing is taken to answer when the best fused score is below the
# threshold for the question's language (English questions on French text score lower), or when a French
# (or unrecognisable) question shares no weighty term with any passage. Calibrated with eval/calibrate_abstention.py on
# the answerable and no-answer questions of eval/questions.jsonl: the highest no-answer recall that keeps false
# abstention on answerable questions at or under 5 % (re-run after the last fusion change: the same thresholds).
ABSTAIN_BELOW = {"fr": 0.81, "en": 0.77, "und": 0.77}
ABSTAIN_LEXICAL_FR = 1.0

# The reasons a question is flagged, as ``Decision.reason`` (and ``reason`` in ``--json``) gives them.
NO_PASSAGE = "no_passage"  # nothing was found at all
WEAK = "weak"  # the best passage scores below the threshold for the question's language
NO_SHARED_TERMS = "no_shared_terms"  # a French question shares no weighty word with a French corpus
MISSING_KIND = "missing_kind"  # the question asks for a figure that none of the best passages gives


@dataclass(frozen=True)
class Evidence:
    """The signals the decision uses."""

    top: float  # best fused score
    lexical_max: float  # best BM25 score over the searched passages
    lang: str  # guessed language of the question
    corpus_lang: str = "fr"  # main language of the indexed passages (the lexical rule needs the question to share it)
    missing: str | None = None  # the kind of answer asked for that none of the best passages holds (rag.retrieve.answer_kind)


def judge(evidence: Evidence, below: dict[str, float] = ABSTAIN_BELOW, lexical_fr: float = ABSTAIN_LEXICAL_FR) -> Decision:
    """The rule on hybrid-mode evidence (thresholds overridable so that the calibration script can search them)."""
    if evidence.missing is not None:
        return Decision(True, MISSING_KIND, evidence.missing)
    if evidence.top < below.get(evidence.lang, below["und"]):
        return Decision(True, WEAK)
    # A question with no English function word must share terms with a French text (a bare keyword, or gibberish).
    # Not with an English one: a French question about English text shares no word with it and must still be answered.
    if evidence.lang in ("fr", "und") and evidence.corpus_lang == "fr" and evidence.lexical_max < lexical_fr:
        return Decision(True, NO_SHARED_TERMS)
    return Decision()


def decide(ranking: Ranking, mode: str, lang: str, corpus_lang: str = "fr", missing: str | None = None) -> Decision:
    """The decision for a ranking. ``missing`` decides in every mode; the score thresholds are calibrated for hybrid
    mode only, so dense and lexical rankings are otherwise never flagged."""
    if len(ranking.rows) == 0:
        return Decision(True, NO_PASSAGE)
    if missing is not None:
        return Decision(True, MISSING_KIND, missing)
    if mode != "hybrid":
        return Decision()
    return judge(Evidence(float(ranking.scores[0]), ranking.lexical_max, lang, corpus_lang))


_TEXTS = {
    "en": {
        "flagged": "Nothing in the corpus seems to answer this question",
        MISSING_KIND: "none of the {depth} best passages gives {what}",
    },
    "fr": {
        "flagged": "Rien dans le corpus ne semble répondre à cette question",
        MISSING_KIND: "aucun des {depth} meilleurs passages ne donne {what}",
    },
}


def explain(decision: Decision, lang: str = "en") -> str | None:
    """Why the question was flagged, as one sentence in ``lang`` (``fr``, else English); None when it was not."""
    if not decision.abstain:
        return None
    texts = _TEXTS["fr" if lang == "fr" else "en"]
    if decision.reason == MISSING_KIND and decision.missing:
        from rag.retrieve.answer_kind import DEPTH, WHAT  # here: it compiles its patterns on import

        what = WHAT["fr" if lang == "fr" else "en"][decision.missing]
        colon = " : " if lang == "fr" else ": "  # French puts a space before a colon
        return f"{texts['flagged']}{colon}{texts[MISSING_KIND].format(depth=DEPTH, what=what)}."
    return f"{texts['flagged']}."
