"""Helpers shared by the tests."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np

from rag import store


def squash(s: str) -> str:
    """Text up to whitespace, end-of-line hyphenation and markdown marks: what a cited span and its passage share."""
    return re.sub(r"[\s*#\-‐]", "", unicodedata.normalize("NFC", s))


def downgrade_to_format_1(index: Path) -> None:
    """Make ``index`` what format 1 wrote: the same files, with float32 sentence vectors."""
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    sentences = index / manifest["files"]["sentences"]
    np.save(sentences, np.load(sentences).astype(np.float32), allow_pickle=False)
    manifest["sizes"][sentences.name] = sentences.stat().st_size
    manifest["format_version"] = 1
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")
