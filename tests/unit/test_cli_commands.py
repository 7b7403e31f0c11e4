"""The command line that names one command builds only that command's module: the same command."""

from __future__ import annotations

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from eventlake.cli.main import COMMANDS, app, app_for, command_word


def _commands(target: typer.Typer) -> set[str]:
    group = typer.main.get_command(target)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def test_every_command_is_mapped_to_its_module() -> None:
    assert set(COMMANDS) == _commands(app)
    for name, module in COMMANDS.items():
        assert name in _commands(app_for([name])), f"{name} is not registered by cli/{module}.py"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_named_command_has_the_same_help_as_in_the_whole_app(name: str) -> None:
    runner = CliRunner()
    whole = runner.invoke(app, [name, "--help"], terminal_width=100)
    alone = runner.invoke(app_for([name, "--help"]), [name, "--help"], terminal_width=100)
    assert whole.exit_code == alone.exit_code == 0
    assert alone.output == whole.output


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["query", "SELECT 1"], "query"),
        (["--config", "sink", "query"], "query"),  # a global option's value is not the command
        (["--log-level", "debug", "--debug", "sql"], "sql"),
        (["--log-level=debug", "tables", "list"], "tables"),
        (["--help"], None),
        (["--", "query"], None),
        ([], None),
    ],
)
def test_the_command_word_follows_the_global_options(args: list[str], word: str | None) -> None:
    assert command_word(args) == word


def test_help_and_unknown_words_get_every_command() -> None:
    for args in (["--help"], [], ["--version"], ["qurey", "x"]):
        assert _commands(app_for(args)) == set(COMMANDS)
