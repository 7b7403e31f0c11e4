"""PostgreSQL catalog URLs are outside input: allow-listed parts, no password in them, redacted in messages."""

from __future__ import annotations

import pytest

from eventlake.catalog.postgres import parse, redact
from eventlake.catalog.store import catalog_path
from eventlake.config import load_settings
from eventlake.errors import ConfigError


def test_a_plain_url_parses_into_separate_keywords() -> None:
    t = parse("postgresql://sink_1@db.example.com:6543/eventlake?sslmode=verify-full&connect_timeout=5")
    assert (t.host, t.port, t.user, t.dbname) == ("db.example.com", 6543, "sink_1", "eventlake")
    assert t.options == {"sslmode": "verify-full", "connect_timeout": "5"}
    assert parse("postgres://[::1]/lake").shown() == "postgresql://[::1]:5432/lake"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:s3cret@h/db", "holds a password"),
        ("postgresql://u@h/db;DROP TABLE ledger", "database"),
        ("postgresql://u@h/db%27%20host%3Devil", "database"),
        ("postgresql://u@h/db?options=-csearch_path%3Devil", "unknown option"),
        ("postgresql://u@h/db?sslmode=maybe", "sslmode"),
        ("postgresql://u@h/db?connect_timeout=0", "connect_timeout"),
        ("postgresql://u@h:99999/db", "not a valid URL"),
        ("postgresql://u@h_ost/db", "host name"),
        ("postgresql://u@/db", "no host"),
        ("postgresql://u@h/", "database"),
        ("postgresql://u@h/db\n", "control characters"),
        ("postgresql://u%20x@h/db", "user"),
    ],
)
def test_hostile_urls_are_refused_in_one_line(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(url)
    text = str(caught.value)
    assert says in text and len(text.splitlines()) == 1
    assert "s3cret" not in text


def test_passwords_are_redacted_and_unknown_schemes_refused_without_them() -> None:
    assert redact("postgresql://u:pw@h:1/db") == "postgresql://u:***@h:1/db"
    assert redact("mysql://u:p@ss:w@h/db").startswith("mysql://u:***@")
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ConfigError) as caught:
        catalog_path(load_settings(overrides={"catalog": "mysql://root:hunter2@h/db"}))
    assert "hunter2" not in str(caught.value) and "postgresql://" in str(caught.value)


def test_the_catalog_password_is_a_secret_in_settings() -> None:
    s = load_settings(overrides={"catalog": "postgresql://u@h/db", "catalog_password": "hunter2"})
    assert s.masked()["catalog_password"] == "********"
    assert "hunter2" not in repr(s)
