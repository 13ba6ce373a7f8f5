"""Helpers shared by the tests."""

from __future__ import annotations

import re
import unicodedata


def squash(s: str) -> str:
    """Text up to whitespace, end-of-line hyphenation and markdown marks: what a cited span and its passage share."""
    return re.sub(r"[\s*#\-‐]", "", unicodedata.normalize("NFC", s))
