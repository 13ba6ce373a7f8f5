"""Dates, amounts of money, percentages and cardinal numbers in French and English text, by pattern (no model).

Each finder returns ``(start, end, detail)`` spans of the text it is given. ``numbers`` gives the cardinals that can
be a count: not a year, not the day of a date, not an ordinal ("3ème", "5th"), not the number of an article, a
paragraph or a page ("article 12", "n° 5", a list item "2. …"), not part of an amount or a percentage. Which noun a
number counts is found by ``rag.ingest.annotate`` (from spaCy's parse in French, a pattern in English).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Found = tuple[int, int, str]

_I = re.IGNORECASE
_APOS = "['’]"
_MONTHS_FR = (
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|"
    r"janv\.|f[ée]vr\.|avr\.|juil\.|sept\.|oct\.|nov\.|d[ée]c\."
)
_MONTHS_EN = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
_MONTH = rf"(?:{_MONTHS_FR}|{_MONTHS_EN})"
_WEEKDAY = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"
_DAY = r"(?:1er|1re|[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_SEASON = r"(?:fin|début|mi-|courant|printemps|été|automne|hiver|early|late|mid-|spring|summer|autumn|fall|winter)"
_DATE_PATTERNS = [
    # "jeudi 24 février 2022", "les 27 et 28 novembre 2008", "le 2 mars 2022", "4 September 1981", "14-15 décembre"
    rf"(?:{_WEEKDAY},?\s+)?(?:the\s+)?{_DAY}(?:\s*(?:,|et|au|and|to|-|–)\s*{_DAY})*(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?",
    # "September 4, 1981", "March 2-3, 2022"
    rf"(?:{_WEEKDAY},?\s+)?(?:{_MONTHS_EN})\s+{_DAY}(?:\s*[-–]\s*{_DAY})?(?:,?\s+{_YEAR})?(?![\d%])",
    # "décembre 2017", "février 2014", "in May 2010"
    rf"{_MONTH}\s+{_YEAR}",
    # "dans les années 1960", "the 1960s", "les années 90"
    r"(?:les\s+)?années\s+(?:19|20)?[0-9]0|(?:the\s+)?(?:1[0-9]|20)[0-9]0s|the\s+['’]?[0-9]0s",
    # "XIXe siècle", "19th century", "the twentieth century"
    r"(?:[IVXLC]+|[0-9]{1,2})(?:e|ème|er)\s+siècles?|(?:[0-9]{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|"
    r"sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
    r"eighteenth|nineteenth|twentieth|twenty-first)\s+century",
    # ISO and numeric dates
    r"(?<![\d.])(?:1[0-9]{3}|20[0-9]{2})-[01][0-9]-[0-3][0-9](?!\d)|(?<![\d.])[0-3]?[0-9][/.][01]?[0-9][/.](?:1[0-9]|20)[0-9]{2}(?!\d)",
    # year ranges: "2010-2015", "de 2010 à 2015", "entre 2010 et 2015", "from 1990 to 1995"
    rf"(?:(?:de|entre|from|between)\s+)?{_YEAR}\s*(?:-|–|à|et|to|and)\s*{_YEAR}(?!\d)",
    # "fin 2021", "début de l'année 2022", "spring 2020"
    rf"{_SEASON}\s*(?:de\s+l{_APOS}année\s+|of\s+)?{_YEAR}",
]
# A year alone: four digits not inside a larger number, not followed by a currency, a percent or a unit.
_LONE_YEAR = re.compile(
    rf"(?<![\d.,])(?<!\d )(?<![-–/]){_YEAR}(?![\d.,]?\d)(?!\s*(?:%|€|\$|£|euros?|dollars?|pour ?cent|per ?cent|percent))"
)
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS), _I)

_NUMBER_WORDS_FR = (
    r"deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|dix-sept|dix-huit|"
    r"dix-neuf|vingt|trente|quarante|cinquante|soixante|soixante-dix|quatre-vingts?|quatre-vingt-dix|cents?|mille|"
    r"(?:vingt|trente|quarante|cinquante|soixante)(?:-et-un|-deux|-trois|-quatre|-cinq|-six|-sept|-huit|-neuf| et un)|"
    r"(?:une\s+|des\s+|plusieurs\s+)?(?:dizaines?|douzaines?|quinzaines?|vingtaines?|trentaines?|quarantaines?|"
    r"cinquantaines?|soixantaines?|centaines?|milliers?)"
)
_NUMBER_WORDS_EN = (
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|"
    r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(?:one|two|three|four|five|six|seven|eight|nine)|"
    r"(?:a\s+|two\s+|several\s+)?(?:dozens?|hundreds|thousands)"
)
_SCALE = r"(?:\s+(?:millions?|milliards?|billions?|trillions?|thousand|hundred|mille))"
# Digits: "3000", "3 000" (with a space or a narrow no-break space), "3,000", "1.5", "6½"
_DIGITS = r"[0-9]{1,3}(?:(?:[  ]|,(?=[0-9]{3}\b)|\.(?=[0-9]{3}\b))[0-9]{3})+|[0-9]+(?:[.,][0-9]+)?½?"
_QUALIFIER = (
    r"(?:(?:plus|moins|près|autour|au-delà|au\s+moins|au\s+plus|environ|quelque|jusqu{_APOS}à)\s+(?:de\s+|d{_APOS})?|"
    r"(?:more|fewer|less)\s+than\s+|(?:over|under|nearly|almost|about|around|approximately|some|at\s+least|"
    r"at\s+most|up\s+to|roughly|only|just)\s+)"
).replace("{_APOS}", _APOS)
_NUMBER = re.compile(
    rf"(?<![\w.,/-])(?P<q>{_QUALIFIER})?(?P<n>(?:{_DIGITS})(?:{_SCALE})?|(?:{_NUMBER_WORDS_FR}|{_NUMBER_WORDS_EN})"
    rf"(?:[- ](?:{_NUMBER_WORDS_FR}|{_NUMBER_WORDS_EN}))*(?:{_SCALE})?)(?![\w½])",
    _I,
)
# What a number after these words is: the number of an article, a paragraph, a page, a text, an item.
_REFERENCE_BEFORE = re.compile(
    r"(?:\b(?:art|articles?|alinéas?|paragraphes?|paragraphs?|points?|n°|no|nos|numéros?|numbers?|chapitres?|chapters?|"
    r"sections?|titres?|annexes?|annex|pages?|pp?|livres?|décrets?|lois?|arrêtés?|règlements?|directives?|"
    r"résolutions?|resolutions?|articles?|§|tome|vol|volume|version|v|étape|phase|niveau|level|rang|rank|"
    r"place|numéro|item|question|figure|fig|tableau|table|[LRDA])\.?\s*)$",
    _I,
)
_ORDINAL_AFTER = re.compile(r"^(?:e|è|ème|eme|er|re|ère|nd|nde|st|nd|rd|th)\b", _I)
_LIST_ITEM = re.compile(r"(?:^|\n)[ \t]*$")

_CURRENCIES = {
    "€": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR", "m€": "EUR", "md€": "EUR", "k€": "EUR", "mds€": "EUR",
    "$": "USD", "dollar": "USD", "dollars": "USD", "usd": "USD", "us$": "USD",
    "£": "GBP", "pound": "GBP", "pounds": "GBP", "livre sterling": "GBP", "livres sterling": "GBP", "gbp": "GBP",
    "franc": "FRF", "francs": "FRF", "chf": "CHF", "francs suisses": "CHF", "yen": "JPY", "yens": "JPY",
    "rouble": "RUB", "roubles": "RUB", "hryvnia": "UAH", "hryvnias": "UAH", "yuan": "CNY", "yuans": "CNY",
}  # fmt: skip
_CURRENCY = (
    r"(?:m€|md€|mds€|k€|€|us\$|\$|£|euros?|eur|dollars?|usd|livres?\s+sterling|pounds?(?:\s+sterling)?|gbp|"
    r"francs?(?:\s+suisses)?|chf|yens?|roubles?|hryvnias?|yuans?)"
)
_AMOUNT_SCALE = r"(?:\s*(?:millions?|milliards?|billions?|trillions?|thousand|mille|M|Md|Mds|bn|m|k))"
_AMOUNT = re.compile(
    rf"(?<![\w.,])(?:{_QUALIFIER})?(?:(?P<pre>{_CURRENCY})\s?(?:{_DIGITS}){_AMOUNT_SCALE}?(?![\w½])|"
    rf"(?:{_DIGITS}|{_NUMBER_WORDS_FR}|{_NUMBER_WORDS_EN}){_AMOUNT_SCALE}?\s?(?:d{_APOS}|de\s+|of\s+)?(?P<post>{_CURRENCY})(?![\w]))",
    _I,
)
_PERCENT = re.compile(
    rf"(?<![\w.,])(?:{_QUALIFIER})?(?:{_DIGITS})\s?(?:%|pour\s?cents?|per\s?cent|percent|points?\s+de\s+pourcentage|"
    rf"percentage\s+points?)(?!\w)|\b(?:la|une|un|deux|trois|le|a|one|two|three)(?:\s+|-)(?:moitié|tiers|quarts?|half|thirds?|quarters?)"
    rf"(?=\s+(?:de|des|du|d{_APOS}|of)\b)",
    _I,
)


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start()]


def _free(spans: list[tuple[int, int]], taken: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    taken = list(taken)
    return [(s, e) for s, e in spans if all(e <= ts or s >= te for ts, te in taken)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1] in " \t\n,;":
        end -= 1
    return start, end


def amounts(text: str) -> list[Found]:
    """Amounts of money with their currency code: "182 millions d'euros" (EUR), "$45 million" (USD), "3 000 €"."""
    out: list[Found] = []
    for m in _AMOUNT.finditer(text):
        currency = (m.group("pre") or m.group("post") or "").casefold()
        currency = " ".join(currency.split())
        code = _CURRENCIES.get(currency) or _CURRENCIES.get(currency.split()[0] if currency else "", "")
        start, end = _trim(text, m.start(), m.end())
        out.append((start, end, code))
    return out


def percentages(text: str) -> list[Found]:
    """Percentages and shares: "97 %", "2.9 per cent", "12 percent", "la moitié", "two thirds"."""
    return [(*_trim(text, s, e), "") for s, e in _spans(_PERCENT, text)]


def dates(text: str, taken: Iterable[tuple[int, int]] = ()) -> list[Found]:
    """Dates, years, decades, centuries and periods, outside ``taken`` (the amounts and percentages)."""
    taken = list(taken)
    found = [(s, e) for s, e in _free(_spans(_DATE, text), taken) if not _reference(text, s, e)]
    years = _free(_spans(_LONE_YEAR, text), [*taken, *found])
    years = [(s, e) for s, e in years if not _reference(text, s, e)]
    return sorted((*_trim(text, s, e), "") for s, e in found + years)


def _reference(text: str, start: int, end: int) -> bool:
    """Digits that number a text or an item rather than date it: after "article", "n°", "décret"… ("décret n°
    2021-1234"), or a "range" whose second number is smaller than its first."""
    if not text[start : start + 1].isdigit():
        return False
    if _REFERENCE_BEFORE.search(text[max(0, start - 20) : start]):
        return True
    years = re.findall(r"[0-9]{4}", text[start:end])
    return len(years) == 2 and "-" in text[start:end] and int(years[1]) < int(years[0])


def numbers(text: str, taken: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int, int, int]]:
    """Cardinal numbers that can be counts, outside ``taken`` (dates, amounts, percentages), as
    ``(start, end, number_start, number_end)``: the span with its qualifier ("plus de 50") and the number alone."""
    taken = list(taken)
    out: list[tuple[int, int, int, int]] = []
    for m in _NUMBER.finditer(text):
        start, end = m.start(), m.end()
        if not all(end <= ts or start >= te for ts, te in taken):
            continue
        before = text[max(0, m.start("n") - 24) : m.start("n")]
        after = text[end : end + 4]
        if _ORDINAL_AFTER.match(after) or _REFERENCE_BEFORE.search(before):
            continue
        if m.group("n")[0].isdigit() and _LIST_ITEM.search(text[max(0, start - 8) : start]) and after[:1] in (".", ")"):
            continue  # a numbered paragraph or list item: "1. Nous condamnons…"
        if after[:1] in ("-", "/", ":", "h") and after[1:2].isdigit():
            continue  # a code, a ratio or a time ("1234-5", "10:30", "10h30")
        out.append((start, end, m.start("n"), m.end("n")))
    return out
