"""The checkers the deployment tests rely on catch what they claim to catch."""

from __future__ import annotations

import click
import pytest

from tests.deploy.contracts import resolve_command, settings_problems


def test_a_known_command_and_option_parse() -> None:
    context = resolve_command(["camera", "--camera-id", "room-1-front"])
    assert context.params["camera_id"] == "room-1-front"
    assert resolve_command(["db", "migrate"]).command.name == "migrate"


@pytest.mark.parametrize(
    "argv", [["camera", "--no-such-option", "1"], ["no-such-role"], ["db", "no-such-step"]]
)
def test_an_unknown_command_or_option_is_refused(argv: list[str]) -> None:
    with pytest.raises(click.UsageError):
        resolve_command(argv)


def test_settings_names_are_checked() -> None:
    assert settings_problems({"CLASSROOM_KAFKA__BOOTSTRAP_SERVERS": "kafka:9093"}) == []
    assert settings_problems({"CLASSROOM_CONFIG": "/etc/classroom.yaml"}) == []
    assert settings_problems({"CLASSROOM_KAFKA__SASL_PASSWORD_FILE": "/run/secrets/k"}) == []
    assert settings_problems({"CLASSROOM_WAREHOUSE__PASSWORD_FILE": "/run/secrets/ch"}) == []
    for wrong in (
        "CLASSROOM_KAFKA__BOOTSTRAP",  # no such field
        "CLASSROOM_NO_SUCH_SECTION__X",
        "CLASSROOM_KAFKA__BOOTSTRAP_SERVERS_FILE",  # not a secret
        "CLASSROOM_KAFKA__BOOTSTRAP_SERVERS__PORT",  # not a section
    ):
        assert settings_problems({wrong: "x"}), wrong
