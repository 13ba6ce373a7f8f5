"""Whether two nouns name the same thing, across French and English: a count's noun, a role, a class of places.

``same_noun("soldiers", "en", "soldat", "fr")`` is True. Two nouns match when their Snowball stems are equal in one
language ("collectivités" and "collectivité"), or when both belong to one of the small bilingual groups below
("soldiers" ↔ "soldats" ↔ "militaires" ↔ "troupes"; "local authorities" ↔ "collectivités"; "minister" ↔
"ministre"). The groups are the counted nouns and roles of the corpus's subject and of common factoid questions; a
noun outside them still matches itself in its own language. Compared with the embedder's similarity by
``eval/noun_match.py``.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

# One line per group of nouns that count or name the same things: French nouns, then "|", then English ones (singular;
# plurals are stemmed). The first noun of each side is the one ``translation`` gives.
_GROUPS = """
soldat militaire troupe combattant | soldier troop military serviceman servicemen fighter
réserviste | reservist
pays état nation | country state nation
ville commune municipalité cité localité | city town municipality commune
collectivité autorité | authority collectivity council
région oblast province | region province oblast
partenariat jumelage | partnership twinning
membre adhérent | member
personne gens individu habitant participant représentant | person people individual inhabitant resident participant representative
élu maire conseiller | official mayor councillor councilor
réfugié déplacé | refugee displaced
réunion rencontre sommet séance | meeting summit session
générateur groupe électrogène | generator
année an | year
mois | month
jour journée | day
semaine | week
fois | time
mort décès tué victime | death dead killed victim fatality casualty
blessé | injured wounded
enfant | child children kid
femme | woman women
homme | man men
élève étudiant | student pupil
école | school
hôpital | hospital
entreprise société firme | company firm business
association organisation organisme | organisation organization association
projet | project
programme | programme program
accord traité | agreement treaty
emploi poste | job post
sanction | sanction
arme | weapon
char | tank
avion | aircraft plane airplane
missile | missile
drone | drone
navire bateau | ship vessel
voix suffrage | vote
siège | seat
délégation | delegation
édition | edition
événement | event
kilomètre km | kilometre kilometer km
hectare | hectare
logement habitation maison | house home dwelling housing
langue | language
point | point
but | goal
titre | title
médaille | medal
match | game match
livre | book
album | album
chanson | song
film | film movie
épisode | episode
joueur | player
président présidente préside présidé présidée présider présidence | president presidency chair chairman chairwoman chaired
ministre | minister
ministère | ministry department
secrétaire | secretary
général | general
ambassadeur ambassadrice | ambassador
ambassade | embassy
directeur directrice | director
commandant | commander
dirigeant | leader
roi | king
reine | queen
gouverneur | governor
réseau | network
institution | institution
agence | agency
fondation | foundation
parti | party
"""


@cache
def _stemmer(lang: str) -> Any:
    import Stemmer  # PyStemmer, as the lexical index uses: loaded once, in microseconds

    return Stemmer.Stemmer("english" if lang == "en" else "french")


def _fold(word: str) -> str:
    text = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).strip(" '.-")


@lru_cache(maxsize=1 << 16)  # reading stems the same words of the same passages again and again
def noun_key(word: str, lang: str) -> str:
    """A noun's comparison key in ``lang`` (``en``, else French): its Snowball stem, without accents. A French plural's
    final s or x is dropped from the stem: French Snowball leaves short plurals as they are ("élus", "lieux")."""
    word = word.casefold().strip(" '’.-")
    stem = _fold(_stemmer(lang).stemWord(word))
    if lang != "en" and len(stem) > 2 and stem.endswith(("s", "x")) and not stem.endswith("ss"):
        stem = stem[:-1]
    return stem


@cache
def _lines() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Each group as (its French nouns, its English nouns)."""
    out = []
    for line in _GROUPS.strip().splitlines():
        french, _, english = line.partition("|")
        out.append((tuple(french.split()), tuple(english.split())))
    return tuple(out)


@cache
def _groups() -> dict[str, frozenset[int]]:
    """Each stem (French and English stems alike) → the groups it belongs to."""
    out: dict[str, set[int]] = {}
    for i, (french, english) in enumerate(_lines()):
        for word in (*french, *english):
            for lang in ("fr", "en"):
                out.setdefault(noun_key(word, lang), set()).add(i)
    return {stem: frozenset(ids) for stem, ids in out.items()}


def same_noun(a: str, lang_a: str, b: str, lang_b: str, *, bilingual: bool = True) -> bool:
    """Whether noun ``a`` (in ``lang_a``) and noun ``b`` (in ``lang_b``) name the same thing (see the module);
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


@lru_cache(maxsize=1 << 16)
def groups_of(word: str, lang: str) -> tuple[str, ...]:
    """The bilingual groups ``word`` belongs to, as keys ("~3"): equal for "meeting" and "réunion"."""
    return tuple(f"~{i}" for i in sorted(_groups().get(noun_key(word, lang), frozenset())))


def translation(word: str, lang: str, to: str) -> str | None:
    """The first noun in language ``to`` of ``word``'s group, for saying what is missing in the reader's language;
    ``word`` itself when ``lang == to``; None when ``word`` is in no group."""
    if lang == to:
        return word
    ids = _groups().get(noun_key(word, lang))
    if not ids:
        return None
    french, english = _lines()[min(ids)]
    side = english if to == "en" else french
    return side[0] if side else None
