"""Settings precedence and masking, as a user would check with `config show`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from eventlake.config import load_settings
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
