"""Helpers shared by the tests."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np

from rag import store
from rag.store import directory
from rag.store import files as store_files
from rag.types import MISSING_KIND, Decision


def squash(s: str) -> str:
    """Text up to whitespace, end-of-line hyphenation and markdown marks: what a cited span and its passage share."""
    return re.sub(r"[\s*#\-‐]", "", unicodedata.normalize("NFC", s))


# The copyable citation (ui.render.citation_string): its quote, the quote's document ranges, the passage's, the file.
CITED = re.compile(
    r"«(?P<quote>.*)» — .*, quote chars (?P<pieces>\d+–\d+(?: \+ \d+–\d+)*), "
    r"passage chars (?P<start>\d+)–(?P<end>\d+) of (?P<source>.+)$"
)


def cited_source(citation: str) -> str:
    match = CITED.match(citation)
    assert match, f"not a citation with its quote's offsets: {citation}"
    return match["source"]


def check_quote(citation: str, text: str) -> None:
    """The quote of ``citation`` is what its offsets give of ``text`` (its document's), within the passage's offsets
    (``[…]`` between pieces; ``…`` at the end of a quote cut short, whose range ends where it does)."""
    match = CITED.match(citation)
    assert match, f"not a citation with its quote's offsets: {citation}"
    pieces = [tuple(map(int, piece.split("–"))) for piece in match["pieces"].split(" + ")]
    assert all(int(match["start"]) <= a < b <= int(match["end"]) for a, b in pieces), citation
    recovered = " […] ".join(text[a:b] for a, b in pieces)
    assert squash(recovered) == squash(match["quote"].removesuffix("…")), (citation, recovered)


def downgrade(index: Path, version: int) -> None:
    """Make ``index`` what format 2 wrote (flat files named after their generation, no journal, no checksums for the
    vector files), or format 1 (the same, with float32 sentence vectors)."""
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    folder = index / manifest.pop("generation")
    manifest.pop("block_checksums")
    manifest.pop("calibration")  # format 4 on
    manifest.pop("annotator")  # format 7 on
    for kind in ("annotations", "annotation_meta"):
        (index / manifest["files"].pop(kind)).unlink()
    (index / manifest["files"].pop("questions")).unlink()
    for kind in [k for k in manifest["files"] if k.endswith(("_keys", "_record"))]:  # format 6 on
        (index / manifest["files"].pop(kind)).unlink()
    gen = folder.name.removeprefix("gen-")
    files = {kind: f"{kind}-{gen}{Path(name).suffix}" for kind, name in manifest["files"].items()}
    for kind, name in manifest["files"].items():
        (index / name).rename(index / files[kind])
    folder.rmdir()
    (index / store.JOURNAL).unlink()
    if version == 1:
        sentences = index / files["sentences"]
        np.save(sentences, np.load(sentences).astype(np.float32), allow_pickle=False)
    whole = [name for kind, name in files.items() if kind not in store.ROW_FILES]
    manifest.update(
        format_version=version,
        files=files,
        sizes=directory._sizes(index, files.values()),
        checksums={name: store_files.sha256(index / name) for name in directory._sizes(index, whole)},
    )
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")


def downgrade_to_format_6(index: Path) -> None:
    """Make ``index`` what format 6 wrote: no annotations, no annotator in the manifest."""
    manifest = json.loads((index / store.MANIFEST).read_text("utf-8"))
    manifest.pop("annotator")
    for kind in ("annotations", "annotation_meta"):
        name = manifest["files"].pop(kind)
        (index / name).unlink()
        manifest["sizes"].pop(name)
        manifest["checksums"].pop(name)
    manifest["format_version"] = 6
    (index / store.MANIFEST).write_text(json.dumps(manifest), "utf-8")


def downgrade_to_format_1(index: Path) -> None:
    """Make ``index`` what format 1 wrote."""
    downgrade(index, 1)


def missing_decision(kind: str) -> Decision:
    """The decision of a typed question (asking for ``kind``) none of the 3 best passages answers, as a search makes it."""
    from rag.retrieve.question_type import QuestionType
    from rag.retrieve.read import missing_text

    words = tuple((lang, missing_text(QuestionType(kind), lang)) for lang in ("en", "fr"))
    return Decision(True, MISSING_KIND, kind, searched=3, missing_words=words)

