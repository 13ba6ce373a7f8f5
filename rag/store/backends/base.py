"""What a vector backend provides: writing a generation's vectors, serving them (rows read on demand and a search over
passage vectors), and removing what no generation uses any more."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from rag.store.data import IndexData
    from rag.store.rows import Rows
    from rag.types import Passage

FAISS = "faiss"  # the default store: the index folder's own files

Keys = npt.NDArray[np.int64]
RowIds = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


@runtime_checkable
class RowSearch(Protocol):
    """A search over the passage vectors of one generation, in rows of its ``passages`` (what a FAISS index gives)."""

    ntotal: int
    d: int

    def search_rows(
        self, query: npt.NDArray[np.float32], k: int, allowed: RowIds | None
    ) -> tuple[Scores, RowIds]: ...


class Backend(ABC):
    """A store of vectors outside the index folder; ``record`` is the manifest's ``store`` record."""

    record: dict[str, Any]

    @abstractmethod
    def keys(self, data: IndexData) -> Keys:
        """The key of each passage row: its vectors and payload are stored under it (same content, same key)."""

    @abstractmethod
    def write(self, data: IndexData, keys: Keys, present: Keys) -> dict[str, Any]:
        """Store the passages of ``data`` whose key is not in ``present`` (a committed generation's, stored already),
        durably; returns the ``store`` record to commit."""

    @abstractmethod
    def open(
        self, keys: Keys, passages: Sequence[Passage], sentence_starts: npt.NDArray[np.int64], dim: int
    ) -> tuple[Rows, Rows, RowSearch]:
        """Passage vector rows, sentence vector rows and the passage search of a generation, read on demand."""

    @abstractmethod
    def collect(self, keep: Keys, others: Sequence[Keys]) -> None:
        """After a commit: delete what the generations of ``others`` stored and the committed one (``keep``) does not
        use (older generations, and those of killed builds)."""
