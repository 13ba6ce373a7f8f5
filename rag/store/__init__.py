"""The index directory (``directory``: ``save``/``load`` of one generation, the manifest, its checks), one generation
in memory (``data``), what rag owns in the folder (``generations``), durable writes and the build lock (``files``), and
the three structures a generation holds: vector rows read on demand (``rows``), the FAISS index (``ann``) and the BM25
index (``lexical``)."""

from rag.store.data import SECOND_DTYPE, SENTENCE_DTYPE, IndexData, lexical_texts
from rag.store.directory import (
    BLOCK_BYTES,
    FILES,
    FORMAT_VERSION,
    REUSABLE_FORMATS,
    ROW_FILES,
    Staging,
    load,
    read_manifest,
    save,
    staged,
)  # fmt: skip
from rag.store.files import LOCK, lock
from rag.store.generations import JOURNAL, MANIFEST, check_folder

__all__ = [
    "BLOCK_BYTES",
    "FILES",
    "FORMAT_VERSION",
    "JOURNAL",
    "LOCK",
    "MANIFEST",
    "REUSABLE_FORMATS",
    "ROW_FILES",
    "SECOND_DTYPE",
    "SENTENCE_DTYPE",
    "IndexData",
    "Staging",
    "check_folder",
    "lexical_texts",
    "load",
    "lock",
    "read_manifest",
    "save",
    "staged",
]
