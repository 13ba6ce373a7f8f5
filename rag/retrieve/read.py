"""The typed reading stage: the short answer of a typed question, read from the answering sentences of the best hits.

``read(qtype, question, hits) -> Reading`` is pure (no model, no index): each ``HitText`` gives a hit's rank, its
passage text and language, its sentence spans, each sentence's similarity to the question and the passage's
annotations (``rag.ingest.annotations``, found at index time).

1. The answering sentences of each of the ``depth`` best hits (``answering_sentences``; ``ANSWERING`` lists the ways
   compared by ``eval/typed_answers.py``, the default is ``DEFAULT_ANSWERING``). A short line that ends no sentence
   (a signature block: the name on one line, its offices on the next) is read with the lines of its block, at the
   best similarity among them (``line_blocks``).
2. The candidates they hold that *fit* the question (``fits``): of a kind it asks for (``ACCEPTS``), not already in
   the question ("Who is the president of Cités Unies France?" is not answered by "Cités Unies France"), and of its
   focus: a count must count the focus noun ("soldats" ↔ "soldiers", ``rag.retrieve.nouns.same_noun``); a person
   asked by role ("Quel ministre…") must be called one near the name; a year question wants a year, a date question
   a day; a city or a region is not a country; a question about a rank ("la deuxième réunion") is not answered by
   what belongs to another rank of the same thing ("La 3ème réunion a eu lieu le 5 juillet 2016",
   ``rag.retrieve.ordinals``), and the sentences about the rank asked answer too, however close the others are.
3. No fitting candidate: the question is not answered, and ``Reading.missing(lang)`` says what is missing, in French
   or English ("aucun des passages ne donne un nombre de soldats"). Otherwise the answer is the candidate with the
   best ``score``: its sentence's similarity to the question, plus the question's words standing close to it (the
   proximity of classic factoid QA; an English question's "meeting" stands near a French "réunion" through the
   bilingual noun groups), plus a preference for the class the question names, for the rank it asks about and for
   a clause that tells of the event it asks about ("créé" ↔ "created" ↔ "fondé", not "lancement" nor "née";
   ``rag.retrieve.events``), less a little per rank of hit.
   A list of names of the kind asked for ("Donetsk, Louhansk, Zaporizhia et Kherson") is given whole, and a year
   question gets the year of a date ("1801" of "juillet 1801").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

from rag import i18n
from rag.ingest.annotations import AMOUNT, COUNT, DATE, LOC, MISC, ORG, PER, PERCENT, Annotation
from rag.retrieve import events, nouns, ordinals
from rag.retrieve import question_type as qt
from rag.retrieve.highlight import choose_sentences
from rag.retrieve.question_type import QuestionType

# Whether noun a (in language la) and noun b (in lb) name the same thing: ``match(a, la, b, lb)``.
NounMatch = Callable[[str, str, str, str], bool]

# Which annotation kinds answer each kind of question. A who-question without a noun ("Qui a…", "Who chaired…",
# ``QuestionType.strict`` False) is answered by a person, an organisation or a country alike ("la Russie porte
# l'entière responsabilité").
ACCEPTS: dict[str, tuple[str, ...]] = {
    qt.PERSON: (PER,),
    qt.ORGANIZATION: (ORG, MISC),
    qt.PLACE: (LOC,),
    qt.DATE: (DATE,),
    qt.COUNT: (COUNT,),
    qt.AMOUNT: (AMOUNT,),
    qt.PERCENTAGE: (PERCENT,),
}
LOOSE_PERSON = (PER, ORG, LOC)
# English text has no English model here: its names are capitalised runs labelled by the French model's guess
# (rag.ingest.annotate.english_names), so any name answers a who, which-organisation or where question, the label
# matching the question's kind preferred.
ENGLISH_NAMES = (PER, ORG, LOC, MISC)
NAMED_KINDS = (qt.PERSON, qt.ORGANIZATION, qt.PLACE)
ANSWERING = ("highlight", "top1", "top2", "margin", "highlight+margin")
DEFAULT_ANSWERING = "highlight+margin"
MARGIN = 0.03
# The hits read, best first: the ones a reader sees at once.
DEPTH = 3
# How a candidate is scored (``score``): its sentence's similarity, plus PROXIMITY for each question word at its
# side (1 next to it, 0 at PROXIMITY_CHARS), plus CLASS_BONUS when it is of the class the question names, less
# RANK_PENALTY per rank below the best hit. Chosen by eval/short_answers.py on PIAF and eval/typed_answers.py.
PROXIMITY = 0.01
PROXIMITY_CHARS = 100
CLASS_BONUS = 0.05
# The candidate belongs to the rank the question asks about ("la deuxième réunion", rag.retrieve.ordinals).
ORDINAL_BONUS = 0.05
# The candidate's clause tells of the event the question asks about ("Quand … a-t-il été créé ?": "a été créé … du 20
# février 2013", not "La réunion de lancement … s'est tenue le 12 février 2014"; rag.retrieve.events).
EVENT_BONUS = 0.05
RANK_PENALTY = 0.01
# A role must be named this close to the person ("M. Alexandre Tsyboulski, Vice-Ministre russe…").
ROLE_WINDOW = 60


@dataclass(frozen=True)
class HitText:
    """What reading needs of one hit: its rank (1 = best), passage text, sentence spans, each sentence's similarity to
    the question, the passage's annotations (offsets into ``text``) and its language (``fr``, ``en``)."""

    rank: int
    text: str
    sentences: Sequence[tuple[int, int]]
    similarities: Sequence[float]
    annotations: Sequence[Annotation] = field(default=())
    lang: str = "fr"


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

    def missing(self, lang: str | None = "en") -> str | None:
        """What none of the passages gives, as a sentence in ``lang`` (``i18n.language``); None when answered."""
        if self.answer is not None:
            return None
        return missing_text(self.type, lang)


