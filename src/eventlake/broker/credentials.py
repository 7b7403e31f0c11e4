"""The broker's own SASL credentials: what user names and passwords it accepts to expose Kafka with.

User names are checked against an allow-list (they become Kafka principals in `super.users`
and ACLs, and part of error messages). Passwords may hold any character that SCRAM and
librdkafka carry intact, which is all but NUL and leading white space; they are never written
to a file (the broker sets them through the Admin API). A broker open to the network also
refuses an empty, short or predictable one.
No message here ever repeats a password.
"""

from __future__ import annotations

import math
import re
import string

from eventlake.broker.exceptions import CredentialsRefused

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
MIN_DISTINCT_CHARS = 8
MIN_PASSWORD_BITS = 64
_C_SPACE = frozenset(" \t\n\v\f\r")  # what C's isspace() skips
MAKE_PASSWORD = (
    "make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'` "
    "and set it in EVENTLAKE_BROKER__SASL_PASSWORD"
)


def shown(value: str, limit: int = 40) -> str:
    """A user-supplied value fit for a one-line message: quoted, escaped, ASCII, bounded."""
    text = ascii(value[:limit])
    return text + ("..." if len(value) > limit else "")


def check_username(username: str) -> str:
    """Return `username` if it is on the allow-list, else raise a one-line CredentialsRefused."""
    if not isinstance(username, str) or USERNAME_PATTERN.fullmatch(username) is None:
        raise CredentialsRefused(
            f"the SASL user name {shown(str(username))} is not allowed",
            hint="use 1 to 64 letters, digits, '.', '_' or '-' (EVENTLAKE_BROKER__SASL_USERNAME)",
        )
    return username


def check_password(password: str, *, host: str) -> str:
    """Return `password` if it can be written for Kafka and is strong enough to expose `host` with."""
    if password.strip() == "":
        what = "empty" if password == "" else "only white space"
        raise CredentialsRefused(f"the SASL password to expose Kafka on {host} is {what}", hint=MAKE_PASSWORD)
    if password[0] in _C_SPACE:
        raise CredentialsRefused(
            "the SASL password starts with white space, which librdkafka (the Kafka client eventlake "
            "and many others use) drops before sending it",
            hint=MAKE_PASSWORD,
        )
    if "\x00" in password:
        raise CredentialsRefused(
            "the SASL password contains a NUL character, which Kafka clients (librdkafka) cannot carry",
            hint=MAKE_PASSWORD,
        )
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise CredentialsRefused(
            "the SASL password is not valid Unicode text (a lone surrogate)", hint=MAKE_PASSWORD
        ) from None
    if len(password) > MAX_PASSWORD_CHARS:
        raise CredentialsRefused(
            f"the SASL password is {len(password)} characters long, more than the {MAX_PASSWORD_CHARS} allowed",
            hint=MAKE_PASSWORD,
        )
    if len(password) < MIN_PASSWORD_CHARS:
        raise CredentialsRefused(
            f"the SASL password to expose Kafka on {host} is too short "
            f"({len(password)} characters; at least {MIN_PASSWORD_CHARS})",
            hint=MAKE_PASSWORD,
        )
    distinct = len(set(password))
    if distinct < MIN_DISTINCT_CHARS or strength_bits(password) < MIN_PASSWORD_BITS:
        raise CredentialsRefused(
            f"the SASL password to expose Kafka on {host} is too predictable "
            f"({distinct} different characters, about {strength_bits(password):.0f} bits; "
            f"at least {MIN_DISTINCT_CHARS} and {MIN_PASSWORD_BITS})",
            hint=MAKE_PASSWORD,
        )
    return password


_CLASSES = (
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.digits), 10),
    (frozenset(string.punctuation + " "), 33),
)


def strength_bits(password: str) -> float:
    """A rough guessing-entropy estimate: length (repeats discounted) times log2 of the alphabet used.

    `secrets.token_urlsafe(24)` scores about 190; `aaaaaaaaaaaaaaaa` and `abcabcabcabc` score
    far below the limit; twelve lowercase letters (56) fall just short of it.
    """
    pool = sum(size for chars, size in _CLASSES if any(c in chars for c in password))
    if any(ord(c) > 0x7E or ord(c) < 0x20 for c in password):
        pool += 100
    effective = min(len(password), 2 * len(set(password)))
    return effective * math.log2(pool) if pool > 1 else 0.0
