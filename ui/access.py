"""The access log of the web app: one line a request, for whoever runs it (is it used, how fast does it answer, why
was an upload refused), at INFO on the ``rag.access`` logger.

    2025-06-02T14:03:11.482+02:00 route=search ms=212 hits=5 decision=answers lang=fr k=5 user=alice
    2025-06-02T14:04:02.915+02:00 route=add ms=3120 outcome=added file=convention.pdf passages=41 user=alice
    2025-06-02T14:04:40.007+02:00 route=add ms=85 outcome=refused:unreadable_pdf file=scan.pdf user=bob

``user`` only when the app has a login. The question's text is written only when the operator asks for it
(``log_questions``): questions can be confidential. ``configure`` sends the lines to stderr or appends them to a
file (``rag serve --access-log``); the refresh of the lists that every open page polls for is not logged.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rag.types import Results

log = logging.getLogger("rag.access")

STDERR, OFF = "stderr", "off"
_BARE = re.compile(r"[\w.:@/+,-]+")


class Formatter(logging.Formatter):
    """``<ISO time with milliseconds and offset> <message>``: one line, sortable, with the server's time zone."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")
        return f"{when} {record.getMessage()}"


def configure(destination: str) -> None:
    """Send the access log to ``destination``: ``stderr``, ``off``, or a file (appended to, created if missing)."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    log.propagate = False  # its lines are not warnings: they go where the operator chose, once
    if destination.strip().lower() == OFF:
        log.setLevel(logging.WARNING)
        return
    if destination.strip().lower() == STDERR:
        out: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        path = Path(destination).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        out = logging.FileHandler(path, encoding="utf-8")
    out.setFormatter(Formatter())
    log.addHandler(out)
    log.setLevel(logging.INFO)


def value(item: object) -> str:
    """A field's value as the log writes it: bare when it is one plain word, else quoted (JSON)."""
    text = str(item)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def decision(results: Results) -> str:
    """What the search decided: ``answers``, ``maybe``, ``does_not_answer``, ``flagged:<reason>`` or ``unmeasured``."""
    if results.abstain:
        return f"flagged:{results.reason}" if results.reason else "flagged"
    return results.confidence or "unmeasured"


@dataclass(frozen=True)
class AccessLog:
    """Writes the lines; ``questions``: with each question's text."""

    questions: bool = False

    def write(self, route: str, started: float, user: str | None = None, **fields: object) -> None:
        """One line for a request to ``route`` that started at ``started`` (``time.perf_counter()``)."""
        if not log.isEnabledFor(logging.INFO):
            return
        ms = round((time.perf_counter() - started) * 1000)
        parts = [f"route={route}", f"ms={ms}"]
        parts += [f"{key}={value(item)}" for key, item in fields.items() if item is not None and item != ""]
        if user:
            parts.append(f"user={value(user)}")
        log.info("%s", " ".join(parts))

    def search(self, started: float, user: str | None, question: str, results: Results | None, **fields: object) -> None:
        asked = {"question": " ".join(question.split())} if self.questions else {}
        if results is None:
            self.write("search", started, user, **fields, **asked)
            return
        self.write("search", started, user, hits=len(results), decision=decision(results), lang=results.lang, **fields, **asked)