# -- what is missing, in words ----------------------------------------------------------------------------------

_DATE_UNITS = {"year": "year", "century": "century", "month": "month", "day": "date"}
_VOWEL = "aeiouéèêàâîôûhy"


def _plural(word: str, lang: str) -> str:
    w = word.casefold()
    if lang == "en":
        if w in ("person",):
            return "people"
        if w.endswith("y") and w[-2:-1] not in "aeiou":
            return w[:-1] + "ies"
        return w + ("es" if w.endswith(("s", "x", "ch", "sh")) else "s")
    if w.endswith(("s", "x", "z")):
        return w
    if w.endswith("al"):
        return w[:-2] + "aux"
    return w + ("x" if w.endswith(("eau", "au", "eu")) else "s")


def _in(word: str, lang: str, to: str, plural: bool) -> str:
    """``word`` (a noun of the question, in ``lang``) as written in language ``to``: its bilingual group's noun (in the
    plural when asked), else the word itself."""
    target = nouns.translation(word, lang, to)
    if target is None or target == word:
        return word.casefold()
    return _plural(target, to) if plural else target


def missing_text(qtype: QuestionType, lang: str | None) -> str:
    """ "aucun des passages ne donne un nombre de soldats" / "none of the passages gives a number of soldiers";
    "aucun des passages ne nomme de ministre" / "none of the passages names a minister"."""
    lang = i18n.language(lang)
    focus = qtype.focus
    if qtype.kind == qt.COUNT and focus:
        noun = _in(focus, qtype.lang, lang, plural=True)
        key = "read.count_of_vowel" if noun[:1] in _VOWEL else "read.count_of"
        return i18n.text("read.missing", lang, what=i18n.text(key, lang, noun=noun))
    named = focus if qtype.kind in (qt.PERSON, qt.ORGANIZATION, qt.PLACE) else None
    if named:
        noun = _in(qt.singular(named, qtype.lang), qtype.lang, lang, plural=False)
        key = "read.named_vowel" if noun[:1] in _VOWEL else "read.named"
        return i18n.text("read.missing_named", lang, what=i18n.text(key, lang, noun=noun))
    unit = qt.date_unit(qtype) if qtype.kind == qt.DATE else None
    what = i18n.text(f"read.{_DATE_UNITS[unit]}" if unit else f"read.{qtype.kind}", lang)
    return i18n.text("read.missing", lang, what=what)


