"""Dates, amounts, percentages and counts found by pattern (rag.ingest.figures), on sentences of the shipped corpus
and of official French and English texts: what each finder finds, what it must not, and the offsets."""

from __future__ import annotations

from rag.ingest import figures


def _dates(text: str) -> list[str]:
    return [text[s:e] for s, e, _ in figures.dates(text)]


def _numbers(text: str) -> list[str]:
    taken = [(s, e) for s, e, _ in figures.amounts(text) + figures.percentages(text)]
    taken += [(s, e) for s, e, _ in figures.dates(text, taken)]
    return [text[s:e] for s, e, _, _ in figures.numbers(text, taken)]


def test_dates_days_months_years_decades_centuries_and_ranges() -> None:
    text = (
        "Ce jeudi 24 février 2022, les forces militaires russes ont pénétré sur le territoire ukrainien. "
        "La coopération est née dans les années 1960 ; la 4ème Rencontre s'est déroulée les 14 et 15 décembre 2012, "
        "le programme couvre 2010-2015, au XIXe siècle, fin 2021. It was signed on September 4, 1981, in the 1990s."
    )
    assert _dates(text) == [
        "jeudi 24 février 2022", "les années 1960", "14 et 15 décembre 2012", "2010-2015", "XIXe siècle", "fin 2021",
        "September 4, 1981", "the 1990s",
    ]  # fmt: skip


def test_a_date_is_not_a_count() -> None:
    # The case: "Combien de soldats…" must not be answered by the day of a date.
    text = "Ce jeudi 24 février 2022, les forces militaires russes ont pénétré sur le territoire ukrainien."
    assert _numbers(text) == []
    assert _numbers("La réunion de lancement s'est tenue le 12 février 2014, en 2014 et 2015.") == []


def test_ordinals_articles_paragraphs_and_list_items_are_not_counts() -> None:
    text = (
        "La 3ème réunion a eu lieu le 5 juillet 2016. Selon l'article 12 et le paragraphe 4 du décret n° 2021-1234, "
        "page 7, les 2e et 5th sessions\n1. Nous condamnons les référendums.\n2. Nous appelons tous les États."
    )
    assert _numbers(text) == []
    assert "2021-1234" not in _dates(text)  # the number of a decree is no year range


def test_counts_with_their_qualifier_digits_and_words() -> None:
    text = (
        "Plus de 50 collectivités sont vouées à participer. Elle a rassemblé 200 représentants de collectivités des "
        "deux pays, dont 3 000 élus et trois réunions. The defense gave up just 308 points and led the league with 24."
    )
    assert _numbers(text) == ["Plus de 50", "200", "deux", "3 000", "trois", "just 308", "24"]


def test_amounts_with_their_currency() -> None:
    text = "Le budget prévoit 182 millions d'euros et 3 000 €, the city gave $45 million and £2.5 billion, soit 10 francs."
    found = [(text[s:e], code) for s, e, code in figures.amounts(text)]
    assert found == [
        ("182 millions d'euros", "EUR"), ("3 000 €", "EUR"), ("$45 million", "USD"), ("£2.5 billion", "GBP"),
        ("10 francs", "FRF"),
    ]  # fmt: skip
    assert figures.amounts("Que demandent-ils pour le budget 2026 ?") == []


def test_percentages_and_shares() -> None:
    text = "La participation a atteint 97 %, soit 12,5 pour cent de plus ; turnout was 2.9 per cent, la moitié des voix."
    assert [text[s:e] for s, e, _ in figures.percentages(text)] == ["97 %", "12,5 pour cent", "2.9 per cent", "la moitié"]
    # A percentage is no year and no count.
    assert "97" not in _numbers(text) and _dates(text) == []


def test_offsets_cut_the_figure_out_of_the_text() -> None:
    text = "  Le 2 mars 2022, plus de 140 pays ont voté, soit 73 %, pour 5 millions d'euros.\n"
    for s, e, _ in [*figures.dates(text), *figures.amounts(text), *figures.percentages(text)]:
        assert text[s:e] == text[s:e].strip() and text[s:e]
    assert [text[s:e] for s, e, _ in figures.dates(text)] == ["2 mars 2022"]
    assert [(text[s:e], text[ns:ne]) for s, e, ns, ne in figures.numbers(text, [(3, 15)])][:1] == [("plus de 140", "140")]
