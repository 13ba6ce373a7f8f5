"""A tiny language guess for questions (French or English), from function words: no model, no dependency."""

from __future__ import annotations

import re

_FR = frozenset(
    "le la les un une des du de au aux et ou est sont que qui quoi quel quelle quels quelles quand comment pourquoi "
    "combien où dans pour par sur avec ce cette ces il elle ils elles nous vous leur leurs a-t-il a-t-elle ne pas "
    "selon été être ont avoir".split()
)
_EN = frozenset(
    "the a an of and or is are was were what which who whom when how why where in on for by with this that these "
    "those it they we you their does do did has have had according been be to from".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def guess_language(text: str) -> str:
    """``"fr"``, ``"en"`` or ``"und"`` when the question gives no clue."""
    words = [w.casefold() for w in _WORD.findall(text)]
    fr = sum(w in _FR or w.startswith(("l'", "l’", "d'", "d’", "qu'", "qu’")) for w in words)
    en = sum(w in _EN for w in words)
    if fr == en:
        accents = sum(ch in "éèêàâçîôûœ" for ch in text.casefold())
        return "fr" if accents else ("und" if fr == 0 else "en")
    return "fr" if fr > en else "en"


_IRREGULAR_SINGULARS = {"people": "person", "men": "man", "women": "woman", "children": "child", "feet": "foot"}


def english_singular(word: str) -> str:
    """A light English singular of a folded noun ("countries" → "country", "sacks" → "sack", "people" → "person"):
    shared by the counted nouns of passages (rag.ingest.annotate) and the focus nouns of questions, so they meet."""
    if word in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith(("ss", "us", "is")) else word