# -- answering sentences ----------------------------------------------------------------------------------------


def answering_sentences(hit: HitText, how: str = DEFAULT_ANSWERING, margin: float = MARGIN) -> list[int]:
    """The indices of the answering sentences of ``hit``, most similar first: ``highlight``, the sentences
    ``rag.retrieve.highlight.choose_sentences`` highlights; ``top1`` / ``top2``, the one or two most similar to the
    question; ``margin``, every sentence within ``margin`` of the passage's best; ``highlight+margin``, both (the
    answer often sits in the sentence next to the highlight, as close to the question as the highlighted one)."""
    n = len(hit.sentences)
    if n == 0:
        return []
    by_sim = sorted(range(n), key=lambda i: (-hit.similarities[i], i))
    if how in ("highlight", "highlight+margin"):
        chosen = set(choose_sentences(hit.text, hit.sentences, hit.similarities))
        if how == "highlight":
            return [i for i in by_sim if i in chosen]
    if how == "top1":
        return by_sim[:1]
    if how == "top2":
        return by_sim[:2]
    best = hit.similarities[by_sim[0]]
    if how == "margin":
        return [i for i in by_sim if hit.similarities[i] >= best - margin]
    if how == "highlight+margin":
        return [i for i in by_sim if i in chosen or hit.similarities[i] >= best - margin]
    raise ValueError(f"unknown answering sentences {how!r}; use one of {', '.join(ANSWERING)}")


# A line that ends no sentence and is short ("Anne Hidalgo, Présidente de l'Association" / "Internationale des
# Maires" / "Francophones" / "Maire de Paris": a signature block, a letterhead) is a piece of a block of such lines,
# read whole: the name sits on one line, its role on the next ones. A line that starts with a person's name starts
# a new block (the next signatory).
_ENDS_SENTENCE = re.compile(r"[.!?…;:»\"]\s*$")
FRAGMENT_WORDS = 8


def _is_fragment(text: str, span: tuple[int, int]) -> bool:
    piece = text[span[0] : span[1]]
    return not _ENDS_SENTENCE.search(piece) and len(piece.split()) <= FRAGMENT_WORDS


def line_blocks(hit: HitText) -> list[int]:
    """Each sentence's block: the index of the first sentence of the run of consecutive fragments it belongs to (a
    short line that ends no sentence; a line starting with a person's name starts a run), or its own index."""
    names = {a.start for a in hit.annotations if a.kind == PER}
    blocks: list[int] = []
    for i, span in enumerate(hit.sentences):
        starts_name = span[0] + len(hit.text[span[0] : span[1]]) - len(hit.text[span[0] : span[1]].lstrip()) in names
        joined = (
            i > 0 and not starts_name and _is_fragment(hit.text, span) and _is_fragment(hit.text, hit.sentences[i - 1])
        )
        blocks.append(blocks[i - 1] if joined else i)
    return blocks


# -- which candidates fit ---------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().replace("’", "'").replace("‑", "-"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ARTICLES = frozenset("l la le les d de du des the a an of".split())


def _same_name(word: str, asked: frozenset[str]) -> bool:
    """A word of a name is in the question as itself or as its other language's spelling: a common start of at least
    five letters and most of the shorter word ("Pétersbourg" / "Petersburg", "Russie" / "Russian")."""
    if word in asked:
        return True
    if len(word) < 5 or word.isdigit():
        return False
    for other in asked:
        if len(other) >= 5 and other[:5] == word[:5]:
            common = next((i for i, (a, b) in enumerate(zip(word, other, strict=False)) if a != b), min(len(word), len(other)))
            if common >= 0.7 * min(len(word), len(other)):
                return True
    return False


