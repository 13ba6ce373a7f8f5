"""What the stages of a search read of one loaded index: its data, and the lookups derived from it once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rag import store
from rag.errors import BadInputError, IndexIncompatibleError
from rag.retrieve.calibration import Calibration
from rag.store.rows import SpanTable
from rag.types import Document

# Cosines of unit vectors lie in [-1, 1], float16 rounding aside: a similarity beyond this comes from damaged vectors.
MAX_SIMILARITY = 1.01

RowIds = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


@dataclass
class IndexView:
    """``data`` as searched: the sentence rows of each passage (``sentence_start[row]`` to ``[row + 1]``), the rows
    of each document, documents by source, and the corpus's calibration (None when the index has none)."""

    data: store.IndexData
    path: Path | None = None
    sentence_start: RowIds = field(init=False, repr=False)
    rows_by_source: dict[str, list[int]] = field(init=False, repr=False)
    documents: dict[str, Document] = field(init=False, repr=False)
    calibration: Calibration | None = field(init=False, repr=False)
    _row_of: dict[str, int] | None = field(init=False, repr=False, default=None)  # ids of other forms → rows

    def __post_init__(self) -> None:
        spans = self.data.sentence_spans
        if isinstance(spans, SpanTable):  # as loaded: the offsets are already there
            self.sentence_start = spans.starts
        else:
            counts = np.array([len(s) for s in spans], dtype=np.int64)
            self.sentence_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.rows_by_source = {}
        for row, passage in enumerate(self.data.passages):
            self.rows_by_source.setdefault(passage.source, []).append(row)
        self.documents = {d.info.source: d for d in self.data.documents}
        # The corpus's null distribution (rag.retrieve.calibration), computed when the index was built.
        self.calibration = Calibration.from_dict(self.data.manifest.get("calibration"))

    def document(self, source: str) -> Document:
        try:
            return self.documents[source]
        except KeyError:
            raise BadInputError(f"unknown document {source!r}; indexed: {', '.join(sorted(self.documents))}") from None

    def allowed_rows(self, sources: Iterable[str] | str | None) -> RowIds | None:
        """The rows of the documents ``sources`` (one name, or several); None for every document."""
        if sources is None:
            return None
        wanted = [sources] if isinstance(sources, str) else list(sources)  # one name, not its characters
        unknown = [s for s in wanted if s not in self.documents]
        if unknown:
            raise BadInputError(f"unknown document(s) {unknown}; indexed: {', '.join(sorted(self.documents))}")
        return np.array([r for s in wanted for r in self.rows_by_source.get(s, [])], dtype=np.int64)

    def checked(self, sims: Scores) -> Scores:
        """``sims``, unless one of them is no cosine of unit vectors: then the index is damaged, and says so."""
        worst = float(np.abs(sims).max(initial=0.0))
        if not worst <= MAX_SIMILARITY:  # NaN too
            raise IndexIncompatibleError(
                f"{self.path or 'the index'} is damaged (a similarity of {worst:.4g} is impossible for unit vectors); "
                "re-run `rag index` to rebuild it"
            )
        return sims

    def document_span(self, row: int, start: int, end: int) -> tuple[int, int]:
        """The document ``[start, end)`` of passage ``row``'s ``text[start:end]`` (its offset map, rag.types.OffsetMap)."""
        offsets = self.data.offsets
        if offsets is None:  # an index read only to be rebuilt (older format): never served
            raise IndexIncompatibleError(f"{self.path or 'the index'} has no offset maps; re-run `rag index`")
        return offsets[row].span(start, end)

    def row_of(self, passage_id: str) -> int | None:
        """The row of the passage ``passage_id`` (None when the index has no such passage).

        rag names a passage ``<source>:<start>-<end>`` (``rag.ingest.chunk``): it is looked for among its document's
        rows, so that a search on 10M passages never maps every id; only an id of another form (none that rag
        writes) builds that map, once."""
        source = passage_id.rpartition(":")[0]
        if source in self.rows_by_source:
            passages = self.data.passages
            return next((row for row in self.rows_by_source[source] if passages[row].id == passage_id), None)
        if self._row_of is None:
            self._row_of = {p.id: row for row, p in enumerate(self.data.passages)}
        return self._row_of.get(passage_id)

    def sentence_similarities(self, row: int, vector: Scores) -> list[float]:
        """The cosine similarity to the question of each sentence of passage ``row`` (``data.sentence_spans[row]``)."""
        lo, hi = int(self.sentence_start[row]), int(self.sentence_start[row + 1])
        return [float(x) for x in self.checked(np.asarray(self.data.sentence_vectors[lo:hi]) @ vector)]
