"""An address beyond loopback for an exposed broker, and the CA-and-certificate helpers its tests use.

`exposed_address` is the host side of a veth pair whose other end sits in a network
namespace made for the session: a real non-loopback address (198.18.0.0/15, the block
reserved for network tests), on no network anyone else uses, removed at the end.
(tests/netns.py, the "other machine" harness, builds on the same idea to run clients from
inside the namespace.)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture(scope="session")
def exposed_address() -> Iterator[str]:
    """198.18.X.1 on this machine (X free), reachable from a namespace at 198.18.X.2."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2 to make a veth pair in a network namespace")
    for _ in range(8):
        x = 64 + secrets.randbelow(190)
        if _ip("-4", "addr", "show", "to", f"198.18.{x}.0/30").stdout.strip():
            continue  # another run (an xdist worker, the netns harness) uses it
        name = f"el-{secrets.token_hex(3)}"
        host_if, ns_if = f"{name}h", f"{name}n"
        steps = [
            ["netns", "add", name],
            ["link", "add", host_if, "type", "veth", "peer", "name", ns_if],
            ["link", "set", ns_if, "netns", name],
            ["addr", "add", f"198.18.{x}.1/30", "dev", host_if],
            ["link", "set", host_if, "up"],
            ["-n", name, "addr", "add", f"198.18.{x}.2/30", "dev", ns_if],
            ["-n", name, "link", "set", ns_if, "up"],
        ]
        try:
            for step in steps:
                done = _ip(*step)
                if done.returncode != 0:
                    pytest.fail(f"ip {' '.join(step)}: {done.stderr.strip()}")
            yield f"198.18.{x}.1"
            return
        finally:
            _ip("link", "del", host_if)
            _ip("netns", "del", name)
    pytest.fail("no free 198.18.X.0/30 found")


# ---- certificates of "your own", made by a CA of the test's


def make_ca(name: str = "test CA") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {secrets.token_hex(3)}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    names: list[str],
    *,
    days: int = 30,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    """A server certificate for `names` signed by `ca` (days < 0: already expired)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=2), now - dt.timedelta(days=1)) if days < 0 else (now, now + dt.timedelta(days=days))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "none")]))
        .issuer_name(ca[0].subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca[1], hashes.SHA256())
    )
    return cert, key


def write_pem(path: Path, *items: x509.Certificate | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> Path:
    out = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            out += item.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
    path.write_bytes(out)
    return path