@lru_cache(maxsize=256)
def _asked(question: str) -> frozenset[str]:
    return frozenset(_TOKEN.findall(_fold(question)))


def in_question(candidate: Annotation, question: str) -> bool:
    """Whether the question already contains the candidate: all its words (articles aside) are words of the question,
    in either language's spelling ("Saint-Pétersbourg" in "…twinned with Saint Petersburg?"); for a date, its numbers
    ("2 mars 2022" in "…the resolution of 2 March 2022")."""
    asked = _asked(question)
    words = [w for w in _TOKEN.findall(_fold(candidate.text)) if w not in _ARTICLES]
    if candidate.kind == DATE:
        digits = [w for w in words if w.isdigit()]
        if digits:
            return all(d in asked for d in digits)
    return bool(words) and all(_same_name(w, asked) for w in words)


def _keys(text: str, lang: str) -> set[str]:
    return {nouns.noun_key(w, lang) for w in _TOKEN.findall(text.casefold())}


def _counts_focus(candidate: Annotation, qtype: QuestionType, sentence: str, lang: str, match: NounMatch) -> bool:
    focus = qtype.focus
    if not focus:
        return True
    if candidate.detail:
        return match(focus, qtype.lang, candidate.detail, lang)
    # A number with no noun after it counts the focus when the focus noun is in its sentence ("interceptions with 24").
    return any(match(focus, qtype.lang, w, lang) for w in _TOKEN.findall(sentence))


def _named_near(candidate: Annotation, text: str, noun: str, qlang: str, lang: str, match: NounMatch) -> bool:
    """Whether ``noun`` (a role: "ministre", "secretary") is written within ``ROLE_WINDOW`` characters of the candidate
    ("M. Alexandre Tsyboulski, Vice-Ministre russe", "le ministre de l'Intérieur, Jean Dupont")."""
    around = (
        text[max(0, candidate.start - ROLE_WINDOW) : candidate.start] + " " + text[candidate.end : candidate.end + ROLE_WINDOW]
    )
    return any(match(noun, qlang, w, lang) for w in _TOKEN.findall(around))


# Countries and continents, French and English (folded): a question about a city or a region is not answered by a
# country that its sentence also names ("se sont réunis aux côtés de l'Ukraine … à Paris"), one about a country is.
_COUNTRIES = frozenset(
    """ukraine russie russia france etats-unis united-states usa allemagne germany royaume-uni united-kingdom uk
    italie italy espagne spain pologne poland chine china japon japan inde india canada bresil brazil australie
    australia turquie turkey belgique belgium pays-bas netherlands suisse switzerland suede sweden finlande finland
    norvege norway danemark denmark autriche austria portugal grece greece roumanie romania hongrie hungary moldavie
    moldova bielorussie belarus georgie georgia armenie armenia israel iran irak iraq syrie syria egypte egypt maroc
    morocco algerie algeria tunisie tunisia senegal mali mexique mexico argentine argentina coree korea urss ussr
    irlande ireland ecosse scotland angleterre england luxembourg autriche-hongrie prusse prussia
    europe afrique africa asie asia amerique america oceanie oceania federation-de-russie russian-federation
    etat etats state states""".split()
)
_COUNTRY_NOUNS = frozenset("pays etat etats nation nations country countries state states continent continents".split())


def is_country(candidate: Annotation) -> bool:
    """Whether a place names a country or a continent (from a list of the common ones, French and English)."""
    name = "-".join(_TOKEN.findall(_fold(candidate.text)))
    for article in ("l-", "la-", "le-", "les-", "the-"):
        name = name.removeprefix(article)
    return name in _COUNTRIES


