"""The "other machine" of the network tests: a Linux network namespace joined to this one by a veth pair.

`OtherMachine()` creates namespace `el-<random>` and a veth pair: host side 198.18.X.1/30, namespace
side 198.18.X.2/30, with X unique among every run on this machine (198.18.0.0/15 is the block
reserved for network tests, so it never collides with a real private or public network). Inside,
only `lo` and the veth end exist: the namespace reaches the host's 198.18.X.1 and nothing else,
and the host reaches nothing bound only inside. Everything is removed on exit, after a failure too;
leftovers of runs that were killed (their creator's pid is gone) are swept before each new one.

Needs root (`ip netns`); without it the harness fails with what to do, never skips silently.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

# The eventlake command of the venv running the tests (its sources: python_env's PYTHONPATH).
EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))
# One claim file per 198.18.X.0/30 in use, holding the creator's pid: X is unique machine-wide
# (xdist workers and other people's runs alike) and a killed run's leftovers can be found.
CLAIMS_DIR = Path("/run/eventlake-netns")
NAME_RE = re.compile(r"^el-[0-9a-f]{8}$")
# Third octets handed out; .0 and .255 are left alone so a /24 view of the block stays tidy.
SUBNETS = range(1, 255)
BLOCK = ipaddress.ip_network("198.18.0.0/15")


class NetnsUnavailable(RuntimeError):
    """`ip netns` cannot work here (not root, no iproute2, no namespace support)."""


def _ip(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat), so a reused pid is not taken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(claim: dict[str, Any]) -> bool:
    pid = claim.get("pid")
    return isinstance(pid, int) and process_start_time(pid) == claim.get("started")


def require_netns() -> None:
    """Fail with what to do when network namespaces cannot be made here."""
    if shutil.which("ip") is None:
        raise NetnsUnavailable("the 'ip' command is missing: install iproute2 (make system-deps does, as root)")
    if os.geteuid() != 0:
        raise NetnsUnavailable(
            f"network namespaces need root (id -u is {os.geteuid()}): run the network tests as root, as CI does"
        )


def _namespaces() -> set[str]:
    out = _ip("-j", "netns", "list", check=False).stdout.strip()
    return {entry["name"] for entry in json.loads(out or "[]")}


# `ip netns exec NAME` bind-mounts the files of /etc/netns/NAME over /etc: the other machine's hosts file.
ETC_NETNS = Path("/etc/netns")


def _remove(name: str, host_if: str) -> None:
    shutil.rmtree(ETC_NETNS / name, ignore_errors=True)
    # Deleting the namespace destroys its veth end and with it the pair; the host end is removed
    # explicitly too in case the namespace was already gone.
    if name in _namespaces():
        _ip("netns", "del", name, check=False)
    if _ip("link", "show", host_if, check=False).returncode == 0:
        _ip("link", "del", host_if, check=False)


def _read_claim(path: Path) -> dict[str, Any] | None:
    """A claim's content ({} when unreadable for long: garbage); None to leave it alone."""
    try:
        claim: dict[str, Any] = json.loads(path.read_text())
        return claim
    except FileNotFoundError:
        return None  # released meanwhile
    except (OSError, ValueError):
        try:
            fresh = time.time() - path.stat().st_mtime < 60  # being written by a run that just claimed it
        except FileNotFoundError:
            return None
        return None if fresh else {}


def sweep_leftovers() -> list[str]:
    """Remove namespaces, links and claims of earlier runs whose creator is gone; return the names removed."""
    removed: list[str] = []
    CLAIMS_DIR.mkdir(mode=0o700, exist_ok=True)
    # Namespaces first, claims after: a run claims before it creates, so every namespace listed
    # here that is alive has its claim on disk by the time the claims are read.
    existing = _namespaces()
    claimed: set[str] = set()
    for path in CLAIMS_DIR.glob("*.json"):
        claim = _read_claim(path)
        if claim is None:
            continue
        name = str(claim.get("name", ""))
        if claim and _alive(claim):
            claimed.add(name)
            continue
        if NAME_RE.match(name):
            _remove(name, _host_if(name))
            removed.append(name)
        path.unlink(missing_ok=True)
    # A namespace of ours without a claim: its claim is written before it is made and removed after
    # it is gone, so only a run killed between those two steps leaves one.
    for name in existing:
        if NAME_RE.match(name) and name not in claimed and name not in removed:
            _remove(name, _host_if(name))
            removed.append(name)
    return removed


def _host_if(name: str) -> str:
    return f"el{name[3:]}h"  # interface names have at most 15 characters


def _peer_if(name: str) -> str:
    return f"el{name[3:]}n"


