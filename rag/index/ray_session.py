"""The Ray instance a build embeds on: started here for this machine only, or joined; and Ray's failures in one line.

A Ray that rag starts (``--ray-address local``, the default):

- listens on 127.0.0.1 only. Ray binds its servers (GCS, raylet, object manager, workers, agents) to the node's IP
  address, which it takes from the machine's network interface unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is off
  when ``ray`` is *imported* (setting it later, as rag once did, changes nothing): the variable is set before the
  import, the module constant when Ray was imported earlier, and the node's address is checked once Ray is up;
- accepts only clients that hold this process's token: Ray's token authentication, with a random token handed to its
  processes in their environment (readable by this user only), never written to ``~/.ray/auth_token``;
- keeps its sockets, logs and session files inside a folder of the build's, readable by this user only and removed
  at the end (not in ``/tmp/ray``, which every user of the machine can read). Ray makes the folder it is given
  readable and writable by everyone (``chmod 777``): it is given a subfolder, ``ray/``, of the private one;
- runs no dashboard, and its workers start in an empty working directory: Ray otherwise puts the driver's current
  directory first on the workers' path, so that running rag from a folder holding a ``rag/`` directory (the parent
  of a checkout) made every worker import that folder instead of rag. Each worker then moves to the driver's
  directory, so that relative paths (a model folder) mean what they mean to the user;
- dies with the build: ``ray.shutdown`` at the end, and a reaper process (``rag.index.ray_reaper``) that, when this
  process is gone (even killed with SIGKILL), ends every process of the session (Ray's dashboard and runtime-env
  agents otherwise outlive a killed driver by about a minute).

Joining a cluster (``--ray-address auto`` or ``HOST:PORT``) is the user's choice: that cluster listens where it was
started (``ray start`` binds the machine's address) and its own settings apply; rag changes none of them.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError

log = logging.getLogger("rag.ray")

LOOPBACK = "127.0.0.1"
# Read by Ray when it is imported: off, a node's address is the loopback one (Ray's own default on Windows and macOS).
CLUSTER_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# The mark of the processes of one Ray session that rag started (the reaper ends those still alive at the end).
MARK_VARIABLE = "RAG_RAY_SESSION"
# The object store of a Ray instance rag starts: vectors of a few shards in flight at a time.
OBJECT_STORE_BYTES = 256 * 1024 * 1024


@functools.cache
def _token() -> str:
    """The token of the Ray instances this process starts (one per process: Ray caches the token it has read)."""
    return secrets.token_hex(32)


@dataclass
class Session:
    """A connection to Ray that ``close`` ends (and, when rag started that Ray, stops it and its processes)."""

    ray: Any
    address: str
    started: bool = False
    _restore: dict[str, str | None] = field(default_factory=dict)
    _constant: bool | None = None
    _folder: str | None = None  # the session's own: the workers' empty working directory, Ray's files (local)
    _keep: bool = False  # Ray failed to start: its logs stay for the user to read
    _reaper: subprocess.Popen[bytes] | None = None
    _printer: Any = None

    def tell_reaper(self) -> None:
        """Give the reaper the session's folder (Ray's agents and workers hold their logs there)."""
        if self._reaper is None or self._reaper.stdin is None:
            return
        node = getattr(self.ray._private.worker, "_global_node", None)  # no public API says where the session is
        folder = node.get_session_dir_path() if node is not None else None
        if folder:
            with contextlib.suppress(OSError):  # a reaper killed by someone: Ray's own shutdown still runs
                self._reaper.stdin.write(f"session {os.path.realpath(folder)}\n".encode())
                self._reaper.stdin.flush()

    def close(self) -> None:
        try:
            if self.started:
                self.ray.shutdown()
        finally:
            if self._printer is not None:
                from ray._private import worker

                worker.print_to_stdstream = self._printer
            if self._reaper is not None and self._reaper.stdin is not None:
                with contextlib.suppress(OSError):
                    if self._keep:
                        self._reaper.stdin.write(b"keep\n")
                    self._reaper.stdin.close()  # the reaper ends whatever Ray left, removes the folder, then exits
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._reaper.wait(timeout=10)
            if self._constant is not None:
                from ray._private import ray_constants

                ray_constants.ENABLE_RAY_CLUSTER = self._constant
            for name, value in self._restore.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if self.started and "RAY_AUTH_MODE" in self._restore:
                _reload_auth()
            if self._folder is not None and not self._keep:
                shutil.rmtree(self._folder, ignore_errors=True)


def connect(address: str, cpus: int | None) -> Session:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``) or start Ray on this machine (``local``, ``cpus``
    CPUs); raises a ``RagError`` naming the cause and the fix when Ray cannot start or be reached."""
    local = address == "local"
    # Before the import: Ray reads these then (and its processes, started with this environment, when they start).
    settings = {CLUSTER_VARIABLE: "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": _token()} if local else {}
    if local:
        settings[MARK_VARIABLE] = f"{os.getpid()}-{secrets.token_hex(8)}"
    restore = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    import ray as ray_module

    ray: Any = ray_module  # untyped calls
    session = Session(ray, address, _restore=restore)
    if ray.is_initialized():  # the caller's own Ray: rag neither configures nor stops it
        session.close()
        return session
    session._printer = _quiet_errors()
    session._folder = folder = _private_folder()
    os.mkdir(empty := os.path.join(folder, "workers"))
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "runtime_env": {"working_dir": empty},
    }
    try:
        if local:
            _prepare_local(ray, session)
            options.update(
                address="local",  # never a cluster named by $RAY_ADDRESS or found running on this machine
                _node_ip_address=LOOPBACK,
                dashboard_host=LOOPBACK,
                num_cpus=cpus or os.cpu_count() or 1,
                object_store_memory=OBJECT_STORE_BYTES,
                # Its sockets, logs and session files in the session's folder, not in the shared /tmp/ray that any
                # user of the machine can read (and that outlives the build). A subfolder: Ray opens the folder it
                # is given to everyone (chmod 777); the private one around it stays closed.
                _temp_dir=os.path.join(folder, RAY_FOLDER),
            )
        else:
            _check_reachable(address)
            options["address"] = address
        printed: list[str] = []
        try:
            with contextlib.nullcontext() if local else _fd_stderr_kept(printed):
                ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError, OSError, ray.exceptions.RayError) as exc:
            if local:
                session._keep = True
                raise RagError(
                    f"cannot start Ray on this machine ({cause_line(exc)}); see Ray's logs in "
                    f"{os.path.join(folder, RAY_FOLDER)}/session_latest/logs, or embed without Ray (--executor local)"
                ) from exc
            if any(sign in text for text in (*printed, str(exc)) for sign in _AUTH_REFUSED):
                raise RagError(
                    f"the Ray cluster at {address!r} refused this client: it uses Ray's token authentication; set "
                    "RAY_AUTH_MODE=token, and the cluster's token in RAY_AUTH_TOKEN or ~/.ray/auth_token"
                ) from exc
            raise RagError(
                f"cannot reach the Ray cluster at {address!r} ({cause_line(exc)}); start it (`ray start --head`) "
                "or fix --ray-address"
            ) from exc
        finally:
            if any(printed):
                log.info("Ray, while connecting: %s", printed[0].strip())
        session.started = True
        if local:
            session.tell_reaper()
            node = str(ray.util.get_node_ip_address())
            if not _is_loopback(node):
                raise RagError(
                    f"Ray started on the address {node}, not on {LOOPBACK} only, so it would be reachable from the "
                    "network: this Ray version is not supported for --executor ray; use --executor local"
                )
    except BaseException:
        session.close()
        raise
    return session


