"""The broker's TLS certificate: a private CA and a server certificate, as PEM files Kafka reads.

Layout of `<data-dir>/tls/` (every file 600, the folder 700)::

    ca.pem               the CA's certificate: what clients need (`kafka.ssl_ca_location`)
    ca-key.pem           the CA's private key (made here only; absent with your own certificate)
    broker.pem           the broker's certificate chain (leaf first, then the CA)
    broker-key.pem       its private key, unencrypted PKCS#8
    broker-keystore.pem  key + chain in one file: Kafka's `ssl.keystore.type=PEM` reads this

With your own certificate (settings broker.tls_cert / tls_key / tls_ca) the files are checked
(key matches, not expired, signed by the CA, names cover the advertised one) and copied in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eventlake.broker.credentials import shown
from eventlake.broker.exceptions import BrokerError
from eventlake.broker.private_files import PRIVATE_DIR, write_private

CA_DAYS = 3650
DEFAULT_DAYS = 397  # what public CAs may issue at most: a habit worth keeping for a private one
MAX_DAYS = 3650
EXPIRY_WARNING_DAYS = 30
MAX_SANS = 32
MAX_PEM_BYTES = 1024 * 1024
_BACKDATE = dt.timedelta(minutes=5)  # clocks of clients a little behind still accept a fresh certificate

# RFC 1123 labels, optionally one leading "*." (a wildcard certificate of your own).
_DNS_NAME = re.compile(
    r"(?=.{1,253}\Z)(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})


class CertificateError(BrokerError):
    """A certificate, key or CA is missing, unreadable, mismatched or expired."""


@dataclass(frozen=True)
class CertInfo:
    subject: str
    sans: tuple[str, ...]
    not_after: dt.datetime
    serial: int
    issuer: str

    @property
    def days_left(self) -> float:
        return (self.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400

    @property
    def expiring(self) -> bool:
        return self.days_left < EXPIRY_WARNING_DAYS

    def as_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_after": self.not_after.isoformat(),
            "days_left": round(self.days_left, 1),
            "serial": f"{self.serial:x}",
        }


@dataclass(frozen=True)
class TlsFiles:
    """Where the broker's TLS files live."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "broker.pem"

    @property
    def key(self) -> Path:
        return self.folder / "broker-key.pem"

    @property
    def keystore(self) -> Path:
        return self.folder / "broker-keystore.pem"

    def complete(self) -> bool:
        return all(p.is_file() for p in (self.ca, self.cert, self.key, self.keystore))

    def info(self) -> CertInfo | None:
        """The broker certificate's subject, names and expiry; None when there is none yet."""
        if not self.cert.is_file():
            return None
        return cert_info(_load_chain(self.cert, "broker certificate")[0])


# ---- names


def check_san(value: str) -> str:
    """Return `value` if it is a DNS name or an IP address fit for a certificate, else raise one line."""
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            if _DNS_NAME.fullmatch(value) is not None:
                return value.lower()
    raise CertificateError(
        f"the certificate name {shown(str(value))} is not a host name or an IP address",
        hint="use names like kafka.example.org or addresses like 203.0.113.7 (--san / broker.tls_sans)",
    )


def broker_names(advertise: str, host: str, extra: Iterable[str] = ()) -> list[str]:
    """The names the broker certificate must hold: advertise first (the subject), host, then extra."""
    wanted = [advertise, *([] if host in _ANY_ADDRESS else [host]), *extra]
    names: list[str] = []
    for value in wanted:
        name = check_san(value)
        if name not in names:
            names.append(name)
    if len(names) > MAX_SANS:
        raise CertificateError(
            f"{len(names)} certificate names are more than the {MAX_SANS} allowed",
            hint="list only the names clients use to reach this broker",
        )
    return names


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise CertificateError(f"--days {days} is out of range", hint=f"use 1 to {MAX_DAYS} days")
    return days


