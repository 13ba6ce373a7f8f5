"""Ordinals: which event of a sequence a question asks about, and which one a passage's candidate belongs to.

"À quelle date s'est tenue la deuxième réunion… ?" asks about the meeting ranked 2; in "La réunion de lancement … s'est
tenue le 12 février 2014 et la deuxième réunion le 30 juin 2015", the first date belongs to the meeting ranked 1 and
the second to the one ranked 2; in "Les 5ème et 6ème réunions se sont tenues … le 3 juillet 2019 et le 22 septembre
2020" the dates pair with the ranks in order. ``relation`` says whether a candidate belongs to the asked rank (True),
to another rank of the same thing (False: it cannot answer), or to no ranked thing (None). The ranked noun must be
the same ("deuxième réunion" ↔ "2ème réunion", "second meeting" ↔ "3ème réunion" through ``rag.retrieve.nouns``):
"la Seconde Guerre mondiale" ranks no meeting. "The first of its two meetings" picks one of a set, not a rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from rag.ingest.annotations import Annotation
from rag.retrieve import nouns

_WORDS = (
    "premier première premiers premières first",
    "deuxième deuxièmes second seconde seconds secondes",
    "troisième troisièmes third",
    "quatrième quatrièmes fourth",
    "cinquième cinquièmes fifth",
    "sixième sixièmes sixth",
    "septième septièmes seventh",
    "huitième huitièmes eighth",
    "neuvième neuvièmes ninth",
    "dixième dixièmes tenth",
)
WORDS: dict[str, int] = {word: n for n, words in enumerate(_WORDS, start=1) for word in words.split()}
_NUMBERED = re.compile(r"(\d{1,3})(?:e|è|ème|eme|er|re|ère|ere|nd|rd|th|st)", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# An ordinal that picks one of a set ("the first of its two meetings", "le premier d'entre eux") ranks nothing.
_OF = frozenset("of des de du d entre among".split())
# "la réunion de lancement", "the inaugural meeting", "la séance inaugurale": the first of its kind.
_FIRST_OF = re.compile(r"\b(?P<before>[^\W\d_]+)\s+(?:de\s+lancement|inaugura(?:l|le|les|ux))\b", re.IGNORECASE)
_FIRST = frozenset("inaugural inaugurale inaugurales opening founding".split())
_JOIN = re.compile(r"\s*(?:,|et|and|ou|or|&)\s*", re.IGNORECASE)


# A rank in a standing, not in a sequence of events ("la quatrième place", "the second-largest exporter", "le
# deuxième plus grand"): what holds it is often written before it ("Iran was the world's second-largest…").
_POSITIONS = frozenset("place places position positions rang rank ranks plus most least rangée".split())


def _is_position(noun: str) -> bool:
    w = noun.casefold()
    return w in _POSITIONS or (len(w) > 4 and w.endswith("est") and w.isascii())


def rank_of(word: str) -> int | None:
    """The rank an ordinal word gives ("deuxième" → 2, "4ème" → 4, "3rd" → 3), None for any other word."""
    w = word.casefold()
    if w in WORDS:
        return WORDS[w]
    m = _NUMBERED.fullmatch(w)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Ordinal:
    """A rank written at ``[start, end)`` of a text, of the thing ``noun`` (the word after it)."""

    start: int
    end: int
    rank: int
    noun: str


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

    return frozenset((*STOPWORDS_FRENCH, *STOPWORDS_EN))


def find(text: str, lo: int = 0, hi: int | None = None, skip: Sequence[Annotation] = ()) -> list[Ordinal]:
    """The ordinals written in ``text[lo:hi]`` with the noun they rank, in order; words inside ``skip`` (a date's "1er")
    are not ordinals. In a run ("5ème et 6ème réunions") each ordinal ranks the run's noun."""
    hi = len(text) if hi is None else hi
    tokens = [m for m in _TOKEN.finditer(text, lo, hi) if not any(a.start <= m.start() < a.end for a in skip)]
    found: list[tuple[int, int, int]] = []
    out: list[Ordinal] = []
    for i, m in enumerate(tokens):
        rank = rank_of(m.group())
        if rank is None and m.group().casefold() in _FIRST and i + 1 < len(tokens):
            rank = 1
        if rank is None:
            continue
        found.append((m.start(), m.end(), rank))
        after = tokens[i + 1].group().casefold() if i + 1 < len(tokens) else ""
        following = next((t for t in tokens[i + 1 : i + 3] if rank_of(t.group()) is not None), None)
        if following is not None and _JOIN.fullmatch(text[m.end() : following.start()]):
            continue  # "5ème et 6ème réunions": the noun comes after the run
        noun = next((t.group() for t in tokens[i + 1 : i + 3] if t.group().casefold() not in _stopwords()), "")
        if not after or after in _OF or not noun or _is_position(noun):
            found = []
            continue
        out.extend(Ordinal(s, e, r, noun) for s, e, r in found)
        found = []
    for m in _FIRST_OF.finditer(text, lo, hi):
        if m.group("before").casefold() not in _stopwords():
            out.append(Ordinal(m.start(), m.end(), 1, m.group("before")))
    return sorted(out, key=lambda o: o.start)


@lru_cache(maxsize=256)
def asked(question: str) -> tuple[Ordinal, ...]:
    """The ranks a question asks about ("la deuxième réunion", "the sixth meeting")."""
    return tuple(find(question))


@lru_cache(maxsize=512)
def _of_passage(text: str, skip: tuple[Annotation, ...]) -> tuple[Ordinal, ...]:
    return tuple(find(text, 0, len(text), skip))


def _asked_noun(o: Ordinal, question: Sequence[Ordinal], qlang: str, lang: str) -> bool:
    return any(nouns.same_noun(q.noun, qlang, o.noun, lang) for q in question)


def _attached(candidate: Annotation, text: str, sentence: tuple[int, int], annotations: Sequence[Annotation],
              keep: Callable[[Ordinal], bool]) -> list[Ordinal]:  # fmt: skip
    """The ordinals ``candidate`` belongs to among those ``keep`` keeps: the last one (or run of them) before it in its
    sentence, or in its passage when the passage lists two ranks or more (an item of a list runs until the next: "• la
    3ème Rencontre … à Strasbourg. Cités Unies France a participé à cet événement"); in a run followed, in the
    candidate's sentence, by as many candidates of its kind ("Les 5ème et 6ème réunions … le 3 juillet 2019 et le 22
    septembre 2020"), the one at its place."""
    kept = [o for o in _of_passage(text, tuple(annotations)) if keep(o)]
    if len({o.rank for o in kept}) < 2:  # not a list of ranked items: only an ordinal of the candidate's sentence
        kept = [o for o in kept if o.start >= sentence[0]]
    before = [o for o in kept if o.end <= candidate.start]
    if not before:
        return []
    run = [before[-1]]
    for o in reversed(before[:-1]):
        if not _JOIN.fullmatch(text[o.end : run[0].start]):
            break
        run.insert(0, o)
    if len(run) == 1:
        return run
    same = [a for a in annotations if a.kind == candidate.kind and run[-1].end <= a.start < sentence[1]]
    if len(same) == len(run) and candidate in same:
        return [run[same.index(candidate)]]
    return run


def relation(candidate: Annotation, question: Sequence[Ordinal], qlang: str, text: str, lang: str,
             sentence: tuple[int, int], annotations: Sequence[Annotation]) -> bool | None:  # fmt: skip
    """True when ``candidate`` belongs to a rank the question asks about (same rank of the same noun), False when it
    belongs to another rank of that noun, None when the question asks no rank or the candidate has none of its noun."""
    if not question:
        return None
    def keep(o: Ordinal) -> bool:
        return _asked_noun(o, question, qlang, lang)

    mine = _attached(candidate, text, sentence, annotations, keep)
    if not mine:
        # In a list of ranked items of the noun asked about, what precedes the first item is about none of them.
        return False if len({o.rank for o in _of_passage(text, tuple(annotations)) if keep(o)}) >= 2 else None
    return any(o.rank == q.rank and nouns.same_noun(q.noun, qlang, o.noun, lang) for o in mine for q in question)


def names(text: str, span: tuple[int, int], question: Sequence[Ordinal], qlang: str, lang: str,
          annotations: Sequence[Annotation] = ()) -> bool:  # fmt: skip
    """Whether the sentence ``text[span]`` is about a rank the question asks about: it names it ("La 3ème réunion a eu
    lieu…" for "la troisième réunion"), or follows the item of a list (two ranks or more) that does, before the next
    rank of the same noun. Such a sentence answers, however close to the question the others are."""
    ranked = [o for o in _of_passage(text, tuple(annotations)) if _asked_noun(o, question, qlang, lang)]
    inside = [o for o in ranked if span[0] <= o.start < span[1]]
    before = [o for o in ranked if o.start < span[0]]
    last = inside or (before[-1:] if len({o.rank for o in ranked}) >= 2 else [])
    return any(o.rank == q.rank and nouns.same_noun(q.noun, qlang, o.noun, lang) for o in last for q in question)
