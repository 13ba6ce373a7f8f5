"""The child process that reads PDF, .docx and HTML files: a time limit, a memory limit, and recovery after either."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from rag.errors import SkipFile
from rag.ingest import extraction
from rag.ingest.extraction import Extractor
from rag.ingest.formats import Extracted
from rag.ingest.load import load_corpus
from tests.pdf import write_pdf

TEXT = "Les élus de Besançon ont signé une convention de jumelage avec la ville de Kherson."


def slow_html(path: Path) -> None:
    """An HTML page that takes BeautifulSoup about 10 s to read (200,000 tags; 40 µs each here)."""
    path.write_bytes(b"<b>x</b>" * 200_000)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_a_file_that_takes_too_long_is_skipped_and_the_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_html(tmp_path / "lente.html")
    (tmp_path / "page.html").write_text(f"<p>{TEXT}</p>", encoding="utf-8")
    (tmp_path / "note.txt").write_text(TEXT + " Autre.", encoding="utf-8")
    monkeypatch.setattr(extraction, "READ_SECONDS", 0.5)
    monkeypatch.setattr(extraction, "READ_SECONDS_PER_MIB", 0.0)
    with caplog.at_level(logging.WARNING, logger="rag"):
        docs = load_corpus(tmp_path)
    assert sorted(d.info.source for d in docs) == ["note.txt", "page.html"]  # page.html comes after lente.html
    assert re.search(r"skipped \S*lente\.html: took longer than 0\.5 s to read", caplog.text), caplog.text


@pytest.mark.skipif(sys.platform != "linux", reason="looks for the process in /proc")
def test_the_stopped_process_is_gone_and_the_next_file_gets_a_new_one(tmp_path: Path) -> None:
    slow_html(tmp_path / "lente.html")
    (tmp_path / "page.html").write_text(f"<p>{TEXT}</p>", encoding="utf-8")
    # A generous budget for the reads that start a child (its first HTML file imports the parser: slow on a busy
    # machine), the short one only for the slow file.
    with Extractor(seconds=30, seconds_per_mib=0) as extractor:
        assert extractor.read(tmp_path / "page.html", "html") == Extracted(TEXT)
        assert extractor._child is not None
        first = extractor._child.pid
        extractor.seconds = 0.5
        with pytest.raises(SkipFile, match=r"took longer than 0\.5 s"):
            extractor.read(tmp_path / "lente.html", "html")
        assert not alive(first)  # killed: whatever memory it held is released
        extractor.seconds = 30
        assert extractor.read(tmp_path / "page.html", "html") == Extracted(TEXT)
        assert extractor._child is not None and extractor._child.pid != first
        second = extractor._child.pid
    assert not alive(second)  # closed with the reader


def vm_peak_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return int(re.search(r"VmPeak:\s+(\d+) kB", status).group(1)) // 1024  # type: ignore[union-attr]


@pytest.mark.skipif(sys.platform != "linux", reason="address-space limits (resource.RLIMIT_AS) as Linux applies them")
def test_a_file_that_needs_too_much_memory_is_skipped(tmp_path: Path) -> None:
    write_pdf(tmp_path / "petit.pdf", ["Premiere page sur Kherson."])
    # 70 MB of spaces in one compressed content stream (70 KB on disk, under pypdf's 75 MB limit per stream):
    # reading it takes about 100 MB more than a reader that has read a small PDF (and 9 s; it is then read whole).
    write_pdf(tmp_path / "gourmand.pdf", ["Page gourmande."], padding=70_000_000)
    with Extractor() as probe:
        probe.read(tmp_path / "petit.pdf", "pdf")
        assert probe._child is not None
        baseline = vm_peak_mib(probe._child.pid)
    limit = (baseline + 40) * 2**20
    with Extractor(memory_bytes=limit) as extractor:
        assert extractor.read(tmp_path / "petit.pdf", "pdf").text == "Premiere page sur Kherson."
        with pytest.raises(SkipFile, match=f"needs more than {limit // 2**20} MiB of memory"):
            extractor.read(tmp_path / "gourmand.pdf", "pdf")
        assert extractor.read(tmp_path / "petit.pdf", "pdf").text == "Premiere page sur Kherson."


def test_the_readers_warnings_are_logged_here_under_their_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "xref.pdf"
    write_pdf(path, ["Premiere page sur Kherson."])
    data = re.sub(rb"startxref\n(\d+)", lambda m: b"startxref\n%d" % (int(m.group(1)) + 7), path.read_bytes())
    path.write_bytes(data)  # pypdf warns about the wrong pointer, then reads the file
    (tmp_path / "nul.html").write_bytes(b"<p>Kher\x00son</p>")
    with caplog.at_level(logging.WARNING), Extractor() as extractor:
        assert extractor.read(path, "pdf").text == "Premiere page sur Kherson."
        assert extractor.read(tmp_path / "nul.html", "html").text == "Kherson"
    assert any(r.name.startswith("pypdf") and "startxref" in r.getMessage() for r in caplog.records), caplog.text
    assert any(r.name == "rag" and "nul.html: 1 NUL character(s) removed" in r.getMessage() for r in caplog.records)


def test_without_a_process_files_are_read_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "page.html").write_text(f"<p>{TEXT}</p>", encoding="utf-8")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    with caplog.at_level(logging.WARNING, logger="rag"), Extractor() as extractor:
        assert extractor.read(tmp_path / "page.html", "html") == Extracted(TEXT)
        assert extractor.read(tmp_path / "page.html", "html") == Extracted(TEXT)
    assert caplog.text.count("cannot start a process to read files") == 1
