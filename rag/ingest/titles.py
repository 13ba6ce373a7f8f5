"""A document's own title: its Markdown heading, what its format declares (PDF and .docx metadata, HTML ``<title>``),
or a first block of text that reads as a title; "" when it has none (the file name then names it, ``rag.ingest.load``).

Metadata titles are often left by the software that wrote the file ("Microsoft Word - rapport.docx", "Untitled"):
those are not titles. A first block reads as a title when it is short (at most three lines, ``MAX_CHARS``), stands
alone (a blank line after it), holds words and does not end as a sentence does; a date alone is not a title.
"""

from __future__ import annotations

import re

MAX_CHARS = 200
MAX_LINES = 3
MIN_LETTERS = 3

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre|"
    "january|february|march|april|may|june|july|august|september|october|november|december"
)
_DATE = re.compile(
    rf"^(?:\w+\s+)?(?:\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\s+\d{{4}}|(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}|(?:{_MONTHS})\s+\d{{4}}"
    r"|\d{4}(?:-\d{1,2}){0,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})$",
    re.IGNORECASE,
)
# Titles that the software writing a file puts in its metadata when the author gave none.
_GENERATED = re.compile(
    r"^(?:microsoft\s+(?:word|powerpoint|excel)\s*-|untitled|sans\s+titre|document\s*\d*$|titre$|title$|diapositive\s*\d*$|"
    r"slide\s*\d*$|page\s*\d*$)|\.(?:docx?|pdf|odt|rtf|txt|html?|indd|qxd|pptx?|xlsx?|tiff?|png|jpe?g)$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def one_line(text: str) -> str:
    """``text`` on one line: lines joined (a hyphen at the end of a line before a lower-case letter undone)."""
    joined = re.sub(r"(\w)-[ \t]*\n[ \t]*(?=[a-zà-ÿ])", r"\1", text.strip())
    return " ".join(joined.split())


def inline_markdown(text: str) -> str:
    """A Markdown heading's text without its inline markup: links, images, emphasis, code."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_|`)(.+?)\1", r"\2", text)
    return text.replace("\\", "")


def readable(title: str) -> str:
    """``title`` on one line when it can name a document: words, not too long, not a date alone; else ""."""
    title = one_line(title)
    letters = sum(ch.isalpha() for ch in title)
    if len(title) > MAX_CHARS or letters < MIN_LETTERS or _DATE.match(title) or re.match(r"^(https?://|www\.)", title):
        return ""
    return title


def declared(title: str | None) -> str:
    """A title read from a file's metadata, or "" when it is empty or one a program made up."""
    title = one_line(title or "")
    return "" if not title or _GENERATED.search(title) else readable(title)


def markdown_heading(text: str) -> str:
    """The first heading of the highest level a Markdown text has (``# Title``, or ``Title`` underlined with ``===``),
    outside code blocks; "" when it has none."""
    best: tuple[int, str] | None = None
    fenced = False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        level, heading = 0, ""
        if match := _HEADING.match(line):
            level, heading = len(match.group(1)), match.group(2)
        elif (setext := _setext(lines, i)) is not None:
            level, heading = setext, line
        if level and (title := readable(inline_markdown(heading))) and (best is None or level < best[0]):
            best = (level, title)
            if level == 1:
                break
    return best[1] if best else ""


def _setext(lines: list[str], i: int) -> int | None:
    """The level of line ``i`` when it is a heading underlined (``===``: 1, ``---``: 2), else None. It must stand
    alone: a line of dashes under a paragraph's last line is not a heading."""
    if i + 1 >= len(lines) or not lines[i].strip() or _HEADING.match(lines[i]) or (i > 0 and lines[i - 1].strip()):
        return None
    underline = _SETEXT.match(lines[i + 1])
    return None if underline is None else 1 if underline.group(1).startswith("=") else 2


def first_block(text: str) -> str:
    """The text's first block (up to a blank line) when it reads as a title, else ""."""
    lines = text.lstrip("\ufeff").replace("\f", "\n").splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    block: list[str] = []
    for line in lines:
        if not line.strip():
            break
        block.append(line)
    else:
        return ""  # no blank line after it: the whole text, or a paragraph that goes on
    if len(block) > MAX_LINES:
        return ""
    title = readable("\n".join(block))
    if not title or title[-1] in ".,;:" or title.endswith("-"):
        return ""
    return title


def title_of(text: str, fmt: str, metadata: str = "") -> str:
    """The title a document gives itself: for Markdown its heading, then ``metadata`` (the title its format declares),
    then its first block when it reads as a title; "" when none does."""
    if fmt == "md" and (heading := markdown_heading(text)):
        return heading
    if title := declared(metadata):
        return title
    if fmt == "md":
        lines = (line.lstrip("#").strip() if _HEADING.match(line) else line for line in text.splitlines())
        text = "\n".join(inline_markdown(line) for line in lines)
    return first_block(text)
