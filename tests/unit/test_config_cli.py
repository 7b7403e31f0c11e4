"""`eventlake config show --doc`, and a bad setting through the CLI: one line, exit 1."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventlake.cli import main
from eventlake.config.doc import setting_docs
from tests.unit.test_settings_documented import leaf_names


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def eventlake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """The console script's entry point in this process (start-up is what e2e tests time)."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("EVENTLAKE_")]:
        monkeypatch.delenv(key)

    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "argv", ["eventlake", *args])
        capsys.readouterr()
        try:
            main.run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            for key in env or {}:
                monkeypatch.delenv(key)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def test_config_show_doc_lists_every_setting(eventlake: Callable[..., Ran]) -> None:
    res = eventlake("config", "show", "--doc", "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == [d.name for d in setting_docs()]
    assert {r["name"] for r in rows} == leaf_names()
    by_name = {r["name"]: r for r in rows}
    assert by_name["sink.flush_rows"] == {
        "name": "sink.flush_rows",
        "type": "int >= 1",
        "default": "500000",
        "env": "EVENTLAKE_SINK__FLUSH_ROWS",
        "description": by_name["sink.flush_rows"]["description"],
    }
    assert by_name["query.engine"]["type"] == "one of duckdb / athena"
    assert by_name["query.crawler.on_delete"]["env"] == "EVENTLAKE_QUERY__CRAWLER__ON_DELETE"
    assert all(r["description"] for r in rows)


def test_config_show_doc_shows_defaults_never_secrets(eventlake: Callable[..., Ran], tmp_path: Path) -> None:
    """--doc documents defaults: a password in the environment or a broken file changes nothing."""
    (tmp_path / "eventlake.toml").write_text("[sink\n")
    env = {"EVENTLAKE_KAFKA__SASL_PASSWORD": "hunter2-secret"}
    res = eventlake("config", "show", "--doc", "--format", "csv", env=env)
    assert res.returncode == 0, res.stderr
    assert "hunter2" not in res.stdout
    assert res.stdout.splitlines()[0] == "name,type,default,env,description"
    assert len(res.stdout.splitlines()) >= len(setting_docs()) + 1


def test_config_show_table_has_dotted_names_and_masks_secrets(eventlake: Callable[..., Ran]) -> None:
    env = {"EVENTLAKE_KAFKA__SASL_PASSWORD": "hunter2-secret", "EVENTLAKE_SINK__FLUSH_ROWS": "1234"}
    res = eventlake("config", "show", "--format", "csv", env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "sink.flush_rows,1234" in lines and "kafka.sasl_password,********" in lines
    assert "hunter2" not in res.stdout


def test_a_bad_choice_on_the_command_line_is_one_line_and_exit_1(eventlake: Callable[..., Ran]) -> None:
    res = eventlake("sink", "some-topic", "--format", "xz")
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "sink.format" in res.stderr and "'parquet' or 'jsonl'" in res.stderr and "'xz'" in res.stderr
    res = eventlake("query", "SELECT 1", "--engine", "spark")
    assert res.returncode == 1, res.stderr
    assert "query.engine" in res.stderr and "'duckdb' or 'athena'" in res.stderr


def test_a_bad_choice_from_env_or_file_stops_any_command_in_one_line(
    eventlake: Callable[..., Ran], tmp_path: Path
) -> None:
    res = eventlake("config", "show", env={"EVENTLAKE_SINK__COMPRESSION": "xz"})
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "sink.compression" in res.stderr and "'brotli'" in res.stderr
    (tmp_path / "eventlake.toml").write_text('[query.crawler]\non_delete = "purge"\n')
    res = eventlake("config", "show")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "query.crawler.on_delete" in res.stderr and "eventlake.toml" in res.stderr


def test_an_unknown_log_level_is_a_usage_error_listing_the_levels(eventlake: Callable[..., Ran]) -> None:
    res = eventlake("--log-level", "loud", "config", "show")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    said = " ".join(res.stderr.replace("\u2502", " ").split())  # Typer's boxed panel, unwrapped
    assert "'loud' is not one of" in said and "'warning'" in said
    assert eventlake("--log-level", "info", "config", "show").returncode == 0
