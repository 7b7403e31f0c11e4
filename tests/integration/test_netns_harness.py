"""The "other machine" harness itself: what it reaches, what it cannot, and that it leaves nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import (
    CLAIMS_DIR,
    ETC_NETNS,
    OtherMachine,
    foreign_wildcard_ports,
    other_machine,
    process_start_time,
    sweep_leftovers,
)

pytestmark = pytest.mark.integration

# Connects to HOST:PORT from wherever it runs, sends a line and prints what came back, or the error's name.
_CLIENT = r"""
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        s.sendall(b"hello from the other machine\n")
        print(s.recv(100).decode().strip())
except OSError as exc:
    print(type(exc).__name__)
"""

# Listens on the given address inside the namespace, prints its port and echoes one line back.
_SERVER = r"""
import socket, sys
srv = socket.create_server((sys.argv[1], 0))
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.sendall(b"inside says " + conn.recv(100))
conn.close()
"""


def _links() -> str:
    return subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def machine() -> Iterator[OtherMachine]:
    with other_machine() as m:
        yield m


def test_other_machine_reaches_the_host_side_only(machine: OtherMachine) -> None:
    with socket.create_server((machine.host_address, 0)) as srv:
        port = srv.getsockname()[1]
        client = machine.python_popen("-c", _CLIENT, machine.host_address, str(port))
        conn, peer = srv.accept()
        with conn:
            assert peer[0] == machine.address, "the connection comes from the other machine's own address"
            conn.sendall(b"host got " + conn.recv(100))
        out, err = client.communicate(timeout=30)
        assert out.strip() == "host got hello from the other machine", err
    # The host's loopback is not the other machine's: a service bound to 127.0.0.1 here is out of reach.
    with socket.create_server(("127.0.0.1", 0)) as local:
        port = local.getsockname()[1]
        assert machine.python("-c", _CLIENT, "127.0.0.1", str(port)).stdout.strip() == "ConnectionRefusedError"


def test_host_cannot_reach_a_port_bound_only_inside(machine: OtherMachine) -> None:
    server = machine.python_popen("-c", _SERVER, "127.0.0.1")
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        # From the host neither its own loopback nor the other machine's address leads to it...
        for address in ("127.0.0.1", machine.address):
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=3).close()
        # ...while inside the namespace it is there, so the refusals above are the namespace's doing.
        inside = machine.python("-c", _CLIENT, "127.0.0.1", str(port))
        assert inside.stdout.strip() == "inside says hello from the other machine", inside.stderr
    finally:
        server.kill()
        server.communicate(timeout=30)


def test_host_reaches_what_the_other_machine_serves_on_its_address(machine: OtherMachine) -> None:
    server = machine.python_popen("-c", _SERVER, machine.address)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with socket.create_connection((machine.address, port), timeout=3) as conn:
            conn.sendall(b"hi\n")
            assert conn.recv(100) == b"inside says hi\n"
    finally:
        server.kill()
        server.communicate(timeout=30)


def test_port_scan_finds_exactly_what_listens_on_the_address(machine: OtherMachine) -> None:
    with socket.create_server((machine.host_address, 0)) as a, socket.create_server((machine.host_address, 0)) as b:
        wanted = {a.getsockname()[1], b.getsockname()[1]}
        found = set(machine.scan(machine.host_address))
    assert found - foreign_wildcard_ports(set()) == wanted
    # The ports are closed again once the sockets are.
    assert not set(machine.scan(machine.host_address, min(wanted), max(wanted))) & wanted


def test_teardown_removes_namespace_links_and_claim_even_after_a_failure() -> None:
    with pytest.raises(RuntimeError, match="boom"), other_machine() as m:
        name, host_if, subnet = m.name, m.host_if, m.subnet
        assert name in _namespaces() and host_if in _links()
        assert (CLAIMS_DIR / f"198.18.{subnet}.json").exists()
        m.set_hosts({"kafka.other.test": m.host_address})
        resolved = m.python("-c", "import socket; print(socket.gethostbyname('kafka.other.test'))")
        assert resolved.stdout.strip() == m.host_address, resolved.stderr
        raise RuntimeError("boom")
    assert name not in _namespaces()
    assert host_if not in _links() and m.peer_if not in _links()
    assert not (CLAIMS_DIR / f"198.18.{subnet}.json").exists()
    assert not (ETC_NETNS / name).exists()


def test_two_machines_at_once_get_different_subnets() -> None:
    with other_machine() as one, other_machine() as two:
        assert one.subnet != two.subnet and one.name != two.name
        # One cannot see the other's address: each has only its own /30.
        probe = one.python("-c", _CLIENT, two.address, "9")
        assert probe.stdout.strip() in {"OSError", "TimeoutError", "ConnectionRefusedError"}, probe.stdout


def test_sweep_removes_what_a_killed_run_left_behind() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert process_start_time(dead.pid) is None
    name = "el-0dead0ff"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "link", "add", "el0dead0ffh", "type", "veth", "peer", "name", "el0dead0ffn"], check=True)
    claim = CLAIMS_DIR / "198.18.255.json"  # outside the handed-out range: no live run can hold it
    claim.write_text(json.dumps({"pid": dead.pid, "started": "1", "name": name}))
    orphan = "el-0bad0bad"  # a namespace of ours whose claim is already gone
    subprocess.run(["ip", "netns", "add", orphan], check=True)

    removed = sweep_leftovers()

    assert {name, orphan} <= set(removed)
    assert name not in _namespaces() and orphan not in _namespaces()
    assert "el0dead0ffh" not in _links()
    assert not claim.exists()


def test_sweep_keeps_a_live_run(machine: OtherMachine) -> None:
    assert machine.name not in sweep_leftovers()
    assert machine.name in _namespaces()


def test_without_root_the_harness_fails_saying_what_to_do() -> None:
    # The harness (stdlib only) is copied where user nobody can read it: a checkout, pytest's
    # tmp_path and a CI clone may all be private to their owner.
    folder = Path(tempfile.mkdtemp(prefix="el-netns-nobody-"))
    try:
        folder.chmod(0o755)
        copy = folder / "netns.py"
        shutil.copyfile(Path(__file__).parents[1] / "netns.py", copy)
        copy.chmod(0o644)
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                "import netns; netns.OtherMachine()",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            cwd=folder,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert proc.returncode != 0
    assert "NetnsUnavailable: network namespaces need root (id -u is 65534)" in proc.stderr
