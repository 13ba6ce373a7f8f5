"""The PDF-text cleaner: repairs, and the offset map back to the raw text."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.ingest.clean import clean
from tests.helpers import squash


def texts(raw: str, markdown: bool = False) -> list[str]:
    return [b.text for b in clean(raw, markdown=markdown)]


def test_end_of_line_hyphenation_is_undone() -> None:
    raw = "certaines collecti-\nvités françaises ont noué des liens avec les\ncollectivités russes.\n"
    assert texts(raw) == ["certaines collectivités françaises ont noué des liens avec les collectivités russes."]


def test_real_hyphen_kept_when_document_uses_the_compound() -> None:
    raw = "La coopération franco-\nrusse est ancienne et suivie de près.\n\nLa coopération franco-russe continue.\n"
    assert texts(raw)[0] == "La coopération franco-russe est ancienne et suivie de près."


def test_plural_compound_kept() -> None:
    raw = "L'animation des groupes-\npays est soutenue par le ministère.\n\nLe groupe-pays Russie existe.\n"
    assert "groupes-pays" in texts(raw)[0]


def test_blank_line_inside_a_sentence_is_rejoined() -> None:
    raw = "ces réunions ont été honorées par la présence d'une délégation et de\n\nplusieurs élus locaux.\n"
    assert texts(raw) == ["ces réunions ont été honorées par la présence d'une délégation et de plusieurs élus locaux."]


def test_hyphenation_across_a_blank_line() -> None:
    raw = "• une proposition aux collectivités qui sou-\n\nhaitent s'engager ;\n"
    assert texts(raw) == ["• une proposition aux collectivités qui souhaitent s'engager ;"]


def test_blank_line_after_a_sentence_separates_paragraphs() -> None:
    raw = "Première phrase complète.\n\nSeconde phrase complète.\n"
    assert texts(raw) == ["Première phrase complète.", "Seconde phrase complète."]


def test_bullets_start_their_own_paragraph() -> None:
    raw = "Ce soutien comprendra notamment :\n- des programmes de défense,\n- un appui financier.\n"
    blocks = clean(raw)
    assert [b.text for b in blocks] == [
        "Ce soutien comprendra notamment :",
        "- des programmes de défense,",
        "- un appui financier.",
    ]
    assert [b.bullet for b in blocks] == [False, True, True]


def test_unwrapped_lines_are_paragraphs() -> None:
    long_a = "La Coalition a tenu à rappeler avec force que la capacité de l'Ukraine à assurer sa défense " * 2
    long_b = "Les membres de la Coalition se déclarent prêts à s'engager dans un dispositif de garanties. " * 2
    raw = f"{long_a.strip()}\nUn titre sans point\n{long_b.strip()}\n"
    assert len(texts(raw)) == 3


def test_heading_line_is_split_from_wrapped_paragraph() -> None:
    raw = (
        "Rôles et missions\n"
        "Le groupe-pays Russie poursuivra plusieurs objectifs dans les années à venir et au-delà\n"
        "de la période actuelle, avec de nombreux partenaires de la coopération décentralisée.\n"
    )
    assert texts(raw)[0] == "Rôles et missions"


def test_markdown_marks_are_dropped() -> None:
    raw = "## Un titre\n\nUn **levier essentiel** du renforcement.\n"
    assert texts(raw, markdown=True) == ["Un titre", "Un levier essentiel du renforcement."]


def test_whitespace_runs_collapse_and_nfc() -> None:
    raw = "la  valorisation   des initiatives de\u0301partementales.\n"
    assert texts(raw) == ["la valorisation des initiatives départementales."]


def test_offsets_map_back_to_raw_text() -> None:
    raw = "  Titre\n\nLes collecti-\nvités  et les **villes**.\n"
    for block in clean(raw, markdown=True):
        start, end = block.raw_span(0, len(block.text))
        assert squash(raw[start:end]) == squash(block.text)
        for i, ch in enumerate(block.text):
            if not ch.isspace():
                assert unicodedata.normalize("NFC", raw[block.pos[i]])[0] == ch or raw[block.pos[i]] == ch


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_cleaning_arbitrary_text_never_fails_and_round_trips(raw: str) -> None:
    blocks = clean(raw)
    previous_end = 0
    for block in blocks:
        assert block.text and len(block.pos) == len(block.text)
        assert all(0 <= p < len(raw) for p in block.pos)
        assert block.pos == sorted(block.pos)  # reading order is preserved
        assert block.raw_start >= previous_end  # blocks never overlap
        previous_end = block.raw_end


PIECES = ["collecti-\nvités", "franco-russe", "le", "la", "Paris.", "\n", "\n\n", "- ", "•", "  ", "**", "é", "e\u0301", ":"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=80))
def test_cleaning_keeps_every_letter(pieces: list[str]) -> None:
    raw = "".join(pieces)
    cleaned = "".join(b.text for b in clean(raw))
    assert squash(cleaned) == squash(raw)
