"""rag's version: the one pyproject.toml gives, as installed (recorded in every index manifest and report)."""

from __future__ import annotations

from functools import cache


@cache
def version() -> str:
    from importlib.metadata import version as installed  # here: importing metadata costs a few milliseconds

    return installed("rag")
