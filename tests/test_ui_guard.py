"""What a visitor reaches over HTTP (ui.guard): the page before login, login throttling, the upload cache.

The app runs for real on a free local port (fake embedder: no model, no browser); requests go through httpx.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.retrieve.retriever import Retriever
from tests.browser.screenshot import free_port
from ui import app
from ui.guard import LoginThrottle
from ui.library import Library

SOURCE = "cuf_groupe-pays-russie.txt"  # a file name of the shipped corpus, offered by the document filter


@pytest.fixture
def library(corpus_copy: Path, tmp_path: Path, fake_embedder: FakeEmbedder) -> Library:
    index = tmp_path / "index"
    build_index(corpus_copy, index, embedder=fake_embedder)
    return Library(index, tmp_path / "uploads", Retriever.load(index, embedder=fake_embedder), max_upload_bytes=2**20)


@contextmanager
def running(library: Library, setup: Any = None, **launch: Any) -> Iterator[tuple[app.RagBlocks, httpx.Client]]:
    """The app on a free port of 127.0.0.1 (``setup(demo)`` runs before the launch), and a client for it."""
    demo = app.build_app(library)
    if setup is not None:
        setup(demo)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield demo, client
    finally:
        demo.close()


def login(client: httpx.Client, password: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.post("/login", data={"username": "rag", "password": password})
    return response.status_code, time.perf_counter() - started


# -- before login: nothing about the collection --------------------------------------------------------------------


def test_the_page_before_login_says_nothing_about_the_collection(library: Library) -> None:
    with running(library, auth=("rag", "s3cret")) as (_, client):
        page = client.get("/")
        assert page.status_code == 200 and "auth_required" in page.text
        assert SOURCE not in page.text and "add_document" not in page.text and "named_endpoints" not in page.text
        for route in ("/gradio_api/info", "/config", "/gradio_api/openapi.json"):
            assert client.get(route).status_code == 401, route
        assert post_upload(client, "a.txt", b"text").status_code == 401
        # Signed in, the browser gets the API description from the (protected) API, not from the page.
        assert login(client, "s3cret")[0] == 200
        assert client.get("/").text.count("window.gradio_api_info = null;") == 1
        info = client.get("/gradio_api/info").json()
        assert "/search" in info["named_endpoints"] and "/remove_document" in info["named_endpoints"]
        # The lists of documents are read when a page loads (and only then, signed in): the description has none.
        assert SOURCE not in json.dumps(info)


# -- login throttling ----------------------------------------------------------------------------------------------


def test_login_delays_double_after_the_free_tries_and_a_right_password_resets(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LoginThrottle(free=3, base=2.0, cap=30.0)
    delays = []
    with caplog.at_level(logging.WARNING, logger="rag.ui"):
        for attempt in range(9):
            throttle.record("1.2.3.4", ok=False, now=float(attempt))
            delays.append(throttle.delay("1.2.3.4", now=float(attempt)))
    assert delays == [0, 0, 2, 4, 8, 16, 30, 30, 30]
    assert "3 wrong passwords in a row from 1.2.3.4: its next login attempt waits 2 s" in caplog.text  # for the admin
    assert throttle.delay("5.6.7.8", now=0.0) == 0  # per client
    throttle.record("1.2.3.4", ok=True, now=9.0)
    assert throttle.delay("1.2.3.4", now=9.0) == 0
    small = LoginThrottle(clients=2)
    for client in ("a", "b", "c"):
        small.record(client, ok=False, now=0.0)
    assert len(small._failures) == 2  # bounded memory


def test_wrong_passwords_are_slowed_down_and_a_right_one_works_after_the_wait(library: Library) -> None:
    def setup(demo: app.RagBlocks) -> None:
        demo.throttle = LoginThrottle(free=2, base=0.4, cap=0.8, floor=0.1)

    with running(library, setup, auth=("rag", "s3cret")) as (_, client):
        wrong = [login(client, f"guess-{i}") for i in range(6)]
        assert [status for status, _ in wrong] == [400] * 6
        assert all(seconds >= 0.1 for _, seconds in wrong)  # every answer takes the floor, right or wrong
        # Delays before attempts 3 to 6: 0.4, then 0.8 s (the cap). Without throttling: a few ms each.
        assert sum(seconds for _, seconds in wrong) >= 0.4 + 0.8 * 3
        status, seconds = login(client, "s3cret")  # the right password is checked only after the wait too
        assert status == 200 and seconds >= 0.7
        assert login(client, "s3cret")[0] == 200  # and it reset the count
        assert login(client, "s3cret")[1] < 0.7


# -- the upload cache ----------------------------------------------------------------------------------------------


def post_upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/gradio_api/upload", files={"files": (name, data, "application/octet-stream")})


def call(client: httpx.Client, api_name: str, data: list[Any]) -> Any:
    """Run an event through Gradio's queue (POST, then read the server-sent events); returns its output."""
    event = client.post(f"/gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    with client.stream("GET", f"/gradio_api/call/{api_name}/{event}") as stream:
        lines = list(stream.iter_lines())
    kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert kinds[-1] == "complete", lines
    return json.loads([line for line in lines if line.startswith("data: ")][-1].removeprefix("data: "))


def test_an_upload_is_deleted_from_the_cache_once_handled(library: Library) -> None:
    with running(library) as (_, client):
        for name, data, outcome in [
            ("dijon.txt", b"Le jumelage entre Dijon et Volgograd date de 1966.", "now searchable"),
            ("fake.pdf", b"%PDF-1.4 not a pdf", "could not be read as a PDF"),
        ]:
            cached = post_upload(client, name, data).json()[0]
            assert Path(cached).is_file()
            upload = {"path": cached, "meta": {"_type": "gradio.FileData"}}
            status = call(client, "add_document", [upload, "", "", "", [], None, None])[0]
            assert outcome in status
            assert not Path(cached).exists() and not Path(cached).parent.exists()
        # Gradio serves files from its upload cache only: not the corpus, the index or the uploads folder.
        for path in ["/etc/passwd", library.index / "manifest.json", library.uploads / "dijon.txt"]:
            assert client.get(f"/gradio_api/file={path}").status_code == 403, path
    assert (library.uploads / "dijon.txt").is_file()  # what was added is kept where the app keeps uploads


def test_the_upload_cache_is_bounded_and_cleaned(library: Library) -> None:
    def setup(demo: app.RagBlocks) -> None:
        demo.upload_budget = 3000
        demo.delete_cache = (1, 1)  # every second, files older than a second (the app's own: 5 and 15 minutes)

    with running(library, setup) as (_, client):
        first = post_upload(client, "a.exe", b"x" * 2000)  # never handed to the app (nor a type it accepts)
        assert first.status_code == 200 and Path(first.json()[0]).is_file()
        full = post_upload(client, "b.txt", b"y" * 2000)
        assert full.status_code == 413 and "upload space is full" in full.text
        chunked = client.post(
            "/gradio_api/upload", content=iter([b"--x\r\n"]), headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert chunked.status_code == 411
        deadline = time.monotonic() + 30
        while Path(first.json()[0]).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(first.json()[0]).exists()  # Gradio's delete_cache removed it
        assert post_upload(client, "b.txt", b"y" * 2000).status_code == 200  # room again
