"""Sentence annotations at index time: the typed candidates (``rag.ingest.annotations.Annotation``) a passage holds.

``Annotator().annotate(texts, langs)`` gives, for each passage's cleaned text, its named entities (PER, ORG, LOC,
MISC), dates, counts with the lemma of the noun they count, amounts with their currency and percentages, each with
``[start, end)`` offsets into that text (``rag.ingest.sentences`` spans say which sentence holds it). Dates, amounts,
percentages and numbers come from patterns (``rag.ingest.figures``) in both languages.

French text goes through spaCy's ``fr_core_news_md`` pipeline (NER, part of speech, lemmas: the noun a number
counts is the first noun after it, as a lemma), plus a pattern for institutions named in lower case ("ministère de
l'Europe et des Affaires étrangères"). English text (uploads) has no English pipeline here: spaCy's English models
are not on PyPI under their publisher's name (only re-uploads by third parties, which rag does not pin). It gets the
same figure patterns, the counted noun from a pattern ("308 points", "four Pro Bowl selections"), and its names are
runs of capitalised words labelled by the French model's guess (``english_names``; its spans on English text are
unreliable, its labels less so). Measured on PIAF and XQuAD by ``eval/short_answers.py``.

spaCy is imported and the model loaded on the first call (once per build, never at import, never at query time),
with the components the annotations do not read excluded (the sentence recogniser, and the parser: on 2,000
passages of the scale corpora it changed 1 counted noun in 1,906 and cost 9 % more CPU, ``bench/annotate.py``), and
passages are fed by ``nlp.pipe`` in batches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from typing import Any

from rag.errors import RagError
from rag.ingest import figures
from rag.ingest.annotations import AMOUNT, COUNT, DATE, LOC, MISC, ORG, PER, PERCENT, Annotation
from rag.ingest.lang import english_singular

MODEL = "fr_core_news_md"
MODEL_VERSION = "3.8.0"
SPACY_VERSION = "3.8.18"
# The model's licence, as its package metadata says (spaCy itself: MIT).
MODEL_LICENCE = "LGPL-LR"
# Bumped whenever a rule here or in rag.ingest.figures changes what is found: stored annotations would differ.
RULES_VERSION = 2
# What the index manifest records: an index annotated by another annotator is re-annotated, never read as if equal.
ANNOTATOR = f"{MODEL}=={MODEL_VERSION}+spacy=={SPACY_VERSION}+rules{RULES_VERSION}"
# The components not read (the annotations read entities, part of speech and lemmas).
_EXCLUDED = ("senter", "parser")
BATCH_SIZE = 64


class AnnotatorError(RagError):
    """The annotation model is missing or not the recorded version."""


# Words that open a role, not a name: spaCy tags "Président de Cités Unies France" as a person.
_TITLES = frozenset(
    "président présidente vice-président vice-présidente ministre vice-ministre maire directeur directrice "
    "ambassadeur ambassadrice représentant représentante secrétaire chef conseiller conseillère député députée "
    "sénateur sénatrice commissaire délégué déléguée adjoint adjointe premier première haut haute mesdames "
    "messieurs madame monsieur ministres maires présidents".split()
)
# "Présidente de l'Association …": the role before an organisation's name is cut off.
_ROLE_PREFIX = re.compile(r"(?:\S+\s+){0,2}?(?:de\s+la\s+|de\s+l['’]|du\s+|des\s+|de\s+)", re.IGNORECASE)
_HONORIFIC = re.compile(r"^(?:(?:M|MM|Mme|Mmes|Mlle|Dr|Pr|Me|Mgr|S\.E\.M?|S\.E|Mr|Mrs|Ms|Sir)\.?\s+)+")
# A French organisation may be named in lower case ("ministère de l'Europe et des Affaires étrangères") when it opens
# with one of these words; any other lower-case "organisation" is a parsing slip.
_ORG_HEADS = frozenset(
    "ministère ministères conseil commission comité agence association fédération office institut université "
    "assemblée parlement sénat gouvernement mairie préfecture tribunal cour banque fondation syndicat parti union "
    "organisation réseau centre bureau direction délégation ambassade".split()
)
_NAME_WORD = re.compile(r"^[A-ZÀ-ÖØ-Þ0-9]")
_LINE_OPENERS = frozenset("le la les l' l’ un une des ce cette ces the a an".split())
# A French institution named in lower case, then its capitalised object: "ministère de l'Europe et des Affaires
# étrangères", "ministère russe du Développement régional", "ambassade de France en Russie". spaCy's model misses
# most of them; the pattern takes the head word, at most one adjective, a "de" and the capitalised words after it.
_CAP = r"[A-ZÀ-ÖØ-Þ][\w’'-]*"
_INSTITUTION = re.compile(
    r"\b(?:ministère|ambassade|consulat|préfecture|mairie|conseil|commission|comité|agence|office|direction|"
    r"délégation|assemblée|secrétariat|haut-commissariat|institut|fondation|fédération|association|union)"
    r"(?:\s+[a-zéèêàâîôûç-]+)?\s+(?:de\s+la\s+|de\s+l['’]|du\s+|des\s+|de\s+|d['’])"
    rf"{_CAP}(?:\s+(?:(?:et|de|du|des|de\s+la|de\s+l['’]|d['’]|l['’]|la|en|pour|chargé\s+de)\s*)*{_CAP}|\s+[a-zéèêàâîôûç]+(?=\s|[,.;)]|$))*"
)
# Where a second institution starts inside the first one's match: "et" before another head word.
_NEXT_NAME = re.compile(
    r"\s+et\s+(?:du\s+|de\s+la\s+|de\s+l['’]|des\s+|l['’]|la\s+|le\s+)?(?=(?:ministère|ambassade|consulat|"
    r"préfecture|mairie|conseil|commission|comité|agence|office|direction|délégation|assemblée|secrétariat|congrès|"
    r"institut|fondation|fédération|association|union|centre|banque|université)\b)",
    re.IGNORECASE,
)
# Lower-case words that may end an institution's name ("Affaires étrangères", "Développement régional").
_NAME_TAIL = frozenset(
    "étrangères étranger régional régionale économique économiques sociales social extérieures intérieur".split()
)
_CONNECTORS = frozenset("de du des d' d’ la le les l' l’ et of the and for von van der den di da del y".split())
_EN_STOP = frozenset(
    "a an the of in on at by for from to with and or but that which who whom whose is are was were be been have has "
    "had do does did will would can could should may might must this these those it its they their there than as "
    "per during since between into over under about against after before while when where each other more most".split()
)
_EN_WORD = re.compile(r"\s+([A-Za-z][A-Za-z'-]*)")


def _singular(word: str) -> str:
    """A light English singular for a counted noun's lemma (``rag.ingest.lang.english_singular``)."""
    return english_singular(word.casefold())


