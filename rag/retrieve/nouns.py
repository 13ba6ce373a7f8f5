"""Whether two nouns name the same thing, across French and English: the counted noun of a count and a question's focus.

``same_noun("soldiers", "en", "soldat", "fr")`` is True. Two nouns match when their Snowball stems are equal in one
language ("collectivités" and "collectivité"), or when both belong to one of the small bilingual groups below
("soldiers" ↔ "soldats" ↔ "militaires" ↔ "troupes"; "local authorities" ↔ "collectivités"). The groups are the
counted nouns of the corpus's subject and of common factoid questions; a noun outside them still matches itself in
its own language. Compared with the embedder's similarity by ``eval/noun_match.py``.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

# One line per group of nouns that count the same things (French and English, singular; plurals are stemmed).
_GROUPS = """
soldat militaire troupe combattant soldier troop military serviceman servicemen fighter
réserviste reservist
pays état nation country state nation
ville commune municipalité cité localité city town municipality commune
collectivité autorité collectivity authority council
région oblast province region province
partenariat jumelage partnership twinning
membre adhérent member
personne gens individu habitant participant représentant person people individual inhabitant resident participant representative
élu maire conseiller official mayor councillor councilor
réfugié déplacé refugee displaced
réunion rencontre sommet séance meeting summit session
générateur groupe électrogène generator
an année year
mois month
jour journée day
semaine week
fois time
mort décès tué victime death dead killed victim fatality casualty
blessé injured wounded
enfant child children kid
femme woman women
homme man men
élève étudiant student pupil
école school
hôpital hospital
entreprise société firme company firm business
association organisation organisme association organization organisation
projet project
programme program programme
accord traité agreement treaty
emploi poste job post
sanction sanction
arme weapon
char tank
avion aircraft plane airplane
missile missile
drone drone
navire bateau ship vessel
voix vote suffrage
siège seat
délégation delegation
édition edition
événement event
kilomètre km kilometre kilometer
hectare hectare
habitation logement maison house home dwelling housing
langue language
point point
but goal
titre title
médaille medal
match game
livre book
album album
chanson song
film film movie
épisode episode
joueur player
"""


@cache
def _stemmer(lang: str) -> Any:
    import Stemmer  # PyStemmer, as the lexical index uses: loaded once, in microseconds

    return Stemmer.Stemmer("english" if lang == "en" else "french")


def _fold(word: str) -> str:
    text = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).strip(" '.-")


def noun_key(word: str, lang: str) -> str:
    """A noun's comparison key in ``lang`` (``en``, else French): its Snowball stem, without accents."""
    word = word.casefold().strip(" '’.-")
    return _fold(_stemmer(lang).stemWord(word))


@cache
def _groups() -> dict[str, frozenset[int]]:
    """Each stem (French and English stems alike) → the groups it belongs to."""
    out: dict[str, set[int]] = {}
    for i, line in enumerate(line for line in _GROUPS.strip().splitlines() if line.strip()):
        for word in line.split():
            for lang in ("fr", "en"):
                out.setdefault(noun_key(word, lang), set()).add(i)
    return {stem: frozenset(ids) for stem, ids in out.items()}


def same_noun(a: str, lang_a: str, b: str, lang_b: str, *, bilingual: bool = True) -> bool:
    """Whether noun ``a`` (in ``lang_a``) and noun ``b`` (in ``lang_b``) count the same thing (see the module);
    ``bilingual=False`` compares stems only (for the comparison of the two ways)."""
    if not a or not b:
        return False
    ka, kb = noun_key(a, lang_a), noun_key(b, lang_b)
    if ka == kb:
        return True
    if not bilingual:
        return False
    groups = _groups()
    return bool(groups.get(ka, frozenset()) & groups.get(kb, frozenset()))


def translation(word: str, lang: str, to: str) -> str | None:
    """A noun of ``word``'s group in language ``to`` (the first of its line written in that language), for saying
    what is missing in the reader's language; None when the group has none or ``word`` is in no group."""
    if lang == to:
        return word
    ids = _groups().get(noun_key(word, lang))
    if not ids:
        return None
    lines = [line.split() for line in _GROUPS.strip().splitlines() if line.strip()]
    for w in lines[min(ids)]:
        if _is_language(w, to):
            return w
    return None


# Words of the groups written in English (the rest are French): for ``translation`` only.
_ENGLISH = frozenset(
    """soldier troop military serviceman servicemen fighter reservist country state nation city town municipality
    commune authority council collectivity region province partnership twinning member person people individual
    inhabitant resident participant representative official mayor councillor councilor refugee displaced meeting summit
    session generator year month day week time death dead killed victim fatality casualty injured wounded child children
    kid woman women man men student pupil school hospital company firm business association organization organisation
    project program programme agreement treaty job post sanction weapon tank aircraft plane airplane missile drone ship
    vessel vote seat delegation edition event km kilometre kilometer hectare house home dwelling housing language point
    goal title medal game book album song film movie episode player""".split()
)


def _is_language(word: str, lang: str) -> bool:
    return (word in _ENGLISH) == (lang == "en")
