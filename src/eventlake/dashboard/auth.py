"""Access token for dashboards bound beyond loopback.

Every request must carry ``Authorization: Bearer <token>`` or the cookie set by
opening any page once with ``?token=<token>`` (the server answers with a redirect
that drops the token from the address bar and sets an HttpOnly cookie). The query
string is decoded once (`params.query_pairs`), so ``?%74oken=`` is the same key as
``?token=``. The token never reaches a log: `RedactToken` rewrites log records,
whatever encoding the token or its key arrived in.

A token is taken from ``dashboard.token`` (env EVENTLAKE_DASHBOARD__TOKEN) or from the
file ``dashboard.token_file`` (mode 600), stripped of surrounding whitespace, and must be
long and random enough (`check_token`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import stat
import string
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from eventlake.config.dashboard import DashboardSettings
from eventlake.dashboard.exceptions import BadParameter, TokenFileError, WeakToken
from eventlake.dashboard.params import TOKEN_KEY, query_pairs

COOKIE = "eventlake_token"
MIN_TOKEN_CHARS = 32
MAX_TOKEN_CHARS = 1024
MIN_TOKEN_BITS = 128
MIN_DISTINCT_CHARS = 8
# Character classes a guesser would try; a token's alphabet is the union of the classes it uses.
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)


# --- the token's rules ----------------------------------------------------------------------------
def check_token(token: str) -> str:
    """The token stripped of surrounding whitespace, if long and random enough; else WeakToken."""
    token = token.strip()
    if not token:
        raise WeakToken("the dashboard access token is blank")
    if any(not "!" <= ch <= "~" for ch in token):  # allow-list: printable ASCII, no spaces
        raise WeakToken("the dashboard access token may hold only printable ASCII characters without spaces")
    if len(token) < MIN_TOKEN_CHARS:
        raise WeakToken(f"the dashboard access token has {len(token)} characters; it needs at least {MIN_TOKEN_CHARS}")
    if len(token) > MAX_TOKEN_CHARS:
        raise WeakToken(f"the dashboard access token is longer than {MAX_TOKEN_CHARS} characters")
    if len(set(token)) < MIN_DISTINCT_CHARS:
        raise WeakToken(f"the dashboard access token uses only {len(set(token))} distinct characters")
    bits = token_bits(token)
    if bits < MIN_TOKEN_BITS:
        raise WeakToken(
            f"the dashboard access token is too predictable (about {bits:.0f} bits; {MIN_TOKEN_BITS} needed)"
        )
    return token


def token_bits(token: str) -> float:
    """Estimated entropy: unpredictable characters times log2 of the alphabet the token draws on."""
    alphabet = sum(len(chars) for chars in _CLASSES if any(ch in chars for ch in token))
    return _unpredictable(token) * math.log2(alphabet) if alphabet > 1 else 0.0


def _unpredictable(token: str) -> int:
    """Characters a guesser could not foresee: not continuing a run (aaa, abc, 987) and not
    repeating an earlier stretch of 4 or more (abcdabcd counts as abcd plus one)."""
    count = i = 0
    while i < len(token):
        if (
            i >= 2
            and abs(step := ord(token[i]) - ord(token[i - 1])) <= 1
            and step == ord(token[i - 1]) - ord(token[i - 2])
        ):
            i += 1
            continue
        length = 4
        while i + length <= len(token) and token.find(token[i : i + length], 0, i + length - 1) != -1:
            length += 1
        count += 1
        i += length - 1 if length > 4 else 1
    return count


def configured_token(settings: DashboardSettings) -> str | None:
    """The access token from `token` or `token_file` (checked), or None when neither is set."""
    given = settings.token.get_secret_value() if settings.token is not None else ""
    if settings.token_file:
        if given:
            raise TokenFileError("both dashboard.token and dashboard.token_file are set", hint="keep one of them")
        return check_token(read_token_file(Path(settings.token_file)))
    return check_token(given) if given else None


def read_token_file(path: Path) -> str:
    """A token file's text, refused unless it is a regular file only its owner may read."""
    fix = f"create it with: (umask 077; python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path})"
    try:
        # Non-blocking: a FIFO must not hang the start; fstat on the open file, not a second lookup.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file {path}: {exc.strerror or exc}", hint=fix) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokenFileError(f"the token file {path} is not a regular file", hint=fix)
        mode = stat.S_IMODE(info.st_mode)
        if mode & ~0o600:
            raise TokenFileError(
                f"the token file {path} has mode {mode:04o}, looser than 0600", hint=f"chmod 600 {path}"
            )
        data = os.read(fd, MAX_TOKEN_CHARS + 64)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokenFileError(f"the token file {path} is not UTF-8 text", hint=fix) from exc
    if not text.strip():
        raise TokenFileError(f"the token file {path} is empty", hint=fix)
    return text


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- keeping it out of logs -----------------------------------------------------------------------
# Every credential a server of this process accepts (tokens and cookie values), for `redact`.
_SECRETS: set[str] = set()
# One `key=value` (or path) between query separators, quotes and spaces.
_PIECE = re.compile(r"[^?&;\s\"'<>]+")


def _forms(text: str) -> set[str]:
    """The text and its percent-decodings, up to three deep (a doubly encoded key is still a key)."""
    forms = {text}
    for _ in range(3):
        text = unquote_plus(text)
        forms.add(text)
    return forms