def english_counted_noun(text: str, end: int) -> str:
    """The noun a number ending at ``end`` counts in English text ("308 points" → point, "four Pro Bowl
    selections" → selection), or "" when none follows (within three words, before a function word)."""
    words: list[str] = []
    at = end
    for _ in range(3):
        m = _EN_WORD.match(text, at)
        if m is None or m.group(1).casefold() in _EN_STOP:
            break
        words.append(m.group(1))
        at = m.end()
        if words[-1].casefold().endswith("s") or text[at : at + 1] in (",", ".", ";", ":", ")"):
            break
    return _singular(words[-1]) if words else ""


class Annotator:
    """Finds the annotations of passages; loads spaCy and its French model on first use (seconds), once."""

    def __init__(self, batch_size: int = BATCH_SIZE, n_process: int = 1) -> None:
        self.batch_size = batch_size
        self.n_process = n_process
        self._nlp: Any = None

    @property
    def id(self) -> str:
        return ANNOTATOR

    def _load(self) -> Any:
        if self._nlp is None:
            try:
                import spacy

                installed, spacy_version = metadata.version(MODEL), metadata.version("spacy")
            except (ImportError, metadata.PackageNotFoundError) as exc:
                raise AnnotatorError(
                    f"the annotation model {MODEL} is not installed: `pip install {MODEL.replace('_', '-')}=={MODEL_VERSION}`"
                ) from exc
            if installed != MODEL_VERSION or spacy_version != SPACY_VERSION:
                raise AnnotatorError(
                    f"annotations need {MODEL}=={MODEL_VERSION} with spacy=={SPACY_VERSION}, found {installed} with "
                    f"spacy {spacy_version}: reinstall rag (`pip install -e .`)"
                )
            self._nlp = spacy.load(MODEL, exclude=list(_EXCLUDED))
        return self._nlp

    def annotate(self, texts: Sequence[str], langs: Sequence[str] | None = None) -> list[list[Annotation]]:
        """The annotations of each text (a passage's cleaned text), sorted by offset; ``langs[i]`` is ``fr`` or ``en``
        (anything else is read as French: the shipped corpus's language)."""
        langs = list(langs) if langs is not None else ["fr"] * len(texts)
        if len(langs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(langs)} languages")
        if not texts:
            return []
        docs = self._load().pipe(texts, batch_size=self.batch_size, n_process=self.n_process)
        return [annotate_doc(text, doc, lang) for text, doc, lang in zip(texts, docs, langs, strict=True)]

    def iter_annotate(self, texts: Iterable[str], langs: Iterable[str]) -> Iterator[list[Annotation]]:
        """As ``annotate``, streaming (a build annotates a large corpus without holding every spaCy document)."""
        texts = list(texts)
        docs = self._load().pipe(texts, batch_size=self.batch_size, n_process=self.n_process)
        for text, doc, lang in zip(texts, docs, langs, strict=True):
            yield annotate_doc(text, doc, lang)


