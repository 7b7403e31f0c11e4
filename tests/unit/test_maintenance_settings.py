"""`[maintenance]` retention values come from files, env and flags: only `off` or N h/d/w pass."""

from __future__ import annotations

import pytest

from eventlake.config import load_settings
from eventlake.config.maintenance import MaintenanceSettings, retention_seconds
from eventlake.errors import ConfigError

BAD_AGES = [
    "",  # empty
    "30",  # no unit
    "0d",  # zero would drop everything at once
    "-1d",  # negative
    "1.5d",  # fractions
    "30x",  # unknown unit
    "30D",  # units are lower case
    "３０d",  # full-width digits
    "30d ",  # trailing space
    "30d;DROP TABLE files",  # injected
    "1" * 10_000 + "d",  # oversized
    "1000000d",  # out of range: more than six digits
    "30d\n",  # newline
    "off\x00",  # NUL
]


@pytest.mark.parametrize("text", [t for t in BAD_AGES if "\x00" not in t])  # no NUL fits in an env var
def test_bad_retention_is_one_line_naming_the_setting(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_MAINTENANCE__RETENTION", text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    line = caught.value.one_line()
    assert "maintenance.retention" in line and "\n" not in line
    assert len(line) < 1000  # an oversized value is not echoed whole


@pytest.mark.parametrize("text", BAD_AGES)
def test_bad_per_table_retention_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="retention"):
        MaintenanceSettings.model_validate({"table_retention": {"stock_ticks": text}})


@pytest.mark.parametrize("table", ["", "a.b.c", "t; DROP", "../etc", "tä", "t\x00", "x" * 10_000 + " "])
def test_bad_table_names_in_table_retention_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="bad table name"):
        MaintenanceSettings.model_validate({"table_retention": {table: "30d"}})


@pytest.mark.parametrize(("text", "seconds"), [("off", None), ("12h", 43_200), ("30d", 2_592_000), ("4w", 2_419_200)])
def test_good_retention_values(text: str, seconds: float | None) -> None:
    assert retention_seconds(text) == seconds
    assert MaintenanceSettings(retention=text).retention_for("any_table") == seconds


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("interval_s", "inf"),  # would overflow the pass loop's wait and end maintenance
        ("interval_s", "1e400"),  # inf spelled as a number
        ("interval_s", "0"),
        ("iceberg_interval_s", "inf"),
        ("iceberg_interval_s", "-5"),
        ("open_hour_seconds", "nan"),
        ("open_hour_seconds", "inf"),
        ("open_hour_seconds", "-1"),
        ("open_hour_fanout", "1"),  # a tier of one would rewrite a piece into itself every pass
        ("open_hour_fanout", "65"),
        ("open_hour_fanout", "8.5"),
        ("open_hour_fanout", "8x"),
        ("open_hour_minutes", "1"),  # the old name: refused, not silently ignored
    ],
)
def test_bad_open_hour_and_interval_settings_are_one_line_naming_the_setting(
    setting: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"EVENTLAKE_MAINTENANCE__{setting.upper()}", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert f"maintenance.{setting}" in str(err.value) and "\n" not in str(err.value)


def test_open_hour_and_interval_settings_in_range_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting, value in {"interval_s": "0.5", "open_hour_seconds": "0", "open_hour_fanout": "64"}.items():
        monkeypatch.setenv(f"EVENTLAKE_MAINTENANCE__{setting.upper()}", value)
    cfg = load_settings().maintenance
    assert (cfg.interval_s, cfg.open_hour_seconds, cfg.open_hour_fanout) == (0.5, 0.0, 64)
