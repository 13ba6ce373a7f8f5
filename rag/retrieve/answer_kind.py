"""What kind of answer a question asks for (a percentage, an amount of money, a date, a number) and whether a text holds one.

Embeddings say a passage is *about* the question, not that it *answers* it: "Quel est le budget annuel de Cités Unies
France ?" scores as high on passages about Cités Unies France as questions they do answer. When a question plainly
asks for a figure and none of the best passages contains a figure of that kind, the retriever abstains and says what
is missing (the classic answer-type check of question answering, kept to kinds that a pattern recognises reliably in
French and English text). Checked on the gold passages of PIAF and XQuAD with ``eval/answer_kinds.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The best passages searched for an answer of the asked kind: the first ones a reader sees.
ANSWER_DEPTH = 5

_APOS = "['’]"
_NUMBER_WORDS = (
    "deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|vingt|trente|quarante|"
    "cinquante|soixante|cent|cents|mille|millions?|milliards?|dizaines?|centaines?|milliers?|plusieurs|quelques|"
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|thousands?|"
    "millions?|billions?|dozens?|several|a few"
)
_MONTHS = (
    "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)


@dataclass(frozen=True)
class AnswerKind:
    """A kind of answer: ``asks`` recognises a question asking for it, ``holds`` a text that gives one."""

    name: str
    asks: re.Pattern[str]
    holds: re.Pattern[str]

    def found_in(self, text: str) -> bool:
        return self.holds.search(text) is not None


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


# Most specific first: "Combien coûte…" asks for an amount, not just a number.
KINDS: tuple[AnswerKind, ...] = (
    AnswerKind(
        "percentage",
        _pattern(r"\b(taux|pourcentage|quelle proportion|quelle part|turnout|percentage|what share|what proportion)\b"),
        _pattern(r"\d\s?%|\b(pour ?cents?|per ?cent|pourcentages?|moitié|tiers|quart|half|third|quarter)\b"),
    ),
    AnswerKind(
        "amount",
        # Asking for the budget or the cost, not merely naming one ("Que demandent-ils pour le budget 2026 ?"). English
        # "what amount of …" is a quantity ("what amount of the world's carbon…"), "what amount do they ask" a sum.
        _pattern(
            rf"\b(quel(le)?s? (est|était|sera|sont|étaient|seront) (le |la |les |l{_APOS}|son |sa |ses |leur |leurs )?"
            rf"(\w+ )?(budgets?|montants?|coûts?|prix)|quels? (budgets?|montants?)|combien (coût\w*|d{_APOS}argent)|"
            rf"(que|à combien) coût\w*|à combien s{_APOS}élèv\w*|à quel prix|"
            rf"how much money|how much .{{0,40}}\bcosts?|"
            rf"(what|which) (is|was|will be|are|were) (the |its |their |[^?]{{0,40}}{_APOS}s )"
            r"(\w+ )?(costs?|price|budgets?)|(what|which) (\w+ )?budgets?|what amount(?! of\b)|at what price)\b"
        ),
        _pattern(r"€|\$|£|\beuros?\b|\bEUR\b|\bdollars?\b|\bUSD\b|\bfrancs?\b|\bpounds?\b"),
    ),
    AnswerKind(
        "date",
        _pattern(
            r"\b(en quelle année|quelle année|à quelle date|quel siècle|what year|which year|what date|which date|"
            r"what century|which century)\b"
        ),
        _pattern(rf"\b\d{{3,4}}\b|\b({_MONTHS})\b|\bsiècles?\b|\bcentur(y|ies)\b|\bans?\b|\byears?\b"),
    ),
    AnswerKind(
        "number",
        _pattern(r"\b(combien|quel nombre|how many|how much|what number)\b"),
        _pattern(rf"\d|\b({_NUMBER_WORDS})\b|\bune? (seule? )?(fois|dizaine|centaine)\b"),
    ),
)


def asked_for(question: str) -> AnswerKind | None:
    """The kind of answer ``question`` asks for, or None when it asks for none that a pattern can check."""
    return next((kind for kind in KINDS if kind.asks.search(question)), None)


def missing_kind(question: str, texts: Iterable[str]) -> str | None:
    """The name of the kind of answer ``question`` asks for when none of ``texts`` holds one; None otherwise."""
    kind = asked_for(question)
    if kind is None or any(kind.found_in(text) for text in texts):
        return None
    return kind.name
