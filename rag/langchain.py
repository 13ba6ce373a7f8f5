"""LangChain adapter: a ``BaseRetriever`` whose documents are rag's cited passages.

Needs ``langchain-core`` (``pip install 'rag[langchain]'``); nothing else in rag imports LangChain.

    from rag.langchain import RagRetriever

    retriever = RagRetriever.from_index("index", k=3)
    for doc in retriever.invoke("Which regions held the sham referendums?"):
        print(doc.metadata["citation"], doc.page_content)

Each ``Document`` has the passage text as ``page_content``, the passage id (``source:start-end``) as ``id`` and
this metadata: ``id``, ``citation``, ``source``, ``title``, ``date``, ``author``, ``paragraph``, ``page`` (None when
the document has no pages), ``start``/``end`` (``[start, end)`` character offsets into the document's text),
``score``, ``rank``, ``highlights`` (the answering sentence(s): ``start``/``end`` within ``page_content`` and their
``text``), ``strength`` and ``match`` (how closely the passage matches, against the corpus's null distribution:
``strong``, ``fair``, ``weak``), and the question's decision, the same on every document: ``abstain`` (True when
nothing in the corpus seems to answer; the passages are still returned), ``confidence`` (``answers``, ``maybe``,
``does_not_answer``), ``reason`` (why: a reason code of ``rag.retrieve.abstention``), ``missing`` (the kind of figure
asked for that none of the best passages gives, or None) and ``explanation`` (the reason as a sentence, or None).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.embed import Embedder
from rag.retrieve.retriever import Retriever
from rag.types import Hit, Results

__all__ = ["RagRetriever", "hit_to_document"]


def hit_to_document(hit: Hit, results: Results | None = None) -> Document:
    """A rag ``Hit`` as a LangChain ``Document`` (passage text as content; citation and offsets as metadata, and the
    question-level decision of ``results`` when given: LangChain returns documents, not results)."""
    metadata: dict[str, Any] = hit.to_dict()
    del metadata["text"]  # it is the page_content
    if results is not None:
        metadata.update(
            abstain=results.abstain, confidence=results.confidence, reason=results.reason, missing=results.missing,
            explanation=results.explanation(),
            answer=None if results.answer is None else results.answer.to_dict(),
        )  # fmt: skip
    return Document(id=hit.id, page_content=hit.text, metadata=metadata)


class RagRetriever(BaseRetriever):
    """rag's search as a LangChain retriever: ``invoke(question)`` returns the ``k`` best passages, best first.

    ``mode`` is ``dense``, ``lexical`` or ``hybrid`` (None: the retriever's default, hybrid); ``sources`` restricts
    the search to some documents (paths relative to the corpus); ``min_score`` drops weaker passages.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(default=5, ge=1)
    mode: str | None = None
    sources: list[str] | None = None
    min_score: float | None = None

    @classmethod
    def from_index(
        cls,
        path: str | os.PathLike[str] = "index",
        k: int = 5,
        *,
        mode: str | None = None,
        sources: list[str] | None = None,
        min_score: float | None = None,
        embedder: Embedder | None = None,
    ) -> RagRetriever:
        """Open the index at ``path`` (built with ``rag index`` or ``rag.build_index``) and wrap it."""
        return cls(
            retriever=Retriever.load(path, embedder=embedder), k=k, mode=mode, sources=sources, min_score=min_score
        )

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        results = self.retriever.search(query, k=self.k, sources=self.sources, min_score=self.min_score, mode=self.mode)
        return [hit_to_document(hit, results) for hit in results]
