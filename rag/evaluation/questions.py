"""Question sets: our JSONL format with gold quotes (see eval/README.md), quote matching, and BEIR folders."""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import BadInputError


@dataclass(frozen=True)
class Answer:
    """One acceptable answer: a quote from the document ``source`` (any document when None)."""

    source: str | None
    quote: str


@dataclass(frozen=True)
class Question:
    """A question and its acceptable answers (any one is correct); no answers means the system should abstain."""

    id: str
    question: str
    lang: str
    answers: tuple[Answer, ...]
    # What kind of question it is, when the set says: "answerable", "near" (on the corpus's subject, not answered by
    # it) or "off" (unrelated); "" when not given. Reports give the abstention figures of each kind.
    kind: str = ""

    @property
    def no_answer(self) -> bool:
        return not self.answers


# --- quote matching -------------------------------------------------------------------------------------------

_HYPHENS = "-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Every hyphen or dash, with the whitespace around it. Deleting the whole run makes "collecti-\nvités",
# "collectivités", "groupe-\npays", "groupe-pays" and "franco- russe" compare equal whichever side kept the hyphen.
_HYPHEN_RUN = re.compile(rf"\s*[{re.escape(_HYPHENS)}]+\s*")
_APOSTROPHES = "'\u2019\u2018\u02bc\u00b4`"
_MARKDOWN = re.compile(r"\*\*|__")


