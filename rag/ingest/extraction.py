"""Read files in a child process, so that one whose reading takes too long or too much memory can be stopped.

A thread cannot be stopped; a process can. The parent gives each file ``READ_SECONDS`` plus ``READ_SECONDS_PER_MIB``
for each MiB (reading time grows with the size of a sound file: pypdf reads about 30 pages a second here), then
kills the child, which releases all the memory it held; the next file gets a new child. Where the platform has
``resource`` (not Windows), the child's address space is limited to ``READ_MEMORY_BYTES``.

One child reads every file of a run: starting a child takes 70-90 ms here, so one per file would cost more than
reading most files (``python -m bench.load_files`` measures both). Messages are length-prefixed JSON on the child's
stdin/stdout (no pickle: the child parses untrusted files).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from rag.errors import SkipFile
from rag.ingest.formats import Extracted, read_text

if TYPE_CHECKING:
    from rag.ingest.ocr_cache import OcrJob

log = logging.getLogger("rag")

READ_SECONDS = 30.0
READ_SECONDS_PER_MIB = 10.0
# Each page that OCR recognises extends the time a file is given by this much (a 300-page scan takes minutes; the
# limit still stops a page that does not end). The child reports each page before recognising it.
OCR_SECONDS_PER_PAGE = 150.0
READ_MEMORY_BYTES = 2 * 2**30
STARTUP_SECONDS = 60.0  # for the child to start and say it is ready (a busy machine can be slow)

_CHILD = "import json, sys; sys.path[:] = json.loads(sys.argv[1]); from rag.ingest.extraction import serve; serve()"


class Extractor:
    """A child process that reads files one at a time (``read``), started on first use; use it as a context manager.

    Not thread-safe: one reader per thread.
    """

    def __init__(
        self,
        seconds: float | None = None,
        seconds_per_mib: float | None = None,
        memory_bytes: int | None = None,
        seconds_per_page: float | None = None,
    ) -> None:
        # None: the module's constants, read now (tests and embedding applications may change them).
        self.seconds = READ_SECONDS if seconds is None else seconds
        self.seconds_per_mib = READ_SECONDS_PER_MIB if seconds_per_mib is None else seconds_per_mib
        self.memory_bytes = READ_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self.seconds_per_page = OCR_SECONDS_PER_PAGE if seconds_per_page is None else seconds_per_page
        self._child: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._in_process = False  # set when no child can be started
        self.recognised = 0  # pages the last ``read`` recognised by OCR (not those found in the cache)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def read(self, path: Path, fmt: str, sha256: str = "", ocr_cache: str | os.PathLike[str] | None = None) -> Extracted:
        """``rag.ingest.formats.read_text(path, fmt)``, in the child. Raises ``SkipFile`` when it takes too long, needs too
        much memory or ends the child; ``OSError`` when the file cannot be opened.

        ``sha256`` (of the file) and ``ocr_cache`` (a folder): where pages recognised by OCR are kept and found again
        (``rag.ingest.ocr_cache``); without them, scans are recognised without a cache.
        """
        budget = self.seconds + self.seconds_per_mib * path.stat().st_size / 2**20
        cache = os.fspath(ocr_cache) if ocr_cache is not None else None
        request = {"path": os.fspath(path), "format": fmt, "sha256": sha256, "ocr_cache": cache}
        if not self._send(request):
            return read_text(path, fmt, _job(request))  # (errors raise here as they would be replied)
        deadline = time.monotonic() + budget
        recognising = self.recognised = 0
        while True:
            try:
                reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._stop()
                if recognising:
                    raise SkipFile(
                        f"recognising page {recognising} by OCR took longer than {self.seconds_per_page:.3g} s; "
                        "the pages recognised so far are kept for the next run"
                    ) from None
                raise SkipFile(
                    f"took longer than {budget:.3g} s to read (a damaged or hostile file?); "
                    "if it is sound, split it or save it as text"
                ) from None
            if reply is not None and "page" in reply:  # OCR starts a page: it gets its own time
                recognising = int(reply["page"]) + 1
                self.recognised += 1
                deadline = time.monotonic() + self.seconds_per_page
                continue
            break
        if reply is None:
            status = self._stop()
            raise SkipFile(f"reading it stopped the reader process (exit status {status}); the file is probably damaged")
        for name, level, message in reply.get("logs", ()):
            logging.getLogger(name).log(level, "%s", message)
        if "memory" in reply:
            self._stop()
            raise SkipFile(f"needs more than {self.memory_bytes // 2**20} MiB of memory to read")
        if "skip" in reply:
            raise SkipFile(reply["skip"])
        if "oserror" in reply:
            raise OSError(reply["oserror"])
        if "error" in reply:
            raise SkipFile(f"could not be read ({reply['error']})")
        ocr = tuple((int(p), float(c)) for p, c in reply["ocr"])
        return Extracted(reply["text"], tuple(reply["pages"]), ocr, str(reply.get("title") or ""))

    def call(self, request: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Run another job of the child's (``request["op"]``: ``render``, a page view of ``rag.render.worker``) within
        ``seconds``; its reply. Raises ``SkipFile`` when it takes too long, needs too much memory or ends the child."""
        if not self._send(request):
            return _answer(request)
        try:
            reply = self._replies.get(timeout=seconds)
        except queue.Empty:
            self._stop()
            raise SkipFile(f"took longer than {seconds:.3g} s") from None
        if reply is None:
            raise SkipFile(f"stopped the process (exit status {self._stop()})")
        if "memory" in reply:
            self._stop()
            raise SkipFile(f"needs more than {self.memory_bytes // 2**20} MiB of memory")
        return reply

    def close(self) -> None:
        """End the child (it exits when its input closes)."""
        child, self._child = self._child, None
        if child is None:
            return
        assert child.stdin is not None
        try:
            child.stdin.close()
            child.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            _kill(child)
            child.wait()

    def _send(self, request: dict[str, Any]) -> bool:
        """Send a request, starting the child if needed. False: no child could be started, read in this process."""
        for _ in range(2):  # a child that died between two files is replaced once
            if self._child is None and not self._in_process:
                self._start()
            if self._child is None:
                return False
            assert self._child.stdin is not None
            try:
                _write(self._child.stdin, request)
                return True
            except OSError:
                self._stop()
        return False

    def _start(self) -> None:
        replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, json.dumps(sys.path), str(self.memory_bytes)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # A group of its own: stopping the child stops the Tesseract it may be running too.
                start_new_session=sys.platform != "win32",
            )
        except OSError as exc:
            self._give_up(str(exc))
            return
        self._child, self._replies = child, replies
        threading.Thread(target=_pump, args=(child.stdout, replies), daemon=True, name="rag-reader").start()
        try:
            ready = replies.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            ready = None
        if ready is None:
            self._give_up(f"it did not start: exit status {self._stop()}")

    def _give_up(self, why: str) -> None:
        log.warning("cannot start a process to read files (%s); reading them in this one, without a time limit", why)
        self._in_process = True

    def _stop(self) -> int | None:
        """Kill the child (it may be stuck in a file); the next ``read`` starts another."""
        child, self._child = self._child, None
        if child is None:
            return None
        _kill(child)
        status = child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
        return status