_YEAR = re.compile(r"(?<!\d)(?:1[0-9]{3}|20[0-9]{2})(?!\d)")
_DECADE = re.compile(r"\bann[ée]es\s+(?:19|20)?[0-9]0\b|\b(?:1[0-9]|20)?[0-9]0s\b|\bdecade|\bdécennie", re.IGNORECASE)
_CENTURY = re.compile(r"\bsi[èe]cles?\b|\bcentur(?:y|ies)\b", re.IGNORECASE)
_MONTH = re.compile(
    r"\b(?:janv|f[ée]vr|mars|avr|mai|juin|juil|ao[uû]t|sept|oct|nov|d[ée]c|jan|feb|mar|apr|may|jun|jul|aug|sep)\w*\.?"
    r"|\b[0-3]?[0-9][/.][01]?[0-9][/.][0-9]{2,4}\b|\b[0-9]{4}-[01][0-9]-[0-3][0-9]\b",
    re.IGNORECASE,
)


def _date_fits(candidate: Annotation, unit: str | None) -> bool:
    """A year question wants a year (not a decade), a century question a century, a date or month question a month;
    "quand / when" any date."""
    text = candidate.text
    if unit == "year":
        return bool(_YEAR.search(text)) and not _DECADE.search(text)
    if unit == "century":
        return bool(_CENTURY.search(text))
    if unit in ("day", "month"):
        return bool(_MONTH.search(text))
    return True


def fits(candidate: Annotation, qtype: QuestionType, question: str, hit: HitText, sentence: tuple[int, int],
         *, match: NounMatch = nouns.same_noun) -> bool:  # fmt: skip
    """Whether ``candidate`` (an annotation of ``hit`` overlapping its ``sentence``) can answer the question (see the
    module)."""
    accepts = ACCEPTS[qtype.kind] if qtype.strict or qtype.kind != qt.PERSON else LOOSE_PERSON
    if hit.lang == "en" and qtype.kind in NAMED_KINDS:
        accepts = ENGLISH_NAMES
    if candidate.kind not in accepts or in_question(candidate, question):
        return False
    asked = ordinals.asked(question)
    if asked and ordinals.relation(candidate, asked, qtype.lang, hit.text, hit.lang, sentence, hit.annotations) is False:
        return False  # "la deuxième réunion" is not answered by the date of the 3ème
    if candidate.kind == COUNT:
        return _counts_focus(candidate, qtype, hit.text[sentence[0] : sentence[1]], hit.lang, match)
    if qtype.kind == qt.PERSON and qtype.focus:
        return _named_near(candidate, hit.text, qtype.focus, qtype.lang, hit.lang, match)
    if qtype.kind == qt.PLACE and qtype.focus and _fold(qtype.focus) not in _COUNTRY_NOUNS:
        return not is_country(candidate)  # "Quelle ville…" is not answered by "Ukraine"
    if qtype.kind == qt.DATE:
        return _date_fits(candidate, qt.date_unit(qtype))
    return True


# -- which fitting candidate answers ----------------------------------------------------------------------------


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

    return frozenset(_fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN))


def _key(word: str, lang: str) -> str:
    """A word's key for proximity: its stem, or its rank for an ordinal ("4ème", "quatrième" and "fourth" alike)."""
    rank = ordinals.rank_of(word)
    return f"#{rank}" if rank is not None else nouns.noun_key(word, lang)


def _word_keys(word: str, lang: str) -> frozenset[str]:
    """A word's keys for proximity: its stem (or rank, ``_key``) and its bilingual noun groups, so that an English
    question's "meeting" stands near a French passage's "réunion" (``rag.retrieve.nouns.groups_of``)."""
    return frozenset((_key(word, lang), *nouns.groups_of(word, lang)))


def question_keys(question: str, lang: str) -> dict[str, int]:
    """The question's content words (stop words and the interrogatives' words aside; ordinals kept): each of their
    keys (``_word_keys``) → the word's place in the question."""
    stop = _stopwords()
    words = [w for w in _TOKEN.findall(question) if ordinals.rank_of(w) is not None or (len(w) > 2 and _fold(w) not in stop)]
    return {key: i for i, w in enumerate(words) for key in _word_keys(w, lang)}