def _overlaps(start: int, end: int, taken: Sequence[tuple[int, int]]) -> bool:
    return any(start < te and end > ts for ts, te in taken)


def _entity(text: str, start: int, end: int, label: str, lang: str) -> Annotation | None:
    """The entity spaCy found, cleaned: honorifics stripped from a person, roles dropped or cut off, one line at most,
    and only capitalised names kept for people, places and other names, and for every name in English text (the
    French model's mistakes are mostly lower-case runs of words)."""
    piece = text[start:end]
    if label == PER and (m := _HONORIFIC.match(piece)):
        start += m.end()
    words = text[start:end].split()
    if label == ORG and words and words[0].casefold() in _TITLES and (m := _ROLE_PREFIX.match(text, start, end)):
        start = m.end()  # "Présidente de l'Association Internationale des Maires Francophones"
    if "\n" in text[start:end]:
        lines = text[start:end].split("\n")
        keep = [lines[0]]
        for line in lines[1:]:
            # A line opening with a role or an article starts a new phrase ("…ukrainiennes\nLa Coalition…"); a name
            # hard-wrapped in a column goes on ("Association\nInternationale des Maires\nFrancophones").
            if not line.strip() or line.split()[0].casefold() in _TITLES or line.split()[0].casefold() in _LINE_OPENERS:
                break
            keep.append(line)
        end = start + len("\n".join(keep))
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:.»)\"'’"):
        end -= 1
    piece = text[start:end]
    words = piece.split()
    if not words or len(piece) < 2 or words[0].casefold() in _TITLES:
        return None
    lower = not _NAME_WORD.match(words[0]) or any(not _NAME_WORD.match(w) and w.casefold() not in _CONNECTORS for w in words)
    if (lang == "en" or label in (PER, LOC, MISC)) and lower:
        return None
    if lang == "en" and words[0].casefold() in _EN_STOP:
        return None
    if label == ORG and not _NAME_WORD.match(words[0]) and words[0].casefold() not in _ORG_HEADS:
        return None
    return Annotation(label, start, end, piece)


def _counted_noun_fr(doc: Any, number_end: int) -> str:
    """The lemma of the noun a French number ending at ``number_end`` counts: the first noun within three tokens, past
    adjectives, prepositions and articles ("plus de 50 collectivités", "des dizaines de villes", "200 représentants",
    "trois grandes réunions")."""
    last = None
    for token in doc:
        if token.idx < number_end <= token.idx + len(token.text) or token.idx + len(token.text) == number_end:
            last = token
            break
    if last is None:
        return ""
    for token in doc[last.i + 1 : last.i + 4]:
        if token.pos_ == "NOUN":
            return str(token.lemma_).casefold()
        if token.pos_ not in ("ADJ", "ADP", "DET") or token.is_punct:
            break
    return ""


def institutions(text: str) -> list[tuple[int, int]]:
    """French institutions named in lower case ("ministère de l'Europe et des Affaires étrangères"), as spans; the
    trailing lower-case words kept are those of ``_NAME_TAIL``."""
    out = []
    for m in _INSTITUTION.finditer(text):
        end = m.end()
        if cut := _NEXT_NAME.search(text, m.start() + 1, end):
            end = cut.start()  # "… Affaires étrangères et l'Ambassade de France": two names
        while True:  # drop trailing lower-case words that are not part of a name ("… Strasbourg organisée")
            last = text.rfind(" ", m.start(), end)
            word = text[last + 1 : end]
            if last < 0 or _NAME_WORD.match(word) or word in _NAME_TAIL:
                break
            end = last
        out.append((m.start(), end))
    return out