@functools.lru_cache(maxsize=8192)  # the same quotes and passages are normalised over and over in an evaluation
def normalize_for_match(text: str) -> str:
    """Canonical form for quote matching: compare ``normalize_for_match(quote) in normalize_for_match(passage)``.

    NFC; format characters (soft hyphen, zero-width space) dropped; case folded; markdown ``**``/``__`` removed;
    every hyphen or dash removed together with the whitespace around it (which also joins end-of-line
    hyphenation); apostrophes and all other punctuation turned into spaces; whitespace collapsed and stripped.
    """
    text = unicodedata.normalize("NFC", text)
    # Format characters (zero-width space, BOM…) are invisible; the soft hyphen (also Cf) is kept for the hyphen rule.
    text = "".join(ch for ch in text if ch == "\u00ad" or unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFC", text.casefold())
    text = _MARKDOWN.sub("", text)
    text = _HYPHEN_RUN.sub("", text)
    text = "".join(" " if ch in _APOSTROPHES or unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def matched_answers(question: Question, passage_source: str, passage_text: str) -> tuple[Answer, ...]:
    """The answers whose quote the passage contains, among those naming ``passage_source`` or no source."""
    text = normalize_for_match(passage_text)
    return tuple(
        a for a in question.answers if (a.source is None or a.source == passage_source) and normalize_for_match(a.quote) in text
    )



# --- our JSONL format ------------------------------------------------------------------------------------------


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for every non-blank line; errors name the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file; check the path") from None
    except UnicodeDecodeError as e:
        raise BadInputError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8") from None
    except OSError as e:
        raise BadInputError(f"{path}: cannot read the file ({e.strerror})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInputError(
                f"{path}, line {number}: invalid JSON ({e.msg} at column {e.colno}); write one complete JSON object per line"
            ) from None
        except RecursionError:
            raise BadInputError(f"{path}, line {number}: JSON nested too deeply; write one flat JSON object per line") from None


def _text_field(obj: dict[str, Any], name: str, where: str, *, default: str | None = None) -> str:
    if name not in obj:
        if default is not None:
            return default
        raise BadInputError(f'{where}: missing field "{name}"; add it as a non-empty string')
    value = obj[name]
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f'{where}: "{name}" must be a non-empty string, not {json.dumps(value, ensure_ascii=False)}')
    return value


def _answer(obj: Any, where: str, known_sources: set[str] | None) -> Answer:
    if not isinstance(obj, dict):
        raise BadInputError(f'{where}: each answer must be an object like {{"source": "doc.txt", "quote": "..."}}')
    quote = _text_field(obj, "quote", where)
    if not normalize_for_match(quote):
        # A quote with no letter or digit would be found in every passage.
        raise BadInputError(f"{where}: the quote {quote!r} has no letters or digits; quote words from the document")
    source = obj.get("source")
    if source is None:
        return Answer(None, quote)
    if not isinstance(source, str) or not source.strip():
        raise BadInputError(f'{where}: "source" must be a file name (path relative to the corpus) or be left out')
    if known_sources is not None and source not in known_sources:
        sample = ", ".join(sorted(known_sources)[:5]) or "none"
        raise BadInputError(
            f"{where}: source {source!r} is not an indexed document; use a path relative to the corpus folder "
            f"(known: {sample}{', …' if len(known_sources) > 5 else ''})"
        )
    return Answer(source, quote)


KINDS = ("", "answerable", "near", "off")


def load_questions(path: str | os.PathLike[str], known_sources: set[str] | None = None) -> list[Question]:
    """Read a JSONL question set; every problem raises ``BadInputError`` naming the file and line.

    ``known_sources``, when given, are the document paths that answers may name.
    """
    path = Path(path)
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for number, obj in _json_lines(path):
        where = f"{path}, line {number}"
        if not isinstance(obj, dict):
            raise BadInputError(f'{where}: expected a JSON object like {{"id": ..., "question": ..., "answers": [...]}}')
        qid = _text_field(obj, "id", where)
        if qid in first_line:
            raise BadInputError(
                f"{where}: duplicate id {qid!r} (first used on line {first_line[qid]}); give each question its own id"
            )
        first_line[qid] = number
        text = _text_field(obj, "question", where)
        lang = _text_field(obj, "lang", where, default="und")
        if "answers" not in obj:
            # Required rather than defaulting to []: a forgotten field would silently turn into a no-answer question.
            raise BadInputError(f'{where}: missing field "answers"; list the answers, or write "answers": [] when none exists')
        answers = obj["answers"]
        if not isinstance(answers, list):
            raise BadInputError(f'{where}: "answers" must be a list of {{"source": ..., "quote": ...}} objects')
        parsed = tuple(_answer(a, f"{where}, answer {i}", known_sources) for i, a in enumerate(answers, start=1))
        kind = obj.get("kind", "")
        if kind not in KINDS:
            raise BadInputError(f'{where}: "kind" must be one of {", ".join(k for k in KINDS if k)}, or be left out')
        if (kind == "answerable") != bool(parsed) and kind:
            raise BadInputError(f'{where}: a question of kind {kind!r} must {"" if kind == "answerable" else "not "}have answers')
        questions.append(Question(id=qid, question=text, lang=lang.strip(), answers=parsed, kind=kind))
    if not questions:
        raise BadInputError(f"{path}: no questions; write one JSON object per line (see eval/README.md)")
    return questions


# --- BEIR folders ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeirSet:
    """A BEIR-format benchmark: ``corpus`` doc id → (title, text), ``queries`` id → text, ``qrels`` id → doc → grade."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _beir_id(obj: Any, where: str) -> str:
    if not isinstance(obj, dict):
        raise BadInputError(f'{where}: expected a JSON object with an "_id"')
    value = obj.get("_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise BadInputError(f'{where}: missing or empty "_id"; every record needs a unique string id')
    return value


def _beir_records(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, id, record) for every line, rejecting duplicate ids."""
    seen: set[str] = set()
    for number, obj in _json_lines(path):
        where = f"{path}, line {number}"
        rid = _beir_id(obj, where)
        if rid in seen:
            raise BadInputError(f"{where}: duplicate _id {rid!r}; ids must be unique")
        seen.add(rid)
        yield where, rid, obj


def _beir_text(obj: dict[str, Any], name: str, where: str) -> str:
    value = obj.get(name, "" if name == "title" else None)
    if not isinstance(value, str):
        raise BadInputError(f'{where}: "{name}" must be a string')
    return value


def _read_qrels(path: Path, queries: dict[str, str], corpus: dict[str, tuple[str, str]]) -> dict[str, dict[str, int]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInputError(f"{path}: cannot read the qrels ({e}); it must be UTF-8 TSV") from None
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or (number == 1 and fields[0].strip() == "query-id"):
            continue
        where = f"{path}, line {number}"
        if len(fields) != 3:
            raise BadInputError(f"{where}: expected 3 tab-separated columns (query-id, corpus-id, score), found {len(fields)}")
        qid, docid, score = (f.strip() for f in fields)
        try:
            grade = int(score)
        except ValueError:
            raise BadInputError(f"{where}: the score {score!r} is not an integer") from None
        if qid not in queries:
            raise BadInputError(f"{where}: query-id {qid!r} is not in queries.jsonl")
        if docid not in corpus:
            raise BadInputError(f"{where}: corpus-id {docid!r} is not in corpus.jsonl")
        qrels.setdefault(qid, {})[docid] = grade
    return qrels


def load_beir(folder: str | os.PathLike[str]) -> BeirSet:
    """Read a BEIR folder: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv`` (else ``qrels/test.tsv``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"{folder}: not a folder; give the folder holding corpus.jsonl, queries.jsonl and the qrels")
    corpus = {
        rid: (_beir_text(obj, "title", where), _beir_text(obj, "text", where))
        for where, rid, obj in _beir_records(folder / "corpus.jsonl")
    }
    queries = {rid: _beir_text(obj, "text", where) for where, rid, obj in _beir_records(folder / "queries.jsonl")}
    candidates = [folder / "qrels.tsv", folder / "qrels" / "test.tsv"]
    qrels_path = next((p for p in candidates if p.is_file()), None)
    if qrels_path is None:
        raise BadInputError(f"{folder}: no qrels; expected {candidates[0]} or {candidates[1]}")
    return BeirSet(corpus=corpus, queries=queries, qrels=_read_qrels(qrels_path, queries, corpus))
