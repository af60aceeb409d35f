"""Every secret setting (every ``SecretStr`` field, found by walking the model, so a new
secret is covered without a new test) is read from the file its ``<VARIABLE>_FILE`` names,
by the one mechanism ``schemas.settings.SecretFiles``; a plain setting's ``_FILE`` is not."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from schemas.settings import Settings, load_settings, secret_file_variable, secret_paths

SECRETS = secret_paths(Settings)


def value_at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for part in path:
        value = getattr(value, part)
    return value


@pytest.fixture(autouse=True)
def no_classroom_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("CLASSROOM_")]:
        monkeypatch.delenv(name)


def test_the_secrets_are_the_ones_a_school_has() -> None:
    assert {
        ("warehouse", "password"),
        ("kafka", "sasl_password"),
        ("policy", "embeddings_key"),
        ("grafana", "token"),
    } == set(SECRETS)


def test_control_a_new_secret_field_is_found() -> None:
    class Section(BaseModel):
        token: SecretStr | None = None
        name: str = ""

    class Model(BaseModel):
        section: Section = Section()

    assert secret_paths(Model) == [("section", "token")]


@pytest.mark.parametrize("path", SECRETS, ids=".".join)
def test_the_secret_is_read_from_its_file(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "secret"
    file.write_text("from-the-file\n")  # as `echo` and editors write it
    monkeypatch.setenv(secret_file_variable(path), str(file))
    monkeypatch.setenv(secret_file_variable(path).removesuffix("_FILE"), "from-the-environment")

    assert value_at(load_settings(), path).get_secret_value() == "from-the-file"


@pytest.mark.parametrize("path", SECRETS, ids=".".join)
def test_control_without_its_file_the_environment_value_is_used(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(secret_file_variable(path).removesuffix("_FILE"), "from-the-environment")

    assert value_at(load_settings(), path).get_secret_value() == "from-the-environment"


def test_an_unreadable_secret_file_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLASSROOM_WAREHOUSE__PASSWORD_FILE", str(tmp_path / "missing"))

    with pytest.raises(ValueError, match="CLASSROOM_WAREHOUSE__PASSWORD_FILE names"):
        load_settings()


def test_a_plain_setting_is_not_read_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "servers"
    file.write_text("kafka:9092")
    monkeypatch.setenv("CLASSROOM_KAFKA__BOOTSTRAP_SERVERS_FILE", str(file))

    assert load_settings().kafka.bootstrap_servers == "localhost:9092"
