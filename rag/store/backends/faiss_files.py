"""The default store (``faiss``): the vectors in the generation folder itself. ``vectors.npy`` (float32, unit
length), ``sentences.npy`` (float16: half the disk and page cache, scores move by < 1e-4) and ``faiss.index`` over the
passage vectors (``rag.store.ann``). Serving reads passage vectors from the FAISS index (which holds them anyway) and
sentence vectors row by row from disk (``rag.store.rows``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from rag.errors import IndexIncompatibleError
from rag.store import ann
from rag.store.backends.base import FAISS, Backend, Generation
from rag.store.data import IndexData
from rag.store.rows import FaissRows, Rows
from rag.types import Passage


class FaissFiles(Backend):
    scheme = FAISS
    address = "faiss (the index folder's own files)"
    files: ClassVar[dict[str, str]] = {"vectors": "vectors.npy", "sentences": "sentences.npy", "faiss": "faiss.index"}

    @classmethod
    def check_address(cls, uri: str) -> None:
        if uri != FAISS:
            raise ValueError(f"the FAISS files store is named {FAISS!r}, not {uri!r}")

    @classmethod
    def new_record(cls, uri: str, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        cls.check_address(uri)
        return None

    def write(self, generation: Generation, data: IndexData, committed: Sequence[Path]) -> dict[str, Any] | None:
        # The vector files are the generation's already (the build streams them there: rag.store.directory.Staging).
        index = data.faiss_index if data.faiss_index is not None else ann.build(data.vectors)
        target = generation.file("faiss")
        ann.write(index, str(target))
        with open(target, "rb+") as fh:
            os.fsync(fh.fileno())
        return None

    def open(
        self,
        generation: Generation,
        passages: Sequence[Passage],
        sentence_starts: npt.NDArray[np.int64],
        dim: int,
        whole: bool = False,
    ) -> tuple[Rows, Rows, Any]:
        target = generation.file("faiss")
        try:
            index = ann.read(str(target))
        except RuntimeError as exc:  # FAISS's own message is about its C++ internals: say which file instead
            raise IndexIncompatibleError(f"{target} is damaged (FAISS cannot read it); re-run `rag index` to rebuild it") from exc
        vectors = generation.rows("vectors")
        if len(vectors) != len(passages) or (len(passages) and vectors.shape[1] != dim):
            vectors.close()
            shape = (len(passages), dim)
            raise generation.inconsistent(f"{generation.file('vectors').name} holds {vectors.shape} vectors for {shape}")
        if whole:
            return vectors, generation.rows("sentences"), index
        vectors.close()
        # Re-scoring and highlighting read the rows of a few candidates: read those, hold none. Passage vectors are
        # read from FAISS, which holds the same ones.
        return FaissRows(index), generation.rows("sentences"), index

    def collect(self, kept: Path, others: Sequence[Path]) -> None:
        """Nothing outside the generation folders."""
