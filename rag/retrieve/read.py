"""The typed reading stage: the short answer of a typed question, read from the answering sentences of the best hits.

``read(qtype, question, hits) -> Reading`` is pure (no model, no index): each ``HitText`` gives a hit's rank, its
passage text, its sentence spans, each sentence's similarity to the question and the passage's annotations
(``rag.ingest.annotations``, found at index time). The answer is the first candidate, best hit first and its most
similar answering sentence first, that

- is of a kind the question asks for (``ACCEPTS``: a person question takes a PER entity, a count a COUNT…);
- for a count, counts the question's focus noun (``rag.retrieve.nouns.same_noun``: "soldats" ↔ "soldiers"); a
  number with no noun after it counts when the focus noun itself is in its sentence ("in interceptions with 24");
- is not already in the question ("Who is the president of Cités Unies France?" is not answered by "Cités Unies
  France"; "Combien de pays ont voté la résolution du 2 mars 2022" not by that date).

Answering sentences (``ANSWERING``): ``highlight`` — the sentences ``rag.retrieve.highlight.choose_sentences``
highlights; ``top1`` / ``top2`` — the one or two sentences most similar to the question; ``margin`` — every sentence
within ``MARGIN`` of the passage's best; ``highlight+margin`` — both (the answer often sits in the sentence next to
the highlight, as close to the question as the highlighted one). Chosen by ``eval/typed_answers.py`` on the development sets (see
eval/reports/typed/README.md). When nothing is found, ``Reading.missing(lang)`` says what is missing, in French or
English ("aucun des passages ne donne un nombre de soldats").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.ingest.annotations import AMOUNT, COUNT, DATE, LOC, MISC, ORG, PER, PERCENT, Annotation
from rag.retrieve import nouns
from rag.retrieve.highlight import choose_sentences
from rag.retrieve.question_type import (
    AMOUNT as Q_AMOUNT,
)
from rag.retrieve.question_type import (
    COUNT as Q_COUNT,
)
from rag.retrieve.question_type import (
    DATE as Q_DATE,
)
from rag.retrieve.question_type import (
    ORGANIZATION,
    PERCENTAGE,
    PERSON,
    PLACE,
    QuestionType,
)

# Which annotation kinds answer each kind of question. A who-question without a noun ("Qui a…", "Who chaired…",
# ``QuestionType.strict`` False) is answered by a person, an organisation or a country alike ("la Russie porte
# l'entière responsabilité").
ACCEPTS: dict[str, tuple[str, ...]] = {
    PERSON: (PER,),
    ORGANIZATION: (ORG, MISC),
    PLACE: (LOC,),
    Q_DATE: (DATE,),
    Q_COUNT: (COUNT,),
    Q_AMOUNT: (AMOUNT,),
    PERCENTAGE: (PERCENT,),
}
LOOSE_PERSON = (PER, ORG, LOC)
ANSWERING = ("highlight", "top1", "top2", "margin", "highlight+margin")
DEFAULT_ANSWERING = "highlight"
MARGIN = 0.03
# The hits read, best first: the ones a reader sees at once.
DEPTH = 3


@dataclass(frozen=True)
class HitText:
    """What reading needs of one hit: its rank (1 = best), passage text, sentence spans, each sentence's similarity to
    the question and the passage's annotations (offsets into ``text``)."""

    rank: int
    text: str
    sentences: Sequence[tuple[int, int]]
    similarities: Sequence[float]
    annotations: Sequence[Annotation] = field(default=())


@dataclass(frozen=True)
class Answer:
    """A short answer: ``text == passage text[start:end]`` of hit ``rank``, inside its ``sentence`` span; ``kind`` is
    the question's kind, ``label`` the annotation's (PER, DATE, COUNT…)."""

    text: str
    kind: str
    label: str
    rank: int
    start: int
    end: int
    sentence: tuple[int, int]


@dataclass(frozen=True)
class Reading:
    """What typed reading found for a typed question: the answer, or None (then ``missing`` says what lacks)."""

    type: QuestionType
    answer: Answer | None

    def missing(self, lang: str = "en") -> str | None:
        """What none of the passages gives, as a sentence in ``lang`` (``fr``, else English); None when answered."""
        if self.answer is not None:
            return None
        return missing_text(self.type, lang)


