"""Settings precedence and masking, as a user would check with `config show`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from eventlake.config import load_settings
from eventlake.config.doc import setting_docs
from eventlake.errors import ConfigError


def test_flags_win_over_env_and_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "eventlake.toml"
    cfg.write_text('lake = "/from/file"\n[sink]\nflush_rows = 10\ngroup = "file-group"\n')
    monkeypatch.setenv("EVENTLAKE_SINK__FLUSH_ROWS", "20")
    monkeypatch.setenv("EVENTLAKE_LAKE", "/from/env")

    s = load_settings(cfg)
    assert s.lake == "/from/env"
    assert s.sink.flush_rows == 20
    assert s.sink.group == "file-group"

    s = load_settings(cfg, {"sink": {"flush_rows": 30, "group": None}, "lake": "/from/flag"})
    assert s.sink.flush_rows == 30
    assert s.sink.group == "file-group"  # a flag left unset does not erase the file's value
    assert s.lake == "/from/flag"


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_KAFKA__SASL_PASSWORD", "hunter2")
    s = load_settings()
    assert isinstance(s.kafka.sasl_password, SecretStr)
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    shown = s.masked()
    assert shown["kafka"]["sasl_password"] == "********"
    assert "hunter2" not in repr(s)


def test_bad_values_and_missing_file_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_SINK__FLUSH_ROWS", "lots")
    with pytest.raises(ConfigError, match=r"sink\.flush_rows"):
        load_settings()
    monkeypatch.delenv("EVENTLAKE_SINK__FLUSH_ROWS")
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sink\n")
    with pytest.raises(ConfigError):
        load_settings(bad)


# Every setting whose type is a set of choices, found from the models (a new one is covered at once).
CHOICES = {d.name: d.type.removeprefix("one of ").split(" / ") for d in setting_docs() if d.type.startswith("one of ")}
BAD = "no-such-choice"


def test_choices_are_typed_not_checked_where_used() -> None:
    """The settings the brief names are among the choices; a plain `str` would not be listed."""
    assert {
        "sink.format",
        "sink.compression",
        "sink.on_reset",
        "sink.memory_pool",
        "produce.compression",
        "produce.acks",
        "produce.partitioner",
        "query.engine",
        "query.crawler.schema_change",
        "query.crawler.on_delete",
        "kafka.security_protocol",
        "kafka.sasl_mechanism",
    } <= set(CHOICES)


def _assert_names_setting_and_choices(exc: ConfigError, name: str) -> None:
    line = str(exc)
    assert "\n" not in line
    assert f"{name}: " in line
    assert BAD in line.lower(), "the bad value is shown so the user sees what was read"
    for choice in CHOICES[name]:
        assert f"'{choice}'" in line, f"{choice} missing from: {line}"


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_a_bad_choice_from_env_names_the_setting_and_its_choices(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_" + name.replace(".", "__").upper(), BAD)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    _assert_names_setting_and_choices(caught.value, name)


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_a_bad_choice_from_toml_names_the_setting_and_its_choices(name: str, tmp_path: Path) -> None:
    section, _, key = name.rpartition(".")
    cfg = tmp_path / "eventlake.toml"
    cfg.write_text(f'[{section}]\n{key} = "{BAD}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    _assert_names_setting_and_choices(caught.value, name)
    assert str(cfg) in str(caught.value), "the hint names the file that was read"


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_a_bad_choice_from_a_flag_names_the_setting_and_its_choices(name: str) -> None:
    *sections, key = name.split(".")
    overrides: dict[str, Any] = {key: BAD}
    for section in reversed(sections):
        overrides = {section: overrides}
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides=overrides)
    _assert_names_setting_and_choices(caught.value, name)


def test_choices_read_as_users_write_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOML `acks = 1` is the choice "1"; librdkafka's names are read in any case."""
    cfg = tmp_path / "eventlake.toml"
    cfg.write_text('[produce]\nacks = 1\n[kafka]\nsecurity_protocol = "sasl_ssl"\nsasl_mechanism = "scram-sha-512"\n')
    s = load_settings(cfg)
    assert (s.produce.acks, s.kafka.security_protocol, s.kafka.sasl_mechanism) == ("1", "SASL_SSL", "SCRAM-SHA-512")
    monkeypatch.setenv("EVENTLAKE_PRODUCE__ACKS", "-1")
    assert load_settings(cfg).produce.acks == "-1"


@pytest.mark.parametrize(
    ("env", "value", "expect"),
    [
        ("EVENTLAKE_BROKER__PORT", "70000", "less than or equal to 65535"),
        ("EVENTLAKE_DASHBOARD__PORT", "0", "greater than or equal to 1"),
        ("EVENTLAKE_SINK__FLUSH_SECONDS", "0", "greater than 0"),
        ("EVENTLAKE_BROKER__HEAP", "5 GB", "Java heap"),  # a pattern's error says what fits, not the regex
        ("EVENTLAKE_QUERY__MEMORY_LIMIT", "lots", "DuckDB's memory limit"),
        ("EVENTLAKE_AWS__ATHENA_OUTPUT", "/tmp/results", "s3://"),
    ],
)
def test_limits_are_checked_when_loading(env: str, value: str, expect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=re.escape(expect)) as caught:
        load_settings()
    assert "\n" not in str(caught.value) and "^" not in str(caught.value)


def test_unknown_and_secret_values_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelled setting may hold a secret: its name is shown, its value is not."""
    monkeypatch.setenv("EVENTLAKE_KAFKA__SASL_PASSWROD", "hunter2-secret")
    with pytest.raises(ConfigError, match=r"kafka\.sasl_passwrod: unknown setting") as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
