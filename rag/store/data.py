"""The in-memory form of one index generation (``IndexData``), shared by the directory and the vector backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.ingest.annotations import AnnotationTable
from rag.store.lexical import LexicalIndex
from rag.store.rows import Rows, Vectors
from rag.store.vector_files import TextKeys
from rag.types import Document, OffsetMap, Passage

# Sentence vectors are stored in half precision: half the disk and page cache, and scores move by < 1e-4.
SENTENCE_DTYPE = np.float16
SECOND_DTYPE = np.float16  # as the sentence vectors: half the disk, and similarities move by < 1e-3


@dataclass
class IndexData:
    """Everything an index holds; when loaded for serving, the vectors are ``Rows`` read on demand."""

    manifest: dict[str, Any]
    documents: list[Document]
    passages: list[Passage]
    sentence_spans: Sequence[list[tuple[int, int]]]  # per passage, cleaned-text offsets of its sentences
    vectors: Vectors | Rows
    sentence_vectors: Vectors | Rows
    faiss_index: Any = field(default=None, repr=False)
    lexical: LexicalIndex | None = field(default=None, repr=False)
    null_vectors: Vectors | None = field(default=None, repr=False)  # the calibration questions', reused by a rebuild
    second_vectors: Vectors | Rows | None = field(default=None, repr=False)  # the second opinion's, per passage
    # Per passage, where its text comes from in its document's (``rag.types.OffsetMap``); None in formats before 5.
    offsets: Sequence[OffsetMap] | None = field(default=None, repr=False)
    # The key of the text behind each vector (given by a build; saved with the vectors, never loaded for serving).
    text_keys: TextKeys | None = field(default=None, repr=False)
    # The typed candidates of every passage (rag.ingest.annotations; the manifest's ``annotator`` found them); None in
    # formats before 7.
    annotations: AnnotationTable | None = field(default=None, repr=False)


def lexical_texts(data: IndexData) -> list[str]:
    """What the lexical index sees of each passage: its document's title, then its text."""
    titles = {d.info.source: d.info.title for d in data.documents}
    return [f"{titles.get(p.source, '')}\n{p.text}" for p in data.passages]
