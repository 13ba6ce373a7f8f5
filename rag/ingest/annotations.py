"""Typed candidates found in a passage's sentences (names, dates, counts, amounts, percentages) and their row format.

An ``Annotation`` is a ``[start, end)`` span of a passage's cleaned text (``Passage.text``) with its kind and one detail:
the counted noun's lemma for a count ("35 pays" → ``pays``), the currency for an amount (``EUR``), nothing otherwise.
``rag.ingest.annotate`` finds them at index time; ``rag.retrieve.read`` reads them at query time without any model.

Stored form (``to_rows`` / ``from_rows``): one int32 row per annotation, ``[passage, start, end, kind, detail]``,
sorted by passage then start, with ``kind`` an index into ``KINDS`` and ``detail`` an index into a list of strings
(-1 for none). The text is not stored: it is ``passage.text[start:end]``. 20 bytes an annotation, an ``.npy`` array
(``allow_pickle=False``) and a JSON list of strings beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Named entities (spaCy's French labels) and figures. The order is the stored code: append, never reorder.
PER, ORG, LOC, MISC, DATE, COUNT, AMOUNT, PERCENT = "PER", "ORG", "LOC", "MISC", "DATE", "COUNT", "AMOUNT", "PERCENT"
KINDS = (PER, ORG, LOC, MISC, DATE, COUNT, AMOUNT, PERCENT)
_CODE = {kind: code for code, kind in enumerate(KINDS)}
COLUMNS = ("passage", "start", "end", "kind", "detail")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One typed candidate: ``text == passage_text[start:end]``; ``detail`` is the lemma of a count's noun or an
    amount's currency code ("" when there is none)."""

    kind: str
    start: int
    end: int
    text: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Annotation:
        return cls(str(data["kind"]), int(data["start"]), int(data["end"]), str(data["text"]), str(data.get("detail", "")))


def in_span(annotations: Sequence[Annotation], start: int, end: int) -> list[Annotation]:
    """The annotations that lie inside ``[start, end)`` (a sentence of the passage)."""
    return [a for a in annotations if a.start >= start and a.end <= end]


def to_rows(per_passage: Sequence[Sequence[Annotation]]) -> tuple[npt.NDArray[np.int32], list[str]]:
    """The annotations of every passage (``per_passage[i]`` for passage row ``i``) as an int32 array of
    ``COLUMNS`` and the list of detail strings its last column indexes."""
    strings: list[str] = []
    index: dict[str, int] = {}
    rows: list[tuple[int, int, int, int, int]] = []
    for passage, found in enumerate(per_passage):
        for a in sorted(found, key=lambda a: (a.start, a.end)):
            detail = -1
            if a.detail:
                detail = index.setdefault(a.detail, len(strings))
                if detail == len(strings):
                    strings.append(a.detail)
            rows.append((passage, a.start, a.end, _CODE[a.kind], detail))
    array = np.array(rows, dtype=np.int32).reshape(len(rows), len(COLUMNS))
    return array, strings


def from_rows(rows: npt.NDArray[np.int32], strings: Sequence[str], texts: Sequence[str]) -> list[list[Annotation]]:
    """The inverse of ``to_rows``: ``texts[i]`` is passage ``i``'s text (each annotation's text is cut from it).
    Raises ``ValueError`` on rows that do not fit the texts (a damaged or mismatched file)."""
    if rows.ndim != 2 or rows.shape[1] != len(COLUMNS):
        raise ValueError(f"annotation rows must have {len(COLUMNS)} columns, not shape {rows.shape}")
    out: list[list[Annotation]] = [[] for _ in texts]
    for passage, start, end, kind, detail in rows.tolist():
        if not (0 <= passage < len(texts) and 0 <= start < end <= len(texts[passage]) and 0 <= kind < len(KINDS)):
            raise ValueError(f"annotation row {[passage, start, end, kind, detail]} does not fit its passage")
        if not -1 <= detail < len(strings):
            raise ValueError(f"annotation detail {detail} outside the {len(strings)} stored strings")
        text = texts[passage]
        out[passage].append(Annotation(KINDS[kind], start, end, text[start:end], strings[detail] if detail >= 0 else ""))
    return out


def rows_of(rows: npt.NDArray[np.int32], passage: int) -> npt.NDArray[np.int32]:
    """The rows of one passage in an array sorted by passage (binary search: no scan of the whole index)."""
    column = rows[:, 0]
    if not 0 <= passage <= np.iinfo(column.dtype).max:
        return rows[:0]
    # The row in the column's own dtype: a Python int would make numpy cast the whole column to int64 first (a copy
    # of every annotation's passage number at each lookup: ~200 ms at 20M annotations).
    key = column.dtype.type(passage)
    lo, hi = int(np.searchsorted(column, key, "left")), int(np.searchsorted(column, key, "right"))
    result: npt.NDArray[np.int32] = rows[lo:hi]
    return result


class AnnotationTable:
    """Every passage's annotations as stored (``to_rows``), read one passage at a time: ``of(row, text)``.

    ``check(lengths)`` validates the whole table at once against the passages' text lengths (vectorised: a load checks
    20,000 rows in a millisecond), so that ``of`` never cuts outside a passage."""

    def __init__(self, rows: npt.NDArray[np.int32], details: Sequence[str]) -> None:
        if rows.ndim != 2 or rows.shape[1] != len(COLUMNS) or rows.dtype != np.int32:
            raise ValueError(f"annotation rows must be int32 with {len(COLUMNS)} columns, not {rows.dtype} {rows.shape}")
        self.rows = rows
        self.details = tuple(details)

    @classmethod
    def from_lists(cls, per_passage: Sequence[Sequence[Annotation]]) -> AnnotationTable:
        rows, strings = to_rows(per_passage)
        return cls(rows, strings)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def check(self, lengths: Sequence[int]) -> None:
        """Raises ``ValueError`` unless every row fits its passage (``lengths[i]``: passage ``i``'s text length)."""
        if not len(self):
            return
        passage, start, end, kind, detail = (self.rows[:, i] for i in range(len(COLUMNS)))
        n = len(lengths)
        inside = (passage >= 0) & (passage < n)
        limit = np.asarray(lengths, dtype=np.int64)[np.clip(passage, 0, max(n - 1, 0))] if n else np.zeros(len(self))
        ok = inside & (start >= 0) & (start < end) & (end <= limit) & (kind >= 0) & (kind < len(KINDS))
        ok &= (detail >= -1) & (detail < len(self.details))
        if not bool(np.all(ok)):
            raise ValueError(f"annotation row {self.rows[int(np.argmin(ok))].tolist()} does not fit its passage")
        if not bool(np.all(np.diff(passage) >= 0)):  # sorted by passage: ``rows_of`` bisects
            raise ValueError("annotation rows are not sorted by passage")

    def of(self, row: int, text: str) -> list[Annotation]:
        """The annotations of passage ``row`` (whose text is ``text``), by offset."""
        return [
            Annotation(KINDS[kind], start, end, text[start:end], self.details[detail] if detail >= 0 else "")
            for _, start, end, kind, detail in rows_of(self.rows, row).tolist()
        ]
