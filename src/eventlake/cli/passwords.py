"""Reading a password from a person or a pipe: never from a flag (`ps` shows flags to everyone)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from eventlake.broker.credentials import MAX_PASSWORD_CHARS
from eventlake.errors import UsageError

# A line longer than any password we accept is refused without reading the rest into memory.
_LIMIT = MAX_PASSWORD_CHARS * 4 + 2


def _one_line(text: str, source: str) -> str:
    """The first line of `text` without its line end; refuses more than one line or an empty one."""
    if len(text) > _LIMIT:
        raise UsageError(f"the password from {source} is too long", hint=f"at most {MAX_PASSWORD_CHARS} characters")
    body = text[:-1] if text.endswith("\n") else text
    body = body[:-1] if body.endswith("\r") else body
    if "\n" in body or "\r" in body:
        raise UsageError(f"the password from {source} spans more than one line", hint="give exactly one line")
    if body == "":
        raise UsageError(f"the password from {source} is empty", hint="give the password as one line")
    return body


def from_stdin() -> str:
    data = sys.stdin.buffer.read(_LIMIT + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the password on stdin is not UTF-8 text", hint="give it as one line of UTF-8") from None
    return _one_line(text, "stdin")


def from_file(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(_LIMIT + 1)
    except OSError as exc:
        raise UsageError(
            f"cannot read the password file {path}: {exc.strerror or exc}", hint="pass a readable --password-file"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the password file {path} is not UTF-8 text", hint="write it as one line of UTF-8") from None
    return _one_line(text, f"file {path}")


def prompt_twice(user: str) -> str:
    """Ask on the terminal, twice, without echo; refuse when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise UsageError(
            "no password given and no terminal to ask for one",
            hint="pipe it in with --password-stdin (never put it on the command line)",
        )
    first = getpass.getpass(f"password for {user}: ")
    second = getpass.getpass(f"password for {user} (again): ")
    if first != second:
        raise UsageError("the two passwords differ", hint="run the command again")
    return first