def proximity(candidate: Annotation, text: str, lang: str, keys: dict[str, int]) -> float:
    """How close the question's words stand to the candidate in ``text``: each question word found (by stem, rank or
    bilingual group, ``_word_keys``) counts 1 - distance/PROXIMITY_CHARS at its nearest occurrence (0 beyond)."""
    lo, hi = max(0, candidate.start - PROXIMITY_CHARS), candidate.end + PROXIMITY_CHARS
    nearest: dict[int, int] = {}
    for m in _TOKEN.finditer(text, lo, hi):
        if candidate.start <= m.start() < candidate.end:
            continue
        found = {keys[k] for k in _word_keys(m.group(), lang) if k in keys}
        d = candidate.start - m.end() if m.start() < candidate.start else m.start() - candidate.end
        for word in found:
            nearest[word] = min(max(d, 0), nearest.get(word, PROXIMITY_CHARS))
    return sum(max(0.0, 1 - d / PROXIMITY_CHARS) for d in nearest.values())


def _of_class(candidate: Annotation, qtype: QuestionType, lang: str, match: NounMatch) -> bool:
    """Whether the candidate is of the class the question names: a country for "quel pays", an organisation whose
    name holds the question's noun for "quel ministère" ("ministère de l'Europe…" rather than "MEAE"), a person for
    "qui"; in English text, a name whose guessed label is the question's kind."""
    if lang == "en" and qtype.kind in NAMED_KINDS and candidate.kind in ACCEPTS[qtype.kind]:
        return True
    if qtype.kind == qt.PERSON and not qtype.strict:
        return candidate.kind == PER  # "Qui…" without a noun: a person's name before an organisation or a country
    focus = qtype.focus
    if not focus:
        return False
    if qtype.kind == qt.PLACE:
        return _fold(focus) in _COUNTRY_NOUNS and is_country(candidate)
    if qtype.kind == qt.ORGANIZATION:
        return any(match(focus, qtype.lang, w, lang) for w in _TOKEN.findall(candidate.text))
    return False


def _of_rank(candidate: Annotation, qtype: QuestionType, question: str, hit: HitText, sentence: int) -> bool:
    """Whether the candidate belongs to the rank the question asks about ("la deuxième réunion le 30 juin 2015")."""
    asked = ordinals.asked(question)
    span = hit.sentences[sentence]
    return bool(asked) and ordinals.relation(candidate, asked, qtype.lang, hit.text, hit.lang, span, hit.annotations) is True


def of_event(candidate: Annotation, question: str, hit: HitText, sentence: int) -> float:
    """The share of the events the question asks about (``rag.retrieve.events``) that the candidate's clause tells of:
    1 for "20 février 2013" in "Le groupe-pays Russie a été créé lors de la réunion … du 20 février 2013" asked "When
    was the Russia country group created?"; 0 when the question names no event."""
    asked = events.asked(question)
    if not asked:
        return 0.0
    told = events.told(hit.text, *events.clause(hit.text, hit.sentences[sentence], candidate.start, candidate.end))
    return len(asked & told) / len(asked)


def score(candidate: Annotation, qtype: QuestionType, hit: HitText, sentence: int, keys: dict[str, int],
          *, question: str = "", match: NounMatch = nouns.same_noun, similarity: float | None = None) -> float:  # fmt: skip
    """How likely ``candidate`` is the answer (see the module): higher is better. ``similarity``: its sentence's
    similarity to the question when not its own (the best of its block of lines, ``line_blocks``)."""
    return (
        (hit.similarities[sentence] if similarity is None else similarity)
        + PROXIMITY * proximity(candidate, hit.text, hit.lang, keys)
        + CLASS_BONUS * _of_class(candidate, qtype, hit.lang, match)
        + ORDINAL_BONUS * _of_rank(candidate, qtype, question, hit, sentence)
        + EVENT_BONUS * of_event(candidate, question, hit, sentence)
        - RANK_PENALTY * (hit.rank - 1)
    )