def _kill(child: subprocess.Popen[bytes]) -> None:
    """Kill the child and what it started (Tesseract), which would otherwise finish its page unwatched."""
    if sys.platform != "win32":
        import signal

        try:
            os.killpg(child.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    child.kill()


def _job(request: dict[str, Any], started: Callable[[int], None] | None = None) -> OcrJob:
    from rag.ingest.ocr_cache import OcrJob

    return OcrJob(request.get("ocr_cache"), request.get("sha256") or "", started)


def _pump(stream: IO[bytes], replies: queue.Queue[dict[str, Any] | None]) -> None:
    """Move the child's replies into a queue, so the parent can wait for one with a timeout (on any platform)."""
    while True:
        try:
            message = _read(stream)
        except (OSError, ValueError):
            message = None
        replies.put(message)
        if message is None:
            return


def _write(stream: IO[bytes], message: dict[str, Any]) -> None:
    # surrogatepass: file names that are not UTF-8 and lone surrogates in extracted text go through unchanged.
    data = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    stream.write(len(data).to_bytes(8, "big") + data)
    stream.flush()


def _read(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    message: dict[str, Any] = json.loads(data.decode("utf-8", "surrogatepass"))
    return message


# -- the child --------------------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    """Keeps the warnings that reading a file logs (pypdf's, rag's), for the parent to log under the same names."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def serve() -> None:
    """The child's loop: answer each request, until the parent closes the child's input (or dies)."""
    import signal
    import warnings

    _limit_memory(int(sys.argv[2]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then closes the child
    # Libraries' Python warnings never name the file; rag says itself which file it skipped and why.
    warnings.simplefilter("ignore")
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    logging.getLogger().setLevel(logging.WARNING)
    # Replies go to a private copy of stdout; anything a library prints goes to stderr instead of into a reply.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests: queue.Queue[dict[str, Any]] = queue.Queue()
    threading.Thread(target=_listen, args=(sys.stdin.buffer, requests), daemon=True).start()
    _preload()
    _write(replies, {"ready": True})
    def started(page: int) -> None:
        _write(replies, {"page": page})

    while True:
        request = requests.get()
        reply = _answer(request, started)
        reply["logs"], collect.records = collect.records, []
        _write(replies, reply)
        if "memory" in reply:
            os._exit(0)  # the memory may be fragmented or held: the next file gets a fresh process


def _preload() -> None:
    """Import the format libraries before saying ready: the time a file is given is for reading it, not for importing
    a parser (seconds on a busy machine, at the first file of each kind and again after every stopped child)."""
    import contextlib
    import importlib

    for module in ("bs4", "pypdf", "lxml.etree"):
        with contextlib.suppress(ImportError):  # its reader reports it, for the file that needs it
            importlib.import_module(module)


def _listen(stream: IO[bytes], requests: queue.Queue[dict[str, Any]]) -> None:
    """Pass requests to the main thread; exit as soon as the input closes, even in the middle of a file: the parent
    closed it (every reply received) or died (then nobody waits for this file)."""
    while (request := _read(stream)) is not None:
        requests.put(request)
    if sys.platform != "win32" and os.getpgrp() == os.getpid():
        import signal

        os.killpg(0, signal.SIGKILL)  # with the Tesseract it runs
    os._exit(0)


def _call(request: dict[str, Any]) -> dict[str, Any]:
    """Run ``request["target"]`` (``module:function`` of rag, given by the parent) on the request: the child process
    runs any bounded job without this module knowing the modules above it."""
    import importlib

    module, _, name = str(request["target"]).partition(":")
    if module.split(".")[0] != "rag" or not name:
        raise ValueError(f"not a rag function: {request['target']!r}")
    answer: dict[str, Any] = getattr(importlib.import_module(module), name)(request)
    return answer


def _answer(request: dict[str, Any], started: Callable[[int], None] | None = None) -> dict[str, Any]:
    if request.get("op") == "call":  # a bounded job of a higher layer (the page view's drawing: rag.render.worker)
        try:
            return _call(request)
        except MemoryError:
            return {"memory": True}
        except Exception as exc:  # a page that cannot be drawn is an answer, not the end of the process
            return {"error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}
    try:
        extracted = read_text(Path(request["path"]), request["format"], _job(request, started))
        return {"text": extracted.text, "pages": extracted.pages, "ocr": extracted.ocr, "title": extracted.title}
    except SkipFile as exc:
        return {"skip": str(exc)}
    except MemoryError:
        return {"memory": True}
    except OSError as exc:
        return {"oserror": str(exc)}
    except Exception as exc:  # a reader's bug must not stop the run: the file is skipped with the reason
        return {"error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}


def _limit_memory(limit: int) -> None:
    if sys.platform == "win32" or limit <= 0:
        return
    import resource

    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    except (ValueError, OSError):  # some systems (macOS) refuse address-space limits
        pass
