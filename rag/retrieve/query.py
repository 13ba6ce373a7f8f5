"""A question as every stage of a search sees it: cleaned once, its language guessed once, embedded once."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rag.embed import Embedder
from rag.errors import BadInputError
from rag.ingest.lang import guess_language
from rag.types import DEFAULT_MODE, MODES

MAX_QUERY_CHARS = 2000

Vector = npt.NDArray[np.float32]


def clean_query(query: str) -> str:
    """NFC, control characters removed, whitespace collapsed; raises ``BadInputError`` when nothing is left."""
    if not isinstance(query, str):
        raise BadInputError(f"the question must be a string, not {type(query).__name__}")
    text = unicodedata.normalize("NFC", query)
    # Control and format characters become spaces; lone surrogates (from broken input) cannot be encoded at all.
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    if not text:
        raise BadInputError("the question is empty: type a question in French or English")
    if len(text) > MAX_QUERY_CHARS:
        raise BadInputError(f"the question is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    return text


@dataclass(frozen=True)
class Query:
    """``question`` as asked; ``text`` cleaned (what is embedded and matched); ``lang`` guessed from it (``fr``,
    ``en`` or ``und``); ``vector`` its embedding (None in lexical mode without highlights); ``second_vector`` its
    embedding by the second opinion when the caller has it already (else it is computed only if consulted)."""

    question: str
    text: str
    lang: str
    mode: str
    vector: Vector | None
    second_vector: Vector | None = None


def make_query(
    question: str,
    embedder: Embedder,
    mode: str | None = None,
    *,
    embed: bool = True,
    vector: Vector | None = None,
    second_vector: Vector | None = None,
) -> Query:
    """The ``Query`` for ``question``: cleaned, its language guessed, embedded unless ``vector`` is given or the mode
    is lexical and ``embed`` is False (lexical search needs no vector; highlights and dense evidence do)."""
    mode = mode or DEFAULT_MODE
    if mode not in MODES:
        raise BadInputError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
    text = clean_query(question)
    if vector is None and (embed or mode != "lexical"):
        vector = embedder.embed_query(text)
    return Query(question, text, guess_language(text), mode, vector, second_vector)
