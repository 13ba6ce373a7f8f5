"""Typed exceptions. The library raises these; only the CLI and the UI turn them into messages."""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error rag raises on purpose; its message says how to fix the problem."""


class IndexMissingError(RagError):
    """No index at the given path."""


class IndexIncompatibleError(RagError):
    """The index was built by another format version or another embedder, or its files are damaged."""


class BadInputError(RagError):
    """A question, a file or a parameter cannot be used as given."""


class EmbedderError(RagError):
    """The embedding model cannot be loaded or used."""


class NoPassageError(BadInputError):
    """A document was read but holds no passage to search (``rag.index.add_documents``)."""


class SkipFile(Exception):
    """Raised by a reader (rag.ingest) for a file that must be skipped; the message says why. Not a ``RagError``: the
    corpus loader catches it, warns and goes on with the other files."""
