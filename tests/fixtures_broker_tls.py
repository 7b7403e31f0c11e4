"""An address beyond loopback for an exposed broker, and the CA-and-certificate helpers its tests use.

`exposed_address` is the host side of a veth pair whose other end sits in a network
namespace made for the session by the "other machine" harness (tests/netns.py): a real
non-loopback address (198.18.0.0/15, the block reserved for network tests), on no network
anyone else uses, removed at the end. Without root it fails with a clear message, never skips.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.netns import other_machine


@pytest.fixture(scope="session")
def exposed_address() -> Iterator[str]:
    """198.18.X.1 on this machine, reachable from a namespace at 198.18.X.2 (tests/netns.py's
    harness: subnets claimed machine-wide, removed on failure, killed runs' leftovers swept)."""
    with other_machine() as machine:
        yield machine.host_address


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
