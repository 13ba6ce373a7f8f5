"""What a vector store provides (``Backend``): writing a generation's passage and sentence vectors, serving them (rows
read on demand and a search over passage vectors), and removing what no generation uses any more.

Every store works with the generation folder that ``rag.store.directory`` writes: the manifest switch stays the
commit point of a build whatever the store. A backend writes its files there (``files``) through ``Generation``, which
also reads them back checked against the manifest (sizes, checksums): a backend never parses the manifest itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from rag.errors import IndexIncompatibleError
    from rag.store.data import IndexData
    from rag.store.rows import NpyRows, Rows
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

    def search_rows(self, query: npt.NDArray[np.float32], k: int, allowed: RowIds | None) -> tuple[Scores, RowIds]: ...


class Generation(Protocol):
    """One generation folder as a backend sees it (given by ``rag.store.directory``)."""

    folder: Path

    def file(self, kind: str) -> Path:
        """Where the file of ``kind`` (one of the backend's ``files``) is written and read."""

    def rows(self, kind: str) -> NpyRows:
        """A vector file read by position, each block checked against the manifest when first read."""

    def array(self, kind: str) -> npt.NDArray[Any]:
        """A small ``.npy`` file read whole, checked against the manifest first."""

    def inconsistent(self, what: str) -> IndexIncompatibleError:
        """The error for files of this generation that disagree (``what`` says how)."""


class Backend(ABC):
    """A store of passage and sentence vectors, chosen by the scheme of its address (``rag.store.backends``).

    ``record`` is the manifest's ``store`` record (None: the index folder's own files, which need none).
    """

    scheme: ClassVar[str]
    # What its addresses look like, for messages ("milvus://HOST:PORT (a server) or ...").
    address: ClassVar[str]
    # The files this store writes in a generation folder (kind → name), beside the directory's own.
    files: ClassVar[Mapping[str, str]]
    record: dict[str, Any] | None

    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record

    @classmethod
    @abstractmethod
    def check_address(cls, uri: str) -> None:
        """Raise ``ValueError`` saying what a valid address looks like unless ``uri`` is one of this store's."""

    @classmethod
    @abstractmethod
    def new_record(cls, uri: str, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        """The ``store`` record of a build into ``uri``; ``previous``: the current index's, kept when it is the same
        store (an update then writes only what changed)."""

    @abstractmethod
    def write(self, generation: Generation, data: IndexData, committed: Sequence[Path]) -> dict[str, Any] | None:
        """Store the vectors of ``data`` durably for ``generation``; what the ``committed`` generation folders stored
        already need not be written again. Returns the ``store`` record to commit. The vector files are in the
        generation folder already (a build streams them there, ``rag.store.directory.Staging``): a store keeps those
        its ``files`` name, and copies the others (read by row from ``data``) into its own storage."""

    @abstractmethod
    def open(
        self,
        generation: Generation,
        passages: Sequence[Passage],
        sentence_starts: npt.NDArray[np.int64],
        dim: int,
        whole: bool = False,
    ) -> tuple[Rows, Rows, Any]:
        """Passage vector rows, sentence vector rows and the passage search of a generation (a FAISS index, or a
        ``RowSearch``: what ``rag.store.ann.search`` takes), read on demand. ``whole``: the caller reads every row
        (a rebuild, a full load): the rows as stored, each block checked, rather than where serving reads them."""

    @abstractmethod
    def collect(self, kept: Path, others: Sequence[Path]) -> None:
        """After the commit of ``kept``: delete what the generations of ``others`` (older ones, those of killed builds)
        stored outside their folders and ``kept`` does not use. Their folders are removed by the directory."""
