"""What processes run and where they listen, read from /proc (Linux): a process and all its descendants, and the
TCP sockets listening / UDP sockets bound by them. No third-party tool: the test must see what the kernel sees, not
what a library reports. (A tag in the environment would not do: Ray's agents overwrite theirs when they set their
title.)"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    name: str
    started: int  # clock ticks after boot: with the pid, names the process even once its pid is reused

    def alive(self) -> bool:
        try:
            return _stat(self.pid)[1] == self.started
        except OSError:
            return False


def _stat(pid: int) -> tuple[int, int]:
    """(parent pid, start time) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19])


def family(root: int) -> dict[int, Process]:
    """``root`` and every process descended from it that is alive now, by pid."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = _stat(int(entry))[0]
            except OSError:
                continue
    members = {root}
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in members} - members
        members |= new
        grew = bool(new)
    out: dict[int, Process] = {}
    for pid in members:
        try:
            out[pid] = Process(pid, name(pid), _stat(pid)[1])
        except OSError:
            continue
    return out


def name(pid: int) -> str:
    """The program's name as its command line shows it (Ray's processes set titles such as ``ray::RuntimeEnvAgent``;
    the kernel's ``comm`` keeps only 15 characters)."""
    words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if not words or not words[0]:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return os.path.basename(words[0].decode("utf-8", "replace").split(" ")[0])


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode("utf-8", "replace").partition("=")[::2] for item in raw if item)


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")


@dataclass(frozen=True)
class Socket:
    pid: int
    command: str
    protocol: str
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.address)
        mapped = getattr(ip, "ipv4_mapped", None)
        return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _address(hex_address: str) -> tuple[str, int]:
    """``0100007F:1F90`` (IPv4) or 32 hex digits and a port (IPv6), as /proc/net writes them (words in host order)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    host_bytes = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(host_bytes)), int(port, 16)


def _bound_sockets() -> dict[int, tuple[str, str, int]]:
    """inode → (protocol, address, port) of every listening TCP and bound UDP socket of the machine."""
    found: dict[int, tuple[str, str, int]] = {}
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{protocol}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            # TCP: LISTEN (0A); UDP: bound and unconnected (07), the state in which it receives from anyone
            if state != ("0A" if protocol.startswith("tcp") else "07") or inode == 0:
                continue
            address, port = _address(local)
            found[inode] = (protocol, address, port)
    return found


def listening(processes: dict[int, Process]) -> set[Socket]:
    """The sockets on which ``processes`` accept connections or datagrams."""
    bound = _bound_sockets()
    out: set[Socket] = set()
    for pid, process in processes.items():
        command = process.name
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in bound:
                    protocol, address, port = bound[inode]
                    out.add(Socket(pid, command, protocol, address, port))
    return out
