"""The shipped systemd units start commands that exist, with flags the CLI accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eventlake.cli.main import app

UNITS = sorted((Path(__file__).parents[2] / "deploy" / "systemd").glob("*.service"))


def _exec_lines(unit: Path) -> list[list[str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    service = parser["Service"]
    lines = [service[k] for k in ("ExecStart", "ExecStop") if k in service]
    return [shlex.split(line.replace("%i", "stock-ticks")) for line in lines]


def test_units_are_shipped() -> None:
    assert {u.name for u in UNITS} == {
        "eventlake-broker.service",
        "eventlake-sink@.service",
        "eventlake-dashboard.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_commands_parse_and_restart_on_failure(unit: Path) -> None:
    text = unit.read_text()
    assert "Restart=" in text and "UMask=0077" in text
    assert "--token " not in text and "PASSWORD" not in text.upper()  # secrets never on a command line
    for argv in _exec_lines(unit):
        assert argv[0].endswith("/eventlake")
        # The same arguments with --help: Typer rejects an unknown command or flag with exit 2.
        result = CliRunner().invoke(app, [*argv[1:], "--help"])
        assert result.exit_code == 0, (unit.name, argv, result.output)