def _addresses_in_use() -> set[ipaddress.IPv4Interface]:
    out = _ip("-j", "-4", "addr", "show", check=False).stdout.strip()
    found: set[ipaddress.IPv4Interface] = set()
    for link in json.loads(out or "[]"):
        for addr in link.get("addr_info", []):
            found.add(ipaddress.IPv4Interface(f"{addr['local']}/{addr['prefixlen']}"))
    return found


def _claim_subnet(name: str) -> tuple[int, Path]:
    """Atomically take a 198.18.X.0/30 no other run holds and no interface here uses."""
    in_use = _addresses_in_use()
    me = {"pid": os.getpid(), "started": process_start_time(os.getpid()), "name": name}
    candidates = list(SUBNETS)
    secrets.SystemRandom().shuffle(candidates)  # fewer collisions between xdist workers starting together
    for x in candidates:
        subnet = ipaddress.ip_network(f"198.18.{x}.0/30")
        assert subnet.subnet_of(BLOCK)  # type: ignore[arg-type]
        if any(iface.network.overlaps(subnet) for iface in in_use):
            continue
        path = CLAIMS_DIR / f"198.18.{x}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue
            raise
        with os.fdopen(fd, "w") as out:
            json.dump(me, out)
        return x, path
    raise RuntimeError("every 198.18.X.0/30 of the test block is taken: too many network tests at once?")


# A bounded TCP connect scan, run inside the namespace: up to CONCURRENCY non-blocking connects in
# flight, each given TIMEOUT seconds. On a veth a closed port answers with a reset at once, so the
# 65,535 ports take seconds. Prints the open ports as JSON.
_SCAN = r"""
import errno, json, selectors, socket, struct, sys, time
host = sys.argv[1]
first, last, concurrency = map(int, sys.argv[2:5])
timeout = float(sys.argv[5])
sel = selectors.DefaultSelector()
ports = iter(range(first, last + 1))
open_ports, pending, exhausted = [], {}, False
linger = struct.pack("ii", 1, 0)  # close with a reset: no TIME_WAIT pile-up, no half-open session left behind
while True:
    while not exhausted and len(pending) < concurrency:
        port = next(ports, None)
        if port is None:
            exhausted = True
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            continue
        pending[s] = (port, time.monotonic() + timeout)
        sel.register(s, selectors.EVENT_WRITE)
    if not pending:
        break
    for key, _ in sel.select(0.05):
        s = key.fileobj
        port, _deadline = pending.pop(s)
        sel.unregister(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            open_ports.append(port)
        s.close()
    now = time.monotonic()
    for s, (port, deadline) in list(pending.items()):
        if now > deadline:  # filtered: no answer at all, counted as not open
            del pending[s]
            sel.unregister(s)
            s.close()
print(json.dumps(sorted(open_ports)))
"""


