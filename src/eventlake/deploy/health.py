"""Is the deployed broker reachable: a TCP connect, then a TLS handshake checked against the
deployment's own CA when it has published one. Short timeouts: `deploy status` must not hang."""

from __future__ import annotations

import socket
import ssl

TIMEOUT_S = 3.0


def probe(host: str, port: int, ca_pem: str | None, timeout: float = TIMEOUT_S) -> str:
    """One line: 'TLS ok (...)', 'TCP open, ...', or 'unreachable: ...'."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return f"unreachable: {exc.strerror or exc.__class__.__name__} (from here, within {timeout:g} s)"
    with sock:
        if ca_pem is None:
            return "TCP open; TLS not checked (the CA is not published yet)"
        context = ssl.create_default_context(cadata=ca_pem)
        try:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                return f"TLS ok ({tls.version()}, certificate signed by the deployment's CA for {host})"
        except ssl.SSLCertVerificationError as exc:
            return f"TCP open, TLS certificate refused: {exc.verify_message}"
        except (ssl.SSLError, OSError) as exc:
            return f"TCP open, TLS handshake failed: {exc.__class__.__name__}"