_WHAT = {
    "fr": {
        PERSON: "le nom d'une personne", ORGANIZATION: "le nom d'une organisation", PLACE: "un lieu",
        Q_DATE: "une date", Q_COUNT: "un nombre", Q_AMOUNT: "un montant", PERCENTAGE: "un pourcentage",
    },
    "en": {
        PERSON: "the name of a person", ORGANIZATION: "the name of an organisation", PLACE: "a place",
        Q_DATE: "a date", Q_COUNT: "a number", Q_AMOUNT: "an amount of money", PERCENTAGE: "a percentage",
    },
}  # fmt: skip
_MISSING = {"fr": "aucun des passages ne donne {what}", "en": "none of the passages gives {what}"}


def _plural(word: str, lang: str) -> str:
    w = word.casefold()
    if lang == "en":
        if w.endswith("y") and w[-2:-1] not in "aeiou":
            return w[:-1] + "ies"
        return w + ("es" if w.endswith(("s", "x", "ch", "sh")) else "s")
    if w.endswith(("s", "x", "z")):
        return w
    if w.endswith("al"):
        return w[:-2] + "aux"
    return w + ("x" if w.endswith(("eau", "au", "eu")) else "s")


def missing_text(qtype: QuestionType, lang: str) -> str:
    """"aucun des passages ne donne un nombre de soldats" / "none of the passages gives a number of soldiers"."""
    lang = "fr" if lang == "fr" else "en"
    what = _WHAT[lang][qtype.kind]
    if qtype.kind == Q_COUNT and qtype.focus:
        word = nouns.translation(qtype.focus, qtype.lang, lang)
        if word is not None and word != qtype.focus:
            word = _plural(word, lang)
        else:
            word = qtype.focus.casefold()
        de = "d'" if lang == "fr" and word[:1] in "aeiouéèêàâîôûhy" else "de " if lang == "fr" else "of "
        what = f"{what} {de}{word}"
    return _MISSING[lang].format(what=what)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().replace("’", "'").replace("‑", "-"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ARTICLES = frozenset("l la le les d de du des the a an of".split())


def in_question(candidate: Annotation, question: str) -> bool:
    """Whether the question already contains the candidate: all its words (articles aside) are words of the question;
    for a date, its numbers ("2 mars 2022" in "…the resolution of 2 March 2022")."""
    asked = set(_TOKEN.findall(_fold(question)))
    words = [w for w in _TOKEN.findall(_fold(candidate.text)) if w not in _ARTICLES]
    if candidate.kind == DATE:
        digits = [w for w in words if w.isdigit()]
        if digits:
            return all(d in asked for d in digits)
    return bool(words) and all(w in asked for w in words)


def answering_sentences(hit: HitText, how: str = DEFAULT_ANSWERING, margin: float = MARGIN) -> list[int]:
    """The indices of the answering sentences of ``hit``, most similar first (see the module for ``how``)."""
    n = len(hit.sentences)
    if n == 0:
        return []
    by_sim = sorted(range(n), key=lambda i: (-hit.similarities[i], i))
    if how == "highlight":
        chosen = set(choose_sentences(hit.text, hit.sentences, hit.similarities))
        return [i for i in by_sim if i in chosen]
    if how == "top1":
        return by_sim[:1]
    if how == "top2":
        return by_sim[:2]
    best = hit.similarities[by_sim[0]]
    if how == "margin":
        return [i for i in by_sim if hit.similarities[i] >= best - margin]
    if how == "highlight+margin":
        chosen = set(choose_sentences(hit.text, hit.sentences, hit.similarities))
        return [i for i in by_sim if i in chosen or hit.similarities[i] >= best - margin]
    raise ValueError(f"unknown answering sentences {how!r}; use one of {', '.join(ANSWERING)}")


def _sentence_words(text: str, lang: str) -> set[str]:
    return {nouns.noun_key(w, lang) for w in _TOKEN.findall(text.casefold())}


def _counts_focus(candidate: Annotation, qtype: QuestionType, sentence: str, lang: str, bilingual: bool) -> bool:
    focus = qtype.focus
    if not focus:
        return True
    if candidate.detail:
        return nouns.same_noun(focus, qtype.lang, candidate.detail, lang, bilingual=bilingual)
    # A number with no noun after it counts the focus when the focus noun is in its sentence.
    words = _sentence_words(sentence, lang)
    return any(nouns.same_noun(focus, qtype.lang, w, lang, bilingual=bilingual) for w in words) or (
        nouns.noun_key(focus, lang) in words
    )


def _stems(text: str, lang: str) -> list[tuple[int, str]]:
    """Each word of ``text`` with its offset, as a stem (for finding the question's words near a candidate)."""
    return [(m.start(), nouns.noun_key(m.group(), lang)) for m in _TOKEN.finditer(text)]


def _closeness(candidate: Annotation, words: list[tuple[int, str]], question_stems: set[str]) -> float:
    """How close the question's words stand to the candidate: each question stem found in the passage counts
    1 - distance/100 characters at its nearest occurrence (0 beyond), the classic proximity of factoid QA."""
    nearest: dict[str, int] = {}
    for at, stem in words:
        if stem in question_stems and not (candidate.start <= at < candidate.end):
            d = candidate.start - at if at < candidate.start else at - candidate.end
            nearest[stem] = min(d, nearest.get(stem, d))
    return sum(max(0.0, 1 - d / 100) for d in nearest.values())


# Countries and continents, French and English (folded): a question about a city or a region is not answered by a
# country that its sentence also names ("se sont réunis aux côtés de l'Ukraine … à Paris"), one about a country is.
_COUNTRIES = frozenset(
    """ukraine russie russia france etats-unis united states usa allemagne germany royaume-uni united kingdom uk
    italie italy espagne spain pologne poland chine china japon japan inde india canada bresil brazil australie
    australia turquie turkey belgique belgium pays-bas netherlands suisse switzerland suede sweden finlande finland
    norvege norway danemark denmark autriche austria portugal grece greece roumanie romania hongrie hungary moldavie
    moldova bielorussie belarus georgie georgia armenie armenia israel iran irak iraq syrie syria egypte egypt maroc
    morocco algerie algeria tunisie tunisia senegal mali mexique mexico argentine argentina coree korea urss ussr
    europe afrique africa asie asia amerique america oceanie oceania etat etats""".replace("united states", "united-states")
    .replace("united kingdom", "united-kingdom")
    .split()
)
_COUNTRY_NOUNS = frozenset("pays etat etats nation nations country countries state states continent continents".split())


def _is_country(candidate: Annotation) -> bool:
    name = "-".join(_TOKEN.findall(_fold(candidate.text)))
    return name in _COUNTRIES or name.removeprefix("l-") in _COUNTRIES


def _fits_place(candidate: Annotation, qtype: QuestionType) -> int:
    """1 when a place candidate is of the class the question names (a country for "quel pays", anything else for
    "quelle ville"), 0 otherwise; 0 for every candidate of other questions."""
    if qtype.kind != PLACE or not qtype.focus or candidate.kind != LOC:
        return 0
    wants_country = _fold(qtype.focus) in _COUNTRY_NOUNS
    return int(_is_country(candidate) == wants_country)


def read(
    qtype: QuestionType,
    question: str,
    hits: Sequence[HitText],
    *,
    answering: str = DEFAULT_ANSWERING,
    margin: float = MARGIN,
    depth: int = DEPTH,
    lang: str = "fr",
    bilingual: bool = True,
) -> Reading:
    """The answer to ``question`` (typed ``qtype``) found in the answering sentences of the ``depth`` best ``hits``.
    ``lang`` is the passages' language (for the counted nouns' stems); ``bilingual`` uses the bilingual noun groups
    (else stems only)."""
    accepts = ACCEPTS[qtype.kind] if qtype.strict or qtype.kind != PERSON else LOOSE_PERSON
    question_stems = {nouns.noun_key(w, qtype.lang) for w in _TOKEN.findall(question) if len(w) > 2}
    best_hits = sorted(hits, key=lambda h: h.rank)[:depth]
    places = [(hit, i) for hit in best_hits for i in answering_sentences(hit, answering, margin)]
    words_of: dict[int, list[tuple[int, str]]] = {}
    for hit, i in places:
        start, end = hit.sentences[i]
        sentence = hit.text[start:end]
        found = [
            a
            for a in hit.annotations
            if a.kind in accepts
            and a.start < end
            and a.end > start  # a name may run over a line break that ends a "sentence"
            and not in_question(a, question)
            and (a.kind != COUNT or _counts_focus(a, qtype, sentence, lang, bilingual))
        ]
        if found:
            words = words_of.setdefault(hit.rank, _stems(hit.text, lang))
            best = max(found, key=lambda a: (_fits_place(a, qtype), _closeness(a, words, question_stems), -a.start))
            return Reading(qtype, Answer(best.text, qtype.kind, best.kind, hit.rank, best.start, best.end, (start, end)))
    return Reading(qtype, None)
