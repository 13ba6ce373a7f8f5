"""rag.langchain.RagRetriever: rag's cited passages as LangChain Documents, through ``retriever.invoke(...)``."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ValidationError

from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError
from rag.index import build_index
from rag.langchain import RagRetriever, hit_to_document
from rag.retrieve.retriever import Retriever

ROOT = Path(__file__).resolve().parent.parent
NATO = "2022-09-23_otan_referendums-ukraine.txt"
METADATA = {
    "id", "citation", "source", "title", "date", "author", "paragraph", "page", "start", "end", "score", "rank",
    "highlights", "strength", "match", "ocr", "abstain", "confidence", "reason", "missing", "explanation", "answer",
}  # fmt: skip


def squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


@pytest.fixture
def fake_index(corpus_copy: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build_index(corpus_copy, path, embedder=FakeEmbedder())
    return path


@pytest.fixture
def rag_retriever(fake_index: Path) -> Retriever:
    return Retriever.load(fake_index, embedder=FakeEmbedder())


def _check_documents(docs: list[Document], retriever: Retriever) -> None:
    assert docs, "no document returned"
    for rank, doc in enumerate(docs, start=1):
        assert isinstance(doc, Document)
        meta = doc.metadata
        assert set(meta) == METADATA
        assert meta["rank"] == rank and doc.id == meta["id"] == f"{meta['source']}:{meta['start']}-{meta['end']}"
        assert isinstance(meta["score"], float) and isinstance(meta["abstain"], bool)
        assert meta["citation"].endswith(f"¶{meta['paragraph']}")
        # [start, end) is the cited span of the document's text; the content is that passage, cleaned.
        span = retriever.document(meta["source"]).text[meta["start"] : meta["end"]]
        assert squash(span) == squash(doc.page_content)
        for h in meta["highlights"]:
            assert doc.page_content[h["start"] : h["end"]] == h["text"]
        json.dumps(meta)  # plain JSON: stores and tracers can serialise it
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_invoke_returns_cited_documents(rag_retriever: Retriever) -> None:
    retriever = RagRetriever(retriever=rag_retriever, k=3)
    assert isinstance(retriever, BaseRetriever)
    question = "Quelles régions ont organisé les référendums ?"
    docs = retriever.invoke(question)
    assert len(docs) == 3
    _check_documents(docs, rag_retriever)
    hits = rag_retriever.search(question, k=3)
    assert [d.id for d in docs] == [h.id for h in hits]
    assert [d.page_content for d in docs] == [h.text for h in hits]
    assert docs[0] == hit_to_document(hits[0], hits)


def test_fields_are_passed_to_search(rag_retriever: Retriever) -> None:
    only = RagRetriever(retriever=rag_retriever, k=4, mode="lexical", sources=[NATO])
    docs = only.invoke("référendums Kherson")
    assert docs and {d.metadata["source"] for d in docs} == {NATO}
    hits = rag_retriever.search("référendums Kherson", k=4, mode="lexical", sources=[NATO])
    assert [d.id for d in docs] == [h.id for h in hits]
    strict = RagRetriever(retriever=rag_retriever, k=5, min_score=1e9)
    assert strict.invoke("référendums") == []
    assert len(RagRetriever(retriever=rag_retriever).invoke("référendums")) == 5  # k defaults to 5


def test_from_index_batch_and_async(fake_index: Path) -> None:
    retriever = RagRetriever.from_index(fake_index, k=2, embedder=FakeEmbedder())
    assert retriever.k == 2 and retriever.mode is None
    first, second = retriever.batch(["référendums", "coopération décentralisée"])
    assert len(first) == len(second) == 2
    # In a thread of its own: a session-wide browser fixture may hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        docs = pool.submit(asyncio.run, retriever.ainvoke("référendums")).result()
    assert [d.id for d in docs] == [d.id for d in first]


def test_errors(rag_retriever: Retriever, fake_index: Path) -> None:
    with pytest.raises(ValidationError):
        RagRetriever(retriever=rag_retriever, k=0)
    with pytest.raises(ValidationError):
        RagRetriever(retriever="index")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="question is empty"):
        RagRetriever(retriever=rag_retriever).invoke("   ")
    with pytest.raises(BadInputError, match="unknown retrieval mode"):
        RagRetriever(retriever=rag_retriever, mode="fuzzy").invoke("référendums")
    with pytest.raises(BadInputError, match="unknown document"):
        RagRetriever(retriever=rag_retriever, sources=["nope.txt"]).invoke("référendums")


def test_langchain_is_not_imported_by_the_rest_of_rag(fake_index: Path) -> None:
    # Importing rag, loading an index and searching it never import LangChain (nor pydantic, which it needs).
    code = (
        "import sys, rag, rag.cli, rag.config, rag.retrieve.retriever, rag.index, rag.evaluation.run, rag.evaluation.report\n"
        "from rag import Retriever, build_index, Hit\n"
        "from rag.embed.fake import FakeEmbedder\n"
        f"retriever = Retriever.load({str(fake_index)!r}, embedder=FakeEmbedder())\n"
        "assert retriever.search('référendums', k=3) and retriever.search('référendums', k=3, mode='lexical')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', 'pydantic')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the real default model on the shipped corpus --------------------------------------------------------------------


@pytest.mark.slow
def test_invoke_with_the_real_model(real_index: Path) -> None:
    retriever = RagRetriever.from_index(real_index, k=3)
    docs = retriever.invoke("Which regions held the sham referendums?")
    assert len(docs) == 3
    _check_documents(docs, retriever.retriever)
    kherson = next(d for d in docs if "Kherson" in d.page_content)
    assert kherson.metadata["source"] == NATO and kherson.metadata["page"] is None
    assert kherson.metadata["citation"].startswith("Déclaration de l'OTAN sur les référendums (2022), ¶")
    assert not kherson.metadata["abstain"] and kherson.metadata["highlights"]
    french = retriever.invoke("Quand le groupe-pays Russie a-t-il été créé ?")
    created = next(d for d in french if "20 février 2013" in d.page_content)
    assert created.metadata["source"] == "cuf_groupe-pays-russie.txt"
    assert any("créé" in h["text"] for h in created.metadata["highlights"])
    # The short answer travels with every document, cited by its document offsets.
    answer = kherson.metadata["answer"]
    assert answer is not None and answer["kind"] == "place" and answer["text"] == "Donetsk, Louhansk, Zaporizhia et Kherson"
    document = retriever.retriever.document(answer["source"]).text
    assert document[answer["start"] : answer["end"]] == answer["text"]


@pytest.mark.slow
def test_readme_langchain_example(
    real_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    section = page.split("## Use with LangChain", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    assert len(code.strip().splitlines()) <= 5
    shutil.copytree(real_index, tmp_path / "index")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/library.md (Use with LangChain)", "exec"), {"__name__": "__readme__"})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert any(line.startswith("Déclaration de l'OTAN sur les référendums (2022), ¶") for line in lines)
