"""The annotations a build stores: each passage's typed candidates (``rag.ingest.annotate``), reused by content.

A passage whose text (and language) the previous index held, annotated by the same annotator, keeps its annotations:
a rebuild after an upload or an edit runs spaCy only on the new passages, and loads no model when there are none.
An index written by another annotator (another model, spaCy or rules version: ``ANNOTATOR``) is annotated again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag import store
from rag.errors import IndexIncompatibleError, IndexMissingError
from rag.ingest import annotate
from rag.ingest.annotations import Annotation, AnnotationTable
from rag.ingest.lang import guess_language
from rag.types import Document, Passage

log = logging.getLogger("rag")

# One annotator per process: its model takes seconds to load, and a server adding uploads would load it each time.
_SHARED: annotate.Annotator | None = None


def shared_annotator() -> annotate.Annotator:
    """The process's annotator (its model loaded on first use, then kept)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = annotate.Annotator()
    return _SHARED


def manifest_entry() -> dict[str, Any]:
    """What the manifest records of the annotator (its id is what a rebuild and a load compare)."""
    return {
        "id": annotate.ANNOTATOR,
        "model": annotate.MODEL,
        "model_version": annotate.MODEL_VERSION,
        "model_licence": annotate.MODEL_LICENCE,
        "spacy": annotate.SPACY_VERSION,
        "rules": annotate.RULES_VERSION,
    }


def current(manifest: dict[str, Any]) -> bool:
    """Whether an index's annotations were found by this rag's annotator."""
    return (manifest.get("annotator") or {}).get("id") == annotate.ANNOTATOR


def stale_message(path: Path, manifest: dict[str, Any]) -> str:
    recorded = (manifest.get("annotator") or {}).get("id")
    return (
        f"{path} was annotated by {recorded!r}, not {annotate.ANNOTATOR!r}; re-run `rag index` to annotate it again "
        "(its vectors are reused: nothing is embedded again)"
    )


def passage_languages(documents: Sequence[Document], passages: Sequence[Passage]) -> list[str]:
    """Each passage's language: its document's from the catalogue, else guessed from the passage (an English upload
    in a French corpus)."""
    langs = {d.info.source: d.info.lang for d in documents}
    return [langs.get(p.source) or guess_language(p.text) for p in passages]


def _key(text: str, lang: str) -> str:
    return hashlib.sha1(f"{lang}\n{text}".encode()).hexdigest()


def previous_annotations(index_dir: Path) -> dict[str, list[Annotation]]:
    """The current index's annotations by passage text and language, when it was annotated by this annotator."""
    try:
        manifest = store.read_manifest(index_dir, reuse_old=True)
        if not current(manifest):
            return {}
        old = store.load(index_dir, with_vectors=False)
    except IndexMissingError:
        return {}
    except IndexIncompatibleError as exc:
        log.info("previous annotations not reused: %s", exc)
        return {}
    if old.annotations is None:
        return {}
    langs = passage_languages(old.documents, old.passages)
    pairs = enumerate(zip(old.passages, langs, strict=True))
    return {_key(p.text, lang): old.annotations.of(row, p.text) for row, (p, lang) in pairs}


def annotations_for(
    passages: Sequence[Passage],
    langs: Sequence[str],
    previous: dict[str, list[Annotation]],
    annotator: annotate.Annotator | None = None,
) -> tuple[AnnotationTable, int]:
    """The annotations of ``passages`` (those in ``previous`` reused) and how many passages were annotated anew."""
    keys = [_key(p.text, lang) for p, lang in zip(passages, langs, strict=True)]
    todo = [i for i, key in enumerate(keys) if key not in previous]
    found: dict[int, list[Annotation]] = {}
    if todo:
        annotator = annotator or shared_annotator()
        done = annotator.annotate([passages[i].text for i in todo], [langs[i] for i in todo])
        found = dict(zip(todo, done, strict=True))
    per_passage = [found[i] if i in found else previous[key] for i, key in enumerate(keys)]
    return AnnotationTable.from_lists(per_passage), len(todo)
