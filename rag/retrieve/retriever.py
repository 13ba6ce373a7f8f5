"""``Retriever.load(dir).search(question, k)`` → hits with citations and the answering sentence highlighted."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rag import store
from rag.embed import Embedder, get_embedder
from rag.errors import IndexIncompatibleError
from rag.ingest.annotate import ANNOTATOR
from rag.ingest.lang import guess_language
from rag.retrieve import answer, rank
from rag.retrieve.abstention import SecondOpinion, decide, evidence_of, weigh
from rag.retrieve.candidates import candidates
from rag.retrieve.hits import HitOptions, Similarities, hits
from rag.retrieve.query import Query, Vector, make_query
from rag.retrieve.view import IndexView
from rag.types import DOES_NOT_ANSWER, NO_PASSAGE, Decision, Document, DocumentInfo, Hit, Passage, Results


class Retriever:
    """Searches one index directory. Load once, then call ``search`` as often as needed (thread-safe reads).

    Modes: ``dense`` (FAISS over passage embeddings), ``lexical`` (BM25 with French stemming) and ``hybrid``
    (the default: dense candidates and BM25 candidates, re-scored with the best-matching sentence of each passage
    and fused with the lexical evidence; see ``rag.retrieve.rank``).
    """

    def __init__(
        self, data: store.IndexData, embedder: Embedder, path: Path | None = None, *, second: Embedder | None = None
    ) -> None:
        self.view = IndexView(data, path)
        self.embedder = embedder
        # The second opinion on whether the corpus answers (rag.embed.use), when the index has its passage vectors.
        self.second = second if data.second_vectors is not None else None
        self.second_opinion = SecondOpinion(second, data.second_vectors) if second and data.second_vectors is not None else None
        self.corpus_lang = _corpus_language(data.documents)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] = "index", embedder: Embedder | None = None, second: Embedder | None = None
    ) -> Retriever:
        """Open an index; the embedder (and second opinion) recorded in its manifest are loaded unless given (ids
        must match: a server reopening its index after an upload passes the models it has loaded already)."""
        data = store.load(path, with_vectors=False)
        info = data.manifest.get("embedder", {})
        if embedder is None:
            embedder = get_embedder(str(info.get("spec") or info.get("id", "")))
        if embedder.id != info.get("id"):
            raise IndexIncompatibleError(
                f"{path} was built with embedder {info.get('id')!r}, not {embedder.id!r}; query it with the same "
                "embedder or rebuild it with `rag index --embedder ...`"
            )
        recorded = data.manifest.get("second_opinion")
        if not isinstance(recorded, dict) or data.second_vectors is None:
            second = None
        else:
            second = second or get_embedder(str(recorded.get("spec") or recorded.get("id", "")))  # loads on first use
            if recorded.get("id") != second.id:
                raise IndexIncompatibleError(
                    f"{path} was built with the second opinion {recorded.get('id')!r}, not {second.id!r}; re-run "
                    "`rag index` (its vectors are reused)"
                )
        annotator = (data.manifest.get("annotator") or {}).get("id")
        if annotator != ANNOTATOR:  # typed reading would read candidates other rules found
            raise IndexIncompatibleError(
                f"{path} was annotated by {annotator!r}, not {ANNOTATOR!r}; re-run `rag index` to annotate it again "
                "(its vectors are reused: nothing is embedded again)"
            )
        return cls(data, embedder, Path(path), second=second)

    def warm(self) -> None:
        """Load the models now rather than at the first question (a server calls it at start, in the background: the
        second opinion takes seconds to load, and is needed only for some questions)."""
        self.embedder.embed_query("warm up")
        if self.second is not None:
            self.second.embed_query("warm up")

    # -- what is indexed ---------------------------------------------------------------------------------------

    @property
    def data(self) -> store.IndexData:
        return self.view.data

    @property
    def path(self) -> Path | None:
        return self.view.path

    @property
    def manifest(self) -> dict[str, Any]:
        return self.view.data.manifest

    @property
    def documents(self) -> list[DocumentInfo]:
        return [d.info for d in self.view.data.documents]

    def passage_count(self, source: str) -> int:
        return len(self.view.rows_by_source.get(source, ()))

    def document(self, source: str) -> Document:
        return self.view.document(source)

    def context(self, hit: Hit | Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """The passage with its neighbouring passages in the same document, in reading order."""
        passage = hit.passage if isinstance(hit, Hit) else hit
        rows = self.view.rows_by_source.get(passage.source, [])
        passages = self.view.data.passages
        i = [passages[r].id for r in rows].index(passage.id)
        return [passages[r] for r in rows[max(0, i - before) : i + after + 1]]

    def sentence_similarities(self, row: int, vector: Vector) -> list[float]:
        """The cosine similarity to the question of each sentence of passage ``row`` (``data.sentence_spans[row]``)."""
        return self.view.sentence_similarities(row, vector)

    # -- search --------------------------------------------------------------------------------------------------

    def query(self, question: str, mode: str | None = None, *, vector: Vector | None = None) -> Query:
        """``question`` as the stages take it (cleaned, its language guessed, embedded unless ``vector`` is given)."""
        return make_query(question, self.embedder, mode, vector=vector)

    def candidates(
        self, query: Query | str, depth: int = rank.CANDIDATES, *, sources: Iterable[str] | str | None = None
    ) -> rank.Candidates:
        """The candidates of a hybrid search for ``query`` (a ``Query``, or a question), before fusion; for
        evaluation and tuning scripts, which re-rank them with other weights."""
        query = query if isinstance(query, Query) else self.query(query)
        return candidates(query, self.view, depth, self.view.allowed_rows(sources))

    def evidence(self, query: Query | str) -> dict[str, float]:
        """Every signal of ``rag.retrieve.calibration.SIGNALS`` for ``query`` (a ``Query``, or a question): e5's, and
        the second opinion's best similarity when the index has one. What the calibration records of a null question."""
        return evidence_of(query if isinstance(query, Query) else self.query(query), self.view, self.second_opinion)

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        sources: Iterable[str] | str | None = None,
        min_score: float | None = None,
        highlight: bool = True,
        mode: str | None = None,
        collapse: bool = True,
    ) -> Results:
        """The ``k`` passages that best answer ``query``, best first, and whether they seem to answer it.

        ``sources`` restricts the search to some documents (paths relative to the corpus: one, or an iterable);
        ``min_score`` drops weaker hits; ``highlight`` computes the answering sentence(s) of each hit; ``mode`` is
        ``dense``, ``lexical`` or ``hybrid`` (the default); ``collapse`` drops a hit whose text is a near-duplicate of a
        better one (a title repeated on a cover page, say). When nothing seems to answer, ``Results.abstain`` is True
        (the hits are still returned, for the user to judge) and ``Results.explanation()`` says why.
        """
        options = HitOptions(k, min_score, highlight, collapse)
        allowed = self.view.allowed_rows(sources)
        q = make_query(query, self.embedder, mode, embed=highlight)
        if not self.view.data.passages or (allowed is not None and len(allowed) == 0):
            return Results(query, (), Decision(True, NO_PASSAGE, confidence=DOES_NOT_ANSWER), q.lang)
        found = candidates(q, self.view, options.depth, allowed)
        ranking = rank.fuse(found)
        evidence = weigh(q, found, ranking, self.view, self.second_opinion)
        memo: Similarities = {}  # each sentence's similarity: computed once, for highlighting and reading
        # Reading takes the DEPTH best hits whatever k is (the decision does not depend on how many are shown).
        shown = hits(q, self.view, found, ranking, evidence, replace(options, k=max(k, answer.DEPTH)), memo)
        qtype = answer.question_type(q.text)
        reading = answer.read_hits(q, qtype, self.view, shown, memo) if qtype is not None else None
        missing = reading is not None and reading.answer is None
        decision = decide(
            ranking, evidence, qtype.kind if missing and qtype else None, answer.DEPTH,
            answer.missing_words(reading) if missing and reading else (),
        )  # fmt: skip
        given = answer.cited(reading, self.view, shown) if reading is not None and not decision.abstain else None
        return Results(query, shown[:k], decision, q.lang, given)

def _corpus_language(documents: list[Document], sample: int = 200) -> str:
    """The main language of the indexed text (catalogue ``lang`` when given, else guessed from each text's start)."""
    votes: dict[str, int] = {}
    for doc in documents[:sample]:
        lang = doc.info.lang or guess_language(doc.text[:2000])
        votes[lang] = votes.get(lang, 0) + 1
    return max(votes, key=lambda lang: votes[lang]) if votes else "und"
