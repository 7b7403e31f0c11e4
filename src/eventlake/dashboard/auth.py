"""Access token for dashboards bound beyond loopback.

Every request must carry ``Authorization: Bearer <token>`` or the cookie set by
opening any page once with ``?token=<token>`` (the server answers with a redirect
that drops the token from the address bar and sets an HttpOnly cookie). The token
never reaches a log: `RedactToken` rewrites uvicorn's access-log lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "eventlake_token"
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redact(text: str) -> str:
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class RedactToken(logging.Filter):
    """Hide `token=...` in log records (uvicorn logs each request's path and query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


class LoopbackHostOnly:
    """On a loopback bind, answer only requests addressed to a loopback name.

    A web page elsewhere cannot then reach the dashboard through DNS rebinding (a name of
    theirs that resolves to 127.0.0.1): its requests carry that name in the Host header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            name = host.rsplit(":", 1)[0] if host.count(":") <= 1 else host.rpartition("]")[0] + "]"
            if name and not is_loopback(name):
                body = orjson.dumps({"error": f"this dashboard answers on loopback names only, not {name!r}"})
                await _send(send, 421, body, [(b"content-type", b"application/json")])
                return
        await self.app(scope, receive, send)


class TokenAuth:
    """Pure ASGI middleware (works with streaming responses)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()
        # The cookie holds a digest of the token, not the token: safe as a cookie value, and
        # a leaked cookie does not reveal the token itself.
        self.cookie_value = hashlib.sha256(b"eventlake-dashboard:" + self.token).hexdigest()

    def _ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token)  # type: ignore[union-attr]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer " and self._ok(bearer[7:].strip()):
            await self.app(scope, receive, send)
            return
        cookie: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookie.load(headers.get("cookie", ""))
        if COOKIE in cookie and hmac.compare_digest(cookie[COOKIE].value.encode(), self.cookie_value.encode()):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if given is not None and self._ok(given):
            if scope["method"] == "GET":
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                location = scope["path"] + (f"?{rest}" if rest else "")
                await _send(send, 303, b"", [(b"location", location.encode()), (b"set-cookie", self._cookie())])
            else:
                await self.app(scope, receive, send)
            return
        await _send(send, 401, orjson.dumps({"error": "this dashboard needs its access token: send "
                                                      "'Authorization: Bearer <token>' or open it once with "
                                                      "?token=<token>"}),
                    [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")])

    def _cookie(self) -> bytes:
        return f"{COOKIE}={self.cookie_value}; HttpOnly; SameSite=Strict; Path=/".encode()


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    start: dict[str, Any] = {"type": "http.response.start", "status": status,
                             "headers": [*headers, (b"content-length", str(len(body)).encode())]}
    await send(start)
    await send({"type": "http.response.body", "body": body})
