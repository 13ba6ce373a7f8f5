"""Events: which happening a question asks about, and whether a candidate's clause tells of it, French and English.

"Quand le groupe-pays Russie a-t-il été créé ?" asks about a creation: "Le groupe-pays Russie a été créé lors de la
réunion … du 20 février 2013" tells of it, "La réunion de lancement … s'est tenue le 12 février 2014" of a launch
and a holding, "La coopération … est née dans les années 1960" of a birth. A factoid question's verb (or the noun
made of it: "création", "signature") says which of the dates, names or places of its passages answers, as much as its
subject does. Events are the small bilingual groups below, verb forms and the nouns made of them, matched by word
(folded: accents and case aside), never by model: "created" ↔ "créé" ↔ "création" ↔ "fondé" ↔ "established";
"held" ↔ "tenue" ↔ "a eu lieu" ↔ "took place". ``asked(question)`` gives the groups a question names,
``told(text, start, end)`` those a clause tells of; ``rag.retrieve.read.score`` prefers the candidate whose clause
tells of the asked event.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

# One entry per event: French forms, "|", English forms. Forms are listed, not stemmed: Snowball cuts French verbs to
# stems that collide ("fondé" and "fonds" both give "fond"; "créé" gives "cré", "création" "créat"). Two-word forms
# ("eu_lieu", "took_place") match two words in a row.
_EVENTS = (
    "créer créé créée créés créées crée créent créa créèrent création créations fonder fondé fondée fondés fondées "
    "fonda fondèrent fondation fondateur fondatrice établir établi établie établis établies instituer institué "
    "instituée instaurer instauré instaurée instauration constituer constitué constituée en_place | create created "
    "creates creating creation founded founding foundation founder establish established establishes establishing "
    "establishment institute instituted set_up formed formation",
    "naître né née nés nées naissance | born birth",
    "lancer lancé lancée lancés lancées lance lancent lança lancement inaugurer inauguré inaugurée inaugurés "
    "inauguration inaugural inaugurale | launch launched launches launching inaugurate inaugurated inauguration "
    "inaugural kick_off kicked_off",
    "tenir tenu tenue tenus tenues tient tiennent tint tiendra tiendront réunir réuni réunie réunis réunies réunit "
    "eu_lieu a_lieu ont_lieu aura_lieu auront_lieu avait_lieu avoir_lieu déroulé déroulée déroulés déroulées déroule "
    "déroulera accueillir accueilli accueillie accueillis accueille | hold held holds holding convene convened "
    "convenes take_place took_place takes_place taken_place host hosted hosts",
    "signer signé signée signés signées signe signent signa signèrent signature signatures signataire signataires | "
    "sign signed signs signing signature signatures signatory signatories",
    "adopter adopté adoptée adoptés adoptées adopte adoptent adopta adoption voter voté votée votés votées | adopt "
    "adopted adopts adopting adoption pass passed vote voted",
    "ratifier ratifié ratifiée ratifiés ratifiées ratification | ratify ratified ratification",
    "publier publié publiée publiés publiées publie publia publication paru parue parus parution | publish published "
    "publishes publication release released",
    "envoyer envoyé envoyée envoyés envoyées envoie envoi adresser adressé adressée adressés | send sent sends "
    "dispatch dispatched",
    "élire élu élue réélu réélue élection réélection | elect elected election re_elected reelected",
    "nommer nommé nommée nommés nommées nomination désigner désigné désignée désignation | appoint appointed "
    "appointment nominate nominated nomination designate designated",
    "ouvrir ouvert ouverte ouverture | open opened opening",
    "fermer fermé fermée fermeture clôturer clôturé clôture | close closed closing closure",
    "commencer commencé commencée commence commencement débuter débuté débutée début | begin began begun beginning "
    "start started starts",
    "terminer terminé terminée termine achever achevé achevée fin | end ended ends finish finished completed",
    "annoncer annoncé annoncée annonce annoncent annonça | announce announced announces announcement",
    "envahir envahi envahie invasion agression attaquer attaqué attaquée attaque | invade invaded invasion attack "
    "attacked aggression",
    "mourir mort morte morts décédé décédée décès | die died death killed",
    "dissoudre dissous dissoute dissolution supprimer supprimé supprimée suppression | dissolve dissolved dissolution "
    "abolish abolished",
    "organiser organisé organisée organisés organisées organise organisent organisa | organise organised organize "
    "organized organises organizes",
    "visiter visité visitée visite | visit visited visits",
)

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
# What ends a clause inside a sentence: the event of one clause is not that of the next ("…créé en 2013 ; la
# réunion de lancement s'est tenue…").
_CLAUSE_END = re.compile(r"[;:•]|\s[–—]\s|\(|\)")


def _fold(word: str) -> str:
    text = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


@cache
def _forms() -> tuple[dict[str, frozenset[int]], dict[tuple[str, str], frozenset[int]]]:
    """Each one-word form → its events; each two-word form (a pair of folded words) → its events."""
    single: dict[str, set[int]] = {}
    double: dict[tuple[str, str], set[int]] = {}
    for i, group in enumerate(_EVENTS):
        for form in group.replace("|", " ").split():
            first, _, second = _fold(form).partition("_")
            if second:
                double.setdefault((first, second), set()).add(i)
            else:
                single.setdefault(first, set()).add(i)
    return ({w: frozenset(s) for w, s in single.items()}, {w: frozenset(s) for w, s in double.items()})


def _events(words: list[str]) -> frozenset[int]:
    single, double = _forms()
    found: set[int] = set()
    for i, w in enumerate(words):
        found |= single.get(w, frozenset())
        if i:
            found |= double.get((words[i - 1], w), frozenset())
    return frozenset(found)


@lru_cache(maxsize=256)
def asked(question: str) -> frozenset[int]:
    """The events the question names ("créé" → the creation's group; "When was … held?" → the holding's)."""
    return _events([_fold(w) for w in _TOKEN.findall(question)])


def clause(text: str, sentence: tuple[int, int], start: int, end: int) -> tuple[int, int]:
    """The clause of ``text[sentence[0]:sentence[1]]`` that holds ``text[start:end]``: cut at semicolons, colons,
    dashes, bullets and brackets."""
    lo, hi = sentence
    for m in _CLAUSE_END.finditer(text, lo, hi):
        if m.end() <= start:
            lo = m.end()
        elif m.start() >= end:
            hi = m.start()
            break
    return lo, hi


@lru_cache(maxsize=1 << 14)  # the same clauses are read for each candidate they hold
def told(text: str, start: int, end: int) -> frozenset[int]:
    """The events ``text[start:end]`` tells of."""
    return _events([_fold(w) for w in _TOKEN.findall(text, start, end)])
