"""``classroom settings`` lists every setting, masks secrets, and docs/settings.md is the
reference it generates: every field described, the committed doc equal to the generated."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, get_args

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, Field

from classroom.cli import main
from classroom.settings_cli import DOC, MASK, settings_list, with_reference
from schemas.settings import Settings, VisionSettings

KNOWN_PASSWORD = "KnownPass345"


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds: ``FrontCone`` of ``dict[str, FrontCone]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in models_in(arg)]


def undocumented(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every field of ``model``, and of the models in its fields, without a description."""
    missing = []
    for name, field in model.model_fields.items():
        if not (field.description or "").strip():
            missing.append(prefix + name)
        for inner in models_in(field.annotation):
            missing += undocumented(inner, f"{prefix}{name}.")
    return missing


def test_every_field_has_a_description() -> None:
    assert len(settings_list(Settings())) >= 80  # the walk reached the leaves
    assert undocumented(Settings) == []


def test_control_an_undocumented_field_is_found() -> None:
    class Section(BaseModel):
        described: int = Field(1, description="what it does")
        bare: int = 2

    class Model(BaseModel):
        section: Section = Field(Section(), description="a section")
        cones: dict[str, Section] = Field({}, description="by camera")

    assert undocumented(Model) == ["section.bare", "cones.bare"]


def test_the_committed_doc_is_the_generated_reference() -> None:
    text = DOC.read_text()
    assert with_reference(text) == text
    for setting in settings_list(Settings()):
        assert f"| `{setting.variable}` |" in text


def test_control_a_changed_description_makes_the_doc_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tmp_path / "settings.md"
    shutil.copy(DOC, doc)
    monkeypatch.setattr(VisionSettings.model_fields["detector"], "description", "changed")
    runner = CliRunner()

    stale = runner.invoke(main, ["settings", "--doc", str(doc), "--check"])
    assert stale.exit_code == 1 and "out of date" in stale.output
    assert runner.invoke(main, ["settings", "--doc", str(doc)]).exit_code == 0
    assert "| changed |" in doc.read_text()
    assert runner.invoke(main, ["settings", "--doc", str(doc), "--check"]).exit_code == 0


def test_the_command_prints_every_setting_with_secrets_masked() -> None:
    env = {"CLASSROOM_WAREHOUSE__PASSWORD": KNOWN_PASSWORD, "CLASSROOM_POLICY__EMOTION": "off"}
    runner = CliRunner()
    text = runner.invoke(main, ["settings"], env=env)
    markdown = runner.invoke(main, ["settings", "--format", "markdown"], env=env)

    assert text.exit_code == 0 and markdown.exit_code == 0, text.output + markdown.output
    for setting in settings_list(Settings()):
        assert f"{setting.variable} = " in text.output
        assert f"| `{setting.variable}` |" in markdown.output
    assert "CLASSROOM_POLICY__EMOTION = off\n" in text.output
    assert f"CLASSROOM_WAREHOUSE__PASSWORD = {MASK}\n" in text.output
    assert KNOWN_PASSWORD not in text.output + markdown.output


def test_control_the_password_was_set() -> None:
    """The masked value above is the password given, not an unset one."""
    env = {"CLASSROOM_WAREHOUSE__PASSWORD": KNOWN_PASSWORD}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        (password,) = (s for s in settings_list(Settings()) if s.variable in env)
        assert Settings().warehouse.password.get_secret_value() == KNOWN_PASSWORD
    assert password.current == MASK
