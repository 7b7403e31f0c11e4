"""The README documents every setting, and only settings that exist (as datasette checks its
documented settings): its tables are the models rendered by scripts/settings_tables.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from eventlake.config import Settings
from eventlake.config.doc import BEGIN_MARK, END_MARK, markdown_tables, replace_tables, setting_docs

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REGENERATE = "run `PYTHONPATH=src .venv/bin/python scripts/settings_tables.py` and commit README.md"


def leaf_names(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    """Every setting, walked here from model_fields, independently of eventlake.config.doc."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= leaf_names(ann, f"{prefix}{name}.")
        else:
            names.add(prefix + name)
    return names


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(BEGIN_MARK) : text.index(END_MARK)]


def test_every_setting_is_in_the_readme_tables() -> None:
    rows = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", readme_block(), flags=re.M))
    missing = sorted(leaf_names() - rows)
    assert not missing, f"settings missing from README.md: {missing}; {REGENERATE}"


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    """Table rows, and `section.name` mentioned anywhere in the README, must be real settings."""
    real = leaf_names()
    rows = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", readme_block(), flags=re.M))
    sections = {name.split(".")[0] for name in real if "." in name}
    mentioned = {
        m
        for m in re.findall(r"`([a-z0-9_]+\.[a-z0-9_.]+)`", README.read_text(encoding="utf-8"))
        if m.split(".")[0] in sections and not m.endswith((".py", ".toml"))
    }
    unknown = sorted((rows | mentioned) - real)
    assert not unknown, f"README.md documents settings that do not exist: {unknown}"


def test_the_readme_tables_are_the_models_rendered() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_tables(text, markdown_tables()) == text, f"README.md settings tables are stale; {REGENERATE}"


def test_a_new_setting_makes_the_tables_stale() -> None:
    """The comparison above can fail: a field added to a section changes the rendering."""

    class MoreSink(Settings.model_fields["sink"].annotation):  # type: ignore[misc]
        new_knob: int = Field(1, ge=1, description="A knob nobody documented.")

    class More(Settings):
        sink: MoreSink = Field(default_factory=MoreSink, description="The lake sink.")

    tables = markdown_tables(More)
    assert "| `sink.new_knob` | int >= 1 | 1 | A knob nobody documented. |" in tables
    text = README.read_text(encoding="utf-8")
    assert replace_tables(text, tables) != text


def test_every_setting_and_section_has_a_one_line_description() -> None:
    for doc in setting_docs():
        assert doc.description, f"{doc.name} has no Field(description=...)"
        assert "\n" not in doc.description and doc.description.endswith("."), doc.name
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no Field(description=...)"


def test_secret_defaults_are_masked_in_the_docs() -> None:
    class WithSecret(BaseModel):
        password: SecretStr = SecretStr("hunter2")

    (doc,) = setting_docs(WithSecret)
    assert doc.default == "********" and doc.type == "secret"
    assert "hunter2" not in markdown_tables(WithSecret)


def test_the_script_checks_and_rewrites_the_readme() -> None:
    env = {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/settings_tables.py"), "--check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