# ---- making a CA and a broker certificate


def ensure_certificate(
    files: TlsFiles, names: Sequence[str], *, days: int = DEFAULT_DAYS, renew: bool = False
) -> tuple[CertInfo, bool]:
    """Make what is missing: the CA once, a broker certificate when absent, renewed or short of names.

    Returns the broker certificate's info and whether a new one was written.
    """
    check_days(days)
    files.folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    files.folder.chmod(PRIVATE_DIR)
    if files.ca.is_file() and not files.ca_key.is_file() and files.cert.is_file():
        raise CertificateError(
            f"{files.folder} holds a certificate of your own (no ca-key.pem), which eventlake cannot renew",
            hint="renew it with your CA and set broker.tls_cert / tls_key / tls_ca, or move the folder away",
        )
    if not (files.ca.is_file() and files.ca_key.is_file()):
        _write_ca(files)
    current = files.info() if files.complete() else None
    if current is not None and not renew and set(names) <= set(current.sans) and current.days_left > 0:
        return current, False
    ca_cert = _load_chain(files.ca, "CA certificate")[0]
    ca_key = _load_key(files.ca_key, "CA key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    _write_broker_files(files, key, [cert, ca_cert], ca_cert)
    return cert_info(cert), True


def _write_ca(files: TlsFiles) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    # A random suffix: two eventlake installs never issue under the same CA name.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"eventlake private CA {secrets.token_hex(4)}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(files.ca_key, _pkcs8(key))
    write_private(files.ca, cert.public_bytes(serialization.Encoding.PEM))
    # A new CA invalidates the old broker certificate: make sure it is issued again.
    for old in (files.cert, files.keystore):
        old.unlink(missing_ok=True)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pkcs8(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(pem, pkcs8, serialization.NoEncryption())


def _write_broker_files(
    files: TlsFiles,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    chain: Sequence[x509.Certificate],
    ca: x509.Certificate,
) -> None:
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    write_private(files.key, _pkcs8(key))
    write_private(files.cert, chain_pem)
    write_private(files.ca, ca.public_bytes(serialization.Encoding.PEM))
    # Last: the file Kafka reads (and reloads on rotation) changes in one step.
    write_private(files.keystore, _pkcs8(key) + chain_pem)


# ---- your own certificate


@dataclass(frozen=True)
class OwnCertificate:
    chain: list[x509.Certificate]
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ca: x509.Certificate
    info: CertInfo


def install_own(files: TlsFiles, cert_path: Path, key_path: Path, ca_path: Path, advertise: str) -> CertInfo:
    """Check a certificate, key and CA of your own, then copy them in as Kafka reads them."""
    own = check_own(cert_path, key_path, ca_path, advertise)
    files.folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    files.ca_key.unlink(missing_ok=True)  # the CA is yours: nothing here may sign with an old one
    chain = own.chain
    full = chain if any(c.subject == own.ca.subject for c in chain[1:]) else [*chain, own.ca]
    _write_broker_files(files, own.key, full, own.ca)
    return own.info


def check_own(cert_path: Path, key_path: Path, ca_path: Path, advertise: str) -> OwnCertificate:
    """Read and check your own files; raise a one-line CertificateError for the first problem."""
    chain = _load_chain(cert_path, "broker.tls_cert")
    key = _load_key(key_path, "broker.tls_key")
    ca = _load_chain(ca_path, "broker.tls_ca")[0]
    leaf = chain[0]
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError(
            f"the key in {shown(str(key_path))} is neither RSA nor EC", hint="use an RSA (2048+) or EC P-256+ key"
        )
    _check_strength(key, key_path)
    if key.public_key().public_numbers() != leaf.public_key().public_numbers():  # type: ignore[union-attr]
        raise CertificateError(
            f"the key {shown(str(key_path))} does not belong to the certificate {shown(str(cert_path))}",
            hint="set broker.tls_key to the private key the certificate was issued for",
        )
    info = cert_info(leaf)
    if info.days_left <= 0:
        raise CertificateError(
            f"the certificate {shown(str(cert_path))} expired on {info.not_after:%Y-%m-%d}",
            hint="renew it with your CA, or unset broker.tls_cert/tls_key/tls_ca to let eventlake make one",
        )
    if not _issued_by(chain, ca):
        raise CertificateError(
            f"the certificate {shown(str(cert_path))} was not issued by the CA in {shown(str(ca_path))}",
            hint="set broker.tls_ca to the CA (PEM) that signed it, the one clients will trust",
        )
    if not covers(info.sans, advertise):
        raise CertificateError(
            f"the certificate's names {', '.join(info.sans) or '(none)'} do not cover the advertised "
            f"{shown(advertise)}",
            hint="issue it with that name as a subject alternative name, or set --advertise to one of its names",
        )
    return OwnCertificate(chain, key, ca, info)


def _check_strength(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, path: Path) -> None:
    weak = (isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048) or (
        isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < 256
    )
    if weak:
        raise CertificateError(
            f"the key {shown(str(path))} has {key.key_size} bits, too weak for a broker open to other machines",
            hint="issue a certificate with an RSA 2048+ or EC P-256+ key",
        )


def _issued_by(chain: Sequence[x509.Certificate], ca: x509.Certificate) -> bool:
    """True if the chain ends at `ca` (each certificate signed by the next, the last by the CA)."""
    for cert, issuer in zip(chain, [*chain[1:], ca], strict=True):
        if cert.subject == ca.subject and cert.public_key() == ca.public_key():
            return True
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return False
    return True


def covers(sans: Iterable[str], name: str) -> bool:
    """Whether a certificate with these names is valid for `name` (one wildcard label allowed)."""
    try:
        return str(ipaddress.ip_address(name)) in sans
    except ValueError:
        pass
    wanted = name.lower().rstrip(".")
    for san in sans:
        san = san.lower()
        if san == wanted:
            return True
        if san.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == san[2:]:
            return True
    return False


# ---- reading PEM files


def _read(path: Path, what: str) -> bytes:
    text = str(path)
    if not text or any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise CertificateError(
            f"{what} {shown(text)} is not a usable path", hint="give the path of a PEM file, without control characters"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise CertificateError(
            f"{what} {shown(text)} cannot be read: {exc.strerror}", hint="give the path of a readable PEM file"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or a device would hang or never end
        os.close(fd)
        raise CertificateError(f"{what} {shown(text)} is not a regular file", hint="give the path of a PEM file")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_PEM_BYTES + 1)
    if len(data) > MAX_PEM_BYTES:
        raise CertificateError(f"{what} {shown(text)} is larger than 1 MiB", hint="give the path of a PEM file")
    return data


def _load_chain(path: Path, what: str) -> list[x509.Certificate]:
    data = _read(path, what)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise CertificateError(
            f"{what} {shown(str(path))} holds no PEM certificate", hint="give a file with -----BEGIN CERTIFICATE-----"
        )
    return certs


def _load_key(path: Path, what: str) -> PrivateKeyTypes:
    data = _read(path, what)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertificateError(
            f"{what} {shown(str(path))} is encrypted",
            hint="give the key unencrypted (it stays in the private data dir, mode 600)",
        ) from None
    except ValueError:
        raise CertificateError(
            f"{what} {shown(str(path))} holds no PEM private key", hint="give a file with -----BEGIN PRIVATE KEY-----"
        ) from None


def cert_info(cert: x509.Certificate) -> CertInfo:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        # In the certificate's order: the first is the advertised name.
        sans = tuple(str(n.value) for n in ext if isinstance(n, x509.DNSName | x509.IPAddress))
    except x509.ExtensionNotFound:
        sans = ()
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        sans=sans,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        issuer=cert.issuer.rfc4514_string(),
    )
