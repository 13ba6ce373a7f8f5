"""Small measuring helpers: percentiles, peak RSS, phase timers, sizes on disk, free ports, progress lines."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p95, mean and max of durations given in seconds, in milliseconds."""
    if not seconds:
        return {
            "n": 0,
            "p50": float("nan"),
            "p95": float("nan"),
            "mean": float("nan"),
            "max": float("nan"),
        }
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "mean": round(statistics.fmean(ms), 3),
        "max": round(ms[-1], 3),
    }


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile of sorted ``values``."""
    if len(values) == 1:
        return values[0]
    pos = (len(values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def _status_kb(field: str, pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) of a process, in MiB (getrusage as a fallback for this process)."""
    kb = _status_kb("VmHWM", pid)
    if kb is None and pid == "self":
        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return round((kb or 0.0) / 1024, 1)


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size (VmRSS), in MiB."""
    return round((_status_kb("VmRSS", pid) or 0.0) / 1024, 1)


def dir_size_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class PhaseTimer:
    """Accumulates wall time spent in named functions, by temporarily wrapping module attributes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def wrap(self, owner: Any, attr: str, name: str) -> Iterator[None]:
        original: Callable[..., Any] = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        setattr(owner, attr, timed)
        try:
            yield
        finally:
            setattr(owner, attr, original)


def log(message: str) -> None:
    """A progress line on stderr (stdout carries a measurement's result)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)
