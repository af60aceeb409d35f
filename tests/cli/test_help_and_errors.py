"""Every subcommand's ``--help`` ends with an example that parses, and an error in any
command is one line and a non-zero exit code, never a traceback."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import click
import pytest
from click.testing import CliRunner

from classroom import cli
from classroom.cli import main
from tests.cli.doc_commands import PROJECT_ROOT, SHARED_DATA, cold_environment

USERS_OWN_FILES = ("roster.yaml", "anna-1.jpg", "anna-2.jpg")


def command_tree(
    group: click.Group = main, prefix: str = ""
) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        found = group.get_command(context, name)
        assert found is not None, name
        yield f"{prefix}{name}", found
        if isinstance(found, click.Group):
            yield from command_tree(found, f"{prefix}{name} ")


def examples_in_help(path: str) -> list[str]:
    result = CliRunner().invoke(main, [*path.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    _, found, examples = result.output.partition("Examples:\n")
    assert found, f"`classroom {path} --help` shows no example"
    return [line.strip() for line in examples.splitlines() if line.strip()]


def parse_example(example: str) -> None:
    """Parse ``example`` with the real command's options, as the shell would split it."""
    example = example.replace("../shared/data", str(SHARED_DATA))
    words = shlex.split(re.split(" [<>] ", example)[0])  # without the shell's redirections
    environment = {}
    while "=" in words[0]:  # VAR=value before the command
        name, _, value = words.pop(0).partition("=")
        environment[name] = value
    assert words[0] == "classroom", example
    found: click.Command = main
    words = words[1:]
    while isinstance(found, click.Group):
        found = found.get_command(click.Context(found), words.pop(0))
    with patch.dict(os.environ, environment):
        found.make_context("classroom", words)


def test_every_subcommand_shows_examples_that_parse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for own_file in USERS_OWN_FILES:  # what a user has before running those examples
        (tmp_path / own_file).write_text("")
    paths = [path for path, _ in command_tree()]
    assert len(paths) >= 18
    for path in paths:
        for example in examples_in_help(path):
            parse_example(example)


def test_a_command_without_an_example_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with its examples gone, `classroom sql --help` fails the check above."""
    from classroom.db_cli import sql

    monkeypatch.setattr(sql, "epilog", None)
    monkeypatch.delitem(cli.EXAMPLES, "sql")
    with pytest.raises(AssertionError, match="shows no example"):
        examples_in_help("sql")


def test_an_example_with_a_wrong_option_is_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        parse_example("classroom sql --no-such-option 'SELECT 1'")


def classroom(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "classroom.cli", *args],
        cwd=PROJECT_ROOT,
        env={**cold_environment(), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])


def test_errors_are_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert_one_line_error(classroom("analyze", str(tmp_path / "missing.mp4")), "not found")
    assert_one_line_error(classroom("analyze", str(notes)), "notes.txt")
    assert_one_line_error(
        classroom("sql", "SELECT 1", CLASSROOM_POLICY__EMOTION="maybe"),
        "invalid setting",
        "policy.emotion",
    )
    assert_one_line_error(
        classroom("db", "status", CLASSROOM_CONFIG=str(tmp_path / "none.yaml")),
        "CLASSROOM_CONFIG",
    )
    assert_one_line_error(classroom("sql", "--format", "xml", "SELECT 1"), "xml")


def test_still_image_is_refused_plainly(tmp_path: Path) -> None:
    photo = SHARED_DATA / "faces" / "lecture_hall.jpg"
    result = classroom("analyze", str(photo), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert_one_line_error(result, "still image", f"classroom faces {photo}")
    assert "40 px" not in result.stderr
    assert not (tmp_path / "d").exists()


def failing() -> None:
    raise RuntimeError("the disk is on fire\nsecond line")


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.SUBCOMMANDS, "boom", (__name__, "boom", "Fails."))


boom = click.Command("boom", callback=failing)


def test_an_unexpected_exception_is_one_line(failing_command: None) -> None:
    result = CliRunner().invoke(main, ["boom"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: RuntimeError: the disk is on fire "
        "(run again with CLASSROOM_DEBUG=1 for the traceback)\n"
    )


def test_debug_shows_the_traceback(failing_command: None) -> None:
    """Control: with CLASSROOM_DEBUG=1 the exception goes through."""
    result = CliRunner(env={"CLASSROOM_DEBUG": "1"}).invoke(main, ["boom"])
    assert isinstance(result.exception, RuntimeError)


def test_every_example_belongs_to_a_command() -> None:
    """No example is left behind for a command that was renamed or removed."""
    assert set(cli.EXAMPLES) <= {path for path, _ in command_tree()}