def redact(text: str) -> str:
    """The text with every known credential and every `token` query value replaced by ***."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")

    def piece(match: re.Match[str]) -> str:
        key, eq, _value = match.group(0).partition("=")
        if eq and any(form.strip().lower().endswith(TOKEN_KEY) for form in _forms(key)):
            return f"{key}=***"
        if any(secret in form for form in _forms(match.group(0)) for secret in _SECRETS):
            return f"{key}=***" if eq else "***"
        return match.group(0)

    return _PIECE.sub(piece, text)


def _redacted(value: Any) -> Any:
    """A log argument with credentials hidden; other objects keep their type (for %d, %.2f)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    clean = redact(text)
    return value if clean == text else clean


class RedactToken(logging.Filter):
    """Hide credentials in log records: message, arguments and traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):  # kept a tuple: uvicorn's access formatter unpacks it
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction(*secrets: str) -> None:
    """Redact these (and earlier) secrets in uvicorn's and eventlake's loggers and in the root's handlers.

    A logger's filters see only records made on that very logger, so each one gets the filter;
    handlers (uvicorn's own, the CLI's root handler) get it too for records of any other logger.
    """
    _SECRETS.update(s for s in secrets if s)
    manager = logging.Logger.manager
    names = {"uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "eventlake", "eventlake.dashboard.app"}
    names |= {n for n in list(manager.loggerDict) if n.startswith(("uvicorn.", "eventlake."))}
    loggers = [logging.getLogger(n) for n in sorted(names)]
    targets: list[logging.Filterer] = [*loggers, *logging.getLogger().handlers]
    targets += [h for lg in loggers for h in lg.handlers]
    for target in targets:
        if not any(isinstance(f, RedactToken) for f in target.filters):
            target.addFilter(RedactToken())


# --- the middlewares ------------------------------------------------------------------------------
class LoopbackHostOnly:
    """On a loopback bind, answer only requests addressed to a loopback name.

    A web page elsewhere cannot then reach the dashboard through DNS rebinding (a name of
    theirs that resolves to 127.0.0.1): its requests carry that name in the Host header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            name = host.rsplit(":", 1)[0] if host.count(":") <= 1 else host.rpartition("]")[0] + "]"
            if name and not is_loopback(name):
                await refuse(scope, send, 421, f"this dashboard answers on loopback names only, not {name!r}")
                return
        await self.app(scope, receive, send)


class TokenAuth:
    """Pure ASGI middleware (works with streaming responses); only lifespan events pass unchecked."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.digest = _digest(token)
        # The cookie holds a digest of the token, not the token: safe as a cookie value, and
        # a leaked cookie does not reveal the token itself.
        self.cookie_value = hashlib.sha256(b"eventlake-dashboard:" + token.encode()).hexdigest()
        install_redaction(token, self.cookie_value)

    def _ok(self, candidate: str) -> bool:
        # Digests compared: equal length, so the comparison time says nothing about the token.
        candidate = candidate.strip()
        return bool(candidate) and hmac.compare_digest(_digest(candidate), self.digest)

    def _by_header_or_cookie(self, scope: Scope) -> bool:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        bearer = [v.decode("latin-1") for k, v in headers if k == b"authorization"]
        if len(bearer) == 1:  # two Authorization headers are ambiguous: neither counts
            scheme, _, credential = bearer[0].partition(" ")
            if scheme.lower() == "bearer" and self._ok(credential):
                return True
        cookie: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookie.load("; ".join(v.decode("latin-1") for k, v in headers if k == b"cookie"))
        return COOKIE in cookie and hmac.compare_digest(cookie[COOKIE].value.encode(), self.cookie_value.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if self._by_header_or_cookie(scope):
            await self.app(scope, receive, send)
            return
        try:
            query = query_pairs(scope.get("query_string", b""))
        except BadParameter:
            query = []
        given = [v for k, v in query if k == TOKEN_KEY]
        if len(given) == 1 and self._ok(given[0]):
            if scope["type"] == "http" and scope["method"] == "GET":
                rest = urlencode([(k, v) for k, v in query if k != TOKEN_KEY])
                # The decoded path, re-encoded, with one leading slash: never `//host` (another site).
                path = quote("/" + scope["path"].lstrip("/"), safe="/:@!$'()*+,;=-._~")
                location = path + (f"?{rest}" if rest else "")
                await _send(send, 303, b"", [(b"location", location.encode("ascii")), (b"set-cookie", self._cookie())])
            else:
                await self.app(scope, receive, send)
            return
        await refuse(
            scope,
            send,
            401,
            "this dashboard needs its access token: send 'Authorization: Bearer <token>' "
            "or open it once with ?token=<token>",
            [(b"www-authenticate", b"Bearer")],
        )

    def _cookie(self) -> bytes:
        return f"{COOKIE}={self.cookie_value}; HttpOnly; SameSite=Strict; Path=/".encode()


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


async def refuse(
    scope: Scope, send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with a one-line JSON error (an HTTP request) or close (a websocket)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = orjson.dumps({"error": message})
    await _send(send, status, body, [(b"content-type", b"application/json"), *(headers or [])])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