# A run of capitalised words, with the connectors names hold ("Bank of England", "Charles de Gaulle").
_EN_RUN = re.compile(
    r"(?<![\w'’-])[A-Z][\w'’.&-]*(?:\s+(?:(?:of|the|de|du|la|von|van|der|for|&)\s+)*[A-Z][\w'’.&-]*)*"
)
_EN_OPENERS = _EN_STOP | frozenset(
    "although however during despite because if unlike like following according many some most several all both "
    "another any every no one two three after before since until while when where what which who how why".split()
)


def english_names(text: str, doc: Any) -> list[Annotation]:
    """Names in English text: runs of capitalised words, without the sentence's opening word when it is a function
    word ("The Panthers" → "Panthers", "During…" dropped), labelled by the French model's entity label where it
    tagged the run's words (PER, ORG, LOC), else MISC. The French model's own spans are unreliable on English text
    (it runs an entity on over lower-case words), its labels less so."""
    out: list[Annotation] = []
    for m in _EN_RUN.finditer(text):
        start, end = m.start(), m.end()
        while end > start and text[end - 1] in ".'’-&":
            end -= 1
        if honorific := _HONORIFIC.match(text, start, end):
            start = honorific.end()
        words = text[start:end].split()
        while words and words[0].casefold().strip(".,") in _EN_OPENERS:
            start = text.index(words[1], start + len(words[0])) if len(words) > 1 else end
            words = words[1:]
        while words and words[-1].casefold() in _CONNECTORS:
            words = words[:-1]
            end = text.rindex(words[-1], start, end) + len(words[-1]) if words else start
        if not words or end - start < 2 or any(ch.isdigit() for ch in words[0]):
            continue
        span = doc.char_span(start, end, alignment_mode="expand")
        labels = [t.ent_type_ for t in span] if span is not None else []
        label = max((PER, ORG, LOC), key=labels.count) if any(lab in (PER, ORG, LOC) for lab in labels) else MISC
        out.append(Annotation(label, start, end, text[start:end]))
    return out


def annotate_doc(text: str, doc: Any, lang: str) -> list[Annotation]:
    """The annotations of one text from its spaCy document (``doc.text == text``) and the patterns."""
    found: list[Annotation] = []
    for s, e, code in figures.amounts(text):
        found.append(Annotation(AMOUNT, s, e, text[s:e], code))
    for s, e, _ in figures.percentages(text):
        if not _overlaps(s, e, [(a.start, a.end) for a in found]):
            found.append(Annotation(PERCENT, s, e, text[s:e]))
    taken = [(a.start, a.end) for a in found]
    for s, e, _ in figures.dates(text, taken):
        found.append(Annotation(DATE, s, e, text[s:e]))
    taken = [(a.start, a.end) for a in found]
    for s, e, _, number_end in figures.numbers(text, taken):
        noun = english_counted_noun(text, number_end) if lang == "en" else _counted_noun_fr(doc, number_end)
        found.append(Annotation(COUNT, s, e, text[s:e], noun))
    figures_taken = [(a.start, a.end) for a in found]
    if lang != "en":
        for start, end in institutions(text):
            if not _overlaps(start, end, figures_taken):
                found.append(Annotation(ORG, start, end, text[start:end]))
    names_taken = [*figures_taken, *((a.start, a.end) for a in found if a.kind == ORG)]
    if lang == "en":
        found.extend(a for a in english_names(text, doc) if not _overlaps(a.start, a.end, names_taken))
        return sorted(found, key=lambda a: (a.start, a.end))
    for ent in doc.ents:
        if ent.label_ not in (PER, ORG, LOC, MISC):
            continue
        if lang != "en" and len(ent) == 1 and ent[0].pos_ == "NOUN" and not ent.text.isupper():
            continue  # a capitalised common noun ("aux États membres", "les Alliés"), not a name (nor an acronym)
        entity = _entity(text, ent.start_char, ent.end_char, ent.label_, lang)
        if entity is not None and not _overlaps(entity.start, entity.end, names_taken):
            found.append(entity)
    return sorted(found, key=lambda a: (a.start, a.end))
