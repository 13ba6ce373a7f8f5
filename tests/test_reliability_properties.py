"""Property-based tests of the cleaner and the chunker on arbitrary Unicode, beyond test_clean.py / test_chunk.py.

For any text (no lone surrogates: a decoded file never holds them), with any line endings (``\\r\\n``, ``\\r``,
``\\u2028``, form feeds, vertical tabs), combining marks, bidi controls and markup:
- cleaning and chunking never raise;
- every passage's ``[start, end)`` recovers its text (up to whitespace, hyphenation and markup, as in test_chunk);
- passages are disjoint, in reading order, at most ``max_chars`` long;
- the passages together hold every character of the text exactly once (nothing lost, nothing duplicated);
- chunking is deterministic, and the same text with other line endings gives the same passages.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest.chunk import ChunkSettings, chunk_document
from rag.ingest.clean import clean
from rag.ingest.sentences import split_sentences
from rag.types import Document, DocumentInfo

# Equality "up to whitespace, hyphenation and markup" (test_chunk's squash; markdown's "__" is markup too).
_DROP = re.compile(r"[\s*#_\-‐]")


def squash(s: str) -> str:
    # markup first, then NFC: in "A**\u0300" the accent composes with the "A" once the markup is gone, as it does
    # in the cleaned text
    return unicodedata.normalize("NFC", _DROP.sub("", unicodedata.normalize("NFC", s)))


LINE_BREAKS = ["\n", "\r\n", "\r", "\u2028", "\u2029", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\n\n", "\r\n\r\n"]
PIECES = [
    *LINE_BREAKS,
    " ", "  ", "\t", "\u00a0", "\u202f", "\u3000",
    "e\u0301", "\u0301", "a\u0308\u0323", "\u200b", "\u200d", "\u202e", "\u2066", "\ufeff",
    "collecti-\nvités", "franco-\nrusse", "franco-russe", "groupe-\npays", "Jean-\nPierre",
    "- ", "• ", "1. ", "a) ", "** ", "**gras**", "# ", "## Titre\n", "__", "Le", "la", "de", "et", "Paris.", "Kherson,",
    "Ukraine :", "« citation »", "l’État", "M.", "etc.", "…", "?!", "🇺🇦", "👩🏽‍⚖️", "в Украине", "乌克兰", "الاستفتاء",
    "x" * 70, "mot " * 30, "Une phrase assez longue pour remplir une ligne de texte justifié. ",
]
# Arbitrary Unicode (surrogates excluded), biased towards what breaks text handling.
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
TEXTS = st.one_of(
    st.text(ANY_CHAR, max_size=300),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(ANY_CHAR, max_size=8)), max_size=120).map("".join),
)
SETTINGS = st.builds(
    lambda m, frac: ChunkSettings(max_chars=m, min_chars=int(m * frac)),
    st.integers(min_value=20, max_value=400),
    st.floats(min_value=0.0, max_value=0.5),
)
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def document(text: str, fmt: str = "txt") -> Document:
    return Document(DocumentInfo(source="d.txt", title="D"), text, fmt, "0" * 64)


def check_passages(text: str, fmt: str, chunking: ChunkSettings) -> None:
    doc = document(text, fmt)
    passages = chunk_document(doc, chunking)
    previous_end = 0
    for p in passages:
        assert 0 <= previous_end <= p.start < p.end <= len(text), (p, previous_end)
        assert p.text and len(p.text) <= chunking.max_chars
        assert p.id == f"d.txt:{p.start}-{p.end}"
        assert squash(text[p.start : p.end]) == squash(p.text), (text[p.start : p.end], p.text)
        previous_end = p.end
    # Every character of the text is in exactly one passage (spans are disjoint, so "once" is the equality).
    assert squash("".join(p.text for p in passages)) == squash(text)
    assert [p.paragraph for p in passages] == sorted(p.paragraph for p in passages)
    again = chunk_document(document(text, fmt), chunking)
    assert again == passages


@FAST
@given(TEXTS, SETTINGS)
def test_chunking_arbitrary_unicode_round_trips_and_loses_nothing(text: str, chunking: ChunkSettings) -> None:
    check_passages(text, "txt", chunking)


@FAST
@given(TEXTS, SETTINGS)
def test_chunking_arbitrary_markdown_round_trips_and_loses_nothing(text: str, chunking: ChunkSettings) -> None:
    check_passages(text, "md", chunking)


@FAST
@given(TEXTS)
def test_cleaned_characters_map_back_to_their_raw_characters(raw: str) -> None:
    for block in clean(raw, markdown=True):
        assert len(block.text) == len(block.pos) == len(block.ends)
        for i, ch in enumerate(block.text):
            start, end = block.pos[i], block.ends[i]
            assert 0 <= start < end <= len(raw)
            if not ch.isspace() and ch not in "-‐":
                # the character itself, or part of the NFC composition of the raw cluster it came from (markup and
                # whitespace inside the cluster, e.g. "A**\u0300" → "À", are what cleaning removed)
                cluster = re.sub(r"[\s*_#]", "", raw[start:end])
                composed = unicodedata.normalize("NFC", raw[start:end]) + unicodedata.normalize("NFC", cluster)
                assert ch in composed, (ch, raw[start:end])


@FAST
@given(st.lists(st.sampled_from([p for p in PIECES if p not in LINE_BREAKS]), max_size=80), st.sampled_from(LINE_BREAKS[:6]))
def test_line_endings_do_not_change_the_passages(words: list[str], newline: str) -> None:
    """The same text with \\n, \\r\\n, \\r or Unicode separators as line breaks gives the same passage texts."""
    unix = "\n".join(words)
    other = unix.replace("\n", newline)
    chunking = ChunkSettings(max_chars=200, min_chars=40)
    assert [p.text for p in chunk_document(document(other), chunking)] == [
        p.text for p in chunk_document(document(unix), chunking)
    ]


@FAST
@given(TEXTS)
def test_sentence_spans_partition_a_passage(text: str) -> None:
    spans = split_sentences(text)
    previous = 0
    for start, end in spans:
        assert previous <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert not text[previous:start].strip()  # only whitespace between sentences
        previous = end
    assert not text[previous:].strip()
