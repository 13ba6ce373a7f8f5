"""Ends the processes of a Ray session that rag started, once the process that started it is gone (Linux).

Run as ``python -I ray_reaper.py MARK FOLDER`` with a pipe from the build as standard input, on which the build writes
``session PATH`` (the Ray session's folder) once Ray is up, and ``keep`` when FOLDER must stay (Ray's logs, when it
failed to start). When the pipe closes (the build finished, or was killed, even with SIGKILL), the session's
processes get SIGTERM, and SIGKILL if they are still alive a moment later; then FOLDER (the build's folder for Ray,
``rag.index.ray_session``) is removed. They are found two ways:
the mark ``RAG_RAY_SESSION=MARK`` that they inherit from the build (it is set before Ray starts them), and, for
Ray's agents and workers, which overwrite their environment when they set their title (``ray::RuntimeEnvAgent``),
a ``ray::`` title with a file open in the session's folder (their logs). Standard library only, and nothing imported
from rag: the script must work whatever folder the build ran from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time

MARK_VARIABLE = "RAG_RAY_SESSION"
GRACE_SECONDS = 2.0
KILL: int = getattr(signal, "SIGKILL", signal.SIGTERM)  # (the script runs on Linux only)


def marked(mark: str, session: str | None) -> list[int]:
    """The processes (other than this one) of the session: with the mark, or a Ray title and a file in its folder."""
    wanted = f"{MARK_VARIABLE}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if wanted in fh.read().split(b"\0"):
                    found.append(int(entry))
                    continue
            if session and _ray_title(entry) and _uses(entry, session):
                found.append(int(entry))
        except OSError:  # gone meanwhile, or another user's
            continue
    return found


def _ray_title(pid: str) -> bool:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().startswith(b"ray::")


def _uses(pid: str, folder: str) -> bool:
    """True when the process has a file open inside ``folder``."""
    prefix = folder.rstrip("/") + "/"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(prefix):
                return True
        except OSError:
            continue
    return False


def reap(mark: str, session: str | None) -> None:
    for pid in marked(mark, session):
        with contextlib.suppress(OSError):  # gone already
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and marked(mark, session):
        time.sleep(0.1)
    for pid in marked(mark, session):
        with contextlib.suppress(OSError):
            os.kill(pid, KILL)


def main() -> None:
    mark, folder = sys.argv[1], sys.argv[2]
    session = None
    keep = False
    for line in sys.stdin:  # until the build closes the pipe or dies
        word, _, value = line.strip().partition(" ")
        session = value if word == "session" else session
        keep = keep or word == "keep"
    reap(mark, session)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
