"""Cleaned paragraphs → passages: short blocks join a neighbour, long ones are split at sentence boundaries.

The only module that imports langchain-text-splitters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from rag.ingest.clean import Block, clean
from rag.ingest.sentences import split_sentences
from rag.types import Document, OffsetMap, Passage


@dataclass(frozen=True)
class ChunkSettings:
    """Sizes in characters. 1200 characters of French is about 300-350 e5 tokens, well inside its 512."""

    max_chars: int = 1200
    min_chars: int = 150

    def to_dict(self) -> dict[str, int]:
        return {"max_chars": self.max_chars, "min_chars": self.min_chars}


def _join(blocks: list[Block]) -> Block:
    """One block from several, separated by newlines: each newline stands for the raw text between the two blocks
    (from the end of the one before to the start of the next), so that a span beginning or ending with it is exact."""
    text_parts: list[str] = []
    pos: list[int] = []
    ends: list[int] = []
    for b in blocks:
        if text_parts:
            text_parts.append("\n")
            pos.append(ends[-1])
            ends.append(b.pos[0])
        text_parts.append(b.text)
        pos.extend(b.pos)
        ends.extend(b.ends)
    return Block("".join(text_parts), pos, ends, bullet=blocks[0].bullet, heading=all(b.heading for b in blocks))


def _is_item(block: Block) -> bool:
    """A typographic list item ("•", "-"), as opposed to a numbered paragraph ("1.") that stands alone."""
    return block.bullet and block.text[:1] in "-•‣▪●◦*–—"


def group_blocks(blocks: list[Block], settings: ChunkSettings) -> list[list[Block]]:
    """Group cleaned blocks into paragraphs: headings attach forward, short blocks backward, lists stay whole."""
    groups: list[list[Block]] = []
    current: list[Block] = []

    def size(group: list[Block]) -> int:
        return sum(len(b.text) + 1 for b in group)

    for block in blocks:
        if not current:
            current = [block]
            continue
        fits = size(current) + len(block.text) <= settings.max_chars
        last = current[-1]
        intro = next((b for b in current if not b.heading), None)
        in_list = intro is not None and intro.text.endswith(":")
        item = _is_item(block)
        join = (
            all(b.heading for b in current)  # a heading (or title, date) belongs to what follows it
            or (fits and not block.heading and last.text.endswith(":"))  # a list's introduction keeps its items
            or (fits and block.bullet and in_list)
            or (fits and item and _is_item(last))  # "•"/"-" items of one list stay together
            or (fits and size(current) < settings.min_chars and not block.heading)  # too short to stand alone
            or (fits and len(block.text) < settings.min_chars and not block.heading and not block.bullet)
        )
        if join:
            current.append(block)
        else:
            groups.append(current)
            current = [block]
    if current:
        # A trailing run of headings (e.g. signatures) stands alone unless it is tiny.
        if groups and size(current) < settings.min_chars and size(groups[-1]) + size(current) <= settings.max_chars:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def _split(block: Block, max_chars: int) -> list[tuple[int, int]]:
    """Cleaned ``[start, end)`` ranges of ``block.text``, cut at sentence boundaries into pieces ≤ max_chars."""
    if len(block.text) <= max_chars:
        return [(0, len(block.text))]
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max_chars,
        chunk_overlap=0,
        separators=["\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", ""],
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    ranges = []
    for doc in splitter.create_documents([block.text]):
        start = int(doc.metadata["start_index"])
        ranges.append((start, start + len(doc.page_content)))
    return _at_safe_cuts(block, ranges, max_chars)


def _at_safe_cuts(block: Block, ranges: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """``ranges`` with every cut moved to where a passage may end: where every cleaned character before it came from
    raw text before every character after it, and not before a combining mark. NFC reorders combining marks
    (``0\u0300\u0316`` → ``0\u0316\u0300``): a cut inside such a run would give two passages overlapping raw spans,
    and a mark belongs with its base character. A cut moved back carries the rest to the next piece (a run of marks
    longer than ``max_chars`` is kept whole). Text without such runs keeps its ranges as they are."""
    text, n = block.text, len(block.text)
    reach = list(accumulate(block.ends, max))  # reach[i]: the furthest raw end of text[: i + 1]
    floor = list(accumulate(reversed(block.pos), min))[::-1]  # floor[i]: the first raw start of text[i:]

    def cut_ok(c: int, marks: bool) -> bool:
        if c >= n:
            return True
        return reach[c - 1] <= floor[c] and (marks or not unicodedata.category(text[c]).startswith("M"))

    def best_cut(start: int, hi: int) -> int:
        for marks in (False, True):
            for c in range(hi, start, -1):
                if cut_ok(c, marks):
                    return c
        return next(c for c in range(hi + 1, n + 1) if cut_ok(c, True))

    out: list[tuple[int, int]] = []
    queue = list(ranges)
    i = 0
    while i < len(queue):
        start, end = queue[i]
        if out and start < out[-1][1]:  # the previous piece was extended over this one's start
            start = out[-1][1]
        if start >= end:
            i += 1
            continue
        cut = best_cut(start, min(end, start + max_chars))
        out.append((start, cut))
        if cut >= end:
            i += 1
        elif i + 1 < len(queue) and queue[i + 1][1] - cut <= max_chars:
            queue[i + 1] = (cut, queue[i + 1][1])  # the rest joins the next piece
            i += 1
        else:
            queue[i] = (cut, end)
    return out


def _pieces(document: Document, settings: ChunkSettings) -> Iterator[tuple[int, Block, int, int]]:
    """Each passage of a document before it is made a ``Passage``: paragraph number, its block, cleaned [start, end)."""
    blocks = clean(document.text, markdown=document.format == "md")
    for number, group in enumerate(group_blocks(blocks, settings), start=1):
        block = _join(group)
        for start, end in _split(block, settings.max_chars):
            yield number, block, start, end


def chunk_with_offsets(document: Document, settings: ChunkSettings | None = None) -> list[tuple[Passage, OffsetMap]]:
    """Cut a document into passages carrying exact raw offsets, paragraph number and page, each with the map from its
    cleaned text back to the document's text (any span of a passage, a sentence or a name in it, is then cited by
    its exact document offsets)."""
    settings = settings or ChunkSettings()
    out: list[tuple[Passage, OffsetMap]] = []
    source = document.info.source
    for number, block, start, end in _pieces(document, settings):
        raw_start, raw_end = block.raw_span(start, end)
        passage = Passage(
            id=f"{source}:{raw_start}-{raw_end}",
            source=source,
            paragraph=number,
            start=raw_start,
            end=raw_end,
            text=block.text[start:end],
            page=document.page_at(raw_start),
        )
        out.append((passage, OffsetMap.of(block.pos[start:end], block.ends[start:end])))
    return out


@dataclass(frozen=True)
class Chunk:
    """A passage as an index keeps it: with its sentences (``[start, end)`` in its text) and its offset map."""

    passage: Passage
    sentences: list[tuple[int, int]]
    offsets: OffsetMap


def chunks(document: Document, settings: ChunkSettings | None = None) -> list[Chunk]:
    """The passages of a document with their sentences and offset maps, in order."""
    return [Chunk(p, split_sentences(p.text), offsets) for p, offsets in chunk_with_offsets(document, settings)]


def chunk_document(document: Document, settings: ChunkSettings | None = None) -> list[Passage]:
    """Cut a document into passages carrying exact raw offsets, paragraph number and page."""
    return [passage for passage, _ in chunk_with_offsets(document, settings)]