# What Ray's core prints when a cluster refuses a client without its token.
_AUTH_REFUSED = ("InvalidAuthToken", "Unauthenticated")


@contextlib.contextmanager
def _fd_stderr_kept(printed: list[str]) -> Iterator[None]:
    """What is written to the process's standard error meanwhile, kept in ``printed`` instead: Ray's core (C++, on
    file descriptor 2, not through Python's ``sys.stderr``) prints a line a second while it retries to reach a cluster,
    for some 20 s, before Python sees the failure. Used while joining a cluster (no process is started then, which
    would inherit the descriptor)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as kept:
        os.dup2(kept.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            kept.seek(0)
            printed.append(kept.read().decode("utf-8", "replace"))


# The subfolder of the session's private folder that Ray is given for its files (Ray makes it world-writable).
RAY_FOLDER = "ray"
# Ray's sockets are at FOLDER/ray/session_<date>_<time>_<µs>_<pid>/sockets/plasma_store (68 characters after FOLDER),
# and a Unix socket's path has at most 107 bytes.
_FOLDER_CHARS = 107 - 64 - len(f"/{RAY_FOLDER}")


def _private_folder() -> str:
    """A new folder readable by this user only, in the temporary folder ($TMPDIR), or in /tmp when that path is too
    long for Ray's sockets."""
    folder = tempfile.mkdtemp(prefix="rag-ray-")
    if len(folder) > _FOLDER_CHARS and os.path.isdir("/tmp"):
        os.rmdir(folder)
        folder = tempfile.mkdtemp(prefix="rag-ray-", dir="/tmp")
    return folder


