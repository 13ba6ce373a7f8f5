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
# e5's strength outside this band settles the question alone, and the second opinion (2 s to load) is not consulted:
# on the development sets and the null questions it changed decisions only at e5 strengths from 0.78 to 2.22.
SECOND_OPINION_BAND = (0.25, 3.0)


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


# What a person reads (rag ask, the web app, --json): ``confidence`` for the question, ``match`` for each passage.
# "maybe" is the margin above MIN_STRENGTH where a small change of evidence would flip the decision. On the
# development sets, 91 % of the questions not flagged had an answer, 83 % of those flagged had none; the strength
# does not separate better within those (it measures closeness to the corpus, not the presence of the answer).
ANSWERS, MAYBE, DOES_NOT_ANSWER = "answers", "maybe", "does_not_answer"
MAYBE_MARGIN = 0.75
STRONG, FAIR, WEAK = "strong", "fair", "weak"


def confidence(decision: Decision) -> str | None:
    """``answers``, ``maybe`` or ``does_not_answer`` for a question; None when nothing was measured (dense and
    lexical modes, or an index without calibration, flag only what lacks a figure or a passage)."""
    if decision.abstain:
        return DOES_NOT_ANSWER
    if decision.strength is None:
        return None
    return MAYBE if decision.strength < MIN_STRENGTH + MAYBE_MARGIN else ANSWERS


def match(strength: float | None) -> str | None:
    """How one passage matches the question, from its own evidence against the corpus's null: ``strong`` (as the
    questions rag takes as answered), ``fair`` (within the margin), ``weak``; None when not measured."""
    if strength is None:
        return None
    if strength >= MIN_STRENGTH + MAYBE_MARGIN:
        return STRONG
    return FAIR if strength >= MIN_STRENGTH else WEAK


def decide(
    ranking: Ranking, missing: str | None = None, strength: float | None = None, *, consulted: bool = False
) -> Decision:
    """The decision for a ranking: ``missing`` (the kind of figure asked for that the best passages lack) decides in
    every mode; ``strength`` (None without a calibration, or outside hybrid mode) flags what is below the null;
    ``consulted`` says that it includes the second opinion."""
    if len(ranking.rows) == 0:
        return Decision(True, NO_PASSAGE)
    if missing is not None:
        return Decision(True, MISSING_KIND, missing, strength, consulted)
    if strength is not None and strength < MIN_STRENGTH:
        return Decision(True, BELOW_NULL, None, strength, consulted)
    return Decision(False, None, None, strength, consulted)


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


_CONFIDENCE = {
    "en": {
        ANSWERS: "The best passages match this question far more closely than unrelated questions match these documents.",
        MAYBE: "The best passages match this question only a little more closely than unrelated questions match these "
        "documents.",
        STRONG: "strong match",
        FAIR: "fair match",
        WEAK: "weak match",
    },
    "fr": {
        ANSWERS: "Les meilleurs passages sont bien plus proches de cette question que des questions sans rapport ne le "
        "sont de ces documents.",
        MAYBE: "Les meilleurs passages ne sont qu'un peu plus proches de cette question que des questions sans rapport "
        "ne le sont de ces documents.",
        STRONG: "très proche",
        FAIR: "assez proche",
        WEAK: "peu proche",
    },
}


def describe(level: str, lang: str = "en") -> str:
    """A confidence (``answers``, ``maybe``) or a match (``strong``, ``fair``, ``weak``) in words, in ``lang``."""
    return _CONFIDENCE["fr" if lang == "fr" else "en"][level]


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
