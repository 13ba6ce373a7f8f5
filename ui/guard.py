"""Between the network and the app: slowed-down logins, a bounded upload cache, a page that describes no API.

``Guard`` is a pure ASGI middleware that ``ui.app.RagBlocks.launch`` installs through Gradio's ``app_kwargs``
(FastAPI's ``middleware`` argument). It relies on what Gradio does (tests/test_ui_guard.py checks each point):

- the login form posts to ``/login``, answered 200 for a right password and 400 for a wrong one;
- files are uploaded by ``POST /gradio_api/upload`` (multipart, with a Content-Length) and listed in the Blocks'
  ``upload_file_set`` until deleted;
- the page embeds the API description as ``window.gradio_api_info``; when it is null, the browser client fetches
  it from ``/gradio_api/info``, which is behind the login.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

log = logging.getLogger("rag.ui")

# The page's copy of the API description (endpoint names, parameters, the document filter's choices: every file
# name). The JSON cannot hold "</script>": Gradio escapes "<" in it.
API_INFO = re.compile(rb"(<script>window\.gradio_api_info = ).*?(;</script>)", re.S)


@dataclass
class LoginThrottle:
    """Per-client delay before each login attempt: after ``free`` wrong passwords in a row, ``base`` seconds,
    doubled with every further wrong password, up to ``cap``.

    Right and wrong passwords take the same time: the delay comes before the check (from the client's history),
    and every answer takes at least ``floor`` seconds. Attempts are checked one at a time, so the whole server
    checks at most ``1 / floor`` passwords a second, whoever sends them. A right password resets the client.
    """

    free: int = 3  # wrong passwords in a row after which the next attempt is delayed (typos cost nothing)
    base: float = 2.0  # the first delay, in seconds; doubled after each further wrong password
    cap: float = 30.0  # the longest delay (a browser or a proxy must not give up on the request)
    floor: float = 0.5  # every answer takes at least this long
    waiting: int = 32  # attempts allowed to wait at once (all clients); more are refused with 429
    per_client: int = 3  # attempts of one client allowed to wait at once
    clients: int = 10_000  # clients remembered; beyond, those with the oldest history are forgotten
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False)  # client → (count, not before)

    def delay(self, client: str, now: float) -> float:
        """Seconds this client must still wait before its next attempt is checked."""
        return max(0.0, self._failures.get(client, (0, 0.0))[1] - now)

    def record(self, client: str, ok: bool, now: float) -> None:
        """Count a checked attempt: a right password resets the client, a wrong one may delay its next attempt."""
        if ok:
            self._failures.pop(client, None)
            return
        count = self._failures.pop(client, (0, 0.0))[0] + 1
        wait = min(self.cap, self.base * 2 ** (count - self.free)) if count >= self.free else 0.0
        while len(self._failures) >= self.clients:
            del self._failures[next(iter(self._failures))]  # insertion order: the least recently failed first
        self._failures[client] = (count, now + wait)
        if wait:
            log.warning("%d wrong passwords in a row from %s: its next login attempt waits %g s", count, client, wait)


class Guard:
    """The ASGI middleware; ``blocks`` is the Gradio ``Blocks`` whose uploads are counted against ``upload_budget``."""

    def __init__(
        self,
        app: ASGIApp,
        blocks: Any,
        throttle: LoginThrottle,
        upload_budget: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.blocks, self.throttle, self.upload_budget, self.clock = app, blocks, throttle, upload_budget, clock
        self._turn: asyncio.Lock | None = None  # created in the server's event loop
        self._waiting: dict[str, int] = {}
        self._reserved = 0  # bytes of the uploads being received

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        if method == "POST" and path.endswith("/login"):
            await self._login(scope, receive, send)
        elif method == "POST" and path.endswith("/gradio_api/upload"):
            await self._upload(scope, receive, send)
        elif method == "GET" and (path == "/" or path.endswith("/gradio_api/runs")):
            await self._page(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- logins --------------------------------------------------------------------------------------------------

    async def _login(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        client = str((scope.get("client") or ("unknown",))[0])
        t = self.throttle
        if sum(self._waiting.values()) >= t.waiting or self._waiting.get(client, 0) >= t.per_client:
            await _answer(send, 429, "Too many login attempts at once; try again in a minute.", retry_after=60)
            return
        self._waiting[client] = self._waiting.get(client, 0) + 1
        try:
            messages = await self._checked_login(client, scope, receive)
        finally:
            self._waiting[client] -= 1
            if not self._waiting[client]:
                del self._waiting[client]
        for message in messages:
            await send(message)

    async def _checked_login(self, client: str, scope: MutableMapping[str, Any], receive: Receive) -> list[Message]:
        """Wait for the client's delay, then let Gradio check the password (one attempt at a time)."""
        if self._turn is None:
            self._turn = asyncio.Lock()
        while True:
            await asyncio.sleep(self.throttle.delay(client, self.clock()))
            async with self._turn:
                if self.throttle.delay(client, self.clock()) > 0:  # another attempt of this client failed meanwhile
                    continue
                started = self.clock()
                status, messages = await _capture(self.app, scope, receive)
                if status in (200, 400):  # right or wrong password (anything else checked nothing)
                    self.throttle.record(client, ok=status == 200, now=self.clock())
                await asyncio.sleep(max(0.0, self.throttle.floor - (self.clock() - started)))
                return messages

    # -- uploads -------------------------------------------------------------------------------------------------

    def cached_bytes(self) -> int:
        """Bytes of the uploaded files Gradio still holds."""
        return sum(_size(path) for path in list(self.blocks.upload_file_set))

    async def _upload(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            length = int(headers[b"content-length"])
        except (KeyError, ValueError):
            await _answer(send, 411, "An upload must state its size (Content-Length).")
            return
        if length > self.upload_budget - self.cached_bytes() - self._reserved:
            await _answer(send, 413, "The server's upload space is full; try again in a few minutes.", retry_after=300)
            return
        self._reserved += length
        try:
            await self.app(scope, receive, send)
        finally:
            self._reserved -= length

    # -- the page ------------------------------------------------------------------------------------------------

    async def _page(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        """The page without its copy of the API description (the client fetches it, after the login if any)."""
        _, messages = await _capture(self.app, scope, receive)
        start = messages[0] if messages else {}
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if not any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
            for message in messages:
                await send(message)
            return
        body = API_INFO.sub(rb"\1null\2", b"".join(m.get("body", b"") for m in messages[1:]), count=1)
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


async def _capture(app: ASGIApp, scope: MutableMapping[str, Any], receive: Receive) -> tuple[int, list[Message]]:
    """Run ``app`` and keep its response (status, messages) instead of sending it: it is small (a page, a login)."""
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, keep)
    return int(messages[0].get("status", 500)) if messages else 500, messages


async def _answer(send: Send, status: int, detail: str, retry_after: int | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(math.ceil(retry_after)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def forget_files(paths: Iterable[str], file_sets: Iterable[set[str]]) -> None:
    """Delete uploaded files that Gradio holds (listed in one of ``file_sets``) and drop them from the lists."""
    sets = list(file_sets)
    for path in paths:
        holders = [s for s in sets if path in s]
        if not holders:
            continue  # not a file of Gradio's cache: never delete it
        try:
            os.remove(path)
            os.rmdir(os.path.dirname(path))  # Gradio keeps each upload in a folder of its own
        except OSError:
            pass
        for s in holders:
            s.discard(path)