def _prepare_local(ray: Any, session: Session) -> None:
    """A Ray started here: the settings ``connect`` put in the environment applied even if Ray was imported before
    (the loopback address, token authentication), and the reaper of its processes started."""
    from ray._private import ray_constants

    if ray_constants.ENABLE_RAY_CLUSTER:
        session._constant = True
        ray_constants.ENABLE_RAY_CLUSTER = False
    _reload_auth()
    assert session._folder is not None
    session._reaper = _start_reaper(os.environ[MARK_VARIABLE], session._folder)


def _quiet_errors() -> Any:
    """Send the messages Ray prints on the driver's standard error about failed tasks (a traceback and a line per
    retry) to rag's log instead (shown by ``rag --debug``): the build reports the failure in one line. Returns the
    function replaced."""
    from ray._private import worker

    printer = worker.print_to_stdstream

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        log.info("Ray: %s", "\n".join(str(line) for line in data.get("lines", ())))

    worker.print_to_stdstream = to_log
    return printer


def _reload_auth() -> None:
    """Make Ray read ``RAY_AUTH_MODE`` and ``RAY_AUTH_TOKEN`` again (it caches them when imported)."""
    import ray._raylet

    raylet: Any = ray._raylet
    if not hasattr(raylet, "Config") or not hasattr(raylet, "AuthenticationTokenLoader"):
        return  # another Ray version: if it does not start, ``connect`` says so
    raylet.Config.initialize("")
    raylet.AuthenticationTokenLoader.instance().reset_cache()


def _start_reaper(mark: str, folder: str) -> subprocess.Popen[bytes] | None:
    """The reaper of this session's processes (Linux: it finds them by the mark in their environment)."""
    if not sys.platform.startswith("linux"):
        return None  # Ray's own reaper and fate-sharing are all there is elsewhere
    script = Path(__file__).with_name("ray_reaper.py")
    # -I: the reaper imports nothing from the current directory (the trap that the working directory above avoids).
    return subprocess.Popen(
        [sys.executable, "-I", str(script), mark, folder], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,  # survives a kill of this process's group
    )  # fmt: skip


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once when ``HOST:PORT`` (or ``ray://HOST:PORT``) does not accept connections: Ray itself retries for
    many minutes, printing a warning every few seconds."""
    host, sep, port = address.rpartition("://")[2].rpartition(":")
    if not sep or not port.isdigit():
        return  # ``auto``, or an address Ray parses (and reports on) itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RagError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start it (`ray start --head`) "
            "or fix --ray-address"
        ) from exc


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


# -- Ray's failures, in one line ----------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))(: .*)?$")


def cause_line(exc: BaseException) -> str:
    """The root cause of ``exc`` in one line: the last ``SomeError: message`` line of the traceback Ray carries in its
    message (a worker's), else the first line of the message."""
    text = _ANSI.sub("", str(exc))
    found = [line.strip() for line in text.splitlines() if _EXCEPTION_LINE.match(line.strip())]
    line = found[-1] if found else next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    line = re.sub(r"^ray\.exceptions\.", "", line)
    return line if len(line) <= 300 else line[:297] + "..."


def rag_error(ray: Any, exc: BaseException, workers: int, retries: int) -> RagError:
    """The one-line ``RagError`` for a failure of Ray while embedding, naming its cause and the fix."""
    errors = ray.exceptions
    cause = getattr(exc, "cause", None)
    if isinstance(cause, RagError):  # rag's own error in a worker (the model loaded is not the one asked for...)
        return type(cause)(str(cause))
    if isinstance(exc, errors.RayActorError) and exc.actor_init_failed:
        reason = cause_line(exc)
        if re.match(r"(ModuleNotFound|Import)Error", reason):
            return RagError(
                f"the Ray workers cannot start ({reason}): each must be able to import rag, its dependencies and the "
                "embedder's code; install them on every node (pip install 'rag[ray]')"
            )
        return RagError(f"the Ray workers cannot start ({reason}); fix the cause, or embed without Ray (--executor local)")
    if isinstance(exc, errors.OutOfMemoryError):
        return RagError(f"Ray stopped a worker for lack of memory ({cause_line(exc)}); use fewer --workers than {workers}")
    if isinstance(exc, errors.RayActorError):
        return RagError(
            f"a Ray worker died {retries + 1} times while embedding ({cause_line(exc)}); it may lack memory: use fewer "
            f"--workers than {workers}, or --executor local (the finished shards are kept: a rerun embeds only the rest)"
        )
    if isinstance(exc, errors.RuntimeEnvSetupError):
        return RagError(
            f"Ray cannot prepare its workers' environment ({cause_line(exc)}); see Ray's logs, or use --executor local"
        )
    if isinstance(exc, errors.GetTimeoutError):
        return RagError(
            f"the Ray cluster did not start {workers} workers in time (each needs a free CPU); ask for fewer --workers"
        )
    return RagError(
        f"Ray failed while embedding ({cause_line(exc)}); run again (the finished shards are kept) or use --executor local"
    )
