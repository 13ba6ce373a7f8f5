"""What kind of answer a question asks for, French or English: ``question_type(question) -> QuestionType | None``.

Answer typing, the classic first step of factoid question answering: "Combien de soldats…" wants a count of soldiers,
"Qui préside…" a person, "En quelle année…" a date. Rules on the question's words, no model (it runs on every query):

- an interrogative word that says the kind by itself: qui/who (person), quand/when (date), où/where (place),
  combien de N / how many N (a count of N: the *focus* noun), combien coûte / how much money (amount);
- an interrogative determiner and the noun it asks about: "Quel ministre…", "Which French city…", "Quelle est la
  date…", "What percentage…": the noun's class (a lexicon of people, organisations, places, time words, money
  words, shares) gives the kind;
- otherwise, or when the noun is of no class ("Quel était le thème…"), None: the question is not typed.

A question that *names* a budget or a year without asking for one is not typed by it: the budget or year must be
what the interrogative asks about ("Quel budget le ministère consacre-t-il…" asks for an amount; "À quel budget la
lettre fait-elle référence ?" and "Que demandent-ils pour le budget 2026 ?" do not). Measured on the development
sets and on PIAF and XQuAD questions by ``eval/question_types.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.ingest.lang import english_singular

# The kinds a question can ask for (``QuestionType.kind``).
PERSON, ORGANIZATION, PLACE, DATE, COUNT, AMOUNT, PERCENTAGE = (
    "person", "organization", "place", "date", "count", "amount", "percentage",
)  # fmt: skip
KINDS = (PERSON, ORGANIZATION, PLACE, DATE, COUNT, AMOUNT, PERCENTAGE)


@dataclass(frozen=True)
class QuestionType:
    """The kind of answer asked for and ``focus``, the noun the question asks about, as written in it: the counted noun
    of a count ("soldats", "countries"), the class of a place ("ville", "country") or of an organisation
    ("ministère", "network"), the role of a person ("ministre", "general"; None for "qui", "quelle personne"), the
    unit of a date ("année", "century"; None for "quand"). ``lang`` is the language of the rule that matched."""

    kind: str
    focus: str | None = None
    lang: str = "fr"
    # Who-questions without a noun ("Qui a…", "Who chaired…") accept an organisation or a country as well as a person.
    strict: bool = True
    # The question asks for several ("Quelles régions…", "Which countries…"): a list of names is answered whole.
    plural: bool = False


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Nouns that say the class of what a "quel N / which N" question asks about (singular and plural, lower case).
_PERSON_NOUNS = _words(
    "personne personnes personnalité personnalités homme hommes femme femmes président présidents présidente "
    "présidentes vice-président vice-présidente ministre ministres vice-ministre maire maires élu élus élue élues "
    "général généraux secrétaire secrétaires ambassadeur ambassadeurs ambassadrice représentant représentants "
    "représentante directeur directeurs directrice chef chefs dirigeant dirigeants dirigeante commandant "
    "commandants député députés députée sénateur sénateurs sénatrice roi rois reine reines empereur empereurs "
    "impératrice pape papes auteur auteurs autrice écrivain écrivains fondateur fondateurs fondatrice architecte "
    "peintre compositeur chanteur chanteuse acteur actrice joueur joueuse entraîneur philosophe savant scientifique "
    "inventeur explorateur prince princesse duc duchesse comte comtesse souverain souverains monarque chancelier "
    "chancelière gouverneur gouverneurs officier officiers diplomate diplomates responsable responsables porte-parole "
    "premier-ministre signataire signataires successeur prédécesseur membre "
    "person people persons man men woman women president presidents minister ministers mayor mayors general "
    "generals secretary ambassador ambassadors representative representatives director directors chief head leader "
    "leaders commander commanders deputy senator senators king kings queen queens emperor empress pope author "
    "authors writer writers founder founders architect painter composer singer actor actress player players coach "
    "philosopher scientist inventor explorer prince princess duke duchess count countess monarch ruler chancellor "
    "governor governors officer officers diplomat diplomats official officials spokesman spokeswoman spokesperson "
    "signatory signatories successor predecessor politician politicians member"
)
_ORGANIZATION_NOUNS = _words(
    "organisation organisations organisme organismes association associations institution institutions entreprise "
    "entreprises société sociétés compagnie compagnies firme firmes réseau réseaux ong agence agences parti partis "
    "alliance alliances fédération fédérations syndicat syndicats université universités école écoles banque banques "
    "équipe équipes club clubs ministère ministères instance instances fondation fondations groupe groupes "
    "opérateur opérateurs coalition organe organes "
    "organisation organisations organization organizations association associations institution institutions company "
    "companies firm firms corporation corporations network networks ngo agency agencies party parties alliance "
    "alliances federation union unions university universities school schools bank banks team teams club clubs "
    "ministry ministries body bodies foundation foundations group groups band bands newspaper newspapers"
)
_PLACE_NOUNS = _words(
    "lieu lieux endroit endroits ville villes pays région régions commune communes territoire territoires département "
    "départements province provinces continent continents capitale capitales état états île îles quartier quartiers "
    "métropole métropoles oblast localité localités nation nations collectivité collectivités "
    "place places city cities country countries region regions town towns village villages municipality "
    "municipalities territory territories department province provinces continent continents capital capitals state "
    "states island islands district districts neighbourhood neighborhood county counties location locations nation "
    "nations venue venues"
)
_DATE_NOUNS = _words(
    "date dates année années an jour jours mois siècle siècles décennie décennies époque époques période périodes "
    "moment "
    "date dates year years day days month months century centuries decade decades era period periods"
)
_AMOUNT_NOUNS = _words(
    "budget budgets montant montants coût coûts prix somme sommes salaire salaires enveloppe enveloppes financement "
    "financements dotation dotations subvention subventions "
    "budget budgets amount cost costs price prices sum sums salary wage funding grant grants"
)
_PERCENTAGE_NOUNS = _words(
    "pourcentage pourcentages taux proportion proportions part parts "
    "percentage percentages proportion proportions share shares rate rates turnout"
)
# Person nouns that are an office or a title: a person asked by one ("Quel ministre…") must be called so near the
# name. Other person nouns ("auteur", "successeur", "player") ask for a person without a role to check.
_ROLES = _words(
    "président présidents présidente présidentes vice-président vice-présidente ministre ministres vice-ministre maire "
    "maires élu élus élue élues général généraux secrétaire secrétaires ambassadeur ambassadeurs ambassadrice "
    "directeur directeurs directrice commandant commandants député députés députée sénateur sénateurs sénatrice roi "
    "rois reine reines empereur empereurs impératrice pape papes prince princesse duc duchesse comte comtesse "
    "chancelier chancelière gouverneur gouverneurs préfet préfets premier-ministre porte-parole "
    "president presidents minister ministers mayor mayors general generals secretary ambassador ambassadors director "
    "directors commander commanders senator senators king kings queen queens emperor empress pope prince princess duke "
    "duchess countess chancellor governor governors official officials spokesman spokeswoman spokesperson chair"
)
_NOUN_KINDS = (
    (_PERCENTAGE_NOUNS, PERCENTAGE),
    (_AMOUNT_NOUNS, AMOUNT),
    (_DATE_NOUNS, DATE),
    (_PERSON_NOUNS, PERSON),
    (_ORGANIZATION_NOUNS, ORGANIZATION),
    (_PLACE_NOUNS, PLACE),
)
# Prices that are awards ("Quel prix a reçu la ville ?") and English "rate" of growth are no money or share; an
# "amount of" something is a quantity ("What amount of the world's carbon…"). Kept out by the context rules below.

_APOS = "['’]"
_WORD = r"[^\W\d_]+(?:[-'’][^\W\d_]+)*"
_FLAGS = re.IGNORECASE


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _FLAGS)


# A year that is the name of an event ("l'Année croisée franco-russe 2021", "the Franco-Russian theme year").
_EVENT_YEAR = _rx(r"\b(?:années?\s+(?:thématiques?|croisées?)|(?:theme|themed|thematic|cross)\s+years?)\b")

# -- counts: "combien de N", "how many N", "quel (est le) nombre de N", "what number of N" --------------------------
_COUNT_FR = _rx(rf"\b(?:combien|(?:quel|le|au) nombre)\s+(?:de\s+|d{_APOS}\s*)(?P<focus>{_WORD})")
_COUNT_EN = _rx(rf"\b(?:how\s+many|(?:what|the)\s+number\s+of)\s+(?P<np>{_WORD}(?:\s+{_WORD}){{0,5}})")
# Words that end the noun phrase after "how many": auxiliaries, prepositions, verbs in -ed, the question's end.
_EN_STOP = _words(
    "are is was were be been do does did have has had will would can could should may might must shall of in on at "
    "by for from to with that which who whom whose there they it he she we you i the a an this these those and or "
    "than as per during since between into over under about against across through after before make made get got "
    "go went come came take took live lived play played"
)
# A money question asked with "combien" / "how much" (not a count): the verb or noun says money.
_MONEY_VERBS_FR = (
    r"co[uû]t\w*|dépens\w*|vers\w*|allou\w*|alloc\w*|consacr\w*|financ\w*|investi\w*|pay\w*|pai\w*|rapport\w*|"
    r"gagn\w*|reçu\w*|recev\w*|perç\w*|touch\w*|collect\w*|lev[ée]\w*|lève\w*|don\w*|prêt\w*|emprunt\w*|vaut|valai\w*|"
    r"valent|chiffr\w*|s{_apos}élèv\w*|élèv\w*|budg[eé]t\w*"
).replace("{_apos}", _APOS)
_AMOUNT_FR = _rx(
    rf"\b(?:combien\s+(?:d{_APOS}\s*argent|d{_APOS}\s*euros|de\s+dollars|de\s+francs|(?:\S+\s+){{0,4}}?(?:{_MONEY_VERBS_FR})\b)"
    rf"|à\s+combien\s+(?:s{_APOS}\s*)?(?:élèv\w*|estim\w*|chiffr\w*|évalu\w*|mont\w*)"
    rf"|à\s+quel\s+prix|pour\s+quel\s+(?:montant|prix|coût))"
)
_AMOUNT_EN = _rx(
    r"\b(?:how\s+much\s+(?:money|funding|cash|(?:did|does|do|will|would|should|could|can)\s+[\w'-]+(?:\s+[\w'-]+){0,8}?\s+"
    r"(?:cost|spend|pay|allocate|raise|earn|receive|give|donate|invest|lend|borrow|fund|sell|charge|owe|collect|"
    r"contribute|grant)\b|"
    r"(?:\w+\s+){0,6}?(?:costs?|cost|spent|paid|worth|allocated|raised|earned|invested|funded|priced|budgeted))"
    r"|at\s+what\s+price|for\s+how\s+much|what\s+amount(?!\s+of\b))"
)
# -- interrogatives that give the kind by themselves --------------------------------------------------------------
# "À partir de quand / jusqu'à quand" ask for an event as often as for a date ("dès l'entrée en vigueur d'un
# cessez-le-feu"): not typed.
_DATE_FR = _rx(r"(?<!partir de )(?<!jusqu'à )(?<!jusqu’à )\b(?:depuis\s+)?quand\b")
_DATE_EN = _rx(r"\b(?:when|since\s+when|until\s+when|how\s+long\s+ago)\b")
_PLACE_FR = _rx(r"(?:^|[\s,;:(«\"])(?:où|d['’]\s*où|par\s+où|jusqu['’]\s*où)(?=[\s,?])")
_PLACE_EN = _rx(r"\bwhere\b")
# "Qui" as the asking word (not the relative pronoun "la ville qui…"): at the start, after a preposition, or "qui"
# followed by a verb-like word in a question that has no other interrogative before it.
_WHO_FR = _rx(
    r"(?:^|[,;:]\s*|\b(?:à|de|par|pour|avec|selon|chez|contre|sur|envers)\s+)qui\b|^(?:\w+\s+){0,3}qui\s+(?:est|était|sont|étaient|a|ont|avait|fut|sera|dirige|préside)\b"
)
_WHO_EN = _rx(r"(?:^|[,;:]\s*|\b(?:to|by|from|for|with|of|at)\s+)(?:who|whom)\b|^(?:\w+\s+){0,4}(?:who|whom)\b")
# "Qui était le secrétaire général…", "Who is the president of…", "Who was NATO Secretary General…": the role asked.
_WHO_ROLE = _rx(
    r"\b(?:qui|who)\s+(?:est|était|sera|fut|a\s+été|is|was|will\s+be|has\s+been|are|were)\s+"
    r"(?:(?:le|la|l['’]|les|the|its|their|his|her|actuel(?:le)?|current|former|ancien(?:ne)?|first|premier|première)\s*)*"
    r"(?P<words>(?:[^\s?,]+\s+){0,2}[^\s?,]+)"
)
# "Qui préside…", "Who chaired…": the role is the chair, whoever is named must be called one.
_CHAIR = _rx(r"\b(?:présid\w*|chair(?:s|ed|ing)?|chairs?)\b")
_WHOSE = _rx(r"\b(?:whose|à\s+qui\s+appartient)\b")
# -- interrogative determiners and the noun they ask about ---------------------------------------------------------
# "Quel ministre", "Quelles villes", "Quelle est la date", "Lequel des pays", "Which French city", "What is the name
# of the president", "In what year". The preposition before it matters: "À quel budget … fait référence" names a
# budget (a reference), it does not ask for an amount.
_DETERMINER = _rx(
    rf"(?:(?P<prep>\b(?:à|au|aux|de|du|des|d{_APOS}|pour|par|sur|dans|en|avec|selon|vers|sous|chez|depuis|pendant|"
    rf"in|on|at|for|to|by|from|of|with|into|during|since|under|about)\s+)?)"
    rf"\b(?P<wh>quel(?:le)?s?|lequel|laquelle|lesquel(?:le)?s|which|what)\b"
    rf"(?P<rest>(?:\s+[^\s?]+){{0,6}})"
)
_SKIP_FR = _words(
    "est sont était étaient sera seront fut furent a ont avait avaient le la les l' l’ un une des du de d' d’ son sa ses "
    "leur leurs ce cette ces nom noms exact exacte exacts principal principale principaux premier première dernier "
    "dernière seul seule véritable actuel actuelle ancien ancienne nouveau nouvelle nouvel autre autres"
)
_SKIP_EN = _words(
    "is are was were will be the a an of its their his her this that these those name names exact main principal "
    "first last only actual current former new other specific particular"
)
# Question words after which a relative "qui/who" is not the asking word.
_KIND_OF = _words("type types sorte sortes genre genres espèce espèces kind kinds sort sorts")
_OTHER_WH = _rx(r"\b(?:quel(?:le)?s?|lequel|laquelle|combien|quand|où|comment|pourquoi|which|what|how|when|where|why)\b")
# Modifiers that turn a money or time noun into something else ("quel prix … reçu" is an award; "what rate" of growth).
_AWARD = _rx(r"\bprix\b.*\b(?:reçu|décern\w*|remport\w*|obtenu|gagné)\b|\b(?:prize|award)\b")


def _fold(word: str) -> str:
    """Lower case, typographic apostrophe as ASCII, NFC."""
    return unicodedata.normalize("NFC", word.casefold().replace("’", "'"))


def _noun_kind(word: str) -> str | None:
    w = _fold(word).strip('.,;:!?«»"()')
    for nouns, kind in _NOUN_KINDS:
        if w in nouns:
            return kind
    return None


# Plurals that do not end in -s ("How many people…"); "how many" asks for a plural noun, so the first plural of the
# phrase is its head ("How many French local authorities run…" → authorities; "member cities" → cities).
_IRREGULAR_PLURALS = _words("people men women children police staff personnel cattle sheep fish deer data media feet teeth")
# Past forms that end an English noun phrase as a verb ("Which regions held…").
_IRREGULAR_PAST = _words(
    "held led won met made took gave sent wrote became began came built brought bought fought found kept left lost "
    "paid put ran said saw sold spent stood told thought went"
)
_ADVERBS = _words("first also not never still already actually ever once originally initially later finally")


def _ends_phrase(word: str | None) -> bool:
    """Whether the English word after a noun shows that the noun is the head of its phrase (an auxiliary, a
    preposition, an adverb, a verb in -ed or -s, or the question's end)."""
    if word is None:
        return True
    w = _fold(word).strip(',;:!«»"()')
    return (
        not w
        or w in _EN_STOP
        or w in _ADVERBS
        or w in _IRREGULAR_PAST
        or (len(w) > 4 and w.endswith("ed"))
        or (len(w) > 3 and w.endswith("s") and not w.endswith("ss"))
    )


def _english_head(phrase: str) -> str | None:
    """The counted noun of the phrase after "how many": its first plural, else its last word before an auxiliary,
    a preposition or a verb in -ed ("Ukrainian refugees have…" → refugees; "how many represented…" → None)."""
    words: list[str] = []
    for raw in phrase.split():
        w = _fold(raw)
        if w in ("and", "or") and words:
            continue  # adjectives joined ("French local and regional authorities"): the head comes after them
        if w in _EN_STOP or (len(w) > 4 and w.endswith("ed")):
            break
        if w in _IRREGULAR_PLURALS or (len(w) > 2 and w.endswith("s") and not w.endswith("ss")):
            return raw
        words.append(raw)
    return words[-1] if words else None


# A question that refers to a budget, a period or a date rather than asking for one ("À quel budget la lettre
# fait-elle référence ?", "What historical period does the network refer to?").
_REFERENCE = _rx(
    r"\b(?:réf[éèe]r(?:e|es|ent|er|ait|aient|é|ée|és|ées)|référence|renvoi\w*|rattach\w*|refers?|referred|referring|ties?|tied)\b"
)
# Two questions in one ("Où et quand…", "When, and by which body…"): typing one kind would judge half the question.
_COMPOUND = _rx(
    r"\b(?:how|comment|pourquoi|why)\s+(?:et|and)\s+(?:when|where|quand|où)\b|"
    r"\b(?:où|quand|qui|combien|where|when|who|how\s+many)\s*,?\s+(?:et|and)\s+(?:où|quand|qui|combien|par|dans|en|à|"
    r"where|when|who|how|in|by|at|which|what|quel\w*)\b|,?\s+(?:et|and)\s+(?:quand|when|où|where)\s*\?"
)


def _next(words: list[str], i: int) -> str:
    return _fold(words[i + 1]) if i + 1 < len(words) else ""


def _determiner_kind(question: str) -> tuple[str, str, str, bool] | None:
    """The kind given by the first interrogative determiner whose noun has a class, the rule's language, the noun and
    whether it is plural ("quelles villes", "which cities")."""
    for match in _DETERMINER.finditer(question):
        wh = _fold(match.group("wh"))
        lang = "en" if wh in ("which", "what") else "fr"
        skip = _SKIP_EN if lang == "en" else _SKIP_FR
        prep = _fold(match.group("prep") or "").strip()
        words = match.group("rest").split()[: 7 if lang == "en" else 5]
        if lang == "en" and words and _fold(words[0]) in ("the", "a", "an"):
            continue  # a relative "which" ("the commission on which the Coalition sits"), not a determiner
        leading = True  # copulas and articles are skipped right after the interrogative only ("Quelle est la date")
        for i, raw in enumerate(words):
            word = _fold(raw).strip(',;:!«»"()')
            bare = word[2:] if word.startswith(("l'", "d'")) else word
            if leading and (word in skip or bare in skip):
                continue
            leading = False
            word = bare.removesuffix("'s").rstrip("'")
            if word in _KIND_OF:
                break  # "Quel type de région…", "What kind of contract…": a class, not a name
            kind = _noun_kind(word)
            if kind is not None and lang == "en" and not _ends_phrase(words[i + 1] if i + 1 < len(words) else None):
                kind = None  # a modifier, not the head ("Which state financial milestone…")
            if kind is None:
                if lang == "en" and word not in _EN_STOP:
                    continue  # an English modifier before the noun ("Which French city", "What annual budget")
                break
            if kind in (AMOUNT, PERCENTAGE, DATE) and _REFERENCE.search(question):
                break  # a reference to it, not a request for it
            if kind == DATE and _EVENT_YEAR.search(question):
                break  # the name of a themed year, not a date
            if kind in (AMOUNT, PERCENTAGE) and prep and prep not in ("en", "de", "d'", "of", "by"):
                break  # "Pour quel budget…", "To which budget…": naming a budget
            if kind == AMOUNT and _AWARD.search(question):
                break
            if kind == AMOUNT and lang == "en" and word == "amount" and re.search(r"\bamount\s+of\b", question, _FLAGS):
                break
            if kind == PERCENTAGE and lang == "en" and word in ("part", "parts", "rate", "rates") and _next(words, i) == "of":
                break  # "What part of the immune system…", "the time rate of change": no share
            plural = wh.endswith("s") if lang == "fr" else _is_plural(word)
            return kind, lang, word, plural
    return None


def question_type(question: str) -> QuestionType | None:
    """The kind of answer ``question`` asks for, or None when it asks for none that rag can check (see the module)."""
    q = " ".join(question.split())
    if _COMPOUND.search(q):
        return None
    if m := _COUNT_FR.search(q):
        focus = m.group("focus")
        if _fold(focus) in ("temps",):
            return None  # "combien de temps": a duration
        if (_noun_kind(focus) == AMOUNT and not _AWARD.search(q)) or _fold(focus) in ("argent", "euros", "dollars"):
            return QuestionType(AMOUNT, lang="fr")  # "Combien de prix remporte-t-il ?" counts awards
        return QuestionType(COUNT, focus, "fr")
    if m := _COUNT_EN.search(q):
        head = _english_head(m.group("np"))
        if head is not None:
            return QuestionType(COUNT, head, "en")
    if _AMOUNT_FR.search(q):
        return QuestionType(AMOUNT, lang="fr")
    if _AMOUNT_EN.search(q):
        return QuestionType(AMOUNT, lang="en")
    typed = _determiner_kind(q)
    if typed is not None:
        kind, lang, noun, plural = typed
        if kind == PERSON:
            return QuestionType(PERSON, _role(q, noun), lang, plural=plural)
        return QuestionType(kind, noun if kind in (PLACE, ORGANIZATION, DATE) else None, lang, plural=plural)
    # "quand / when / où / where" ask only when no other interrogative comes first ("How old was he when…", "À quelle
    # vitesse court-il quand il a faim ?", "What kind of contract is given when…").
    if _asks(_DATE_FR, q):
        return QuestionType(DATE, lang="fr")
    if _asks(_DATE_EN, q) and not _WHO_EN.match(q):
        return QuestionType(DATE, lang="en")
    if _asks(_PLACE_FR, q):
        return QuestionType(PLACE, lang="fr")
    if _asks(_PLACE_EN, q):
        return QuestionType(PLACE, lang="en")
    if _WHOSE.search(q):
        return None
    for pattern, lang in ((_WHO_FR, "fr"), (_WHO_EN, "en")):
        if _asks_who(pattern, q):
            role = _who_role(q)
            if role is not None:
                return QuestionType(PERSON, role, lang)
            return QuestionType(PERSON, _role(q, None), lang, strict=False)
    return None


def _is_plural(word: str) -> bool:
    w = _fold(word)
    return w in _IRREGULAR_PLURALS or (len(w) > 2 and w.endswith("s") and not w.endswith("ss"))


def singular(word: str, lang: str) -> str:
    """A light singular of a question's noun ("villes" → "ville", "cities" → "city", "people" → "person")."""
    w = _fold(word)
    if lang == "en":
        return english_singular(w)
    if w.endswith("aux") and len(w) > 4:
        return w[:-3] + "al"
    return w[:-1] if w.endswith(("s", "x")) and len(w) > 3 and not w.endswith(("ss", "is", "ys", "as")) else w


# The unit a date question asks in: "En quelle année" wants a year, "À quelle date" a day, "Quel siècle" a century.
_DATE_UNITS = {
    "year": _words("année années an ans year years"),
    "century": _words("siècle siècles century centuries"),
    "month": _words("mois month months"),
    "day": _words("date dates jour jours day days"),
}


def date_unit(qtype: QuestionType) -> str | None:
    """``year``, ``century``, ``month`` or ``day`` for a date question that names its unit; None otherwise."""
    focus = _fold(qtype.focus or "")
    return next((unit for unit, words in _DATE_UNITS.items() if focus in words), None)


_WHO_WORD = _rx(r"\b(?:qui|who|whom)\b")


def _asks(pattern: re.Pattern[str], question: str) -> bool:
    """Whether ``pattern`` (an interrogative word) is found with no other interrogative before it."""
    m = pattern.search(question)
    return m is not None and not _OTHER_WH.search(question[: m.start()])


def _asks_who(pattern: re.Pattern[str], question: str) -> bool:
    """Whether ``pattern`` finds "qui / who" asking, with no other interrogative before that word ("Pourquoi les élus
    qui ont…" asks why)."""
    m = pattern.search(question)
    if m is None:
        return False
    word = _WHO_WORD.search(m.group())
    return not _OTHER_WH.search(question[: m.start() + (word.start() if word else 0)])


def _role(question: str, noun: str | None) -> str | None:
    """The role a person question names: its noun when it is an office or a title ("Quel ministre" → ministre;
    "Quelle personne", "Quel auteur" → None), else "président" / "chair" when its verb is chairing ("Qui présidera…",
    "Which member chairs…")."""
    if noun is not None and _fold(noun) in _ROLES:
        return noun
    m = _CHAIR.search(question)
    if m is None:
        return None
    return "président" if m.group().casefold().startswith("présid") else "chair"


def _who_role(question: str) -> str | None:
    """The office after "qui est / who was" ("Qui était le secrétaire général…", "Who is the president of…"); not a
    past participle ("Qui a été élu Premier ministre…" asks for a prime minister)."""
    m = _WHO_ROLE.search(question)
    if m is None:
        return None
    for raw in m.group("words").split():
        word = _fold(raw).strip('.,;:!«»"()').removesuffix("'s")
        if word in ("élu", "élue", "élus", "nommé", "nommée", "elected", "appointed", "named"):
            continue
        if word in _ROLES:
            return word
    return None