_LIST_JOIN = re.compile(r"\s*(?:,|et|and|ou|or|&)\s*(?:,\s*)?(?:et\s+|and\s+)?", re.IGNORECASE)


def _whole_list(best: Annotation, annotations: Sequence[Annotation], text: str, sentence: tuple[int, int]) -> tuple[int, int]:
    """The span of the list of same-kind names ``best`` belongs to ("Donetsk, Louhansk, Zaporizhia et Kherson")."""
    same = sorted((a for a in annotations if a.kind == best.kind and a.start < sentence[1] and a.end > sentence[0]),
                  key=lambda a: a.start)  # fmt: skip
    i = same.index(best)
    lo = hi = i
    while lo > 0 and _LIST_JOIN.fullmatch(text[same[lo - 1].end : same[lo].start]):
        lo -= 1
    while hi + 1 < len(same) and _LIST_JOIN.fullmatch(text[same[hi].end : same[hi + 1].start]):
        hi += 1
    return same[lo].start, same[hi].end


def read(
    qtype: QuestionType,
    question: str,
    hits: Sequence[HitText],
    *,
    answering: str = DEFAULT_ANSWERING,
    margin: float = MARGIN,
    depth: int = DEPTH,
    match: NounMatch = nouns.same_noun,
) -> Reading:
    """The answer to ``question`` (typed ``qtype``) found in the answering sentences of the ``depth`` best ``hits``
    (see the module); ``match`` says whether two nouns name the same thing (``rag.retrieve.nouns.same_noun``: stems
    and the bilingual groups; eval/noun_match.py compares it with stems alone and with the embedder)."""
    keys = question_keys(question, qtype.lang)
    found: list[tuple[float, int, HitText, tuple[int, int], Annotation]] = []
    asked = ordinals.asked(question)
    for hit in sorted(hits, key=lambda h: h.rank)[:depth]:
        chosen = answering_sentences(hit, answering, margin)
        if asked:  # the sentence that names the rank asked about answers too ("La 3ème réunion a eu lieu le…")
            chosen += [
                i for i, span in enumerate(hit.sentences)
                if i not in chosen and ordinals.names(hit.text, span, asked, qtype.lang, hit.lang, hit.annotations)
            ]  # fmt: skip
        # A chosen line of a block of lines brings the block's other lines, at its similarity.
        blocks = line_blocks(hit)
        block_sim: dict[int, float] = {}
        for i in chosen:
            block_sim[blocks[i]] = max(block_sim.get(blocks[i], -1.0), hit.similarities[i])
        chosen = [i for i in range(len(hit.sentences)) if i in chosen or blocks[i] in block_sim]
        for i in chosen:
            start, end = hit.sentences[i]
            sim = max(hit.similarities[i], block_sim.get(blocks[i], -1.0))
            for a in hit.annotations:
                # A name may run over a line break that ends a "sentence": overlapping is enough.
                if a.start < end and a.end > start and fits(a, qtype, question, hit, (start, end), match=match):
                    s = score(a, qtype, hit, i, keys, question=question, match=match, similarity=sim)
                    found.append((s, -a.start, hit, (start, end), a))
    if not found:
        return Reading(qtype, None)
    _, _, hit, sentence, best = max(found, key=lambda f: (f[0], -f[2].rank, f[1]))
    start, end = best.start, best.end
    if qtype.plural and best.kind in (PER, ORG, LOC, MISC):
        start, end = _whole_list(best, hit.annotations, hit.text, sentence)
    elif best.kind == DATE and qt.date_unit(qtype) == "year" and (year := _YEAR.search(best.text)):
        start, end = best.start + year.start(), best.start + year.end()  # "En quelle année…": 1801, not "juillet 1801"
    return Reading(qtype, Answer(hit.text[start:end], qtype.kind, best.kind, hit.rank, start, end, sentence))