class OtherMachine:
    """A network namespace with a veth pair to the host; use as a context manager."""

    def __init__(self) -> None:
        require_netns()
        self.name = f"el-{secrets.token_hex(4)}"
        self.host_if = _host_if(self.name)
        self.peer_if = _peer_if(self.name)
        self.subnet = -1
        self._claim: Path | None = None

    @property
    def host_address(self) -> str:
        """The host's end of the veth: what a broker for the other machine binds and advertises."""
        return f"198.18.{self.subnet}.1"

    @property
    def address(self) -> str:
        """The other machine's own address."""
        return f"198.18.{self.subnet}.2"

    def __enter__(self) -> OtherMachine:
        sweep_leftovers()
        self.subnet, self._claim = _claim_subnet(self.name)
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _create(self) -> None:
        proc = _ip("netns", "add", self.name, check=False)
        if proc.returncode != 0:
            raise NetnsUnavailable(f"ip netns add failed: {proc.stderr.strip()} (needs root and namespace support)")
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
        _ip("link", "set", self.peer_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        self._ns_ip("addr", "add", f"{self.address}/30", "dev", self.peer_if)
        self._ns_ip("link", "set", "lo", "up")
        self._ns_ip("link", "set", self.peer_if, "up")
        # Until the veth's carrier is up a connect from inside fails with "network unreachable".
        deadline = time.monotonic() + 10
        while "LOWER_UP" not in self._ns_ip("link", "show", self.peer_if).stdout:
            if time.monotonic() > deadline:
                raise RuntimeError(f"veth {self.peer_if} in {self.name} did not come up within 10 s")
            time.sleep(0.02)

    def _ns_ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _ip("-n", self.name, *args)

    def close(self) -> None:
        """Remove the namespace, the veth pair and the claim; safe to call more than once."""
        _remove(self.name, self.host_if)
        if self._claim is not None:
            self._claim.unlink(missing_ok=True)
            self._claim = None

    def set_hosts(self, names: dict[str, str]) -> None:
        """The other machine's /etc/hosts (for what runs through `ip netns exec`): name -> address."""
        folder = ETC_NETNS / self.name
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["127.0.0.1 localhost", *(f"{address} {name}" for name, address in names.items())]
        (folder / "hosts").write_text("\n".join(lines) + "\n")

    # ---- running things on the other machine

    def command(self, cmd: Sequence[str | os.PathLike[str]]) -> list[str]:
        """`cmd` as run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *map(str, cmd)]

    def run(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        *,
        input: str | bytes | None = None,
        timeout: float = 120,
        check: bool = False,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        text: bool = True,
    ) -> subprocess.CompletedProcess[Any]:
        """Run `cmd` inside the namespace, capturing its output."""
        return subprocess.run(
            self.command(cmd),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=check,
            env=env,
            cwd=cwd,
            text=text,
        )

    def popen(
        self,
        cmd: Sequence[str | os.PathLike[str]],
        *,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        text: bool = True,
    ) -> subprocess.Popen[Any]:
        """Start `cmd` inside the namespace; the caller waits for it (or kills it)."""
        return subprocess.Popen(
            self.command(cmd), stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd, text=text
        )

    def python_popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start the project's venv Python (`python ARGS`) inside the namespace; stdout and stderr are pipes."""
        return self.popen([sys.executable, *args], env=python_env(env))

    def python(
        self, *args: str, input: str | None = None, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the project's venv Python (`python ARGS`) inside the namespace with this checkout's sources."""
        return subprocess.run(
            self.command([sys.executable, *args]),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=python_env(env),
        )

    def scan(
        self, host: str, first: int = 1, last: int = 65535, *, concurrency: int = 512, timeout_s: float = 1.0
    ) -> list[int]:
        """The TCP ports of `host` that accept a connection from inside the namespace (a bounded connect scan)."""
        proc = self.python("-c", _SCAN, host, str(first), str(last), str(concurrency), str(timeout_s), timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"port scan from {self.name} failed: {proc.stderr.strip()[-500:]}")
        ports: list[int] = json.loads(proc.stdout)
        return ports


_SS_PID = re.compile(r"pid=(\d+)")


def listeners() -> list[tuple[str, int, set[int]]]:
    """Every listening TCP socket of this (the host's) namespace: (address, port, pids holding it)."""
    proc = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=30, check=True)
    found = []
    for line in proc.stdout.splitlines():
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        found.append((address.strip("[]"), int(port), {int(p) for p in _SS_PID.findall(line)}))
    return found


def foreign_wildcard_ports(own_pids: set[int]) -> set[int]:
    """Ports that processes other than `own_pids` listen on for every address (0.0.0.0, ::): a scan of
    any host address finds them open, whoever runs beside the tests (an ssh server, another suite)."""
    return {port for address, port, pids in listeners() if address in ("0.0.0.0", "::", "*") and not pids & own_pids}


class CommandLines:
    """Every process's command line on this machine (what `ps -eww` shows), sampled every `interval_s` in a
    thread while in use: `with CommandLines() as seen: ...`, then `seen.holding(secrets)`. Keeps each distinct
    line, so secrets made only while it ran (an instance's passwords) are checked too."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.samples = 0
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="command-lines", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def sample(self) -> None:
        """Read every command line now (besides the thread's own samples)."""
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):  # gone meanwhile
                    found.add((entry / "cmdline").read_bytes())
        with self._lock:
            self._seen |= found
            self.samples += 1

    def holding(self, secrets: Iterable[str]) -> list[str]:
        """The command lines seen that hold any of `secrets`, as `ps` would print them (cut to 200 characters)."""
        wanted = [s.encode() for s in secrets]
        with self._lock:
            seen = list(self._seen)
        return [c.replace(b"\0", b" ").decode(errors="replace")[:200] for c in seen if any(w in c for w in wanted)]

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def python_env(extra: dict[str, str] | None = None, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment with the checkout's sources first on PYTHONPATH, less the variables
    whose names start with a `drop` prefix, `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} if drop else dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def run_eventlake(
    args: Sequence[str],
    *,
    cwd: Path,
    input: str | None = None,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = ("EVENTLAKE_",),
) -> subprocess.CompletedProcess[str]:
    """`eventlake ARGS` on this machine as its user runs it: this checkout's sources, none of this
    process's settings (variables starting with a `drop` prefix), `env` on top; stdout and stderr kept."""
    return subprocess.run(
        [EVENTLAKE, *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=python_env(env, drop=drop),
    )


@contextlib.contextmanager
def other_machine() -> Iterator[OtherMachine]:
    """`with other_machine() as m:` a fresh namespace, removed on the way out."""
    with OtherMachine() as machine:
        yield machine
